/**
 * Webhook receiver faults (issue 13), on a real HTTP receiver on 127.0.0.1 and the hub's real
 * worker, with the hub's injected clock standing in for the waits:
 *
 * 1. the receiver is down (connection refused) for FAULT_WEBHOOK_OUTAGE_MIN simulated minutes (ten
 *    by default) while payments complete: each delivery is attempted on the documented schedule
 *    (docs/protocols.md §6: 5 s, 5 min, 30 min, …; jitter off here so the times are exact), is not
 *    attempted early when the receiver comes back, and is delivered at its next scheduled attempt
 *    with its webhook-id and a signature standardwebhooks verifies;
 * 2. the receiver answers more slowly than the hub's TOLLWAY_WEBHOOK_TIMEOUT: the attempt counts as
 *    a timeout and is retried on the schedule;
 * 3. the receiver answers 410 Gone: the endpoint is disabled (GET /merchants/:id/webhook says so),
 *    the delivery waiting for its retry fails without another attempt, nothing is sent or recorded
 *    after, even two simulated days later.
 *
 * Throughout, the ledger and the payments are untouched by what happens to their webhooks.
 *
 * The simulated clock starts the outage's length in the past, so that the attempts the receiver
 * does get are stamped close to real time and `verify` (which allows 5 minutes either way) accepts
 * them as a merchant's receiver would.
 *
 * Run with `npm run test:faults` (or `npx vitest run --config vitest.slow.config.ts
 * test/faults/webhooks.test.ts`). Figures go to .tmp/faults-webhooks.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import type { WebhookDelivery, WebhookEndpoint, WebhookEvent } from '../../shared/api.js';
import { manualClock } from '../../server/clock.js';
import { DEFAULT_WEBHOOK_SCHEDULE_MS } from '../../server/notify/webhooks.js';
import { ADMIN_TOKEN, freePort, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { waitFor } from '../helpers/sovr.js';
import { ENGINES, type Engine } from '../helpers/stores.js';

type Delivery = z.infer<typeof WebhookDelivery>;
type Endpoint = z.infer<typeof WebhookEndpoint>;

const OUTAGE_MS = Number(process.env.FAULT_WEBHOOK_OUTAGE_MIN ?? 10) * 60_000;
/** Payments made while the receiver is down. */
const PAYMENTS = Number(process.env.FAULT_WEBHOOK_PAYMENTS ?? 5);
/** TOLLWAY_WEBHOOK_TIMEOUT, seconds: the lowest the hub takes, so the slow phase costs little real time. */
const TIMEOUT_S = 1;
/** How long the slow receiver takes to answer (real time): well past the timeout. */
const SLOW_MS = 3 * TIMEOUT_S * 1000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** When each attempt of one delivery is due, from its first: 0, 5 s, 5 min 5 s, 35 min 5 s, … */
const attemptOffsets = [
  0,
  ...DEFAULT_WEBHOOK_SCHEDULE_MS.map((_, i) => DEFAULT_WEBHOOK_SCHEDULE_MS.slice(0, i + 1).reduce((a, b) => a + b, 0)),
];
/** The attempts that fall inside the outage are refused; the first one after it is delivered. */
const refusedAttempts = attemptOffsets.filter((t) => t < OUTAGE_MS).length;
const deliveredAt = attemptOffsets[refusedAttempts]!;

type Mode = 'ok' | 'slow' | 'gone';
interface Received {
  id: string;
  body: string;
  headers: IncomingHttpHeaders;
  event: WebhookEvent | null;
  verifyError: string | null;
  mode: Mode;
}

/** The merchant's endpoint: down until `listen()`, then answering as `mode` says; verifies every request. */
class Receiver {
  readonly received: Received[] = [];
  mode: Mode = 'ok';
  secret = '';
  private server: Server | null = null;
  private readonly held = new Set<ServerResponse>();
  constructor(readonly port: number) {}

  get url() {
    return `http://127.0.0.1:${this.port}/hooks/tollway`;
  }

  async listen(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let event: WebhookEvent | null = null;
        let verifyError: string | null = null;
        try {
          event = new Webhook(this.secret).verify(body, req.headers as Record<string, string>) as WebhookEvent;
        } catch (err) {
          verifyError = (err as Error).message;
        }
        const mode = this.mode;
        this.received.push({ id: String(req.headers['webhook-id']), body, headers: req.headers, event, verifyError, mode });
        if (mode === 'gone') return void res.writeHead(410).end();
        if (mode === 'ok') return void res.writeHead(204).end();
        // Slow: a 200, but only after the hub has stopped waiting.
        this.held.add(res);
        setTimeout(() => {
          this.held.delete(res);
          if (!res.destroyed) res.writeHead(200).end();
        }, SLOW_MS).unref();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }

  async close(): Promise<void> {
    for (const res of this.held) res.destroy();
    this.held.clear();
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}

/** The ledger and the payments, as rows: what no webhook outcome may change. */
async function ledgerState(t: TestHub): Promise<string> {
  const db = t.store.db;
  const accounts = await db.all('SELECT * FROM ledger_accounts ORDER BY id');
  const transfers = await db.all('SELECT * FROM ledger_transfers ORDER BY id');
  const payments = await db.all('SELECT id, status, amount, transfer_id, updated_at FROM payments ORDER BY id');
  return JSON.stringify({ accounts, transfers, payments }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

const figures: Record<string, unknown>[] = [];
const startedAll = Date.now();
afterAll(() => {
  const out = {
    schedule: 'DEFAULT_WEBHOOK_SCHEDULE_MS, jitter 0',
    outageSimulatedMinutes: OUTAGE_MS / 60_000,
    timeoutSeconds: TIMEOUT_S,
    slowReceiverMs: SLOW_MS,
    totalMs: Date.now() - startedAll,
    runs: figures,
  };
  console.log(`webhook faults figures: ${JSON.stringify(out, null, 2)}`);
  mkdirSync('.tmp', { recursive: true });
  writeFileSync('.tmp/faults-webhooks.json', `${JSON.stringify(out, null, 2)}\n`);
});

describe.each(ENGINES)('a webhook receiver down, slow, then gone (%s)', (engine: Engine) => {
  // At the attempt that delivers, the simulated time is the real time the test started.
  const clock = manualClock(Date.now() - deliveredAt);
  let t: TestHub;
  let receiver: Receiver;
  let merchant: { id: string; apiKey: string };
  let alice: Session;
  let keys = 0;

  beforeAll(async () => {
    t = await startTestHub(engine, {
      clock,
      env: { TOLLWAY_WEBHOOK_TIMEOUT: String(TIMEOUT_S) },
      // The documented schedule, without jitter so that every due time is exact; a fast poll so an
      // advanced clock is noticed at once.
      webhooks: { jitter: 0, pollIntervalMs: 20 },
    });
    receiver = new Receiver(await freePort()); // reserved, not listening: connections are refused
    const res = await fetch(`${t.url}/merchants`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({ name: 'Shop', webhookUrl: receiver.url }),
    });
    expect(res.status).toBe(201);
    const m = (await res.json()) as { merchant: { id: string }; apiKey: string; webhookSecret: string };
    merchant = { id: m.merchant.id, apiKey: m.apiKey };
    receiver.secret = m.webhookSecret;
    alice = await signIn(t.url);
    await fund(t.url, alice, '1000000');
  });
  afterEach(async () => expectLedgerBalanced(t.store.db));
  afterAll(async () => {
    await receiver?.close();
    await t?.stop();
  });

  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${t.url}/merchants/${merchant.id}${path}`, { headers: { authorization: `Bearer ${merchant.apiKey}` } });
    expect(res.status).toBe(200);
    return (await res.json()) as T;
  };
  const deliveries = async () => (await api<{ data: Delivery[] }>('/webhook-deliveries?limit=100')).data;
  const deliveryOf = async (paymentId: string) => (await deliveries()).find((d) => d.paymentId === paymentId);
  /** Waits until every listed payment's delivery satisfies `ok`. */
  const until = (paymentIds: string[], ok: (d: Delivery) => boolean, what: string) =>
    waitFor(async () => {
      const list = await deliveries();
      const mine = paymentIds.map((id) => list.find((d) => d.paymentId === id));
      return mine.every((d) => d && ok(d)) && (mine as Delivery[]);
    }, what);
  /** A fresh session whenever the simulated time has outrun the access token. */
  const payOnce = async (amount: string): Promise<string> => {
    alice = await signIn(t.url, alice.wallet);
    const res = await pay(t.url, alice, `wh-fault-${engine}-${++keys}`, { rail: 'internal', payTo: merchant.id, amount, asset: 'SOVR' });
    expect(res.status).toBe(200);
    const p = (await res.json()) as { transactionId: string; status: string };
    expect(p.status).toBe('completed');
    return p.transactionId;
  };
  const iso = (ms: number) => new Date(ms).toISOString();

  it('down, then slower than the timeout, then 410: delivered after recovery, timed out and retried, disabled', async () => {
    const t0Real = Date.now();
    const t0 = clock.now();
    // The schedule the hub runs is the one docs/protocols.md §6 and docs/merchants.md promise.
    const h = 3600_000;
    expect(DEFAULT_WEBHOOK_SCHEDULE_MS).toEqual([5_000, 5 * 60_000, 30 * 60_000, 2 * h, 5 * h, 10 * h, 14 * h, 20 * h, 24 * h]);

    // 1. Down. Payments complete; their deliveries are refused on the schedule.
    const paid: string[] = [];
    for (let i = 0; i < PAYMENTS; i++) paid.push(await payOnce(String(100 + i)));
    const afterPayments = await ledgerState(t);
    for (let k = 1; k <= refusedAttempts; k++) {
      const due = t0 + attemptOffsets[k - 1]!;
      expect(clock.now()).toBe(due);
      const list = await until(paid, (d) => d.attemptCount === k, `refused attempt ${k}`);
      for (const d of list) {
        expect(d.state).toBe('pending');
        expect(d.attempts[k - 1]).toMatchObject({
          attempt: k,
          startedAt: iso(due),
          statusCode: null,
          outcome: 'retrying',
          error: expect.stringMatching(/ECONNREFUSED/),
        });
        expect(d.nextAttemptAt).toBe(iso(t0 + attemptOffsets[k]!));
      }
      if (k < refusedAttempts) clock.set(t0 + attemptOffsets[k]!);
    }

    // The receiver is back at the end of the outage; the next attempt still waits for its time.
    clock.set(t0 + OUTAGE_MS);
    await receiver.listen();
    await sleep(200); // ten of the worker's polls
    expect(receiver.received).toEqual([]);
    expect((await deliveries()).filter((d) => paid.includes(d.paymentId)).map((d) => d.attemptCount)).toEqual(
      paid.map(() => refusedAttempts),
    );

    clock.set(t0 + deliveredAt);
    const delivered = await until(paid, (d) => d.state === 'delivered', 'the deliveries after recovery');
    expect(receiver.received).toHaveLength(PAYMENTS);
    for (const d of delivered) {
      expect(d).toMatchObject({ attemptCount: refusedAttempts + 1, lastStatus: 204, lastError: null, deliveredAt: iso(t0 + deliveredAt) });
      expect(d.attempts.map((a) => a.outcome)).toEqual([...Array(refusedAttempts).fill('retrying'), 'delivered']);
      expect(d.attempts.map((a) => a.startedAt)).toEqual(attemptOffsets.slice(0, refusedAttempts + 1).map((o) => iso(t0 + o)));
      const got = receiver.received.filter((r) => r.id === d.id);
      expect(got).toHaveLength(1);
      expect(got[0]!.verifyError).toBeNull();
      expect(got[0]!.event).toMatchObject({ type: 'payment.completed', data: { transactionId: d.paymentId, status: 'completed' } });
      expect(got[0]!.event).toEqual(d.payload);
    }
    expect(await ledgerState(t)).toBe(afterPayments);
    const recoveredRealMs = Date.now() - t0Real;

    // 2. Slow: answers only after the hub's timeout. Counted as a timeout, retried on the schedule.
    receiver.mode = 'slow';
    const t1 = clock.now();
    const s1 = await payOnce('500');
    const [slow1] = await until([s1], (d) => d.attemptCount === 1, 'the first slow attempt');
    expect(slow1!.attempts[0]).toMatchObject({
      startedAt: iso(t1),
      statusCode: null,
      error: `timed out after ${TIMEOUT_S * 1000} ms`,
      outcome: 'retrying',
    });
    expect(slow1).toMatchObject({ state: 'pending', nextAttemptAt: iso(t1 + DEFAULT_WEBHOOK_SCHEDULE_MS[0]!) });
    clock.set(t1 + 2000);
    const s2 = await payOnce('600');
    const [slow2] = await until([s2], (d) => d.attemptCount === 1, 'the second payment’s slow attempt');
    expect(slow2!.attempts[0]).toMatchObject({ statusCode: null, error: `timed out after ${TIMEOUT_S * 1000} ms`, outcome: 'retrying' });
    expect(slow2!.nextAttemptAt).toBe(iso(t1 + 2000 + DEFAULT_WEBHOOK_SCHEDULE_MS[0]!));
    const beforeGone = await ledgerState(t);

    // 3. Gone: the retry of the first one meets a 410 and the endpoint is switched off; the second,
    // due two seconds later, is failed without being sent.
    receiver.mode = 'gone';
    clock.set(t1 + DEFAULT_WEBHOOK_SCHEDULE_MS[0]!);
    const [gone] = await until([s1], (d) => d.state !== 'pending', 'the 410');
    expect(gone).toMatchObject({ state: 'failed', attemptCount: 2, lastStatus: 410, nextAttemptAt: null });
    expect(gone!.attempts.map((a) => [a.statusCode, a.outcome])).toEqual([
      [null, 'retrying'],
      [410, 'disabled'],
    ]);
    expect(await api<Endpoint>('/webhook')).toEqual({
      url: receiver.url,
      disabledAt: iso(t1 + DEFAULT_WEBHOOK_SCHEDULE_MS[0]!),
      disabledReason: 'the endpoint answered 410 Gone',
    });
    const stopped = (await deliveryOf(s2))!;
    expect(stopped).toMatchObject({
      state: 'failed',
      attemptCount: 1,
      nextAttemptAt: null,
      lastError: 'the webhook endpoint was disabled (410 Gone)',
    });
    const sentBy410 = receiver.received.length;
    expect(receiver.received.map((r) => r.mode)).toEqual([...paid.map(() => 'ok'), 'slow', 'slow', 'gone']);
    expect(receiver.received.slice(PAYMENTS).map((r) => r.id)).toEqual([gone!.id, stopped.id, gone!.id]);
    expect(receiver.received.every((r) => r.verifyError === null)).toBe(true);
    expect(await ledgerState(t)).toBe(beforeGone);

    // No further attempts: not for the waiting delivery, not for a new payment, not two days on.
    const s3 = await payOnce('700');
    const afterLast = await ledgerState(t);
    clock.set(t1 + 48 * 3600_000);
    await sleep(200);
    expect(receiver.received).toHaveLength(sentBy410);
    expect(await deliveryOf(s3)).toBeUndefined();
    expect((await deliveryOf(s2))!.attemptCount).toBe(1);
    expect((await api<Endpoint>('/webhook')).disabledAt).not.toBeNull();
    expect(await ledgerState(t)).toBe(afterLast);
    const all = await t.store.db.all<{ status: string }>('SELECT status FROM payments WHERE merchant_id = ?', [merchant.id]);
    expect(all.map((p) => p.status)).toEqual(Array(PAYMENTS + 3).fill('completed'));

    const log = await deliveries();
    figures.push({
      engine,
      payments: PAYMENTS + 3,
      deliveries: log.length,
      attempts: log.reduce((n, d) => n + d.attemptCount, 0),
      refusedDuringOutage: PAYMENTS * refusedAttempts,
      attemptTimesSimulated: attemptOffsets.slice(0, refusedAttempts + 1).map((o) => `+${o / 1000} s`),
      deliveredAfterRecovery: PAYMENTS,
      timedOut: 2,
      answered410: 1,
      failedByDisable: 1,
      receivedByReceiver: receiver.received.length,
      simulatedSpanHours: Math.round((clock.now() - t0) / 36_000) / 100,
      held: [
        'each delivery attempted at exactly 0, 5 s, 5 min 5 s (refused), then delivered at 35 min 5 s, not earlier',
        'one request per delivery after recovery, webhook-id = delivery id, standardwebhooks verify passes',
        `a receiver slower than TOLLWAY_WEBHOOK_TIMEOUT=${TIMEOUT_S} s: "timed out", retried after 5 s`,
        '410: endpoint disabled (GET /webhook), the waiting delivery failed unsent, nothing recorded or sent after, 48 h on',
        'ledger and payments unchanged by every webhook outcome; ledger balanced',
      ],
      realMsToRecovery: recoveredRealMs,
      ms: Date.now() - t0Real,
    });
  });
});
