/**
 * What a test or `npm start` sees of the local Interledger wallet provider (./index.ts). Everything
 * else it does is only reachable over HTTP, as with a real Rafiki-based wallet.
 */

/** An Ed25519 public key as wallet addresses publish it in `<wallet address>/jwks.json`. */
export interface ClientJwk {
  kid: string;
  alg: 'EdDSA';
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  use?: 'sig';
}

export interface WalletOptions {
  assetCode: string;
  /** Decimal places of the asset's smallest unit (0–255), as in every Open Payments amount. */
  assetScale: number;
  /** Opening balance in the smallest unit. */
  balance: bigint;
  publicName?: string;
}

/** What the quotes charge on top of what the payee receives; both assets must be the same (1:1). */
export interface QuoteFee {
  /** A fixed fee in the payer's smallest unit. */
  fixed?: bigint;
  /** A proportional fee in hundredths of a percent of the received amount, rounded up. */
  basisPoints?: number;
}

export interface LocalInterledgerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** The wallet's clock: grant, token, quote and incoming-payment expiry all read it. */
  now?: () => Date;
  /** How long a person has to approve or reject an interactive grant. Default 10 minutes. */
  grantInteractionTtlMs?: number;
  /** Lifetime of an access token (`expires_in`). Default 600 s. */
  accessTokenTtlSeconds?: number;
  /** Lifetime of a quote. Default 5 minutes. */
  quoteTtlMs?: number;
  /** Default: no fee. */
  quoteFee?: QuoteFee;
}

export type OutgoingFailure = 'failed' | 'partial';

export interface LocalInterledger {
  /** `http://host:port`: wallet addresses are `<origin>/<name>`, the resource server is the origin itself. */
  origin: string;
  /** The grant endpoint (`authServer` of every wallet address here), and the exact URI the finish hash covers. */
  authServer: string;
  resourceServer: string;
  /** A wallet address with an account: `<origin>/<name>`. Names are lower-case letters, digits, `-`, `_` and `.`. */
  createWallet(name: string, opts: WalletOptions): Promise<{ url: string }>;
  /**
   * Binds a client's public key to a wallet address. For a wallet address here, the key appears in
   * its `/jwks.json`; for one elsewhere (a client wallet address that only carries keys, such as the
   * hub's), the auth server uses the key instead of fetching that address's JWKS over HTTP.
   */
  addClientKey(walletAddressUrl: string, jwk: ClientJwk): void;
  /** The wallet's balance in its smallest unit. Throws for an unknown wallet. */
  balanceOf(walletUrl: string): bigint;
  /**
   * Does what a person does in a browser: opens the consent page at `interactRedirect` (the grant
   * response's `interact.redirect`), presses Approve (or Reject), and returns the wallet's redirect
   * (`<finish uri>?hash=…&interact_ref=…`, or `?result=grant_rejected`) without following it.
   */
  approve(interactRedirect: string): Promise<string>;
  reject(interactRedirect: string): Promise<string>;
  /** The next outgoing payment fails (nothing moves) or delivers only half (and is marked failed). */
  failNextOutgoingPayment(kind: OutgoingFailure): void;
  /**
   * Responses the stand-in refused to send because they broke the Open Payments specs: a bug here.
   * `close()` rejects when there are any, so a test suite that caused one fails.
   */
  specViolations(): readonly string[];
  close(): Promise<void>;
}
