import type { IlpFinishQuery, IlpGrant, IlpPaymentState, IlpWallet } from '../../../shared/ilp.js';

/** What the finish redirect led to, for the page the person sees. */
export interface FinishOutcome {
  paymentId: string;
  outcome: { status: 'completed' | 'submitted' | 'failed'; reason?: string };
}

/**
 * The Interledger rail's own surface, which the routes in server/http/ilp-routes.ts expose: a
 * person's linked wallet, the consent redirect, and the grants the hub holds for them.
 */
export interface InterledgerApi {
  /** Fetches and checks the wallet address, then links it (replacing any other). */
  linkWallet(userId: string, walletAddress: string): Promise<IlpWallet>;
  wallet(userId: string): Promise<IlpWallet | undefined>;
  unlinkWallet(userId: string): Promise<boolean>;
  /** The wallet sent the person back: check the hash, continue the grant, pay. */
  finish(query: IlpFinishQuery): Promise<FinishOutcome>;
  /** The person's budget grants with what is left of them now. */
  grants(userId: string): Promise<IlpGrant[]>;
  /** Deletes the grant at the wallet's auth server and stops using it; false when it is not theirs. */
  revokeGrant(userId: string, grantId: string): Promise<boolean>;
  /** Where one of the person's payments on this rail stands; undefined when it is not theirs. */
  paymentState(userId: string, paymentId: string): Promise<IlpPaymentState | undefined>;
  /** Fails payments whose consent time ran out; how many. The rail runs it on a timer too. */
  expireConsents(): Promise<number>;
}
