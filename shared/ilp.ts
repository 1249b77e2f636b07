/**
 * Interledger (the `ilp` rail): a person links their own Open Payments wallet address, and the hub
 * pays merchants from it with the person's consent on their wallet's own page. These are the
 * hub's routes for that: linking, the consent redirect, and the grants the hub holds.
 */
import { z } from 'zod';
import { PositiveAmountString } from './amount.js';
import { HttpUrl } from './url.js';

/** ISO 8601 repeating interval as Open Payments limits take it: `R/<start>/<duration>` (e.g. `R/2026-01-01T00:00:00Z/P1M`). */
export const IlpInterval = z
  .string()
  .max(100)
  .regex(
    /^R\d*\/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})\/P(?!$)(?:\d+Y)?(?:\d+M)?(?:\d+W)?(?:\d+D)?(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+S)?)?$/,
    'must be an ISO 8601 repeating interval like R/2026-01-01T00:00:00Z/P1M',
  );

export const LinkIlpWalletRequest = z.strictObject({
  walletAddress: HttpUrl.describe('The Open Payments wallet address, as the wallet shows it (https://wallet.example/alice)'),
});

export const IlpWallet = z.object({
  walletAddress: z.string(),
  publicName: z.string().nullable(),
  assetCode: z.string(),
  assetScale: z.number().int(),
  authServer: z.string(),
  linkedAt: z.string().describe('ISO 8601'),
});
export type IlpWallet = z.infer<typeof IlpWallet>;

/**
 * What `authorization` carries on `POST /payments` with `rail: "ilp"`: asking the wallet for a
 * budget instead of one payment's amount, so that later payments within it need no consent page.
 */
export const IlpPaymentOptions = z.strictObject({
  budget: z
    .strictObject({
      amount: PositiveAmountString.describe('Most that may be paid per interval, in the payment asset’s base units'),
      interval: IlpInterval.optional().describe('Absent: the amount once, for as long as the grant lives'),
    })
    .optional(),
});
export type IlpPaymentOptions = z.infer<typeof IlpPaymentOptions>;

/** `GET /ilp/finish`: where the person's wallet sends them back after consent. */
export const IlpFinishQuery = z.strictObject({
  ref: z
    .string()
    .regex(/^[A-Za-z0-9_-]{16,64}$/, 'the reference the hub put in the finish URI')
    .describe('Names the consent (the hub put it in the finish URI)'),
  hash: z.string().max(200).optional().describe('Base64 (standard or URL-safe, padded or not) SHA-256 of the interaction'),
  interact_ref: z.string().min(1).max(500).optional(),
  result: z.string().max(100).optional().describe('`grant_rejected` when the person refused'),
});
export type IlpFinishQuery = z.infer<typeof IlpFinishQuery>;

export const IlpGrant = z.object({
  id: z.string(),
  walletAddress: z.string(),
  assetCode: z.string(),
  assetScale: z.number().int(),
  limit: z.string().describe('Most that may be debited per interval, in the wallet’s units (assetScale)'),
  interval: z.string().nullable(),
  spent: z.string().describe('Charged to it in the current interval'),
  remaining: z.string(),
  resetsAt: z.string().nullable().describe('ISO 8601: when the current interval ends'),
  createdAt: z.string(),
});
export type IlpGrant = z.infer<typeof IlpGrant>;
export const IlpGrantList = z.object({ data: z.array(IlpGrant) });

/** `GET /ilp/payments/:id`: where a payment on the ilp rail stands at the wallet. */
export const IlpPaymentState = z.object({
  transactionId: z.string(),
  state: z.enum(['new', 'awaiting-consent', 'continuing', 'authorized', 'sending', 'sent', 'done']),
  interact: z.object({ redirect: z.string(), expiresAt: z.string() }).nullable(),
  debitAmount: z.object({ value: z.string(), assetCode: z.string(), assetScale: z.number().int() }),
  grantId: z.string().nullable(),
  failure: z.string().nullable(),
});
export type IlpPaymentState = z.infer<typeof IlpPaymentState>;
export const ILP_PAYMENT_STATES = IlpPaymentState.shape.state.options;
export type IlpState = (typeof ILP_PAYMENT_STATES)[number];
