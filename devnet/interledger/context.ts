/** What the route modules share: the stand-in's parts, passed in (no module state). */
import type { GrantBook } from './grants.js';
import type { PaymentBook } from './payments.js';
import type { KeyLookup } from './signatures.js';
import type { WalletDirectory } from './wallets.js';

export interface Context {
  origin: string;
  /** `<origin>/auth`: the grant endpoint, what wallet addresses name as `authServer`. */
  authServer: string;
  /** The origin: incoming payments, quotes and outgoing payments are `<origin>/<collection>/<uuid>`. */
  resourceServer: string;
  wallets: WalletDirectory;
  grants: GrantBook;
  payments: PaymentBook;
  lookupKey: KeyLookup;
  now: () => Date;
}
