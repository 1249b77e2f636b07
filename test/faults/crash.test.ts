/**
 * Crashes (issue 13): the hub is killed with SIGKILL at FAULT_KILLS seeded random moments while
 * FAULT_PAYMENTS payments run on the internal, SOVR and Lightning rails, and restarted each time on
 * the same port and database. Clients keep a few payments in flight, each under its own
 * Idempotency-Key; when the hub dies they send the same key and body again once it is back (as the
 * extension does), so each logical payment exists exactly once. After the last restart every payment
 * is carried to a final status (SOVR and Lightning ones by the hub's resume-on-start), then:
 *
 * - ledger: debits equal credits per asset (and each person's balances match what completed);
 * - every payment is `completed` or `failed`, and a key always names the same payment;
 * - SOVR: the service wallet's transactions on chain are exactly the completed payments' receipts,
 *   one each (so no payment has two), and the treasury holds exactly what completed;
 * - Lightning: the stand-in node succeeded exactly the completed payments' hashes, at most one
 *   accepted payment per hash, and nothing for a failed one;
 * - webhooks: each completed merchant payment has exactly one distinct `webhook-id` for
 *   `payment.completed` (the same id delivered again after a crash is at-least-once and fine);
 *   no failed payment has one;
 * - socket, per person, reconnecting with `lastSeq` after each restart as the extension does:
 *   "one update per seq" means every seq from 1 to the user's last is delivered, a seq delivered more
 *   than once always carries the same payment, status and previousStatus (duplicates come from
 *   at-least-once redelivery around a crash), and a payment's distinct seqs are one per transition:
 *   no status twice, each previousStatus the status before it, the last one the payment's final status.
 *
 * Run with `npm run test:faults` (vitest.slow.config.ts). FAULT_SEED (printed), FAULT_PAYMENTS
 * (2000), FAULT_KILLS (20), FAULT_ENGINE (sqlite | postgres). Figures go to .tmp/faults-crash.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { Webhook } from 'standardwebhooks';
import { afterAll, describe, expect, it } from 'vitest';
import { startFakeLnd, type FakeLnd } from '../../devnet/lnd.js';
import type { PaymentStatusUpdate } from '../../shared/api.js';
import { runDoctor, spawnHub, type ChildHub } from '../helpers/child-hub.js';
import { balances, createMerchant, freePort, fund, signIn, type Session } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { SOVR, sovrHubEnv, useSovrChain, type WireAuthorization } from '../helpers/sovr.js';
import { freshStore, type Engine, type TestStore } from '../helpers/stores.js';

const PAYMENTS = Number(process.env.FAULT_PAYMENTS ?? 2000);
const KILLS = Number(process.env.FAULT_KILLS ?? 20);
const SEED = Number(process.env.FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));
const ENGINE = (process.env.FAULT_ENGINE ?? 'sqlite') as Engine;
const PEOPLE = 4;
const IN_FLIGHT = 6;
const RAILS = ['internal', 'sovr', 'lightning'] as const;
type Rail = (typeof RAILS)[number];
const FINAL = new Set(['completed', 'failed']);

type P = {
  transactionId: string;
  status: string;
  rail: string;
  amount: string;
  failureReason: string | null;
  receipt: { transactionHash?: string; preimage?: string } | null;
};

/** mulberry32: small, seeded, and the same sequence on every machine. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A request the dying hub took and never answered must not hold its client forever. */
const REQUEST_TIMEOUT_MS = 30_000;
/** A restart compiles the hub with tsx again; on a busy machine that alone can pass 30 s. */
const START_TIMEOUT_MS = 180_000;
const t0 = Date.now();
const progress = (what: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${what}`);

/** POST /payments as helpers/hub.ts's pay(), with a timeout. */
function payOnce(url: string, s: Session, key: string, body: unknown): Promise<Response> {
  return fetch(`${url}/payments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${s.accessToken}`, 'idempotency-key': key },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
}

interface Hook {
  id: string;
  type: string;
  transactionId: string;
  status: string;
}

/** The merchant's webhook endpoint: verifies each signature, keeps webhook-id, type and payment. */
async function startReceiver(): Promise<{
  url: string;
  hooks: Hook[];
  unverified: () => number;
  setSecret(s: string): void;
  close(): Promise<void>;
}> {
  const hooks: Hook[] = [];
  let bad = 0;
  let secret = '';
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      try {
        const ev = new Webhook(secret).verify(body, req.headers as Record<string, string>) as { type: string; data: P };
        hooks.push({ id: String(req.headers['webhook-id']), type: ev.type, transactionId: ev.data.transactionId, status: ev.data.status });
      } catch {
        bad++;
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    hooks,
    unverified: () => bad,
    setSecret: (s) => void (secret = s),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * A person's live feed across crashes: every delivery kept (duplicates too), and after each
 * disconnect a new socket with `lastSeq` = the highest seq seen, once the hub answers again.
 */
function liveFeed(hubUrl: () => string, s: Session, stopped: () => boolean) {
  const deliveries: PaymentStatusUpdate[] = [];
  let maxSeq = 0;
  let reconnects = 0;
  let socket: Socket | undefined;
  const open = async (): Promise<void> => {
    for (;;) {
      if (stopped()) return;
      const sock = io(hubUrl(), {
        auth: { token: s.accessToken, ...(maxSeq > 0 ? { lastSeq: maxSeq } : {}) },
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
      });
      sock.on('paymentStatusUpdate', (u: PaymentStatusUpdate) => {
        deliveries.push(u);
        if (u.seq > maxSeq) maxSeq = u.seq;
      });
      const ok = await new Promise<boolean>((resolve) => {
        sock.once('connect', () => resolve(true));
        sock.once('connect_error', () => resolve(false));
      });
      if (ok) {
        socket = sock;
        sock.once('disconnect', () => {
          if (stopped()) return;
          reconnects++;
          void open();
        });
        return;
      }
      sock.close();
      await sleep(100);
    }
  };
  return {
    deliveries,
    open,
    maxSeq: () => maxSeq,
    reconnects: () => reconnects,
    close: () => socket?.close(),
  };
}

describe(`SIGKILL the hub during payments on three rails (${ENGINE})`, () => {
  const bed = useSovrChain();
  let store: TestStore | undefined;
  let hub: ChildHub | undefined;
  let lnd: FakeLnd | undefined;
  let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;
  let lndTicker: NodeJS.Timeout | undefined;
  const feeds: ReturnType<typeof liveFeed>[] = [];
  let done = false;
  const dataDir = mkdtempSync(join(tmpdir(), 'tollway-faults-crash-'));
  afterAll(async () => {
    done = true;
    clearInterval(lndTicker);
    for (const f of feeds) f.close();
    await hub?.kill('SIGKILL');
    lnd?.release();
    await lnd?.close();
    await receiver?.close();
    await store?.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(`${PAYMENTS} payments, ${KILLS} kills: balanced, final, paid once, notified once`, async () => {
    console.log(`crash faults: FAULT_SEED=${SEED} FAULT_PAYMENTS=${PAYMENTS} FAULT_KILLS=${KILLS} FAULT_ENGINE=${ENGINE}`);
    const rand = prng(SEED);
    const started = Date.now();

    store = await freshStore(ENGINE);
    lnd = await startFakeLnd();
    // The node settles in batches every 20 ms instead of at once, so kills also land while
    // Lightning payments are in flight at the node.
    lnd.holdPayments();
    lndTicker = setInterval(() => {
      lnd!.release();
      lnd!.holdPayments();
    }, 20);
    receiver = await startReceiver();
    const service = bed.nextServiceWallet();
    const treasury = bed.chain.accounts[18]!.address;
    const env: Record<string, string> = {
      // The signing key's home; with SQLite the store's own directory (the database file) wins.
      TOLLWAY_DATA_DIR: dataDir,
      ...store.env,
      TOLLWAY_LOG_LEVEL: 'info',
      // Long enough for the whole run: the clients keep their first tokens across restarts.
      TOLLWAY_ACCESS_TOKEN_TTL: '86400',
      ...sovrHubEnv(bed.chain, bed.sovr, service),
      TOLLWAY_SOVR_TREASURY: treasury,
      TOLLWAY_LND_REST_URL: lnd.url,
      TOLLWAY_LND_MACAROON: lnd.macaroonHex,
    };
    const port = await freePort();
    hub = await spawnHub(port, env, { startTimeoutMs: START_TIMEOUT_MS });
    const startBlock = await bed.chain.provider.getBlockNumber();

    const m = await createMerchant(hub.url, 'Crash shop');
    const merchant = m.merchant.id;
    receiver.setSecret(m.webhookSecret);
    const hooked = await fetch(`${hub.url}/merchants/${merchant}/webhook`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${m.apiKey}` },
      body: JSON.stringify({ url: receiver.url }),
    });
    expect(hooked.status).toBe(200);

    const FUND_SOVR = 1_000n * SOVR;
    const FUND_BTC = 10n ** 16n;
    const people: Session[] = [];
    for (let i = 0; i < PEOPLE; i++) {
      const s = await signIn(hub.url);
      await fund(hub.url, s, FUND_SOVR.toString(), 'SOVR');
      await fund(hub.url, s, FUND_BTC.toString(), 'BTC');
      await bed.sovr.mint(s.wallet.address, FUND_SOVR);
      people.push(s);
    }
    for (const s of people) {
      const f = liveFeed(
        () => hub!.url,
        s,
        () => done,
      );
      feeds.push(f);
      await f.open();
    }

    // The plan: each payment's rail, payer and amount, and the kill moments, all from the seed.
    const plan = Array.from({ length: PAYMENTS }, (_, i) => ({
      i,
      key: `crash-${SEED}-${i}`,
      rail: RAILS[Math.floor(rand() * 3)]! as Rail,
      person: i % PEOPLE,
      units: BigInt(1 + Math.floor(rand() * 9)),
    }));
    // One kill in each of KILLS equal stretches of the payments started, at a random point in it,
    // then a random 0–40 ms more so the kill lands inside requests rather than between them.
    const killAt = Array.from({ length: KILLS }, (_, k) => {
      const lo = Math.floor((k * PAYMENTS) / KILLS);
      const hi = Math.floor(((k + 1) * PAYMENTS) / KILLS);
      return Math.min(PAYMENTS - 1, Math.max(1, lo + Math.floor(rand() * (hi - lo))));
    });
    const killDelay = killAt.map(() => Math.floor(rand() * 40));

    const figures = {
      seed: SEED,
      engine: ENGINE,
      payments: PAYMENTS,
      byRail: {} as Record<string, { payments: number; completed: number; failed: number }>,
      kills: 0,
      openAtKill: [] as number[],
      openAtKillByRail: {} as Record<string, number>,
      resumedOnStart: [] as number[],
      retries: 0,
      replays: 0,
      socketReconnects: 0,
      socketDuplicates: 0,
      webhookDeliveries: 0,
      webhookRedeliveries: 0,
      failureReasons: {} as Record<string, number>,
      seconds: 0,
    };

    // The hub's life: `up` resolves while it serves; a kill replaces it until the restart is done.
    let up: Promise<void> = Promise.resolve();
    let killing: Promise<void> = Promise.resolve();
    const resumedIn = (out: string) => {
      const hit = /"resumed":(\d+)/.exec(out);
      return hit ? Number(hit[1]) : 0;
    };
    let restartError: unknown;
    const killAndRestart = (delayMs: number) => {
      killing = killing.then(async () => {
        await sleep(delayMs);
        let back!: () => void;
        up = new Promise<void>((r) => (back = r));
        const dying = hub!;
        try {
          await dying.kill('SIGKILL');
          figures.kills++;
          // What the kill interrupted: payments not final, by rail (the internal rail settles in
          // the transaction that creates a payment, so only SOVR and Lightning ones are ever open).
          const open = await store!.db.all<{ rail: string; n: number | string }>(
            "SELECT rail, COUNT(*) AS n FROM payments WHERE status NOT IN ('completed', 'failed') GROUP BY rail",
          );
          const openNow = open.reduce((a, r) => a + Number(r.n), 0);
          figures.openAtKill.push(openNow);
          for (const r of open) figures.openAtKillByRail[r.rail] = (figures.openAtKillByRail[r.rail] ?? 0) + Number(r.n);
          progress(`kill ${figures.kills}: ${openNow} payments open`);
          hub = await spawnHub(port, env, { startTimeoutMs: START_TIMEOUT_MS });
          // The previous life's "resumed" line was written before it served, so it is in its output by now.
          figures.resumedOnStart.push(resumedIn(dying.output()));
          progress(`restarted (the life before resumed ${figures.resumedOnStart.at(-1)})`);
        } catch (err) {
          // Nothing can go on without a hub: the workers stop at their next look.
          restartError ??= err;
        } finally {
          back();
        }
      });
    };

    const bodies = new Map<number, unknown>();
    const bodyFor = async (p: (typeof plan)[number]) => {
      let b = bodies.get(p.i);
      if (b) return b;
      const s = people[p.person]!;
      if (p.rail === 'internal') b = { rail: 'internal', payTo: merchant, amount: String(p.units * 1000n), asset: 'SOVR' };
      else if (p.rail === 'lightning') {
        const valueMsat = p.units * 1000n;
        b = { rail: 'lightning', payTo: lnd!.addInvoice({ valueMsat }).paymentRequest, amount: valueMsat.toString(), asset: 'BTC' };
      } else {
        const value = (p.units * SOVR) / 100n;
        const authorization: WireAuthorization = await bed.authorize(s, treasury, value);
        b = {
          rail: 'sovr',
          payTo: merchant,
          amount: value.toString(),
          asset: 'SOVR',
          resource: { url: `https://shop.example/crash/${p.i}`, method: 'GET' },
          authorization,
        };
      }
      bodies.set(p.i, b);
      return b;
    };

    const results = new Map<number, P>();
    const unexpected: string[] = [];
    const getPayment = async (s: Session, id: string): Promise<P | undefined> => {
      const r = await fetch(`${hub!.url}/payments/${id}`, {
        headers: { authorization: `Bearer ${s.accessToken}` },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      return r.status === 200 ? ((await r.json()) as P) : undefined;
    };

    /** One logical payment to a final status: the same key and body until the hub answers. */
    const run = async (p: (typeof plan)[number]) => {
      const s = people[p.person]!;
      const body = await bodyFor(p);
      let id: string | undefined;
      for (let attempt = 0; ; attempt++) {
        if (attempt > 0) figures.retries++;
        if (attempt > 2000) throw new Error(`${p.key}: not final after 2000 attempts`);
        await up;
        if (restartError) throw restartError;
        try {
          let got: P | undefined;
          if (id === undefined) {
            const r = await payOnce(hub!.url, s, p.key, body);
            if (r.headers.get('idempotent-replayed') === 'true') figures.replays++;
            if (r.status === 200) got = (await r.json()) as P;
            else if (r.status >= 500 || r.status === 409) {
              // The hub (or its node) not ready yet, or the key still held by a request of a dead process.
              await r.arrayBuffer();
              await sleep(50);
              continue;
            } else {
              unexpected.push(`${p.key} (${p.rail}): ${r.status} ${await r.text()}`);
              return;
            }
            id = got.transactionId;
          } else got = await getPayment(s, id);
          if (got && FINAL.has(got.status)) {
            results.set(p.i, got);
            if (results.size % 100 === 0) progress(`${results.size} final`);
            return;
          }
          await sleep(50);
        } catch {
          // Connection refused or reset: the hub is down; wait for it and send the same again.
          await sleep(20);
        }
      }
    };

    let next = 0;
    let nextKill = 0;
    const worker = async () => {
      while (next < plan.length) {
        const p = plan[next++]!;
        while (nextKill < killAt.length && next >= killAt[nextKill]!) {
          killAndRestart(killDelay[nextKill]!);
          nextKill++;
        }
        await run(p);
      }
    };
    progress('set up; paying');
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    progress('every payment final; checking');
    await killing;
    expect(unexpected).toEqual([]);
    expect(figures.kills).toBe(KILLS);
    expect(results.size).toBe(PAYMENTS);

    // Every key names one payment, and every stored payment is one of the keys.
    const rows = await store.db.all<{
      id: string;
      rail: string;
      status: string;
      amount: string;
      user_id: string;
      merchant_id: string | null;
    }>('SELECT id, rail, status, amount, user_id, merchant_id FROM payments');
    expect(rows).toHaveLength(PAYMENTS);
    expect(new Set([...results.values()].map((r) => r.transactionId)).size).toBe(PAYMENTS);
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const [i, r] of results) {
      expect(byId.get(r.transactionId)?.rail, plan[i]!.key).toBe(plan[i]!.rail);
      expect(byId.get(r.transactionId)?.status).toBe(r.status);
    }
    expect(rows.filter((r) => !FINAL.has(r.status))).toEqual([]);
    for (const rail of RAILS) {
      const mine = rows.filter((r) => r.rail === rail);
      figures.byRail[rail] = {
        payments: mine.length,
        completed: mine.filter((r) => r.status === 'completed').length,
        failed: mine.filter((r) => r.status === 'failed').length,
      };
    }
    for (const r of results.values())
      if (r.status === 'failed')
        figures.failureReasons[`${r.rail}: ${r.failureReason}`] = (figures.failureReasons[`${r.rail}: ${r.failureReason}`] ?? 0) + 1;

    // Ledger: balanced per asset, and each person's balances are what was funded less what completed.
    await expectLedgerBalanced(store.db);
    const completed = [...results.entries()].filter(([, r]) => r.status === 'completed');
    const spent = (person: number, rail: Rail) =>
      completed.filter(([i, r]) => plan[i]!.person === person && r.rail === rail).reduce((a, [, r]) => a + BigInt(r.amount), 0n);
    for (const [n, s] of people.entries()) {
      const b = await balances(hub.url, s);
      expect(b.SOVR, `person ${n} SOVR`).toMatchObject({ posted: (FUND_SOVR - spent(n, 'internal')).toString(), pending: '0' });
      expect(b.BTC, `person ${n} BTC`).toMatchObject({ posted: (FUND_BTC - spent(n, 'lightning')).toString(), pending: '0' });
      expect(await bed.sovr.contract.balanceOf(s.wallet.address), `person ${n} on chain`).toBe(FUND_SOVR - spent(n, 'sovr'));
    }

    // SOVR: one transaction from the service wallet per completed payment, and no other.
    const sovrDone = completed.filter(([, r]) => r.rail === 'sovr').map(([, r]) => r.receipt?.transactionHash);
    expect(sovrDone.every((h) => typeof h === 'string')).toBe(true);
    expect(new Set(sovrDone).size).toBe(sovrDone.length);
    const sent = await bed.transactionsFrom(service.address, startBlock);
    expect(sent.map((t) => t.hash).sort()).toEqual([...sovrDone].sort());
    const sovrTotal = completed.filter(([, r]) => r.rail === 'sovr').reduce((a, [, r]) => a + BigInt(r.amount), 0n);
    expect(await bed.sovr.contract.balanceOf(treasury)).toBe(sovrTotal);

    // Lightning: the node accepted each hash at most once and succeeded exactly the completed ones.
    clearInterval(lndTicker);
    lnd.release();
    const atNode = lnd.payments();
    const perHash = new Map<string, number>();
    for (const x of atNode) perHash.set(x.paymentHash, (perHash.get(x.paymentHash) ?? 0) + 1);
    expect([...perHash].filter(([, n]) => n > 1)).toEqual([]);
    const lnDone = completed.filter(([, r]) => r.rail === 'lightning').map(([, r]) => r.receipt?.transactionHash);
    expect(
      atNode
        .filter((x) => x.status === 'SUCCEEDED')
        .map((x) => x.paymentHash)
        .sort(),
    ).toEqual([...lnDone].sort());

    // Webhooks: each completed merchant payment has one payment.completed id; wait for the worker.
    const expectedHooks = new Set(rows.filter((r) => r.status === 'completed' && r.merchant_id !== null).map((r) => r.id));
    const hookIds = () => {
      const ids = new Map<string, Set<string>>();
      for (const h of receiver!.hooks)
        if (h.type === 'payment.completed') ids.set(h.transactionId, (ids.get(h.transactionId) ?? new Set()).add(h.id));
      return ids;
    };
    const hookDeadline = Date.now() + 120_000;
    while ([...expectedHooks].some((id) => !hookIds().has(id)) && Date.now() < hookDeadline) await sleep(200);
    await sleep(500); // a late duplicate would show up now
    const ids = hookIds();
    expect(receiver.unverified()).toBe(0);
    expect([...expectedHooks].filter((id) => ids.get(id)?.size !== 1)).toEqual([]);
    expect([...ids.keys()].filter((id) => !expectedHooks.has(id))).toEqual([]);
    figures.webhookDeliveries = receiver.hooks.length;
    figures.webhookRedeliveries = receiver.hooks.length - new Set(receiver.hooks.map((h) => h.id)).size;

    // Socket: every seq delivered, each seq one content, one seq per transition of each payment.
    const users = await store.db.all<{ id: string; last_seq: number | string }>('SELECT id, last_seq FROM users');
    const lastSeq = new Map(users.map((u) => [u.id, Number(u.last_seq)]));
    const feedDeadline = Date.now() + 60_000;
    while (people.some((s, n) => feeds[n]!.maxSeq() < lastSeq.get(s.user.id)!) && Date.now() < feedDeadline) await sleep(100);
    const paymentsSeen = new Set<string>();
    for (const [n, s] of people.entries()) {
      const f = feeds[n]!;
      const bySeq = new Map<number, PaymentStatusUpdate>();
      for (const u of f.deliveries) {
        const first = bySeq.get(u.seq);
        if (!first) bySeq.set(u.seq, u);
        else {
          figures.socketDuplicates++;
          expect(
            { transactionId: u.transactionId, status: u.status, previousStatus: u.previousStatus },
            `person ${n} seq ${u.seq}`,
          ).toEqual({ transactionId: first.transactionId, status: first.status, previousStatus: first.previousStatus });
        }
      }
      const last = lastSeq.get(s.user.id)!;
      expect(
        [...bySeq.keys()].sort((a, b) => a - b),
        `person ${n} seqs`,
      ).toEqual(Array.from({ length: last }, (_, k) => k + 1));
      const perPayment = new Map<string, PaymentStatusUpdate[]>();
      for (const u of [...bySeq.values()].sort((a, b) => a.seq - b.seq))
        perPayment.set(u.transactionId, [...(perPayment.get(u.transactionId) ?? []), u]);
      for (const [id, us] of perPayment) {
        paymentsSeen.add(id);
        const statuses = us.map((u) => u.status);
        expect(new Set(statuses).size, `${id}: ${statuses.join(' → ')}`).toBe(statuses.length);
        for (let k = 1; k < us.length; k++) expect(us[k]!.previousStatus, `${id} seq ${us[k]!.seq}`).toBe(us[k - 1]!.status);
        expect(statuses.at(-1), id).toBe(byId.get(id)?.status);
      }
      figures.socketReconnects += f.reconnects();
    }
    expect(rows.filter((r) => !paymentsSeen.has(r.id)).map((r) => r.id)).toEqual([]);

    // The hub's own check agrees once it is stopped cleanly.
    done = true;
    for (const f of feeds) f.close();
    const lastOut = hub.output();
    await hub.kill('SIGTERM');
    figures.resumedOnStart.push(resumedIn(lastOut));
    const doctor = await runDoctor(env);
    expect(doctor.output).toContain('invariant holds');
    expect(doctor.code).toBe(0);

    figures.seconds = Math.round((Date.now() - started) / 100) / 10;
    console.log(`crash faults figures: ${JSON.stringify(figures, null, 2)}`);
    mkdirSync('.tmp', { recursive: true });
    writeFileSync('.tmp/faults-crash.json', `${JSON.stringify(figures, null, 2)}\n`);
  });
});
