import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { Merchants } from '../auth/merchants.js';
import type { Allowances } from '../payments/allowances.js';
import type { Wallets } from '../payments/balances.js';
import type { PaymentsService } from '../payments/service.js';
import type { ChallengeInvoices } from '../payments/challenge-invoices.js';
import type { SovrFacilitator } from '../rails/sovr/index.js';
import type { InterledgerApi } from '../rails/ilp/api.js';
import type { RailsInfo, TokenResponse } from '../../shared/api.js';
import type { z } from 'zod';

/** What the HTTP layer needs from the sign-in service; implemented in server/auth. */
export interface AuthApi {
  /** `client`: the caller's clientKey(), for the per-client cap on unused nonces. */
  nonce(client?: string): Promise<{ nonce: string }>;
  loginWithSiwe(message: string, signature: string): Promise<z.infer<typeof TokenResponse>>;
  refresh(refreshToken: string): Promise<z.infer<typeof TokenResponse>>;
  logout(refreshToken: string): Promise<void>;
  verifyAccessToken(token: string): Promise<{ userId: string; address: string }>;
  jwks(): { keys: unknown[] };
}

export interface HttpDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  auth: AuthApi;
  wallets: Wallets;
  allowances: Allowances;
  payments: PaymentsService;
  merchants: Merchants;
  /** Invoices of the hub's node for merchants' 402 challenges (paywall({lightning: true})). */
  challengeInvoices?: Pick<ChallengeInvoices, 'create' | 'status'>;
  /** Database reachable and migrations applied. */
  ready(): Promise<boolean>;
  openapi(): unknown;
  /** The rails this hub has, with their public parameters. */
  rails(): Promise<RailsInfo>;
  /** The SOVR rail's x402 facilitator core; absent when the rail is off (then /x402/* is 404). */
  facilitator?: SovrFacilitator;
  /**
   * An LNbits webhook body, as a hint: the hub's node is asked about the payment it names and what
   * the node says is applied once per hash. Absent unless the hub's node is LNbits (then 404).
   */
  lnbitsWebhook?: (body: unknown) => Promise<'credited' | 'already-credited' | 'unknown-hash' | 'not-settled'>;
  /** The Interledger rail's linked wallets, consent redirect and grants; absent when the rail is off. */
  ilp?: InterledgerApi;
}

export interface AuthedUser {
  id: string;
  address: string;
}
