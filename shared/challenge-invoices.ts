/**
 * Challenge invoices: a merchant's paywall (`paywall({lightning: true})`) asks the hub for an
 * invoice of the hub's own node for one 402 challenge (`POST /merchants/{id}/invoices`, with the
 * merchant's API key). Whoever pays it, any Lightning wallet or a hub balance, pays that merchant,
 * and the hub issues the standard receipt for that challenge, which the page holding the challenge
 * fetches (`GET /challenges/{challengeId}?merchant=`).
 */
import { z } from 'zod';
import { PositiveAmountString } from './amount.js';
import { BIND_PARTS } from './binding.js';
import { CHALLENGE_ID_PATTERN, MERCHANT_ID_PATTERN } from './challenge/ids.js';
import { MAX_TOPUP_MSAT } from './topups.js';

export const CreateChallengeInvoiceRequest = z.strictObject({
  challengeId: z.string().regex(CHALLENGE_ID_PATTERN).describe("The tollway entry's extra.challengeId"),
  asset: z.literal('BTC').describe('BTC: the invoice is paid over Lightning'),
  amount: PositiveAmountString.refine((s) => !/^[0-9]{1,78}$/.test(s) || BigInt(s) <= MAX_TOPUP_MSAT, 'too large').describe(
    'Millisatoshi: the price',
  ),
  resource: z
    .strictObject({
      url: z.string().url().max(2048),
      method: z.string().regex(/^[A-Za-z]{1,16}$/),
      bodyHash: z
        .string()
        .regex(/^[0-9a-fA-F]{64}$/)
        .optional(),
    })
    .describe('The request the receipt is bound to, as the paywall will check it'),
  bind: z.array(z.enum(BIND_PARTS)).min(1).max(BIND_PARTS.length).describe('Which parts of the request the receipt binds'),
  description: z.string().max(200).optional(),
});
export type CreateChallengeInvoiceRequest = z.infer<typeof CreateChallengeInvoiceRequest>;

/** `open`: waiting. `paid`: the merchant was credited and the receipt issued. `expired`: never paid in time. */
export const ChallengeInvoiceStatus = z.enum(['open', 'paid', 'expired']);
export type ChallengeInvoiceStatus = z.infer<typeof ChallengeInvoiceStatus>;

export const ChallengeInvoice = z.object({
  challengeId: z.string(),
  merchantId: z.string(),
  status: ChallengeInvoiceStatus,
  asset: z.literal('BTC'),
  amount: PositiveAmountString,
  bolt11: z.string().describe('The BOLT 11 invoice of the hub node'),
  paymentHash: z.string().describe('Hex'),
  expiresAt: z.string().describe('ISO 8601'),
});
export type ChallengeInvoice = z.infer<typeof ChallengeInvoice>;

export const ChallengeStatusQuery = z.strictObject({
  merchant: z.string().regex(MERCHANT_ID_PATTERN).describe("The challenge's payTo"),
});

/** What the page holding a challenge learns: its state and, once paid, the receipt to retry with. */
export const ChallengeReceipt = z.object({
  challengeId: z.string(),
  status: ChallengeInvoiceStatus,
  receipt: z.string().optional().describe('The receipt JWT, once paid'),
  transactionId: z.string().optional(),
});
export type ChallengeReceipt = z.infer<typeof ChallengeReceipt>;
