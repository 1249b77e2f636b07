/**
 * Top-ups: the hub receives over Lightning. Against the stand-in LND (LND's REST wire format over
 * real HTTP), on SQLite and PostgreSQL: an invoice from the hub's node, credited once when it
 * settles — under duplicate notices, a replayed stream, a dropped stream and a restart, with the
 * ledger invariant after each — an expired invoice marked so, refusals that change nothing, and
 * each person seeing only their own top-ups.
 */
import bolt11 from 'bolt11';
import { randomBytes } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Topup, TopupStatusUpdate } from '../../shared/topups.js';
import { createLndNode } from '../../lightning/lnd/index.js';
import type { LightningNode, SettledInvoice } from '../../lightning/node.js';
import { createLightningRail, type LightningRail } from '../../server/rails/lightning/index.js';
import { LIGHTNING_INBOUND_ACCOUNT, topupTransferId } from '../../server/rails/lightning/topups.js';
import type { RailParts } from '../../server/app.js';
import { startFakeLnd, type FakeLnd } from '../../devnet/lnd.js';
import { balances, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced, rowCounts } from '../helpers/invariant.js';
import { ENGINES, freshStore, type Engine, type TestStore } from '../helpers/stores.js';

type Problem = { type: string; status: number; detail?: string };

async function until<T>(f: () => Promise<T | undefined> | T | undefined, what: string, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * The node as a less kind one would behave: it ignores `since` (so only look-ups find what settled
 * while nobody listened), yields every settlement twice, and replays every settlement it ever
 * yielded each time it is followed again.
 */
function unrulyNode(inner: LightningNode): LightningNode & { followers: () => number } {
  const seen: SettledInvoice[] = [];
  let followers = 0;
  return {
    ...inner,
    kind: inner.kind,
    createInvoice: (r) => inner.createInvoice(r),
    lookupInvoice: (h) => inner.lookupInvoice(h),
    pay: (r) => inner.pay(r),
    paymentStatus: (h, o) => inner.paymentStatus(h, o),
    info: () => inner.info(),
    followers: () => followers,
    async *followSettlements({ signal }) {
      followers++;
      for (const s of [...seen]) yield s;
      for await (const s of inner.followSettlements({ signal })) {
        seen.push(s);
        yield s;
        yield { ...s };
      }
    },
  };
}

function lightningRails(lnd: FakeLnd, wrap: (n: LightningNode) => LightningNode, expirySeconds = 3600) {
  let rail: LightningRail | undefined;
  const rails = (parts: RailParts) => ({
    lightning: (rail = createLightningRail({
      ...parts,
      node: wrap(createLndNode({ url: lnd.url, macaroonHex: lnd.macaroonHex })),
      options: { feeLimitMsat: 1000n, feeLimitPpm: 5000n, payTimeoutSeconds: 30, settleWaitMs: 300 },
      topupOptions: { expirySeconds, expiryCheckMs: 100, retryMs: 100 },
    })),
  });
  return { rails, rail: () => rail!.topups! };
}

async function socketFor(url: string, s: Session): Promise<Socket> {
  const sock = io(url, { auth: { token: s.accessToken }, transports: ['websocket'], reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', () => resolve());
    sock.once('connect_error', reject);
  });
  return sock;
}

function nextTopupUpdate(s: Socket, id: string, status: string, ms = 15_000): Promise<TopupStatusUpdate> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${status} update for ${id}`)), ms);
    const on = (u: TopupStatusUpdate) => {
      if (u.topupId !== id || u.status !== status) return;
      clearTimeout(t);
      s.off('topupStatusUpdate', on);
      resolve(u);
    };
    s.on('topupStatusUpdate', on);
  });
}

const headers = (s: Session, key?: string) => ({
  'content-type': 'application/json',
  authorization: `Bearer ${s.accessToken}`,
  ...(key === undefined ? {} : { 'idempotency-key': key }),
});
const postTopup = (url: string, s: Session, key: string | undefined, body: unknown) =>
  fetch(`${url}/topups`, { method: 'POST', headers: headers(s, key), body: typeof body === 'string' ? body : JSON.stringify(body) });
const getTopup = async (url: string, s: Session, id: string) => {
  const res = await fetch(`${url}/topups/${id}`, { headers: headers(s) });
  return { status: res.status, body: (await res.json()) as Topup & { type?: string } };
};
async function newTopup(url: string, s: Session, key: string, amount: string): Promise<Topup> {
  const res = await postTopup(url, s, key, { asset: 'BTC', amount });
  expect(res.status).toBe(200);
  return (await res.json()) as Topup;
}
const btc = async (url: string, s: Session) => BigInt((await balances(url, s)).BTC?.posted ?? '0');
const creditsOf = async (db: TestStore['db'], hash: string) =>
  Number((await db.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM ledger_transfers WHERE id = ?', [topupTransferId(hash)]))?.n);
const statusBecomes = (url: string, s: Session, id: string, status: string) =>
  until(async () => {
    const t = (await getTopup(url, s, id)).body;
    return t.status === status ? t : undefined;
  }, `top-up ${id} ${status}`);

/** Everything a refusal must leave as it was. */
async function fingerprint(db: TestStore['db']) {
  const topups = await db.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM topups');
  const sums = await db.all<{ id: string; d: string; c: string }>(
    'SELECT id, debits_posted AS d, credits_posted AS c FROM ledger_accounts ORDER BY id',
  );
  return { ...(await rowCounts(db)), topups: Number(topups?.n), sums: sums.map((r) => `${r.id}:${r.d}:${r.c}`) };
}

describe.each(ENGINES)('Lightning top-ups on %s', (engine: Engine) => {
  let lnd: FakeLnd;
  let t: TestHub;
  let s: Session;
  let other: Session;
  let sock: Socket;
  let topups: ReturnType<ReturnType<typeof lightningRails>['rail']>;
  let node: ReturnType<typeof unrulyNode>;
  let k = 0;
  const key = () => `top-${engine}-${++k}`;

  beforeAll(async () => {
    lnd = await startFakeLnd();
    const built = lightningRails(lnd, (n) => (node = unrulyNode(n)));
    t = await startTestHub(engine, { rails: built.rails });
    topups = built.rail();
    s = await signIn(t.url);
    other = await signIn(t.url);
    sock = await socketFor(t.url, s);
  });
  afterEach(async () => {
    await expectLedgerBalanced(t.store.db);
  });
  afterAll(async () => {
    sock?.close();
    await t?.stop();
    await lnd?.close();
  });

  it('answers an invoice of the hub node and, once paid, credits it once with a socket event', async () => {
    const before = await btc(t.url, s);
    const top = await newTopup(t.url, s, key(), '2500000');
    expect(top).toMatchObject({ status: 'open', asset: 'BTC', amount: '2500000', creditedAmount: null, creditedAt: null });
    const decoded = bolt11.decode(top.bolt11);
    expect(BigInt(decoded.millisatoshis!)).toBe(2_500_000n);
    expect(decoded.tagsObject.payment_hash).toBe(top.paymentHash);
    expect(Date.parse(top.expiresAt) / 1000).toBe(decoded.timeExpireDate);
    expect(lnd.invoiceState(top.paymentHash)).toBe('OPEN');
    expect((await getTopup(t.url, s, top.topupId)).body).toEqual(top);

    const heard = nextTopupUpdate(sock, top.topupId, 'credited');
    expect(lnd.settleInvoice(top.paymentHash)).toBe(true);
    const u = await heard;
    expect(u).toMatchObject({ topupId: top.topupId, status: 'credited', previousStatus: 'open', creditedAmount: '2500000' });
    expect(u.seq).toBeGreaterThan(0);
    expect((await getTopup(t.url, s, top.topupId)).body).toMatchObject({ status: 'credited', creditedAmount: '2500000' });
    expect((await btc(t.url, s)) - before).toBe(2_500_000n);

    // Every notice came twice from the stream; more of them, and a look-up, change nothing.
    const notice = { paymentHash: top.paymentHash, amountPaidMsat: 2_500_000n, settledAt: Math.floor(Date.now() / 1000) };
    expect(await topups.applySettlement(notice)).toBe('already-credited');
    expect(await Promise.all([topups.applySettlement(notice), topups.applySettlement(notice)])).toEqual([
      'already-credited',
      'already-credited',
    ]);
    await topups.reconcile();
    expect(await creditsOf(t.store.db, top.paymentHash)).toBe(1);
    expect((await btc(t.url, s)) - before).toBe(2_500_000n);
    const events = await t.store.db.all<{ type: string }>('SELECT type FROM outbox WHERE payment_id = ?', [top.topupId]);
    expect(events.map((e) => e.type)).toEqual(['topup.credited']);
  });

  it('credits once under concurrent duplicate notices of one settlement', async () => {
    const before = await btc(t.url, s);
    const top = await newTopup(t.url, s, key(), '3300');
    // Notices as the stream, a replay and a look-up could deliver them at once (the node is not
    // asked here: only the notices race, against each other, on the row's lock).
    const notice = { paymentHash: top.paymentHash.toUpperCase(), amountPaidMsat: 3300n, settledAt: Math.floor(Date.now() / 1000) };
    const results = await Promise.all(Array.from({ length: 6 }, () => topups.applySettlement(notice)));
    expect(results.filter((r) => r === 'credited')).toHaveLength(1);
    expect(results.filter((r) => r === 'already-credited')).toHaveLength(5);
    expect(await creditsOf(t.store.db, top.paymentHash)).toBe(1);
    expect((await btc(t.url, s)) - before).toBe(3300n);
    expect((await getTopup(t.url, s, top.topupId)).body).toMatchObject({ status: 'credited', creditedAmount: '3300' });
  });

  it('credits once when the stream drops, the invoice settles meanwhile, and the reconnected stream replays it all', async () => {
    const before = await btc(t.url, s);
    const paidBefore = await until(async () => (lnd.invoiceStreams() > 0 ? true : undefined), 'a stream');
    expect(paidBefore).toBe(true);
    const first = await newTopup(t.url, s, key(), '1000');
    const second = await newTopup(t.url, s, key(), '2000');
    const followed = node.followers();
    lnd.cutInvoiceStreams();
    // Settled while nobody listens: this node does not replay from a cursor, so only a look-up finds it.
    expect(lnd.settleInvoice(first.paymentHash)).toBe(true);
    await statusBecomes(t.url, s, first.topupId, 'credited');
    expect(node.followers()).toBeGreaterThan(followed);
    // And live again on the new stream.
    await until(async () => (lnd.invoiceStreams() > 0 ? true : undefined), 'the stream back');
    expect(lnd.settleInvoice(second.paymentHash)).toBe(true);
    await statusBecomes(t.url, s, second.topupId, 'credited');
    // Once more: the replay on reconnect brings every earlier settlement again.
    lnd.cutInvoiceStreams();
    await until(async () => (lnd.invoiceStreams() > 0 ? true : undefined), 'the stream back again');
    await topups.reconcile();
    expect(await creditsOf(t.store.db, first.paymentHash)).toBe(1);
    expect(await creditsOf(t.store.db, second.paymentHash)).toBe(1);
    expect((await btc(t.url, s)) - before).toBe(3000n);
  });

  it('marks an invoice that expires unpaid as expired and credits nothing', async () => {
    const short = lightningRails(lnd, (n) => n, 1);
    const h = await startTestHub(engine, { rails: short.rails });
    try {
      const u = await signIn(h.url);
      const us = await socketFor(h.url, u);
      const top = await newTopup(h.url, u, 'expires', '5000');
      const heard = nextTopupUpdate(us, top.topupId, 'expired');
      const expired = await statusBecomes(h.url, u, top.topupId, 'expired');
      expect(expired).toMatchObject({ creditedAmount: null, creditedAt: null });
      expect((await heard).previousStatus).toBe('open');
      us.close();
      expect(lnd.settleInvoice(top.paymentHash)).toBe(false);
      expect(await btc(h.url, u)).toBe(0n);
      expect(await creditsOf(h.store.db, top.paymentHash)).toBe(0);
      await expectLedgerBalanced(h.store.db);
    } finally {
      await h.stop();
    }
  });

  it('refuses bad input with a problem and changes nothing', async () => {
    const invoicesBefore = lnd.requests().filter((r) => r.startsWith('POST /v1/invoices')).length;
    const before = await fingerprint(t.store.db);
    const cases: [string | undefined, unknown, string][] = [
      [key(), { asset: 'BTC', amount: '0' }, 'validation-error'],
      [key(), { asset: 'BTC', amount: '1'.repeat(79) }, 'validation-error'],
      [key(), { asset: 'BTC', amount: '3000000000000000000' }, 'validation-error'],
      [key(), { asset: 'BTC', amount: '1.5' }, 'validation-error'],
      [key(), { asset: 'BTC', amount: 1000 }, 'validation-error'],
      [key(), { asset: 'SOVR', amount: '1000' }, 'validation-error'],
      [key(), { amount: '1000' }, 'validation-error'],
      [key(), { asset: 'BTC', amount: '1000', memo: 'x' }, 'validation-error'],
      [undefined, { asset: 'BTC', amount: '1000' }, 'idempotency-key-missing'],
    ];
    for (const [k2, body, type] of cases) {
      const res = await postTopup(t.url, s, k2, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(((await res.json()) as Problem).type).toBe(`https://tollway.dev/problems/${type}`);
    }
    // A settlement notice for a hash no top-up has: nothing happens.
    const unknown = { paymentHash: randomBytes(32).toString('hex'), amountPaidMsat: 1000n, settledAt: 1 };
    expect(await topups.applySettlement(unknown)).toBe('unknown-hash');
    expect(await fingerprint(t.store.db)).toEqual(before);
    expect(lnd.requests().filter((r) => r.startsWith('POST /v1/invoices')).length).toBe(invoicesBefore);
  });

  it('credits nothing for an invoice of the same node that is no top-up', async () => {
    const before = await fingerprint(t.store.db);
    const merchantInvoice = lnd.addInvoice({ valueMsat: 7000n, memo: 'an L402 invoice' });
    await until(async () => (lnd.invoiceStreams() > 0 ? true : undefined), 'a stream');
    expect(lnd.settleInvoice(merchantInvoice.paymentHashHex)).toBe(true);
    // A top-up settled after it is credited, so the stream went past the foreign settlement.
    const top = await newTopup(t.url, s, key(), '100');
    lnd.settleInvoice(top.paymentHash);
    await statusBecomes(t.url, s, top.topupId, 'credited');
    expect(await creditsOf(t.store.db, merchantInvoice.paymentHashHex)).toBe(0);
    const after = await fingerprint(t.store.db);
    expect(after.topups).toBe(before.topups + 1);
    expect(after.ledger_transfers).toBe(before.ledger_transfers + 1);
  });

  it('replays the same invoice for the same key, and refuses the key with another body', async () => {
    const k1 = key();
    const first = await newTopup(t.url, s, k1, '4200');
    const invoices = lnd.requests().filter((r) => r.startsWith('POST /v1/invoices')).length;
    const again = await postTopup(t.url, s, k1, { amount: '4200', asset: 'BTC' });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(first);
    const changed = await postTopup(t.url, s, k1, { asset: 'BTC', amount: '4201' });
    expect(changed.status).toBe(422);
    expect(lnd.requests().filter((r) => r.startsWith('POST /v1/invoices')).length).toBe(invoices);
    // The same key is another person's own.
    const theirs = await newTopup(t.url, other, k1, '4200');
    expect(theirs.topupId).not.toBe(first.topupId);
  });

  it("answers 404 for another person's top-up and for ids that are none", async () => {
    const mine = await newTopup(t.url, s, key(), '900');
    const seen = await getTopup(t.url, other, mine.topupId);
    expect(seen.status).toBe(404);
    expect(seen.body.type).toBe('https://tollway.dev/problems/not-found');
    expect((await getTopup(t.url, s, 'top_nothing')).status).toBe(404);
    expect((await getTopup(t.url, s, `top_${'A'.repeat(16)}`)).status).toBe(404);
    const anon = await fetch(`${t.url}/topups/${mine.topupId}`);
    expect(anon.status).toBe(401);
  });
});

describe.each(ENGINES)('Lightning top-ups across a restart on %s', (engine: Engine) => {
  let lnd: FakeLnd;
  let store: TestStore;

  beforeAll(async () => {
    lnd = await startFakeLnd();
    store = await freshStore(engine);
  });
  afterAll(async () => {
    await store?.cleanup();
    await lnd?.close();
  });

  it('credits, once, what settled while the hub was down, and again nothing after another restart', async () => {
    const start = (wrap: (n: LightningNode) => LightningNode = (n) => n) =>
      startTestHub(engine, { store, keepStore: true, rails: lightningRails(lnd, wrap).rails });
    let h = await start();
    let u = await signIn(h.url);
    const paidLive = await newTopup(h.url, u, 'live', '1500');
    lnd.settleInvoice(paidLive.paymentHash);
    await statusBecomes(h.url, u, paidLive.topupId, 'credited');
    const whileDown = await newTopup(h.url, u, 'down', '2500');
    const stillOpen = await newTopup(h.url, u, 'open', '3500');
    await h.stop();

    expect(lnd.settleInvoice(whileDown.paymentHash)).toBe(true);
    // A node that cannot replay from the kept cursor: only the look-up on start can find it.
    h = await start(unrulyNode);
    // Signed in again: on PostgreSQL each test hub has a signing key of its own.
    u = await signIn(h.url, u.wallet);
    try {
      await statusBecomes(h.url, u, whileDown.topupId, 'credited');
      expect((await getTopup(h.url, u, stillOpen.topupId)).body.status).toBe('open');
      expect(await btc(h.url, u)).toBe(4000n);
      await expectLedgerBalanced(store.db);
    } finally {
      await h.stop();
    }

    // A third start replays the stream from the kept cursor and looks everything up again.
    h = await start();
    u = await signIn(h.url, u.wallet);
    try {
      await until(async () => (lnd.invoiceStreams() > 0 ? true : undefined), 'a stream');
      lnd.settleInvoice(stillOpen.paymentHash);
      await statusBecomes(h.url, u, stillOpen.topupId, 'credited');
      for (const top of [paidLive, whileDown, stillOpen]) expect(await creditsOf(store.db, top.paymentHash)).toBe(1);
      expect(await btc(h.url, u)).toBe(7500n);
      const inbound = await store.db.get<{ d: string }>('SELECT debits_posted AS d FROM ledger_accounts WHERE id = ?', [
        LIGHTNING_INBOUND_ACCOUNT,
      ]);
      expect(BigInt(inbound!.d)).toBe(7500n);
      await expectLedgerBalanced(store.db);
    } finally {
      await h.stop();
    }
  });
});

describe('Top-ups when the node cannot issue an invoice', () => {
  it('answers 503 lightning-unavailable, storing nothing, and the same key works once the node is back', async () => {
    const lnd = await startFakeLnd();
    const down = await startFakeLnd();
    await down.close();
    let node: LightningNode = createLndNode({ url: down.url, macaroonHex: down.macaroonHex, timeoutMs: 2000 });
    const h = await startTestHub('sqlite', {
      rails: lightningRails(lnd, (n) => ({ ...n, createInvoice: (r) => node.createInvoice(r) })).rails,
    });
    try {
      const u = await signIn(h.url);
      const res = await postTopup(h.url, u, 'k', { asset: 'BTC', amount: '1000' });
      expect(res.status).toBe(503);
      expect(((await res.json()) as Problem).type).toBe('https://tollway.dev/problems/lightning-unavailable');
      expect(Number((await h.store.db.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM topups'))?.n)).toBe(0);
      expect(Number((await h.store.db.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM idempotency_keys'))?.n)).toBe(0);
      node = createLndNode({ url: lnd.url, macaroonHex: lnd.macaroonHex });
      expect((await newTopup(h.url, u, 'k', '1000')).status).toBe('open');
    } finally {
      await h.stop();
      await lnd.close();
    }
  });
});

describe('Top-ups on a hub without Lightning', () => {
  it('refuses them as an unsupported rail, storing nothing', async () => {
    const h = await startTestHub('sqlite');
    try {
      const u = await signIn(h.url);
      const res = await postTopup(h.url, u, 'k', { asset: 'BTC', amount: '1000' });
      expect(res.status).toBe(400);
      expect(((await res.json()) as Problem).type).toBe('https://tollway.dev/problems/unsupported-rail');
      expect((await h.store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM topups'))?.n).toBe(0);
    } finally {
      await h.stop();
    }
  });
});
