import type { Payment, PaymentStatus, PaymentStatusUpdate } from '../../shared/api.js';
import type { DepositStatusUpdate } from '../../shared/deposits.js';
import type { Topup, TopupStatus, TopupStatusUpdate } from '../../shared/topups.js';
import type { Queryable } from '../store/types.js';
import type { NewOutboxEvent, WebhookDisabledUpdate } from './events.js';

/**
 * The transactional outbox: every payment status change (and a top-up's, a deposit's, a webhook
 * endpoint switched off) writes one row here in the same transaction as the change itself, so an event exists if and only if the change committed.
 * The dispatcher delivers rows afterwards; the socket notifier replays them to reconnecting
 * clients. Rows are kept after dispatch (until `purgeDispatched`) because they are the replay log.
 */

export interface OutboxEvent {
  userId: string;
  merchantId: string | null;
  /** 'payment.created' | 'payment.submitted' | 'payment.completed' | 'payment.failed' | … */
  type: string;
  payment: Payment;
  previousStatus: PaymentStatus | null;
  /** `JSON.stringify(payment)`, when the caller has it already (saves serialising it twice). */
  paymentJson?: string;
}

export interface OutboxRecord {
  id: number;
  userId: string;
  merchantId: string | null;
  /** The payment's id; for a `topup.*` event the top-up's, `deposit.*` the deposit's, `webhook.*` the merchant's. */
  paymentId: string;
  type: string;
  /** Per-user, strictly increasing and gap-free (it comes from users.last_seq). */
  seq: number;
  /** A payment's update; a top-up's for `topup.*` events, and so on (see isTopupEvent and its siblings). */
  payload: OutboxPayload;
  createdAt: number;
  dispatchedAt: number | null;
}

interface OutboxRow {
  id: number | string;
  user_id: string;
  merchant_id: string | null;
  payment_id: string;
  type: string;
  seq: number | string;
  payload: string;
  created_at: number | string;
  dispatched_at: number | string | null;
}

export const OUTBOX_COLUMNS = 'id, user_id, merchant_id, payment_id, type, seq, payload, created_at, dispatched_at';

export function toRecord(r: OutboxRow): OutboxRecord {
  return {
    id: Number(r.id),
    userId: r.user_id,
    merchantId: r.merchant_id,
    paymentId: r.payment_id,
    type: r.type,
    seq: Number(r.seq),
    payload: JSON.parse(r.payload) as OutboxPayload,
    createdAt: Number(r.created_at),
    dispatchedAt: r.dispatched_at === null ? null : Number(r.dispatched_at),
  };
}

/**
 * Records a status event. Must run inside the transaction that changes the payment.
 *
 * The seq comes from bumping users.last_seq: on PostgreSQL the UPDATE takes the user's row lock
 * until commit, so a user's events commit in seq order (a reader never sees seq n+1 without n);
 * SQLite has one writer, which gives the same. Replay by `seq > lastSeq` relies on that.
 */
export async function appendEvent(tx: Queryable, ev: OutboxEvent, now: number): Promise<PaymentStatusUpdate> {
  if (ev.paymentJson && tx.dialect === 'postgres') return appendEventPg(tx, ev, ev.paymentJson, now);
  const bumped = await tx.get<{ last_seq: number | string }>('UPDATE users SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq', [
    ev.userId,
  ]);
  if (!bumped) throw new Error(`appendEvent: no user ${ev.userId}`);
  const seq = Number(bumped.last_seq);
  const update: PaymentStatusUpdate = { ...ev.payment, previousStatus: ev.previousStatus, seq };
  // The same text JSON.stringify(update) gives: the payment's keys, then previousStatus and seq.
  const payload = ev.paymentJson
    ? `${ev.paymentJson.slice(0, -1)},"previousStatus":${JSON.stringify(ev.previousStatus)},"seq":${seq}}`
    : JSON.stringify(update);
  await tx.run('INSERT INTO outbox (user_id, merchant_id, payment_id, type, seq, payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [
    ev.userId,
    ev.merchantId,
    ev.payment.transactionId,
    ev.type,
    seq,
    payload,
    now,
  ]);
  return update;
}

/**
 * appendEvent in one round trip on PostgreSQL: the seq bump and the insert as one statement, the
 * payload finished in SQL with the seq (the same text as below). Saves a round trip per payment,
 * during which the payment's transaction holds its rows locked.
 */
async function appendEventPg(tx: Queryable, ev: OutboxEvent, paymentJson: string, now: number): Promise<PaymentStatusUpdate> {
  const head = `${paymentJson.slice(0, -1)},"previousStatus":${JSON.stringify(ev.previousStatus)},"seq":`;
  const row = await tx.get<{ seq: number | string }>(
    `WITH bumped AS (UPDATE users SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq)
     INSERT INTO outbox (user_id, merchant_id, payment_id, type, seq, payload, created_at)
     SELECT ?, ?, ?, ?, last_seq, ?::text || last_seq::text || '}', ? FROM bumped RETURNING seq`,
    [ev.userId, ev.userId, ev.merchantId, ev.payment.transactionId, ev.type, head, now],
  );
  if (!row) throw new Error(`appendEvent: no user ${ev.userId}`);
  return { ...ev.payment, previousStatus: ev.previousStatus, seq: Number(row.seq) };
}

export type OutboxPayload = PaymentStatusUpdate | TopupStatusUpdate | DepositStatusUpdate | WebhookDisabledUpdate;
export type PaymentRecord = OutboxRecord & { payload: PaymentStatusUpdate };
export type TopupRecord = OutboxRecord & { payload: TopupStatusUpdate };
export type DepositRecord = OutboxRecord & { payload: DepositStatusUpdate };
export type WebhookRecord = OutboxRecord & { payload: WebhookDisabledUpdate };

/** Top-up and deposit events share the user's seq (clients replay one stream) but are not payments. */
export const isTopupEvent = (e: OutboxRecord): e is TopupRecord => e.type.startsWith('topup.');
export const isDepositEvent = (e: OutboxRecord): e is DepositRecord => e.type.startsWith('deposit.');
/** A merchant's webhook endpoint changed (`webhook.disabled`): for the broker only. */
export const isWebhookEvent = (e: OutboxRecord): e is WebhookRecord => e.type.startsWith('webhook.');
export const isPaymentEvent = (e: OutboxRecord): e is PaymentRecord => e.type.startsWith('payment.');

/**
 * Records an event that is not a payment's (events.ts builds them), inside the transaction that
 * makes the change it reports. The seq is the user's, as for payments: one ordered stream per
 * user, one replay cursor. The payload is stored with its seq added last.
 */
export async function appendOutboxEvent<P extends object>(tx: Queryable, ev: NewOutboxEvent<P>, now: number): Promise<P & { seq: number }> {
  const bumped = await tx.get<{ last_seq: number | string }>('UPDATE users SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq', [
    ev.userId,
  ]);
  if (!bumped) throw new Error(`appendOutboxEvent: no user ${ev.userId}`);
  const update = { ...ev.payload, seq: Number(bumped.last_seq) };
  await tx.run('INSERT INTO outbox (user_id, merchant_id, payment_id, type, seq, payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [
    ev.userId,
    ev.merchantId,
    ev.subjectId,
    ev.type,
    update.seq,
    JSON.stringify(update),
    now,
  ]);
  return update;
}

/** Records a top-up's status event (`topup.<status>`), inside the transaction that changes it. No merchant is named, so webhooks never carry it. */
export async function appendTopupEvent(
  tx: Queryable,
  ev: { userId: string; topup: Topup; previousStatus: TopupStatus | null },
  now: number,
): Promise<TopupStatusUpdate> {
  return appendOutboxEvent(
    tx,
    {
      userId: ev.userId,
      merchantId: null,
      subjectId: ev.topup.topupId,
      type: `topup.${ev.topup.status}`,
      payload: { ...ev.topup, previousStatus: ev.previousStatus },
    },
    now,
  );
}

/** The user's events with seq > lastSeq, oldest first, at most `limit` of them (page by the last seq). */
export async function eventsSince(q: Queryable, userId: string, lastSeq: number, limit: number): Promise<OutboxRecord[]> {
  const rows = await q.all<OutboxRow>(`SELECT ${OUTBOX_COLUMNS} FROM outbox WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT ?`, [
    userId,
    lastSeq,
    limit,
  ]);
  return rows.map(toRecord);
}

/**
 * Retention: deletes rows dispatched before `olderThanMs` (an epoch-ms cutoff, e.g.
 * `now - 7 days`). Undispatched rows are never deleted, nor, with `keepUnpublished` (an event
 * broker is configured), rows the broker has not had yet. Clients whose lastSeq is older than what
 * is left get a partial replay and resync over REST, as they do on every reconnect anyway.
 */
export async function purgeDispatched(tx: Queryable, olderThanMs: number, opts: { keepUnpublished?: boolean } = {}): Promise<number> {
  const unpublished = opts.keepUnpublished ? ' AND published_at IS NOT NULL' : '';
  const { changes } = await tx.run(`DELETE FROM outbox WHERE dispatched_at IS NOT NULL AND dispatched_at < ?${unpublished}`, [olderThanMs]);
  return changes;
}
