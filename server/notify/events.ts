import type { Deposit, DepositStatus, DepositStatusUpdate } from '../../shared/deposits.js';

/**
 * The outbox events that are not a payment's: what each kind says and whose sequence orders it.
 * Their type is `<kind>.<new status>`, as top-ups' are (`topup.credited`), so a consumer can
 * filter by subject on the broker without reading the body.
 */

/**
 * The system user whose sequence orders merchants' events (migration 020). Nobody can sign in as
 * it (its address is no Ethereum address), so no socket hears these events; the broker does.
 */
export const MERCHANT_EVENTS_USER_ID = 'usr_merchant_events';

/** An outbox event before it has its seq: appendOutboxEvent gives it one. */
export interface NewOutboxEvent<P extends object> {
  /** Whose sequence the event takes, and whose socket room hears it. */
  userId: string;
  /** The merchant whose webhook endpoint may receive it (only WEBHOOK_EVENT_TYPES ever are). */
  merchantId: string | null;
  /** What the event is about (the outbox's payment_id column): a deposit's id, a merchant's id. */
  subjectId: string;
  type: string;
  payload: P;
}

export type DepositEventPayload = Omit<DepositStatusUpdate, 'seq'>;

/**
 * A deposit changed status (`deposit.submitted`, `deposit.completed`, `deposit.failed`). The
 * owner's sockets hear it as `depositStatusUpdate`; no merchant is named, so no webhook carries it.
 */
export function depositEvent(userId: string, deposit: Deposit, previousStatus: DepositStatus | null): NewOutboxEvent<DepositEventPayload> {
  return {
    userId,
    merchantId: null,
    subjectId: deposit.depositId,
    type: `deposit.${deposit.status}`,
    payload: { ...deposit, previousStatus },
  };
}

/**
 * What `webhook.disabled` carries: the endpoint as `GET /merchants/{id}/webhook` then shows it,
 * whose it is, and a `status` as every other event's data has one.
 */
export interface WebhookDisabled {
  merchantId: string;
  status: 'disabled';
  url: string;
  /** ISO 8601. */
  disabledAt: string;
  disabledReason: string;
}
export type WebhookDisabledUpdate = WebhookDisabled & { seq: number };

/**
 * A merchant's webhook endpoint was switched off. It names no merchant for webhooks: the endpoint
 * that is gone is the one place it must not be sent, and a merchant has no other. Operators hear
 * it on the broker; the merchant sees `disabledAt` at `GET /merchants/{id}/webhook`.
 */
export function webhookDisabledEvent(merchantId: string, url: string, reason: string, at: number): NewOutboxEvent<WebhookDisabled> {
  return {
    userId: MERCHANT_EVENTS_USER_ID,
    merchantId: null,
    subjectId: merchantId,
    type: 'webhook.disabled',
    payload: { merchantId, status: 'disabled', url, disabledAt: new Date(at).toISOString(), disabledReason: reason },
  };
}
