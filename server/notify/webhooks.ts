import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { performance } from 'node:perf_hooks';
import { Webhook } from 'standardwebhooks';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { forUpdate, type Db, type Queryable } from '../store/types.js';
import type { OutboxSink } from './dispatcher.js';
import { webhookDisabledEvent } from './events.js';
import { appendOutboxEvent, type OutboxRecord } from './outbox.js';
import { checkWebhookTarget, guardedLookup, type ResolveAll } from './webhooks-target.js';

/**
 * Webhooks from the hub to merchants (Standard Webhooks).
 *
 * Two halves, so that no HTTP ever runs in the outbox dispatcher's path:
 * - the sink turns outbox events into `webhook_deliveries` rows, one per (event, merchant), in one
 *   transaction per batch; the unique (event_id, merchant_id) index makes a repeated batch (the
 *   dispatcher delivers at least once) a no-op;
 * - the worker picks due rows, POSTs them signed, logs each attempt in `webhook_attempts`, and
 *   schedules the next attempt or gives up.
 *
 * The delivery id is the `webhook-id` header: the same on every attempt and redelivery of an event,
 * so receivers deduplicate on it. The body is built once when the delivery is recorded and sent
 * byte for byte on every attempt; only `webhook-timestamp` and the signature change.
 */

export const WEBHOOK_EVENT_TYPES: ReadonlySet<string> = new Set(['payment.completed', 'payment.failed', 'payment.refunded']);

/** Standard Webhooks (docs/protocols.md): after a failed attempt, wait this long (with jitter) before the next one. */
export const DEFAULT_WEBHOOK_SCHEDULE_MS: readonly number[] = [
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3600_000,
  5 * 3600_000,
  10 * 3600_000,
  14 * 3600_000,
  20 * 3600_000,
  24 * 3600_000,
];

/**
 * `schedule_step` of a manual redelivery of a finished delivery: one attempt, no automatic retries
 * after it (the merchant asked for it and sees the outcome in the log).
 */
export const SINGLE_ATTEMPT_STEP = 2 ** 30;

/** How each attempt ended: 2xx; failed with another attempt scheduled; failed for good; 410 Gone. */
export type WebhookOutcome = 'delivered' | 'retrying' | 'failed' | 'disabled';

export const newDeliveryId = () => `msg_${randomBytes(16).toString('base64url')}`;

/**
 * The body merchants receive, and the broker carries for every kind: `{type, timestamp, data}`,
 * `data` being the resource (a payment, a top-up, a deposit, a webhook endpoint) without the
 * socket's `previousStatus` and `seq`.
 */
export function webhookBody(ev: OutboxRecord): string {
  const { seq: _seq, ...rest } = ev.payload;
  const { previousStatus: _previous, ...data } = rest as typeof rest & { previousStatus?: unknown };
  return JSON.stringify({ type: ev.type, timestamp: new Date(ev.createdAt).toISOString(), data });
}

// ---------------------------------------------------------------------------------------------
// The sink

export interface WebhookSinkOptions {
  db: Db;
  clock: Clock;
  /** Called after a batch recorded new deliveries (wakes the worker). */
  onRecorded?(count: number): void;
}

export function createWebhookSink({ db, clock, onRecorded }: WebhookSinkOptions): OutboxSink {
  return {
    async deliver(events) {
      const relevant = events.filter((e) => e.merchantId !== null && WEBHOOK_EVENT_TYPES.has(e.type));
      if (relevant.length === 0) return;
      const merchantIds = [...new Set(relevant.map((e) => e.merchantId!))];
      // Which merchants have an endpoint, read before the write transaction: most hubs have many
      // payments to merchants without webhooks, and those cost no write at all.
      const rows = await db.all<{ id: string }>(
        `SELECT id FROM merchants
          WHERE id IN (${merchantIds.map(() => '?').join(', ')}) AND webhook_url IS NOT NULL AND webhook_disabled_at IS NULL`,
        merchantIds,
      );
      const withEndpoint = new Set(rows.map((r) => r.id));
      const due = relevant.filter((e) => withEndpoint.has(e.merchantId!));
      if (due.length === 0) return;
      const recorded = await db.transaction(async (tx) => {
        const now = clock.now();
        let n = 0;
        for (const e of due) {
          const { changes } = await tx.run(
            `INSERT INTO webhook_deliveries
               (id, merchant_id, event_id, event_type, payment_id, body, state, next_attempt_at, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)
             ON CONFLICT (event_id, merchant_id) DO NOTHING`,
            [newDeliveryId(), e.merchantId, e.id, e.type, e.paymentId, webhookBody(e), now, now, now],
          );
          n += changes;
        }
        return n;
      });
      if (recorded > 0) onRecorded?.(recorded);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Transport

export interface WebhookRequestInit {
  method: 'POST';
  headers: Record<string, string>;
  body: string;
  signal: AbortSignal;
  redirect: 'manual';
}
export interface WebhookResponse {
  status: number;
  headers: { get(name: string): string | null };
}
/** A fetch for webhook POSTs; the global `fetch` fits (tests inject one). */
export type WebhookFetch = (url: string, init: WebhookRequestInit) => Promise<WebhookResponse>;

/**
 * The default transport: node:http(s) whose resolver is the SSRF guard, so the address connected
 * to is the address checked. Redirects are not followed (a 3xx is a failed attempt); the response
 * body is discarded.
 */
export function guardedFetch(opts: { allowPrivate: boolean; resolve?: ResolveAll }): WebhookFetch {
  const lookup = opts.allowPrivate ? undefined : guardedLookup(opts.resolve);
  return (url, init) =>
    new Promise<WebhookResponse>((resolve, reject) => {
      const u = new URL(url);
      const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = request(
        u,
        {
          method: init.method,
          headers: { ...init.headers, 'content-length': String(Buffer.byteLength(init.body)) },
          signal: init.signal,
          agent: false,
          ...(lookup ? { lookup } : {}),
        },
        (res) => {
          res.on('error', () => undefined);
          res.resume();
          const headers: IncomingHttpHeaders = res.headers;
          resolve({
            status: res.statusCode ?? 0,
            headers: {
              get: (name) => {
                const v = headers[name.toLowerCase()];
                return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
              },
            },
          });
        },
      );
      req.on('error', reject);
      req.end(init.body);
    });
}

// ---------------------------------------------------------------------------------------------
// The worker

export interface WebhookWorkerOptions {
  db: Db;
  clock: Clock;
  logger: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
  /** Private, loopback, link-local… targets allowed (tests, dev mode). */
  allowPrivateTargets: boolean;
  /** Per attempt, until the response headers arrive. */
  timeoutMs: number;
  /** Waits after each failed attempt; its length is the number of retries. */
  schedule?: readonly number[];
  fetch?: WebhookFetch;
  /** DNS for the SSRF check (tests). */
  resolve?: ResolveAll;
  /** ± fraction of each wait, so that retries of many deliveries do not arrive together. Default 0.1. */
  jitter?: number;
  random?: () => number;
  /** Attempts in flight at once. */
  concurrency?: number;
  /** How often to look for due rows written or scheduled by other processes. */
  pollIntervalMs?: number;
  onOutcome?(outcome: WebhookOutcome): void;
}

export interface WebhookWorker {
  start(): void;
  /** Stops the timers, aborts attempts in flight (they are retried later) and waits for them. */
  stop(): Promise<void>;
  /** New deliveries were recorded or one was redelivered: look now. */
  poke(): void;
  /** Attempts everything due now and waits for those attempts (tests). */
  runOnce(): Promise<number>;
}

interface Claimed {
  id: string;
  merchant_id: string;
  body: string;
  schedule_step: number | string;
  webhook_url: string | null;
  webhook_secret: string;
  webhook_disabled_at: number | string | null;
}

const MAX_RETRY_AFTER_MS = 24 * 3600_000;

export function createWebhookWorker(opts: WebhookWorkerOptions): WebhookWorker {
  const { db, clock, logger } = opts;
  const schedule = opts.schedule ?? DEFAULT_WEBHOOK_SCHEDULE_MS;
  const jitter = opts.jitter ?? 0.1;
  const random = opts.random ?? Math.random;
  const concurrency = Math.max(1, opts.concurrency ?? 16);
  const pollIntervalMs = opts.pollIntervalMs ?? 1000;
  const send = opts.fetch ?? guardedFetch({ allowPrivate: opts.allowPrivateTargets, resolve: opts.resolve });
  // A claimed row is hidden from other workers until its lease ends; a crash mid-attempt means
  // the attempt is made again after it (at least once).
  const leaseMs = opts.timeoutMs + 60_000;

  const stopController = new AbortController();
  let stopped = false;
  let started = false;
  const active = new Set<Promise<void>>();
  let filling: Promise<void> | null = null;
  let fillAgain = false;
  let dueTimer: NodeJS.Timeout | null = null;
  let arming: Promise<void> | null = null;
  let pollTimer: NodeJS.Timeout | null = null;

  async function claim(limit: number): Promise<{ token: string; rows: Claimed[] }> {
    const token = randomBytes(8).toString('base64url');
    return db.transaction(async (tx) => {
      const now = clock.now();
      const due = await tx.all<{ id: string }>(
        `SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= ?
          ORDER BY next_attempt_at LIMIT ?${forUpdate(tx, true)}`,
        [now, limit],
      );
      if (due.length === 0) return { token, rows: [] };
      const ids = due.map((r) => r.id);
      const list = ids.map(() => '?').join(', ');
      await tx.run(`UPDATE webhook_deliveries SET claim = ?, next_attempt_at = ? WHERE id IN (${list})`, [token, now + leaseMs, ...ids]);
      const rows = await tx.all<Claimed>(
        `SELECT d.id, d.merchant_id, d.body, d.schedule_step, m.webhook_url, m.webhook_secret, m.webhook_disabled_at
           FROM webhook_deliveries d JOIN merchants m ON m.id = d.merchant_id
          WHERE d.id IN (${list})`,
        ids,
      );
      return { token, rows };
    });
  }

  function waitAfter(step: number, retryAfterMs: number | null): number {
    const base = schedule[step - 1]!;
    const wait = Math.max(0, Math.round(base * (1 + jitter * (2 * random() - 1))));
    return retryAfterMs === null ? wait : Math.max(wait, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS));
  }

  async function attempt(d: Claimed, token: string): Promise<void> {
    const startedAt = clock.now();
    if (d.webhook_url === null || d.webhook_disabled_at !== null) {
      // The endpoint went away after the delivery was recorded: nothing to send to.
      const why = d.webhook_url === null ? 'the merchant has no webhook endpoint' : 'the webhook endpoint is disabled';
      await db.run(
        `UPDATE webhook_deliveries SET state = 'failed', next_attempt_at = NULL, claim = NULL, last_error = ?, updated_at = ?
          WHERE id = ? AND claim = ?`,
        [why, startedAt, d.id, token],
      );
      opts.onOutcome?.('failed');
      return;
    }
    const url = d.webhook_url;
    const t0 = performance.now();
    let status: number | null = null;
    let error: string | null = null;
    let retryAfterMs: number | null = null;

    const target = await checkWebhookTarget(url, { allowPrivate: opts.allowPrivateTargets, resolve: opts.resolve });
    if (!target.ok) {
      error = `refused: ${target.reason}`;
    } else {
      const timeout = AbortSignal.timeout(opts.timeoutMs);
      const signal = AbortSignal.any([timeout, stopController.signal]);
      const at = new Date(clock.now());
      try {
        const res = await send(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'Tollway-Webhooks/1',
            'webhook-id': d.id,
            'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
            'webhook-signature': new Webhook(d.webhook_secret).sign(d.id, at, d.body),
          },
          body: d.body,
          signal,
          redirect: 'manual',
        });
        status = res.status;
        if (status === 429 || status === 503) retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), clock.now());
        // A global fetch's body must be consumed or cancelled to free the connection.
        void (res as { body?: { cancel?(): Promise<void> } | null }).body?.cancel?.().catch(() => undefined);
      } catch (err) {
        if (stopController.signal.aborted) {
          // Shutting down: not the receiver's fault. Release the claim; it is attempted again soon.
          await db.run(`UPDATE webhook_deliveries SET claim = NULL, next_attempt_at = ? WHERE id = ? AND claim = ?`, [
            clock.now(),
            d.id,
            token,
          ]);
          return;
        }
        error = timeout.aborted ? `timed out after ${opts.timeoutMs} ms` : describeError(err);
      }
    }
    const durationMs = Math.round(performance.now() - t0);

    let outcome: WebhookOutcome;
    const step = Number(d.schedule_step) + 1;
    let nextAttemptAt: number | null = null;
    if (status !== null && status >= 200 && status < 300) outcome = 'delivered';
    else if (status === 410) outcome = 'disabled';
    else if (step <= schedule.length) {
      outcome = 'retrying';
      nextAttemptAt = clock.now() + waitAfter(step, retryAfterMs);
    } else outcome = 'failed';
    if (status !== null && error === null && outcome !== 'delivered') error = `HTTP ${status}`;

    const now = clock.now();
    await db.transaction(async (tx) => {
      const bumped = await tx.get<{ attempts: number | string }>(
        `UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = ?, last_error = ?, updated_at = ?
          WHERE id = ? RETURNING attempts`,
        [status, outcome === 'delivered' ? null : error, now, d.id],
      );
      await tx.run(
        `INSERT INTO webhook_attempts (delivery_id, attempt, url, started_at, duration_ms, status_code, error, outcome)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        [d.id, Number(bumped?.attempts ?? 1), url, startedAt, durationMs, status, outcome === 'delivered' ? null : error, outcome],
      );
      // Only while our claim stands: a redelivery requested meanwhile keeps its own schedule.
      await tx.run(
        `UPDATE webhook_deliveries
            SET state = ?, next_attempt_at = ?, schedule_step = ?, claim = NULL, delivered_at = COALESCE(?, delivered_at)
          WHERE id = ? AND claim = ?`,
        [
          outcome === 'retrying' ? 'pending' : outcome === 'delivered' ? 'delivered' : 'failed',
          nextAttemptAt,
          outcome === 'retrying' ? step : Number(d.schedule_step),
          outcome === 'delivered' ? now : null,
          d.id,
          token,
        ],
      );
      if (outcome === 'disabled') await disableEndpoint(tx, d.merchant_id, url, now);
    });
    opts.onOutcome?.(outcome);
    const log = { deliveryId: d.id, merchantId: d.merchant_id, status, error, durationMs, outcome, nextAttemptAt };
    if (outcome === 'delivered') logger.debug(log, 'webhook delivered');
    else logger.info(log, 'webhook attempt failed');
  }

  /**
   * 410 Gone: the endpoint is switched off and the deliveries waiting for it stop. Its
   * `webhook.disabled` event commits with the switch (for the broker; webhookDisabledEvent says why
   * no webhook carries it).
   */
  async function disableEndpoint(tx: Queryable, merchantId: string, url: string, now: number): Promise<void> {
    const reason = 'the endpoint answered 410 Gone';
    const { changes } = await tx.run(
      `UPDATE merchants SET webhook_disabled_at = ?, webhook_disabled_reason = ?
        WHERE id = ? AND webhook_url = ? AND webhook_disabled_at IS NULL`,
      [now, reason, merchantId, url],
    );
    if (changes === 0) return; // the URL changed meanwhile: the new endpoint is not the one that is gone
    await appendOutboxEvent(tx, webhookDisabledEvent(merchantId, url, reason, now), now);
    await tx.run(
      `UPDATE webhook_deliveries SET state = 'failed', next_attempt_at = NULL, last_error = ?, updated_at = ?
        WHERE merchant_id = ? AND state = 'pending' AND claim IS NULL`,
      ['the webhook endpoint was disabled (410 Gone)', now, merchantId],
    );
    logger.warn({ merchantId }, 'webhook endpoint answered 410 Gone: disabled');
  }

  /** Claims due rows while there is room for more attempts; each finished attempt looks again. */
  async function fill(): Promise<void> {
    do {
      fillAgain = false;
      while (!stopped && active.size < concurrency) {
        const room = concurrency - active.size;
        const { token, rows } = await claim(room);
        for (const d of rows) {
          const p: Promise<void> = attempt(d, token)
            .catch((err: unknown) => logger.error({ err, deliveryId: d.id }, 'webhook attempt could not be recorded'))
            .finally(() => {
              active.delete(p);
              kick();
            });
          active.add(p);
        }
        if (rows.length < room) break;
      }
    } while (fillAgain && !stopped);
  }

  function kick(): void {
    if (stopped) return;
    if (filling) {
      fillAgain = true;
      return;
    }
    filling = fill()
      .catch((err: unknown) => logger.error({ err }, 'webhook worker could not claim deliveries'))
      .finally(() => {
        filling = null;
        arming ??= armDueTimer().finally(() => (arming = null));
      });
  }

  /** A timer for the next due attempt, so that short waits do not wait for the poll. */
  async function armDueTimer(): Promise<void> {
    if (stopped || !started) return;
    try {
      const row = await db.get<{ next: number | string | null }>(
        `SELECT MIN(next_attempt_at) AS next FROM webhook_deliveries WHERE state = 'pending'`,
      );
      if (stopped || row?.next === null || row?.next === undefined) return;
      const wait = Math.max(0, Math.min(pollIntervalMs, Number(row.next) - clock.now()));
      if (dueTimer) clearTimeout(dueTimer);
      dueTimer = setTimeout(() => {
        dueTimer = null;
        kick();
      }, wait);
      dueTimer.unref();
    } catch (err) {
      if (!stopped) logger.warn({ err }, 'webhook worker could not read the next due time');
    }
  }

  return {
    start() {
      if (started || stopped) return;
      started = true;
      pollTimer = setInterval(kick, pollIntervalMs);
      pollTimer.unref();
      kick();
    },
    async stop() {
      stopped = true;
      if (pollTimer) clearInterval(pollTimer);
      if (dueTimer) clearTimeout(dueTimer);
      pollTimer = dueTimer = null;
      stopController.abort();
      await filling;
      await Promise.allSettled([...active]);
      await arming;
    },
    poke() {
      kick();
    },
    async runOnce() {
      let n = 0;
      while (!stopped) {
        const { token, rows } = await claim(concurrency);
        if (rows.length === 0) break;
        n += rows.length;
        await Promise.all(rows.map((d) => attempt(d, token)));
      }
      return n;
    },
  };
}

function parseRetryAfter(v: string | null, now: number): number | null {
  if (!v) return null;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

function describeError(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const cause = e?.cause;
  if (cause && (cause.code || cause.message)) return [cause.code, cause.message].filter(Boolean).join(': ');
  return [e?.code, e?.message].filter(Boolean).join(': ') || String(err);
}

/**
 * Retention: deletes finished deliveries (delivered or failed) last changed before `olderThanMs`,
 * with their attempts. Pending ones are never deleted.
 */
export async function purgeWebhookDeliveries(tx: Queryable, olderThanMs: number): Promise<number> {
  const old = `SELECT id FROM webhook_deliveries WHERE state IN ('delivered', 'failed') AND updated_at < ?`;
  await tx.run(`DELETE FROM webhook_attempts WHERE delivery_id IN (${old})`, [olderThanMs]);
  const { changes } = await tx.run(`DELETE FROM webhook_deliveries WHERE id IN (${old})`, [olderThanMs]);
  return changes;
}
