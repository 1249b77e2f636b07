/**
 * Deposits: a person moves SOVR from their own wallet into their hub balance by signing an
 * EIP-3009 TransferWithAuthorization to the hub's treasury (`POST /deposits`). The hub submits it
 * and credits the hub balance once the transfer is confirmed.
 */
import { z } from 'zod';
import { AmountString, PositiveAmountString } from './amount.js';

export const DEPOSIT_ASSET = 'SOVR';

export const DepositStatus = z.enum(['pending', 'submitted', 'completed', 'failed']);
export type DepositStatus = z.infer<typeof DepositStatus>;
export const FINAL_DEPOSIT_STATUSES: readonly DepositStatus[] = ['completed', 'failed'];

export const CreateDepositRequest = z.strictObject({
  amount: PositiveAmountString.describe('SOVR base units; the authorization’s value must equal it'),
  authorization: z
    .record(z.string(), z.unknown())
    .describe('EIP-3009 TransferWithAuthorization from your signed-in wallet to the hub treasury (GET /rails), with its signature'),
});
export type CreateDepositRequest = z.infer<typeof CreateDepositRequest>;

export const Deposit = z.object({
  depositId: z.string(),
  status: DepositStatus,
  asset: z.literal(DEPOSIT_ASSET),
  amount: AmountString,
  from: z.string().describe('The wallet the tokens come from'),
  transactionHash: z
    .string()
    .nullable()
    .describe('The transaction that moved the tokens (the hub’s, or whoever used the authorization first)'),
  blockExplorerUrl: z.string().optional(),
  failureReason: z.string().nullable(),
  createdAt: z.string().describe('ISO 8601'),
  updatedAt: z.string().describe('ISO 8601'),
});
export type Deposit = z.infer<typeof Deposit>;

/**
 * A deposit's status change as sockets and the event broker carry it (`deposit.<status>`): the
 * deposit as it now stands, with the per-user sequence number payments and top-ups share.
 */
export const DepositStatusUpdate = Deposit.extend({
  previousStatus: DepositStatus.nullable(),
  seq: z.number().int().positive().describe('Per-user, strictly increasing (shared with paymentStatusUpdate)'),
});
export type DepositStatusUpdate = z.infer<typeof DepositStatusUpdate>;

export const DEPOSIT_ID_PATTERN = /^dep_[A-Za-z0-9_-]{16}$/;
