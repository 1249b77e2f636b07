/**
 * Top-ups: a person adds BTC to their hub balance by paying a Lightning invoice that the hub's own
 * node issues (`POST /topups`). When the node says the invoice settled, the hub credits the amount
 * paid, once per payment hash, and tells the person's sockets (`topupStatusUpdate`).
 */
import { z } from 'zod';
import { PositiveAmountString } from './amount.js';

export const TOPUP_ASSET = 'BTC';
/** 21 million BTC in millisatoshi: no invoice can ask for more than there is. */
export const MAX_TOPUP_MSAT = 21_000_000n * 100_000_000n * 1000n;

/** `open`: waiting to be paid. `credited`: paid, and the balance credited. `expired`: never paid in time. */
export const TopupStatus = z.enum(['open', 'credited', 'expired']);
export type TopupStatus = z.infer<typeof TopupStatus>;
export const FINAL_TOPUP_STATUSES: readonly TopupStatus[] = ['credited', 'expired'];

export const CreateTopupRequest = z.strictObject({
  asset: z.literal(TOPUP_ASSET).describe('BTC: top-ups arrive over Lightning'),
  amount: PositiveAmountString.refine(
    (s) => !/^[0-9]{1,78}$/.test(s) || BigInt(s) <= MAX_TOPUP_MSAT,
    'must not exceed 21,000,000 BTC (2100000000000000000 msat)',
  ).describe('Millisatoshi to add, as a decimal string'),
});
export type CreateTopupRequest = z.infer<typeof CreateTopupRequest>;

export const Topup = z.object({
  topupId: z.string(),
  status: TopupStatus,
  asset: z.literal(TOPUP_ASSET),
  amount: PositiveAmountString.describe('Millisatoshi the invoice asks for'),
  creditedAmount: PositiveAmountString.nullable().describe('Millisatoshi credited once paid (what was paid, which a payer may round up)'),
  bolt11: z.string().describe('The BOLT 11 invoice to pay'),
  paymentHash: z.string().describe('Hex; the invoice is credited once per payment hash'),
  expiresAt: z.string().describe('ISO 8601: after this the invoice cannot be paid'),
  creditedAt: z.string().nullable().describe('ISO 8601'),
  createdAt: z.string().describe('ISO 8601'),
  updatedAt: z.string().describe('ISO 8601'),
});
export type Topup = z.infer<typeof Topup>;

/** The socket event: the top-up as it now stands, with the per-user sequence number payments share. */
export const TopupStatusUpdate = Topup.extend({
  previousStatus: TopupStatus.nullable(),
  seq: z.number().int().positive().describe('Per-user, strictly increasing (shared with paymentStatusUpdate)'),
});
export type TopupStatusUpdate = z.infer<typeof TopupStatusUpdate>;

export const TOPUP_ID_PATTERN = /^top_[A-Za-z0-9_-]{16}$/;

/** `lightning:` URI of an invoice, upper-cased: QR codes hold it in their compact alphanumeric mode. */
export const lightningUri = (bolt11: string) => `lightning:${bolt11}`.toUpperCase();
