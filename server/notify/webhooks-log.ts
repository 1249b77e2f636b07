import type { z } from 'zod';
import type { WebhookDelivery, WebhookEndpoint } from '../../shared/api.js';
import { ProblemError } from '../../shared/problem.js';
import type { Clock } from '../clock.js';
import { newestFirst } from '../store/pages.js';
import type { Db, Queryable } from '../store/types.js';
import { SINGLE_ATTEMPT_STEP } from './webhooks.js';
import { staticTargetProblem } from './webhooks-target.js';

/**
 * What merchants see of their webhooks over HTTP: the endpoint (URL and whether it is disabled),
 * the delivery log with every attempt, and redelivery.
 */

type Delivery = z.infer<typeof WebhookDelivery>;
type Endpoint = z.infer<typeof WebhookEndpoint>;

interface DeliveryRow {
  id: string;
  event_type: string;
  payment_id: string;
  body: string;
  state: string;
  attempts: number | string;
  next_attempt_at: number | string | null;
  last_status: number | string | null;
  last_error: string | null;
  created_at: number | string;
  updated_at: number | string;
  delivered_at: number | string | null;
}
interface AttemptRow {
  delivery_id: string;
  attempt: number | string;
  url: string;
  started_at: number | string;
  duration_ms: number | string;
  status_code: number | string | null;
  error: string | null;
  outcome: string;
}

const DELIVERY_COLUMNS =
  'id, event_type, payment_id, body, state, attempts, next_attempt_at, last_status, last_error, created_at, updated_at, delivered_at';
const iso = (ms: number | string) => new Date(Number(ms)).toISOString();
const isoOrNull = (ms: number | string | null) => (ms === null ? null : iso(ms));
const numOrNull = (n: number | string | null) => (n === null ? null : Number(n));

function toDelivery(r: DeliveryRow, attempts: AttemptRow[]): Delivery {
  return {
    id: r.id,
    eventType: r.event_type as Delivery['eventType'],
    paymentId: r.payment_id,
    state: r.state as Delivery['state'],
    attemptCount: Number(r.attempts),
    nextAttemptAt: r.state === 'pending' ? isoOrNull(r.next_attempt_at) : null,
    lastStatus: numOrNull(r.last_status),
    lastError: r.last_error,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
    deliveredAt: isoOrNull(r.delivered_at),
    payload: JSON.parse(r.body) as Delivery['payload'],
    attempts: attempts.map((a) => ({
      attempt: Number(a.attempt),
      url: a.url,
      startedAt: iso(a.started_at),
      durationMs: Number(a.duration_ms),
      statusCode: numOrNull(a.status_code),
      error: a.error,
      outcome: a.outcome as Delivery['attempts'][number]['outcome'],
    })),
  };
}

async function withAttempts(q: Queryable, rows: DeliveryRow[]): Promise<Delivery[]> {
  if (rows.length === 0) return [];
  const attempts = await q.all<AttemptRow>(
    `SELECT delivery_id, attempt, url, started_at, duration_ms, status_code, error, outcome FROM webhook_attempts
      WHERE delivery_id IN (${rows.map(() => '?').join(', ')}) ORDER BY delivery_id, attempt, id`,
    rows.map((r) => r.id),
  );
  const by = new Map<string, AttemptRow[]>();
  for (const a of attempts) by.set(a.delivery_id, [...(by.get(a.delivery_id) ?? []), a]);
  return rows.map((r) => toDelivery(r, by.get(r.id) ?? []));
}

export interface WebhookLogOptions {
  db: Db;
  clock: Clock;
  allowPrivateTargets: boolean;
  /** A delivery was scheduled for now (wakes the worker). */
  onScheduled?(): void;
}

export function createWebhookLog({ db, clock, allowPrivateTargets, onScheduled }: WebhookLogOptions) {
  async function load(q: Queryable, merchantId: string, id: string): Promise<Delivery> {
    const row = await q.get<DeliveryRow>(`SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = ? AND merchant_id = ?`, [
      id,
      merchantId,
    ]);
    // Another merchant's delivery is indistinguishable from none.
    if (!row) throw new ProblemError('not-found', 'no such webhook delivery');
    return (await withAttempts(q, [row]))[0]!;
  }

  /** A URL the merchant wants to be called at: 400 when it can never be allowed on this hub. */
  function validateUrl(url: string, path: string): void {
    const problem = staticTargetProblem(url, allowPrivateTargets);
    if (problem) throw new ProblemError('validation-error', `${path} ${problem}`, { errors: [{ path, message: problem }] });
  }

  async function endpoint(merchantId: string): Promise<Endpoint> {
    const m = await db.get<{
      webhook_url: string | null;
      webhook_disabled_at: number | string | null;
      webhook_disabled_reason: string | null;
    }>('SELECT webhook_url, webhook_disabled_at, webhook_disabled_reason FROM merchants WHERE id = ?', [merchantId]);
    if (!m) throw new ProblemError('not-found', 'no such merchant');
    return { url: m.webhook_url, disabledAt: isoOrNull(m.webhook_disabled_at), disabledReason: m.webhook_disabled_reason };
  }

  return {
    validateUrl,
    endpoint,

    /** Newest first, each with its attempts. */
    async list(merchantId: string, cursor: string | undefined, limit: number): Promise<{ data: Delivery[]; nextCursor: string | null }> {
      const page = await newestFirst<DeliveryRow>(
        db,
        { select: `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries`, where: 'merchant_id = ?', params: [merchantId], idPrefix: 'msg_' },
        cursor,
        limit,
      );
      return { data: await withAttempts(db, page.data), nextCursor: page.nextCursor };
    },

    get: (merchantId: string, id: string) => load(db, merchantId, id),

    /**
     * Sends the delivery again now, with the same webhook-id and body. A pending one keeps the rest
     * of its retry schedule; a delivered or failed one gets one attempt (no automatic retries after
     * it). Refused while the endpoint is disabled: re-enable it first (PUT /merchants/:id/webhook).
     */
    async redeliver(merchantId: string, id: string): Promise<Delivery> {
      const delivery = await db.transaction(async (tx) => {
        const m = await tx.get<{ webhook_url: string | null; webhook_disabled_at: number | string | null }>(
          'SELECT webhook_url, webhook_disabled_at FROM merchants WHERE id = ?',
          [merchantId],
        );
        await load(tx, merchantId, id); // 404 first: another merchant's delivery says nothing
        if (!m?.webhook_url)
          throw new ProblemError('validation-error', 'the merchant has no webhook endpoint: set one with PUT /merchants/:id/webhook');
        if (m.webhook_disabled_at !== null) {
          throw new ProblemError(
            'webhook-endpoint-disabled',
            'the endpoint answered 410 Gone: re-enable it with PUT /merchants/:id/webhook, then redeliver',
          );
        }
        const now = clock.now();
        await tx.run(
          `UPDATE webhook_deliveries
              SET schedule_step = CASE WHEN state = 'pending' THEN schedule_step ELSE ? END,
                  state = 'pending', next_attempt_at = ?, claim = NULL, updated_at = ?
            WHERE id = ? AND merchant_id = ?`,
          [SINGLE_ATTEMPT_STEP, now, now, id, merchantId],
        );
        return load(tx, merchantId, id);
      });
      onScheduled?.();
      return delivery;
    },

    /** Sets (or removes, with null) the endpoint and enables it. Deliveries stopped by a 410 stay failed: redeliver them. */
    async setEndpoint(merchantId: string, url: string | null): Promise<Endpoint> {
      if (url !== null) validateUrl(url, 'body.url');
      await db.run('UPDATE merchants SET webhook_url = ?, webhook_disabled_at = NULL, webhook_disabled_reason = NULL WHERE id = ?', [
        url,
        merchantId,
      ]);
      return endpoint(merchantId);
    },
  };
}
export type WebhookLog = ReturnType<typeof createWebhookLog>;
