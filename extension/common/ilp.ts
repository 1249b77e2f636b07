/**
 * The person's Interledger wallet as the extension keeps it: the linked wallet address and the
 * budget grants the hub holds on it, as last read from the hub (session storage, per hub and user),
 * and what a request payable from that wallet carries. Pages read these; only the worker writes.
 */
import { z } from 'zod';
import { CreatePaymentRequest } from '../../shared/api.js';
import { IlpGrant, IlpWallet } from '../../shared/ilp.js';

/** session storage key of IlpView. */
export const ILP_KEY = 'tollway.ilp';
/** session storage key of the consent windows the worker opened (ConsentWindows). */
export const ILP_CONSENT_KEY = 'tollway.ilpConsent';

export const IlpView = z.object({
  hubUrl: z.string(),
  userId: z.string(),
  /** null: none linked (or the hub has no ilp rail). */
  wallet: IlpWallet.nullable(),
  /** null: not read (no wallet, or the read failed). */
  grants: z.array(IlpGrant).nullable(),
  syncedAt: z.number().int(),
});
export type IlpView = z.infer<typeof IlpView>;

/**
 * Payable from the person's Interledger wallet: the `POST /payments` body (rail ilp, to the hub
 * merchant the tollway entry names), fixed when the 402 is queued, and the wallet it is paid from.
 */
export const IlpPlan = z.object({
  payment: CreatePaymentRequest,
  walletAddress: z.string(),
});
export type IlpPlan = z.infer<typeof IlpPlan>;

/** A consent page opened in a window of its own, closed once its payment is final. */
export const ConsentWindows = z.array(z.object({ transactionId: z.string(), windowId: z.number().int() }));
export type ConsentWindows = z.infer<typeof ConsentWindows>;
