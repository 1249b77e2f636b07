import type { Payment, PaymentStatus, Rail } from '../../shared/api.js';

/** A `payments` row as both engines return it (amount as a decimal string, times in ms). */
export interface PaymentRow {
  id: string;
  user_id: string;
  merchant_id: string | null;
  rail: string;
  pay_to: string;
  amount: string;
  asset: string;
  status: string;
  transfer_id: string;
  resource_url: string | null;
  resource_method: string | null;
  resource_body_hash: string | null;
  bind: string | null;
  description: string | null;
  failure_reason: string | null;
  receipt_token: string | null;
  transaction_hash: string | null;
  block_explorer_url: string | null;
  preimage: string | null;
  refunded_amount: string;
  /** The challenge this payment answered (internal: never in the payment resource). */
  challenge_id: string | null;
  created_at: number;
  updated_at: number;
}

export const PAYMENT_COLUMNS =
  'id, user_id, merchant_id, rail, pay_to, amount, asset, status, transfer_id, resource_url, resource_method, ' +
  'resource_body_hash, bind, description, failure_reason, receipt_token, transaction_hash, block_explorer_url, ' +
  'preimage, refunded_amount, challenge_id, created_at, updated_at';

export const PAYMENT_FIELDS = PAYMENT_COLUMNS.split(',').map((c) => c.trim()) as (keyof PaymentRow)[];
export const PAYMENT_PLACEHOLDERS = PAYMENT_FIELDS.map(() => '?').join(', ');

/** The payment resource: what POST /payments answers, GET shows and paymentStatusUpdate carries. */
export function toPayment(r: PaymentRow): Payment {
  const receipt: Payment['receipt'] = {};
  if (r.receipt_token) receipt.token = r.receipt_token;
  if (r.transaction_hash) receipt.transactionHash = r.transaction_hash;
  if (r.block_explorer_url) receipt.blockExplorerUrl = r.block_explorer_url;
  if (r.preimage) receipt.preimage = r.preimage;
  return {
    transactionId: r.id,
    status: r.status as PaymentStatus,
    rail: r.rail as Rail,
    payTo: r.pay_to,
    amount: String(r.amount),
    asset: r.asset,
    resource: r.resource_url
      ? {
          url: r.resource_url,
          method: r.resource_method ?? 'GET',
          ...(r.resource_body_hash ? { bodyHash: r.resource_body_hash } : {}),
        }
      : null,
    description: r.description,
    failureReason: r.failure_reason,
    refundedAmount: String(r.refunded_amount ?? '0'),
    receipt,
    createdAt: new Date(Number(r.created_at)).toISOString(),
    updatedAt: new Date(Number(r.updated_at)).toISOString(),
  };
}
