/**
 * The Lightning rail against a stand-in LND that speaks LND's REST wire format over real HTTP:
 * the same adapter would talk to a real node. Every scenario runs on SQLite and PostgreSQL and
 * ends with the ledger invariant checked.
 */
import { execFileSync } from 'node:child_process';
import bolt11 from 'bolt11';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { io, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PaymentStatusUpdate } from '../../shared/api.js';
import { loadConfig } from '../../server/config.js';
import { runDoctor } from '../../server/doctor.js';
import { createLogger } from '../../server/logger.js';
import { LIGHTNING_OUTBOUND_ACCOUNT } from '../../server/rails/lightning/index.js';
import { spawnHub, type ChildHub } from '../helpers/child-hub.js';
import { makeInvoice, startFakeLnd, type FakeLnd } from '../../devnet/lnd.js';
import { balances, freePort, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced, rowCounts } from '../helpers/invariant.js';
import { ENGINES, freshStore, type Engine } from '../helpers/stores.js';

type P = {
  transactionId: string;
  status: string;
  rail: string;
  amount: string;
  failureReason: string | null;
  receipt: { token?: string; transactionHash?: string; preimage?: string };
};
type Problem = { type: string; status: number; detail?: string };

const sha256hex = (hex: string) => createHash('sha256').update(Buffer.from(hex, 'hex')).digest('hex');
const lightningEnv = (lnd: FakeLnd, extra: Record<string, string> = {}) => ({
  TOLLWAY_LND_REST_URL: lnd.url,
  TOLLWAY_LND_MACAROON: lnd.macaroonHex,
  // Short, so that a payment held at the node answers `submitted` without slowing the suite.
  TOLLWAY_LIGHTNING_WAIT: '0.3',
  ...extra,
});
const lnBody = (payTo: string, amount: string | bigint, asset = 'BTC') => ({ rail: 'lightning', payTo, amount: String(amount), asset });

async function until<T>(f: () => Promise<T | undefined> | T | undefined, what: string, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Resolves with the first paymentStatusUpdate for `id` in `status`, however many others arrive first. */
function nextUpdate(s: Socket, id: string, status: string, ms = 15_000): Promise<PaymentStatusUpdate> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${status} update for ${id}`)), ms);
    const on = (u: PaymentStatusUpdate) => {
      if (u.transactionId !== id || u.status !== status) return;
      clearTimeout(t);
      s.off('paymentStatusUpdate', on);
      resolve(u);
    };
    s.on('paymentStatusUpdate', on);
  });
}

async function socketFor(url: string, s: Session): Promise<Socket> {
  const sock = io(url, { auth: { token: s.accessToken }, transports: ['websocket'], reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', () => resolve());
    sock.once('connect_error', reject);
  });
  return sock;
}

async function outboundCredits(t: TestHub): Promise<bigint> {
  const r = await t.store.db.get<{ c: string }>('SELECT credits_posted AS c FROM ledger_accounts WHERE id = ?', [
    LIGHTNING_OUTBOUND_ACCOUNT,
  ]);
  return BigInt(r?.c ?? 0);
}

describe.each(ENGINES)('Lightning rail on %s', (engine: Engine) => {
  let lnd: FakeLnd;
  let t: TestHub;
  let s: Session;
  let sock: Socket;
  let k = 0;
  let logged = '';
  const key = () => `ln-${engine}-${++k}`;
  const get = async (id: string) =>
    (await (await fetch(`${t.url}/payments/${id}`, { headers: { authorization: `Bearer ${s.accessToken}` } })).json()) as P;

  beforeAll(async () => {
    // Routing costs something, so the test shows who pays it: the hub's node, not the payer.
    lnd = await startFakeLnd({ routingFeeMsat: 2000n });
    const sink = new Writable({
      write(chunk, _enc, done) {
        logged += String(chunk);
        done();
      },
    });
    t = await startTestHub(engine, { env: lightningEnv(lnd), logger: createLogger('trace', sink) });
    s = await signIn(t.url);
    await fund(t.url, s, '10000000', 'BTC');
    sock = await socketFor(t.url, s);
  });
  afterEach(async () => {
    lnd.release();
    await expectLedgerBalanced(t.store.db);
  });
  afterAll(async () => {
    sock?.close();
    await t?.stop();
    await lnd?.close();
  });

  it('pays an invoice: completed with its preimage, and exactly the invoice amount moves', async () => {
    const inv = lnd.addInvoice({ valueMsat: 1_500_123n, memo: 'an article' });
    const before = await balances(t.url, s);
    const credited = await outboundCredits(t);
    const res = await pay(t.url, s, key(), lnBody(inv.paymentRequest, 1_500_123n));
    expect(res.status).toBe(200);
    const p = (await res.json()) as P;
    expect(p).toMatchObject({ status: 'completed', rail: 'lightning', amount: '1500123', failureReason: null });
    expect(p.receipt.preimage).toBe(inv.preimageHex);
    expect(sha256hex(p.receipt.preimage!)).toBe(inv.paymentHashHex);
    expect(p.receipt.transactionHash).toBe(inv.paymentHashHex);
    expect(p.receipt.token).toBeTruthy();
    expect(lnd.invoiceState(inv.paymentHashHex)).toBe('SETTLED');

    const after = await balances(t.url, s);
    expect(BigInt(before.BTC!.posted) - BigInt(after.BTC!.posted)).toBe(1_500_123n);
    expect(after.BTC!.pending).toBe('0');
    expect((await outboundCredits(t)) - credited).toBe(1_500_123n);
    // The node paid a routing fee on top; the ledger did not charge it to the payer.
    const sent = lnd.payments().filter((x) => x.paymentHash === inv.paymentHashHex);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.feeMsat).toBe(2000n);
    expect(sent[0]!.feeLimitMsat).toBe(15_002n); // max(10 sat, 1 % of 1,500,123 msat rounded up)

    const shown = await get(p.transactionId);
    expect(shown.receipt.preimage).toBe(inv.preimageHex);
    expect(shown.status).toBe('completed');
  });

  it('an auto-payment is charged to the allowance of the node that signed the invoice, and refused for any other node', async () => {
    const site = 'https://ln-shop.example';
    const auth = { authorization: `Bearer ${s.accessToken}`, 'content-type': 'application/json' };
    const ours = lnd.addInvoice({ valueMsat: 3000n });
    const node = bolt11.decode(ours.paymentRequest).payeeNodeKey!;
    const put = await fetch(`${t.url}/allowances`, {
      method: 'PUT',
      headers: auth,
      body: JSON.stringify({ site, payee: node, asset: 'BTC', amount: '10000', period: 'day' }),
    });
    expect(put.status).toBe(200);
    // Same site, same amount, an invoice another node signed: refused before anything is stored.
    const theirs = makeInvoice({ valueMsat: 3000n });
    const before = { balances: await balances(t.url, s), rows: await rowCounts(t.store.db), sends: lnd.sendRequests() };
    const refused = await pay(t.url, s, key(), { ...lnBody(theirs.paymentRequest, 3000n), allowance: { site } });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as Problem).type).toBe('https://tollway.dev/problems/allowance-payee-mismatch');
    expect(await balances(t.url, s)).toEqual(before.balances);
    expect(await rowCounts(t.store.db)).toEqual(before.rows);
    expect(lnd.sendRequests()).toBe(before.sends);
    // The node it was set for: a new invoice of that node is paid from the allowance.
    const ok = await pay(t.url, s, key(), { ...lnBody(ours.paymentRequest, 3000n), allowance: { site } });
    expect(ok.status).toBe(200);
    const list = (await (await fetch(`${t.url}/allowances`, { headers: auth })).json()) as { data: { payee: string; spent: string }[] };
    expect(list.data).toEqual([expect.objectContaining({ payee: node, spent: '3000' })]);
  });

  it('sends once for an Idempotency-Key used twice', async () => {
    const inv = lnd.addInvoice({ valueMsat: 2000n });
    const k1 = key();
    const sends = lnd.sendRequests();
    const first = (await (await pay(t.url, s, k1, lnBody(inv.paymentRequest, 2000n))).json()) as P;
    const again = await pay(t.url, s, k1, lnBody(inv.paymentRequest, 2000n));
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(((await again.json()) as P).transactionId).toBe(first.transactionId);
    expect(first.status).toBe('completed');
    expect(lnd.sendRequests() - sends).toBe(1);
    expect(lnd.payments().filter((x) => x.paymentHash === inv.paymentHashHex)).toHaveLength(1);
  });

  it('refuses garbage, expired, amountless, wrong-network and mismatched invoices with 400, storing nothing', async () => {
    const good = lnd.addInvoice({ valueMsat: 3000n });
    const cases: [string, unknown, string][] = [
      ['amount differs', lnBody(good.paymentRequest, 3001n), 'invoice-amount-mismatch'],
      [
        'expired',
        lnBody(
          makeInvoice({ valueMsat: 3000n, timestamp: Math.floor(Date.now() / 1000) - 7200, expirySeconds: 3600 }).paymentRequest,
          3000n,
        ),
        'invoice-expired',
      ],
      ['garbage', lnBody('lnbcrt1qqqqqqqqqqqqqqqqqqq', 3000n), 'invalid-invoice'],
      ['not an invoice', lnBody('hello', 3000n), 'invalid-invoice'],
      ['a lightning: URI', lnBody(`lightning:${good.paymentRequest}`, 3000n), 'invalid-invoice'],
      ['tampered', lnBody(good.paymentRequest.slice(0, -8) + 'qqqqqqqq', 3000n), 'invalid-invoice'],
      ['amountless', lnBody(lnd.addInvoice({ valueMsat: 0n }).paymentRequest, 3000n), 'invalid-invoice'],
      ['another network', lnBody(makeInvoice({ valueMsat: 3000n, network: 'mainnet' }).paymentRequest, 3000n), 'invalid-invoice'],
      ['not BTC', lnBody(good.paymentRequest, 3000n, 'SOVR'), 'validation-error'],
    ];
    const counts = await rowCounts(t.store.db);
    const sends = lnd.sendRequests();
    const k1 = key();
    for (const [what, body, type] of cases) {
      const r = await pay(t.url, s, k1, body);
      expect(r.status, what).toBe(400);
      expect(r.headers.get('content-type'), what).toMatch(/application\/problem\+json/);
      expect(((await r.json()) as Problem).type, what).toBe(`https://tollway.dev/problems/${type}`);
    }
    expect(await rowCounts(t.store.db)).toEqual(counts);
    expect(lnd.sendRequests()).toBe(sends);
    // Nothing was stored against the key either: it still pays.
    const ok = await pay(t.url, s, k1, lnBody(good.paymentRequest, 3000n));
    expect(((await ok.json()) as P).status).toBe('completed');
  });

  it('refuses a second payment of an invoice this hub paid or is paying (409), and sends nothing', async () => {
    const inv = lnd.addInvoice({ valueMsat: 4000n });
    expect(((await (await pay(t.url, s, key(), lnBody(inv.paymentRequest, 4000n))).json()) as P).status).toBe('completed');
    const sends = lnd.sendRequests();
    const r = await pay(t.url, s, key(), lnBody(inv.paymentRequest.toUpperCase(), 4000n));
    expect(r.status).toBe(409);
    expect(((await r.json()) as Problem).type).toBe('https://tollway.dev/problems/invoice-already-paid');
    expect(lnd.sendRequests()).toBe(sends);
  });

  it('refuses a payment the wallet cannot cover: 400 insufficient-funds, nothing stored, nothing sent', async () => {
    const poor = await signIn(t.url);
    await fund(t.url, poor, '1000', 'BTC');
    const inv = lnd.addInvoice({ valueMsat: 5000n });
    const counts = await rowCounts(t.store.db);
    const sends = lnd.sendRequests();
    const r = await pay(t.url, poor, key(), lnBody(inv.paymentRequest, 5000n));
    expect(r.status).toBe(400);
    expect(((await r.json()) as Problem).type).toBe('https://tollway.dev/problems/insufficient-funds');
    expect(await rowCounts(t.store.db)).toEqual(counts);
    expect(lnd.sendRequests()).toBe(sends);
    expect(lnd.invoiceState(inv.paymentHashHex)).toBe('OPEN');
  });

  it('fails the payment and releases the funds when the node fails it, and says so on the socket', async () => {
    const inv = lnd.addInvoice({ valueMsat: 6000n });
    const before = await balances(t.url, s);
    lnd.failNext('FAILURE_REASON_NO_ROUTE');
    const k1 = key();
    const failedUpdate = new Promise<PaymentStatusUpdate>((resolve) => {
      const on = (u: PaymentStatusUpdate) => {
        if (u.status === 'failed' && u.payTo === inv.paymentRequest) {
          sock.off('paymentStatusUpdate', on);
          resolve(u);
        }
      };
      sock.on('paymentStatusUpdate', on);
    });
    const p = (await (await pay(t.url, s, k1, lnBody(inv.paymentRequest, 6000n))).json()) as P;
    expect(p.status).toBe('failed');
    expect(p.failureReason).toContain('FAILURE_REASON_NO_ROUTE');
    expect(p.receipt).toEqual({});
    const u = await failedUpdate;
    expect(u.transactionId).toBe(p.transactionId);
    expect(u.failureReason).toContain('FAILURE_REASON_NO_ROUTE');
    expect(await balances(t.url, s)).toEqual(before);
    expect(lnd.invoiceState(inv.paymentHashHex)).toBe('OPEN');

    // A failed attempt does not block the invoice: a new request pays it.
    const retry = (await (await pay(t.url, s, key(), lnBody(inv.paymentRequest, 6000n))).json()) as P;
    expect(retry.status).toBe('completed');
  });

  it('fails, with the funds back, an invoice the node cannot reach (issued elsewhere)', async () => {
    const foreign = makeInvoice({ valueMsat: 7000n });
    const before = await balances(t.url, s);
    const p = (await (await pay(t.url, s, key(), lnBody(foreign.paymentRequest, 7000n))).json()) as P;
    expect(p.status).toBe('failed');
    expect(p.failureReason).toContain('FAILURE_REASON_NO_ROUTE');
    expect(await balances(t.url, s)).toEqual(before);
  });

  it('answers submitted while the payment is in flight, then completes it by a socket event with the preimage', async () => {
    const inv = lnd.addInvoice({ valueMsat: 8000n });
    lnd.holdPayments();
    const p = (await (await pay(t.url, s, key(), lnBody(inv.paymentRequest, 8000n))).json()) as P;
    expect(p.status).toBe('submitted');
    expect(p.receipt).toEqual({ transactionHash: inv.paymentHashHex });
    const held = await balances(t.url, s);
    expect(held.BTC!.pending).toBe('8000');

    const completed = nextUpdate(sock, p.transactionId, 'completed');
    lnd.release();
    const u = await completed;
    expect(u.previousStatus).toBe('submitted');
    expect(u.receipt.preimage).toBe(inv.preimageHex);
    expect(u.receipt.token).toBeTruthy();
    expect((await get(p.transactionId)).receipt.preimage).toBe(inv.preimageHex);
    expect((await balances(t.url, s)).BTC!.pending).toBe('0');
    expect(lnd.payments().filter((x) => x.paymentHash === inv.paymentHashHex)).toHaveLength(1);
  });

  it('when the send is cut off after the node took it, asks the node instead of sending again', async () => {
    const inv = lnd.addInvoice({ valueMsat: 9000n });
    const sends = lnd.sendRequests();
    const tracks = lnd.requests().filter((r) => r.startsWith('GET /v2/router/track/')).length;
    lnd.crashAfterAccept();
    const p = (await (await pay(t.url, s, key(), lnBody(inv.paymentRequest, 9000n))).json()) as P;
    expect(p.status).toBe('completed');
    expect(p.receipt.preimage).toBe(inv.preimageHex);
    expect(lnd.sendRequests() - sends).toBe(1);
    expect(lnd.requests().filter((r) => r.startsWith('GET /v2/router/track/')).length).toBeGreaterThan(tracks);
  });

  it('when a send is lost before the node saw it, asks twice, then fails it with the funds back and sends nothing more', async () => {
    const inv = lnd.addInvoice({ valueMsat: 10_000n });
    const before = await balances(t.url, s);
    const sends = lnd.sendRequests();
    lnd.dropNextSend();
    const p = (await (await pay(t.url, s, key(), lnBody(inv.paymentRequest, 10_000n))).json()) as P;
    expect(p.status).toBe('failed');
    expect(p.failureReason).toMatch(/never received/);
    expect(lnd.sendRequests() - sends).toBe(1);
    expect(lnd.payments().filter((x) => x.paymentHash === inv.paymentHashHex)).toHaveLength(0);
    expect(await balances(t.url, s)).toEqual(before);
  });

  it('never logs the macaroon', () => {
    expect(logged.length).toBeGreaterThan(0);
    expect(logged).not.toContain(lnd.macaroonHex);
  });
});

describe.each(ENGINES)('Lightning rail across a restart on %s', (engine: Engine) => {
  let lnd: FakeLnd;
  beforeAll(async () => {
    lnd = await startFakeLnd();
  });
  afterAll(async () => lnd?.close());

  async function hubOn(store: Awaited<ReturnType<typeof freshStore>>, keepStore: boolean) {
    return startTestHub(engine, { store, keepStore, env: lightningEnv(lnd) });
  }

  it('tracks a payment that completed at the node while the hub was down, and never sends it again', async () => {
    const store = await freshStore(engine);
    const first = await hubOn(store, true);
    const u = await signIn(first.url);
    await fund(first.url, u, '100000', 'BTC');
    const inv = lnd.addInvoice({ valueMsat: 12_000n });
    lnd.holdPayments();
    const p = (await (await pay(first.url, u, 'restart-1', lnBody(inv.paymentRequest, 12_000n))).json()) as P;
    expect(p.status).toBe('submitted');
    await first.hub.close(); // the hub stops following: its stream to the node is cut
    lnd.release(); // the node finishes while the hub is down

    const second = await hubOn(store, false);
    try {
      const row = await store.db.get<{ status: string; preimage: string | null }>('SELECT status, preimage FROM payments WHERE id = ?', [
        p.transactionId,
      ]);
      expect(row).toEqual({ status: 'completed', preimage: inv.preimageHex });
      expect(lnd.payments().filter((x) => x.paymentHash === inv.paymentHashHex)).toHaveLength(1);
      expect(lnd.sendRequests()).toBe(1);
      // Signed in again: on PostgreSQL each test hub has a signing key of its own.
      const b = await balances(second.url, await signIn(second.url, u.wallet));
      expect(b.BTC).toMatchObject({ posted: '88000', pending: '0', available: '88000' });
      await expectLedgerBalanced(store.db);
    } finally {
      await second.stop();
    }
  });

  it('keeps following a payment still in flight after a restart, and completes it when the node does', async () => {
    const store = await freshStore(engine);
    const first = await hubOn(store, true);
    const u = await signIn(first.url);
    await fund(first.url, u, '100000', 'BTC');
    const inv = lnd.addInvoice({ valueMsat: 13_000n });
    const sends = lnd.sendRequests();
    lnd.holdPayments();
    const p = (await (await pay(first.url, u, 'restart-2', lnBody(inv.paymentRequest, 13_000n))).json()) as P;
    expect(p.status).toBe('submitted');
    await first.hub.close();

    const second = await hubOn(store, false);
    try {
      const u2 = await signIn(second.url, u.wallet);
      const sock = await socketFor(second.url, u2);
      const completed = nextUpdate(sock, p.transactionId, 'completed');
      expect((await store.db.get<{ status: string }>('SELECT status FROM payments WHERE id = ?', [p.transactionId]))?.status).toBe(
        'submitted',
      );
      lnd.release();
      expect((await completed).receipt.preimage).toBe(inv.preimageHex);
      sock.close();
      expect(lnd.sendRequests() - sends).toBe(1);
      await expectLedgerBalanced(store.db);
    } finally {
      await second.stop();
    }
  });
});

describe.each(ENGINES)('Lightning rail when the hub is killed mid-send on %s', (engine: Engine) => {
  let lnd: FakeLnd;
  let hub: ChildHub | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'tollway-ln-kill-'));
  afterAll(async () => {
    await hub?.kill('SIGKILL');
    await lnd?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  // Two hub processes start in turn, tsx compiling each: a busy machine needs more than 30 s.
  it('after kill -9 while the node holds the payment, resumes by tracking: one send, completed, the same key replays it', async () => {
    lnd = await startFakeLnd();
    const store = await freshStore(engine);
    try {
      // A long wait: the hub is killed while POST /payments is still waiting on the node.
      const env = { TOLLWAY_DATA_DIR: dataDir, ...store.env, ...lightningEnv(lnd, { TOLLWAY_LIGHTNING_WAIT: '60' }) };
      const port = await freePort();
      hub = await spawnHub(port, env);
      const u = await signIn(hub.url);
      await fund(hub.url, u, '50000', 'BTC');
      const inv = lnd.addInvoice({ valueMsat: 21_000n });
      lnd.holdPayments();
      const inFlight = pay(hub.url, u, 'killed-1', lnBody(inv.paymentRequest, 21_000n)).then(
        (r) => r.status,
        () => 'connection lost',
      );
      await until(() => (lnd.payments().length === 1 ? true : undefined), 'the node to take the payment');
      await hub.kill('SIGKILL');
      expect(await inFlight).toBe('connection lost');
      expect((await store.db.get<{ status: string }>("SELECT status FROM payments WHERE rail = 'lightning'"))?.status).toBe('pending');
      lnd.release();

      hub = await spawnHub(port, env);
      const replay = await pay(hub.url, u, 'killed-1', lnBody(inv.paymentRequest, 21_000n));
      expect(replay.status).toBe(200);
      const p = (await replay.json()) as P;
      expect(p.status).toBe('completed');
      expect(p.receipt.preimage).toBe(inv.preimageHex);
      expect(lnd.sendRequests()).toBe(1);
      expect(lnd.payments()).toHaveLength(1);
      const b = await balances(hub.url, u);
      expect(b.BTC).toMatchObject({ posted: '29000', pending: '0' });
      await hub.kill('SIGTERM');
      await expectLedgerBalanced(store.db);
    } finally {
      await store.cleanup();
    }
  }, 120_000);
});

describe.each(ENGINES)('Lightning rail when the hub is killed before the node got the send on %s', (engine: Engine) => {
  let lnd: FakeLnd;
  let hub: ChildHub | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'tollway-ln-lost-'));
  afterAll(async () => {
    await hub?.kill('SIGKILL');
    await lnd?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  // Two hub processes start in turn, tsx compiling each: a busy machine needs more than 30 s.
  it('on restart learns the node never saw it and sends it once: completed, one payment at the node', async () => {
    lnd = await startFakeLnd();
    const store = await freshStore(engine);
    try {
      const env = { TOLLWAY_DATA_DIR: dataDir, ...store.env, ...lightningEnv(lnd, { TOLLWAY_LIGHTNING_WAIT: '60' }) };
      const port = await freePort();
      hub = await spawnHub(port, env);
      const u = await signIn(hub.url);
      await fund(hub.url, u, '50000', 'BTC');
      const inv = lnd.addInvoice({ valueMsat: 22_000n });
      lnd.stallNextSend();
      const inFlight = pay(hub.url, u, 'lost-1', lnBody(inv.paymentRequest, 22_000n)).then(
        (r) => r.status,
        () => 'connection lost',
      );
      await until(() => (lnd.sendRequests() === 1 ? true : undefined), 'the send to reach the node');
      await hub.kill('SIGKILL');
      expect(await inFlight).toBe('connection lost');
      expect(lnd.payments()).toHaveLength(0);

      hub = await spawnHub(port, env);
      const p = (await (await pay(hub.url, u, 'lost-1', lnBody(inv.paymentRequest, 22_000n))).json()) as P;
      expect(p.status).toBe('completed');
      expect(p.receipt.preimage).toBe(inv.preimageHex);
      expect(lnd.payments()).toHaveLength(1);
      expect(lnd.sendRequests()).toBe(2);
      await hub.kill('SIGTERM');
      await expectLedgerBalanced(store.db);
    } finally {
      await store.cleanup();
    }
  }, 120_000);
});

describe('Lightning rail configuration', () => {
  it('answers a clear problem when no node is configured', async () => {
    const t = await startTestHub('sqlite');
    try {
      const s = await signIn(t.url);
      await fund(t.url, s, '10000', 'BTC');
      const r = await pay(t.url, s, 'k', lnBody(makeInvoice({ valueMsat: 1000n }).paymentRequest, 1000n));
      expect(r.status).toBe(400);
      const body = (await r.json()) as Problem;
      expect(body.type).toBe('https://tollway.dev/problems/unsupported-rail');
      expect(body.detail).toMatch(/lightning/);
      expect(await rowCounts(t.store.db)).toMatchObject({ payments: 0, idempotency_keys: 0 });
    } finally {
      await t.stop();
    }
  });

  it('doctor checks the node: its identity and network, or FAIL and exit 1', async () => {
    const lnd = await startFakeLnd();
    const dir = mkdtempSync(join(tmpdir(), 'tollway-ln-doctor-'));
    const run = async (macaroon: string) => {
      let out = '';
      const sink = new Writable({
        write(chunk, _e, done) {
          out += String(chunk);
          done();
        },
      });
      const code = await runDoctor(
        loadConfig({ TOLLWAY_DATA_DIR: dir, TOLLWAY_LND_REST_URL: lnd.url, TOLLWAY_LND_MACAROON: macaroon }),
        sink,
      );
      return { code, out };
    };
    try {
      const good = await run(lnd.macaroonHex);
      expect(good.code).toBe(0);
      expect(good.out).toContain('invariant holds');
      expect(good.out).toContain(`${lnd.nodePubkey} on regtest`);
      const bad = await run('ab'.repeat(40));
      expect(bad.code).toBe(1);
      expect(bad.out).toMatch(/FAIL .*verification failed/);
      expect(bad.out).not.toContain('ab'.repeat(40));
    } finally {
      await lnd.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails a payment, funds back, when the node refuses the macaroon', async () => {
    const lnd = await startFakeLnd();
    const t = await startTestHub('sqlite', { env: lightningEnv(lnd, { TOLLWAY_LND_MACAROON: 'ab'.repeat(40) }) });
    try {
      const s = await signIn(t.url);
      await fund(t.url, s, '10000', 'BTC');
      const inv = lnd.addInvoice({ valueMsat: 1000n });
      const p = (await (await pay(t.url, s, 'k', lnBody(inv.paymentRequest, 1000n))).json()) as P;
      expect(p.status).toBe('failed');
      expect(p.failureReason).toMatch(/refused/);
      expect((await balances(t.url, s)).BTC).toMatchObject({ posted: '10000', pending: '0' });
      expect(lnd.payments()).toHaveLength(0);
      await expectLedgerBalanced(t.store.db);
    } finally {
      await t.stop();
      await lnd.close();
    }
  });

  it('talks HTTPS to a node with a self-signed certificate given by TOLLWAY_LND_TLS_CERT_PATH, and refuses it otherwise', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollway-ln-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=fake-lnd',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        join(dir, 'tls.key'),
        '-out',
        join(dir, 'tls.cert'),
      ],
      { stdio: 'ignore' },
    );
    const lnd = await startFakeLnd({
      tls: { key: readFileSync(join(dir, 'tls.key'), 'utf8'), cert: readFileSync(join(dir, 'tls.cert'), 'utf8') },
    });
    const macaroonFile = join(dir, 'admin.macaroon');
    writeFileSync(macaroonFile, Buffer.from(lnd.macaroonHex, 'hex'));
    const trusted = await startTestHub('sqlite', {
      env: { TOLLWAY_LND_REST_URL: lnd.url, TOLLWAY_LND_MACAROON_PATH: macaroonFile, TOLLWAY_LND_TLS_CERT_PATH: join(dir, 'tls.cert') },
    });
    const untrusted = await startTestHub('sqlite', { env: lightningEnv(lnd) });
    try {
      for (const [t, want] of [
        [trusted, 'completed'],
        [untrusted, 'failed'],
      ] as const) {
        const s = await signIn(t.url);
        await fund(t.url, s, '10000', 'BTC');
        const inv = lnd.addInvoice({ valueMsat: 1000n });
        const p = (await (await pay(t.url, s, 'k', lnBody(inv.paymentRequest, 1000n))).json()) as P;
        expect(p.status).toBe(want);
        if (want === 'failed') expect(p.failureReason).toMatch(/could not be reached/);
        else expect(p.receipt.preimage).toBe(inv.preimageHex);
        await expectLedgerBalanced(t.store.db);
      }
      expect(lnd.payments()).toHaveLength(1);
    } finally {
      await trusted.stop();
      await untrusted.stop();
      await lnd.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
