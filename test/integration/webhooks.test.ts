import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WebhookDelivery, WebhookEvent } from '../../shared/api.js';
import { startHub, type Hub } from '../../server/app.js';
import { loadConfig } from '../../server/config.js';
import { createLogger } from '../../server/logger.js';
import { toRecord, OUTBOX_COLUMNS } from '../../server/notify/outbox.js';
import { createWebhookSink, createWebhookWorker, DEFAULT_WEBHOOK_SCHEDULE_MS, type WebhookFetch } from '../../server/notify/webhooks.js';
import type { OutboxRecord } from '../../server/notify/outbox.js';
import { manualClock } from '../../server/clock.js';
import { migrate } from '../../server/store/migrate.js';
import { MIGRATIONS } from '../../server/store/migrations/index.js';
import type { z } from 'zod';
import { ADMIN_TOKEN, freePort, fund, pay, signIn, type Session } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { ENGINES, freshStore, type TestStore } from '../helpers/stores.js';

type Delivery = z.infer<typeof WebhookDelivery>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, what: string, ms = 8000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(15);
  }
}

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  event: WebhookEvent | null;
  verified: boolean;
  at: number;
}

/** What the receiver does with the n-th request (0-based): answer a status, or never answer. */
type Behaviour = (n: number) => { status: number; headers?: Record<string, string> } | 'hang';

/** A merchant's webhook endpoint on 127.0.0.1 that verifies every signature with standardwebhooks. */
class Receiver {
  readonly received: Received[] = [];
  secret = '';
  behaviour: Behaviour = () => ({ status: 204 });
  private server: Server | null = null;
  private readonly hanging = new Set<import('node:http').ServerResponse>();
  constructor(public port = 0) {}

  get url() {
    return `http://127.0.0.1:${this.port}/hooks/tollway`;
  }
  get verified() {
    return this.received.filter((r) => r.verified);
  }

  async listen(): Promise<this> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let event: WebhookEvent | null = null;
        let verified = false;
        try {
          event = new Webhook(this.secret).verify(body, req.headers as Record<string, string>) as WebhookEvent;
          verified = true;
        } catch {
          verified = false;
        }
        const n = this.received.length;
        this.received.push({ headers: req.headers, body, event, verified, at: Date.now() });
        const b = this.behaviour(n);
        if (b === 'hang') {
          this.hanging.add(res);
          return;
        }
        res.writeHead(b.status, b.headers).end();
      });
    });
    await new Promise<void>((r) => server.listen(this.port, '127.0.0.1', () => r()));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}

const SCHEDULE = [100, 100, 100, 100];
const TIMEOUT_MS = 400;

describe.each(ENGINES)('webhooks on %s', (engine) => {
  let store: TestStore;
  let hub: Hub;
  let url: string;
  let alice: Session;
  const receivers: Receiver[] = [];
  let n = 0;

  beforeAll(async () => {
    store = await freshStore(engine);
    const port = await freePort();
    const config = loadConfig({
      PORT: String(port),
      HOST: '127.0.0.1',
      TOLLWAY_DEV: '1', // private targets allowed: the receivers are on 127.0.0.1
      TOLLWAY_ADMIN_TOKEN: ADMIN_TOKEN,
      TOLLWAY_DATA_DIR: store.env.TOLLWAY_DATA_DIR ?? `/tmp/tollway-pgtest-${port}`,
      TOLLWAY_LOG_LEVEL: 'silent',
    });
    hub = await startHub({
      config,
      db: store.db,
      logger: createLogger('silent'),
      webhooks: { schedule: SCHEDULE, timeoutMs: TIMEOUT_MS, jitter: 0, pollIntervalMs: 50 },
      // A lightning rail that refuses every payment: the way to a real payment.failed.
      rails: ({ accounts }) => ({
        lightning: {
          name: 'lightning',
          settlement: 'external',
          async resolvePayee(tx, payTo, asset) {
            const m = await tx.get<{ id: string }>('SELECT id FROM merchants WHERE id = ?', [payTo]);
            if (!m) throw new Error(`no merchant ${payTo}`);
            return { creditAccountId: await accounts.merchant(tx, m.id, asset), merchantId: m.id };
          },
          execute: async () => ({ status: 'failed', reason: 'no route to the payee' }),
          resume: async () => ({ status: 'failed', reason: 'no route to the payee' }),
          info: async () => ({ name: 'lightning', assets: ['BTC'] }),
        },
      }),
    });
    url = hub.url;
    alice = await signIn(url);
    await fund(url, alice, '1000000');
  });
  afterEach(async () => {
    for (const r of receivers.splice(0)) await r.close();
    await expectLedgerBalanced(store.db);
  });
  afterAll(async () => {
    await hub?.close();
    await store?.cleanup();
  });

  async function merchantFor(r: Receiver | string | null) {
    const res = await fetch(`${url}/merchants`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({ name: 'Shop', ...(r ? { webhookUrl: typeof r === 'string' ? r : r.url } : {}) }),
    });
    expect(res.status).toBe(201);
    const m = (await res.json()) as { merchant: { id: string }; apiKey: string; webhookSecret: string };
    if (r instanceof Receiver) r.secret = m.webhookSecret;
    return { id: m.merchant.id, apiKey: m.apiKey, secret: m.webhookSecret };
  }
  async function receiver(behaviour?: Behaviour, port?: number): Promise<Receiver> {
    const r = new Receiver(port);
    if (behaviour) r.behaviour = behaviour;
    receivers.push(r);
    return port ? r : r.listen();
  }
  async function payMerchant(merchantId: string, rail = 'internal', amount = '100') {
    const res = await pay(url, alice, `wh-${engine}-${++n}`, { rail, payTo: merchantId, amount, asset: 'SOVR' });
    expect(res.status).toBe(200);
    return (await res.json()) as { transactionId: string; status: string };
  }
  const api = (m: { id: string; apiKey: string }, path: string, init: RequestInit = {}) =>
    fetch(`${url}/merchants/${m.id}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${m.apiKey}`, ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers },
    });
  async function deliveries(m: { id: string; apiKey: string }): Promise<Delivery[]> {
    const res = await api(m, '/webhook-deliveries');
    expect(res.status).toBe(200);
    return ((await res.json()) as { data: Delivery[] }).data;
  }
  async function settled(m: { id: string; apiKey: string }, count = 1): Promise<Delivery[]> {
    return waitFor(async () => {
      const list = await deliveries(m);
      return list.length >= count && list.every((d) => d.state !== 'pending') && list;
    }, 'deliveries to settle');
  }

  it('sends one verified payment.completed with the payment resource, and nothing for other events', async () => {
    const r = await receiver();
    const m = await merchantFor(r);
    const p = await payMerchant(m.id);
    expect(p.status).toBe('completed');

    const [d] = await settled(m);
    await sleep(150); // no second request turns up
    expect(r.received).toHaveLength(1);
    const got = r.received[0]!;
    expect(got.verified).toBe(true);
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['webhook-id']).toBe(d!.id);
    expect(Math.abs(Number(got.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    expect(got.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/=]+$/);
    const resource = await (
      await fetch(`${url}/payments/${p.transactionId}`, { headers: { authorization: `Bearer ${alice.accessToken}` } })
    ).json();
    expect(got.event).toEqual({ type: 'payment.completed', timestamp: expect.any(String), data: resource });
    expect(got.event).not.toHaveProperty('data.seq');

    expect(d).toMatchObject({
      eventType: 'payment.completed',
      paymentId: p.transactionId,
      state: 'delivered',
      attemptCount: 1,
      lastStatus: 204,
      lastError: null,
    });
    expect(d!.payload).toEqual(got.event);
    expect(d!.attempts).toEqual([
      {
        attempt: 1,
        url: r.url,
        startedAt: expect.any(String),
        durationMs: expect.any(Number),
        statusCode: 204,
        error: null,
        outcome: 'delivered',
      },
    ]);
    // A signature made with another secret does not verify (the receiver really checks).
    expect(() =>
      new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`).verify(got.body, got.headers as Record<string, string>),
    ).toThrow();
  });

  it('sends payment.failed for a failed payment', async () => {
    const r = await receiver();
    const m = await merchantFor(r);
    const p = await payMerchant(m.id, 'lightning');
    expect(p.status).toBe('failed');
    await settled(m);
    expect(r.verified).toHaveLength(1);
    expect(r.verified[0]!.event).toMatchObject({
      type: 'payment.failed',
      data: { transactionId: p.transactionId, status: 'failed', failureReason: 'no route to the payee' },
    });
  });

  it('retries after 500s and delivers on a later attempt with the same webhook-id', async () => {
    const r = await receiver((i) => ({ status: i < 2 ? 500 : 200 }));
    const m = await merchantFor(r);
    await payMerchant(m.id);
    const [d] = await settled(m);
    expect(d).toMatchObject({ state: 'delivered', attemptCount: 3, lastStatus: 200 });
    expect(d!.attempts.map((a) => [a.statusCode, a.outcome])).toEqual([
      [500, 'retrying'],
      [500, 'retrying'],
      [200, 'delivered'],
    ]);
    expect(d!.attempts[0]!.error).toBe('HTTP 500');
    expect(r.received).toHaveLength(3);
    expect(r.received.every((x) => x.verified && x.headers['webhook-id'] === d!.id)).toBe(true);
    expect(new Set(r.received.map((x) => x.body)).size).toBe(1); // byte-identical body on every attempt
    // The waits follow the schedule (100 ms, no jitter here).
    expect(r.received[1]!.at - r.received[0]!.at).toBeGreaterThanOrEqual(90);
  });

  it('delivers once the receiver comes up after refusing connections', async () => {
    const r = await receiver(undefined, await freePort()); // not listening yet
    const m = await merchantFor(r);
    r.secret = m.secret;
    await payMerchant(m.id);
    const first = await waitFor(async () => (await deliveries(m)).find((d) => d.attemptCount >= 1), 'a refused attempt');
    expect(first.attempts[0]).toMatchObject({ statusCode: null, outcome: 'retrying', error: expect.stringMatching(/ECONNREFUSED/) });
    await r.listen();
    const [d] = await settled(m);
    expect(d!.state).toBe('delivered');
    expect(d!.attempts.at(-1)).toMatchObject({ statusCode: 204, outcome: 'delivered' });
    expect(r.verified).toHaveLength(1);
  });

  it('counts a timeout as a failed attempt', async () => {
    const r = await receiver((i) => (i === 0 ? 'hang' : { status: 200 }));
    const m = await merchantFor(r);
    await payMerchant(m.id);
    const [d] = await settled(m);
    expect(d!.state).toBe('delivered');
    expect(d!.attempts[0]).toMatchObject({ statusCode: null, outcome: 'retrying', error: `timed out after ${TIMEOUT_MS} ms` });
    expect(d!.attempts[0]!.durationMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    expect(d!.attempts[1]).toMatchObject({ statusCode: 200, outcome: 'delivered' });
  });

  it('gives up after the last attempt of the schedule', async () => {
    const r = await receiver(() => ({ status: 503 }));
    const m = await merchantFor(r);
    await payMerchant(m.id);
    const [d] = await settled(m);
    expect(d).toMatchObject({ state: 'failed', attemptCount: SCHEDULE.length + 1, lastStatus: 503, nextAttemptAt: null });
    expect(d!.attempts.map((a) => a.outcome)).toEqual([...SCHEDULE.map(() => 'retrying'), 'failed']);
    await sleep(250);
    expect(r.received).toHaveLength(SCHEDULE.length + 1);
  });

  it('honours retry-after on 429', async () => {
    const r = await receiver((i) => (i === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 }));
    const m = await merchantFor(r);
    await payMerchant(m.id);
    const [d] = await settled(m);
    expect(d!.attempts.map((a) => a.statusCode)).toEqual([429, 200]);
    expect(r.received[1]!.at - r.received[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it('410 disables the endpoint and stops its deliveries; PUT re-enables it; redeliver keeps the webhook-id', async () => {
    const r = await receiver(() => ({ status: 410 }));
    const m = await merchantFor(r);
    await payMerchant(m.id);
    const [gone] = await settled(m);
    expect(gone).toMatchObject({ state: 'failed', attemptCount: 1, lastStatus: 410 });
    expect(gone!.attempts[0]!.outcome).toBe('disabled');
    const endpoint = await (await api(m, '/webhook')).json();
    expect(endpoint).toEqual({ url: r.url, disabledAt: expect.any(String), disabledReason: 'the endpoint answered 410 Gone' });

    // Further events are not delivered (nor recorded) while the endpoint is disabled.
    await payMerchant(m.id);
    await sleep(300);
    expect(r.received).toHaveLength(1);
    expect(await deliveries(m)).toHaveLength(1);

    // Redelivery is refused while disabled.
    const refused = await api(m, `/webhook-deliveries/${gone!.id}/redeliver`, { method: 'POST' });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ type: 'https://tollway.dev/problems/webhook-endpoint-disabled' });

    // The merchant fixes the endpoint and re-enables it, then asks for the event again.
    r.behaviour = () => ({ status: 200 });
    const put = await api(m, '/webhook', { method: 'PUT', body: JSON.stringify({ url: r.url }) });
    expect(put.status).toBe(200);
    expect(await put.json()).toEqual({ url: r.url, disabledAt: null, disabledReason: null });
    const redo = await api(m, `/webhook-deliveries/${gone!.id}/redeliver`, { method: 'POST' });
    expect(redo.status).toBe(202);
    expect(await redo.json()).toMatchObject({ id: gone!.id, state: 'pending' });
    const [again] = await settled(m);
    expect(again).toMatchObject({ id: gone!.id, state: 'delivered', attemptCount: 2 });
    expect(r.received).toHaveLength(2);
    expect(r.received[1]!.verified).toBe(true);
    expect(r.received[1]!.headers['webhook-id']).toBe(r.received[0]!.headers['webhook-id']);
    expect(r.received[1]!.body).toBe(r.received[0]!.body);

    // New events flow again.
    await payMerchant(m.id);
    await settled(m, 2);
    expect(r.verified).toHaveLength(3);
  });

  it('redelivers a delivered event once, same webhook-id, fresh timestamp and signature', async () => {
    const r = await receiver();
    const m = await merchantFor(r);
    await payMerchant(m.id);
    const [d] = await settled(m);
    await sleep(1100); // a new second, so the timestamp and signature differ
    const res = await api(m, `/webhook-deliveries/${d!.id}/redeliver`, { method: 'POST' });
    expect(res.status).toBe(202);
    await waitFor(() => r.received.length === 2, 'the redelivery');
    const [a, b] = r.received;
    expect(b!.verified).toBe(true);
    expect(b!.headers['webhook-id']).toBe(a!.headers['webhook-id']);
    expect(b!.headers['webhook-timestamp']).not.toBe(a!.headers['webhook-timestamp']);
    expect(b!.headers['webhook-signature']).not.toBe(a!.headers['webhook-signature']);
    const [after] = await settled(m);
    expect(after).toMatchObject({ state: 'delivered', attemptCount: 2 });

    // A redelivery of a finished delivery is one attempt: no automatic retries after it.
    r.behaviour = () => ({ status: 500 });
    await api(m, `/webhook-deliveries/${d!.id}/redeliver`, { method: 'POST' });
    const [failed] = await waitFor(async () => {
      const list = await deliveries(m);
      return list[0]!.attemptCount === 3 && list[0]!.state !== 'pending' && list;
    }, 'the failed redelivery');
    expect(failed).toMatchObject({ state: 'failed', lastStatus: 500 });
    await sleep(300);
    expect(r.received).toHaveLength(3);
  });

  it('records one delivery when the sink is handed the same events twice', async () => {
    const r = await receiver();
    const m = await merchantFor(r);
    const p = await payMerchant(m.id);
    await settled(m);
    const events = (
      await store.db.all<Parameters<typeof toRecord>[0]>(`SELECT ${OUTBOX_COLUMNS} FROM outbox WHERE payment_id = ? ORDER BY id`, [
        p.transactionId,
      ])
    ).map(toRecord);
    expect(events.map((e) => e.type)).toEqual(['payment.completed']);
    // A synthetic failed event for the same merchant, handed over twice, concurrently and again.
    const failed = { ...events[0]!, id: 900_000_000 + n, type: 'payment.failed' };
    let recorded = 0;
    const sink = createWebhookSink({ db: store.db, clock: { now: () => Date.now() }, onRecorded: (c) => (recorded += c) });
    await Promise.all([sink.deliver([...events, failed]), sink.deliver([...events, failed])]);
    await sink.deliver([...events, failed]);
    expect(recorded).toBe(1);
    const rows = await store.db.all<{ event_id: number | string }>(
      'SELECT event_id FROM webhook_deliveries WHERE merchant_id = ? ORDER BY event_id',
      [m.id],
    );
    expect(rows.map((x) => Number(x.event_id))).toEqual([events[0]!.id, failed.id]);
    // The hub's worker picks up the new row on its own.
    await settled(m, 2);
    expect(r.verified.map((x) => x.event!.type).sort()).toEqual(['payment.completed', 'payment.failed']);
  });

  it('pages the log newest first, and keeps merchants apart', async () => {
    const r = await receiver();
    const m = await merchantFor(r);
    const other = await merchantFor(null);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await payMerchant(m.id)).transactionId);
    await settled(m, 3);
    const page1 = (await (await api(m, '/webhook-deliveries?limit=2')).json()) as { data: Delivery[]; nextCursor: string };
    expect(page1.data.map((d) => d.paymentId)).toEqual([ids[2], ids[1]]);
    expect(page1.nextCursor).toEqual(expect.any(String));
    const page2 = (await (await api(m, `/webhook-deliveries?limit=2&cursor=${page1.nextCursor}`)).json()) as {
      data: Delivery[];
      nextCursor: null;
    };
    expect(page2.data.map((d) => d.paymentId)).toEqual([ids[0]]);
    expect(page2.nextCursor).toBeNull();
    expect((await api(m, '/webhook-deliveries?cursor=nonsense')).status).toBe(400);

    const theirs = page1.data[0]!.id;
    expect(await deliveries(other)).toEqual([]);
    expect((await api(other, `/webhook-deliveries/${theirs}`)).status).toBe(404);
    const redo = await api(other, `/webhook-deliveries/${theirs}/redeliver`, { method: 'POST' });
    expect(redo.status).toBe(404);
    expect(redo.headers.get('content-type')).toMatch(/application\/problem\+json/);
    // Another merchant's key on this merchant's log: 403; no key: 401.
    expect(
      (await fetch(`${url}/merchants/${m.id}/webhook-deliveries`, { headers: { authorization: `Bearer ${other.apiKey}` } })).status,
    ).toBe(403);
    expect((await fetch(`${url}/merchants/${m.id}/webhook-deliveries`)).status).toBe(401);
    expect((await api(m, '/webhook', { method: 'PUT', body: JSON.stringify({ url: r.url, extra: 1 }) })).status).toBe(400);
    expect((await api(m, '/webhook', { method: 'PUT', body: JSON.stringify({ url: 'ftp://x.example/' }) })).status).toBe(400);

    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/tollway_webhook_deliveries_total\{outcome="delivered"\} [1-9]/);
  });

  it('sends nothing for a merchant without an endpoint, and PUT null removes one', async () => {
    const m = await merchantFor(null);
    await payMerchant(m.id);
    const r = await receiver();
    const withHook = await merchantFor(r);
    const put = await api(withHook, '/webhook', { method: 'PUT', body: JSON.stringify({ url: null }) });
    expect(await put.json()).toEqual({ url: null, disabledAt: null, disabledReason: null });
    await payMerchant(withHook.id);
    await sleep(300);
    expect(await deliveries(m)).toEqual([]);
    expect(await deliveries(withHook)).toEqual([]);
    expect(r.received).toHaveLength(0);
  });
});

describe.each(ENGINES)('webhook targets on a hub that refuses private addresses (%s)', (engine) => {
  let store: TestStore;
  let hub: Hub;
  let url: string;
  const dns: Record<string, string> = { 'inside.test': '127.0.0.1' };

  beforeAll(async () => {
    store = await freshStore(engine);
    const port = await freePort();
    const config = loadConfig({
      PORT: String(port),
      TOLLWAY_DEV: '1',
      TOLLWAY_WEBHOOK_ALLOW_PRIVATE: '0',
      TOLLWAY_ADMIN_TOKEN: ADMIN_TOKEN,
      TOLLWAY_DATA_DIR: store.env.TOLLWAY_DATA_DIR ?? `/tmp/tollway-pgtest-${port}`,
      TOLLWAY_LOG_LEVEL: 'silent',
    });
    expect(config.webhookAllowPrivate).toBe(false);
    hub = await startHub({
      config,
      db: store.db,
      logger: createLogger('silent'),
      webhooks: {
        schedule: [60_000],
        timeoutMs: 500,
        // Names resolve here; nothing is ever sent to a non-loopback address.
        resolve: async (host) => {
          const address = dns[host];
          if (!address) throw Object.assign(new Error(`ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
          return [{ address, family: 4 }];
        },
        fetch: async () => {
          throw new Error('the SSRF guard should have refused before sending');
        },
      },
    });
    url = hub.url;
  });
  afterEach(async () => expectLedgerBalanced(store.db));
  afterAll(async () => {
    await hub?.close();
    await store?.cleanup();
  });

  const register = (webhookUrl: string) =>
    fetch(`${url}/merchants`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({ name: 'Shop', webhookUrl }),
    });

  it.each([
    'http://127.0.0.1:9/hook',
    'http://[::1]/hook',
    'http://10.1.2.3/hook',
    'http://169.254.169.254/',
    'http://localhost/hook',
    'http://[::ffff:127.0.0.1]/',
  ])('refuses %s at registration with a 400 problem', async (webhookUrl) => {
    const res = await register(webhookUrl);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { type: string; errors: { path: string }[] };
    expect(body.type).toBe('https://tollway.dev/problems/validation-error');
    expect(body.errors[0]!.path).toBe('body.webhookUrl');
  });

  it('accepts a public name, refuses a private URL on PUT, and refuses at delivery a name that resolves inside', async () => {
    const res = await register('https://shop.example/hook');
    expect(res.status).toBe(201);
    const m = (await res.json()) as { merchant: { id: string }; apiKey: string };
    const put = (u: string) =>
      fetch(`${url}/merchants/${m.merchant.id}/webhook`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${m.apiKey}` },
        body: JSON.stringify({ url: u }),
      });
    expect((await put('http://192.168.1.1/hook')).status).toBe(400);
    expect((await put('http://inside.test:8402/hook')).status).toBe(200); // a name: judged when sending

    const s = await signIn(url);
    await fund(url, s, '1000');
    expect((await pay(url, s, 'ssrf-1', { rail: 'internal', payTo: m.merchant.id, amount: '10', asset: 'SOVR' })).status).toBe(200);
    const d = await waitFor(async () => {
      const list = (
        (await (
          await fetch(`${url}/merchants/${m.merchant.id}/webhook-deliveries`, { headers: { authorization: `Bearer ${m.apiKey}` } })
        ).json()) as {
          data: Delivery[];
        }
      ).data;
      return list[0]?.attemptCount === 1 && list[0];
    }, 'the refused attempt');
    expect(d.state).toBe('pending'); // DNS may change: retried on the schedule
    expect(d.attempts[0]).toMatchObject({
      statusCode: null,
      outcome: 'retrying',
      error: 'refused: inside.test resolves to 127.0.0.1, a loopback address',
    });
  });
});

describe.each(ENGINES)('the webhook worker on a manual clock (%s)', (engine) => {
  let store: TestStore;
  const secret = `whsec_${Buffer.alloc(32, 3).toString('base64')}`;
  let eventId = 0;

  beforeAll(async () => {
    store = await freshStore(engine);
    await migrate(store.db, MIGRATIONS);
  });
  afterAll(async () => store?.cleanup());

  async function merchant(): Promise<string> {
    const id = `m_clock_${++eventId}`;
    await store.db.run(
      'INSERT INTO merchants (id, name, webhook_url, payout_address, api_key_hash, webhook_secret, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      [id, 'Shop', 'https://shop.example/hook', null, `hash-${id}`, secret, 0],
    );
    return id;
  }
  function event(merchantId: string, at: number): OutboxRecord {
    const id = ++eventId;
    const iso = new Date(at).toISOString();
    return {
      id,
      userId: 'u_1',
      merchantId,
      paymentId: `pay_${id}`,
      type: 'payment.completed',
      seq: id,
      payload: {
        transactionId: `pay_${id}`,
        status: 'completed',
        rail: 'internal',
        payTo: merchantId,
        amount: '10',
        asset: 'SOVR',
        resource: null,
        description: null,
        failureReason: null,
        receipt: {},
        createdAt: iso,
        updatedAt: iso,
        previousStatus: 'pending',
        seq: id,
      },
      createdAt: at,
      dispatchedAt: null,
    };
  }
  const row = async (merchantId: string) =>
    (await store.db.get<{ state: string; attempts: number | string; next_attempt_at: number | string | null }>(
      'SELECT state, attempts, next_attempt_at FROM webhook_deliveries WHERE merchant_id = ?',
      [merchantId],
    ))!;

  it('walks the Standard Webhooks schedule (5 s … 24 h, with jitter), then gives up', async () => {
    const clock = manualClock(Date.now());
    const sent: { id: string; ts: string }[] = [];
    const fetch: WebhookFetch = async (_url, init) => {
      sent.push({ id: init.headers['webhook-id']!, ts: init.headers['webhook-timestamp']! });
      expect(() =>
        new Webhook(secret).sign(init.headers['webhook-id']!, new Date(Number(init.headers['webhook-timestamp']) * 1000), init.body),
      ).not.toThrow();
      return { status: 500, headers: { get: () => null } };
    };
    // random() = 1 is the top of the jitter range: +10%.
    const worker = createWebhookWorker({
      db: store.db,
      clock,
      logger: createLogger('silent'),
      allowPrivateTargets: true,
      timeoutMs: 1000,
      fetch,
      random: () => 1,
    });
    const m = await merchant();
    await createWebhookSink({ db: store.db, clock }).deliver([event(m, clock.now())]);

    expect(await worker.runOnce()).toBe(1);
    for (const wait of DEFAULT_WEBHOOK_SCHEDULE_MS) {
      const jittered = Math.round(wait * 1.1);
      expect(Number((await row(m)).next_attempt_at)).toBe(clock.now() + jittered);
      clock.advance(jittered - 1);
      expect(await worker.runOnce()).toBe(0); // not due yet
      clock.advance(1);
      expect(await worker.runOnce()).toBe(1);
    }
    expect(await row(m)).toMatchObject({ state: 'failed', next_attempt_at: null });
    expect(Number((await row(m)).attempts)).toBe(DEFAULT_WEBHOOK_SCHEDULE_MS.length + 1);
    expect(sent).toHaveLength(10);
    expect(new Set(sent.map((x) => x.id)).size).toBe(1);
    // Timestamps are those of each attempt, from the first to the last.
    const span = Number(sent.at(-1)!.ts) - Number(sent[0]!.ts);
    const total = DEFAULT_WEBHOOK_SCHEDULE_MS.reduce((a, w) => a + Math.round(w * 1.1), 0) / 1000; // seconds, ~87 h
    expect(Math.abs(span - total)).toBeLessThanOrEqual(1); // each header is floored to the second
    clock.advance(48 * 3600_000);
    expect(await worker.runOnce()).toBe(0);
    await worker.stop();
  });

  it('honours a retry-after longer than the scheduled wait, up to 24 h', async () => {
    const clock = manualClock(Date.now());
    const answers = [
      { status: 503, retryAfter: '7200' },
      { status: 429, retryAfter: String(10 * 24 * 3600) },
      { status: 429, retryAfter: '1' }, // shorter than the schedule: the schedule wins
    ];
    let i = 0;
    const fetch: WebhookFetch = async () => {
      const a = answers[i++]!;
      return { status: a.status, headers: { get: (h) => (h === 'retry-after' ? a.retryAfter : null) } };
    };
    const worker = createWebhookWorker({
      db: store.db,
      clock,
      logger: createLogger('silent'),
      allowPrivateTargets: true,
      timeoutMs: 1000,
      fetch,
      jitter: 0,
    });
    const m = await merchant();
    await createWebhookSink({ db: store.db, clock }).deliver([event(m, clock.now())]);
    await worker.runOnce();
    expect(Number((await row(m)).next_attempt_at) - clock.now()).toBe(7200_000);
    clock.advance(7200_000);
    await worker.runOnce();
    expect(Number((await row(m)).next_attempt_at) - clock.now()).toBe(24 * 3600_000);
    clock.advance(24 * 3600_000);
    await worker.runOnce();
    expect(Number((await row(m)).next_attempt_at) - clock.now()).toBe(DEFAULT_WEBHOOK_SCHEDULE_MS[2]);
    await worker.stop();
  });

  it('two workers on one database attempt each delivery once', async () => {
    const clock = manualClock(Date.now());
    const seen = new Map<string, number>();
    const fetch: WebhookFetch = async (_url, init) => {
      const id = init.headers['webhook-id']!;
      seen.set(id, (seen.get(id) ?? 0) + 1);
      await sleep(5);
      return { status: 200, headers: { get: () => null } };
    };
    const opts = { db: store.db, clock, logger: createLogger('silent'), allowPrivateTargets: true, timeoutMs: 1000, fetch, concurrency: 4 };
    const [a, b] = [createWebhookWorker(opts), createWebhookWorker(opts)];
    const m = await merchant();
    await createWebhookSink({ db: store.db, clock }).deliver(Array.from({ length: 30 }, () => event(m, clock.now())));
    const [na, nb] = await Promise.all([a.runOnce(), b.runOnce()]);
    expect(na + nb).toBe(30);
    expect(seen.size).toBe(30);
    expect([...seen.values()].every((c) => c === 1)).toBe(true);
    await Promise.all([a.stop(), b.stop()]);
  });
});
