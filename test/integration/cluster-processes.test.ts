/**
 * Several hub processes as one hub: two real `server/main.ts` processes on one PostgreSQL schema and
 * one Redis, started the way `npm run cluster` starts them (scripts/cluster/processes.ts: migrations
 * once, one signing key, the local balancer in front).
 *
 * Payments go to one process or the other directly, so that which process took each is known.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, newSigningKey, startCluster } from '../../scripts/cluster/processes.js';
import { MIGRATIONS } from '../../server/store/migrations/index.js';
import type { PaymentStatusUpdate } from '../../shared/api.js';
import { ADMIN_TOKEN, balances, createMerchant, fund, pay, type Session, signIn } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { freshStore, type TestStore } from '../helpers/stores.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

function listen(url: string, token: string): { socket: Socket; updates: PaymentStatusUpdate[]; connected: Promise<void> } {
  const socket = io(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  const updates: PaymentStatusUpdate[] = [];
  socket.on('paymentStatusUpdate', (u: PaymentStatusUpdate) => void updates.push(u));
  const connected = new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (e) => reject(e));
  });
  return { socket, updates, connected };
}

/** Resolves once `done()` holds, polling; fails the test with `what` after `ms`. */
async function until(done: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('two hub processes on one PostgreSQL and one Redis', () => {
  let store: TestStore;
  let cluster: Cluster;
  const dataDir = mkdtempSync(join(tmpdir(), 'tollway-cluster-'));
  let merchant: string;

  beforeAll(async () => {
    store = await freshStore('postgres');
    cluster = await startCluster({
      processes: 2,
      databaseUrl: store.env.DATABASE_URL!,
      redisUrl: REDIS_URL,
      signingKey: newSigningKey(),
      adminToken: ADMIN_TOKEN,
      dataDir,
      env: { TOLLWAY_DEV: '1', TOLLWAY_LOG_LEVEL: 'warn' },
      // Two tsx compilations at once on a loaded machine.
      startTimeoutMs: 240_000,
    });
    merchant = (await createMerchant(cluster.url)).merchant.id;
  }, 300_000);

  afterAll(async () => {
    await cluster?.stop();
    await store?.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const body = (amount: number | string) => ({ rail: 'internal', payTo: merchant, amount: String(amount), asset: 'SOVR' });

  it('ran the migrations once, before the processes started, and the balancer reaches both', async () => {
    // The schema was empty: the script applied every migration, so no process had any left.
    expect(cluster.migrated).toEqual(MIGRATIONS.map((m) => m.id));
    const rows = await store.db.all<{ id: string }>('SELECT id FROM schema_migrations');
    expect(rows.map((r) => r.id).sort()).toEqual(MIGRATIONS.map((m) => m.id).sort());
    expect(cluster.balancer.up()).toEqual([true, true]);
    for (const h of cluster.hubs) expect((await fetch(`${h.url}/readyz`)).status).toBe(200);
  });

  it('a payment through either process is heard on sockets connected to both', async () => {
    // Signed in through the balancer (the public URL); the token works at each process.
    const alice = await signIn(cluster.url);
    await fund(cluster.url, alice, '1000000');
    const [a, b] = cluster.hubs as [Cluster['hubs'][0], Cluster['hubs'][0]];
    const onA = listen(a.url, alice.accessToken);
    const onB = listen(b.url, alice.accessToken);
    try {
      await Promise.all([onA.connected, onB.connected]);
      // Each process's dispatcher may deliver an event, but only through Redis does it reach the
      // other process's socket: with a Redis of its own for each process, the two sockets heard 7
      // and 13 of these 20 payments (both dispatchers take rows), and this test fails.
      // The adapter starts reading its stream in the background after start, so a first payment
      // is repeated (new keys) until both sockets hear one.
      const warm = Date.now() + 30_000;
      let n = 0;
      for (;;) {
        const r = await pay(n % 2 === 0 ? a.url : b.url, alice, `warm-${n++}`, body(1));
        const id = ((await r.json()) as { transactionId: string }).transactionId;
        const heard = (u: PaymentStatusUpdate) => u.transactionId === id;
        await new Promise((r) => setTimeout(r, 300));
        if (onA.updates.some(heard) && onB.updates.some(heard)) break;
        if (Date.now() > warm) throw new Error('the sockets never heard a first payment from both sides');
      }

      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const r = await pay(i % 2 === 0 ? a.url : b.url, alice, `heard-${i}`, body(10 + i));
        expect(r.status).toBe(200);
        ids.push(((await r.json()) as { transactionId: string }).transactionId);
      }
      const completed = (w: { updates: PaymentStatusUpdate[] }) =>
        new Set(w.updates.filter((u) => u.status === 'completed' && ids.includes(u.transactionId)).map((u) => u.transactionId));
      await until(() => completed(onA).size === ids.length && completed(onB).size === ids.length, 'every payment on both sockets');
      // In order: each socket sees the user's events by rising seq.
      for (const w of [onA, onB]) {
        const seqs = w.updates.map((u) => u.seq);
        expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      }
    } finally {
      onA.socket.close();
      onB.socket.close();
    }
  }, 120_000);

  it('the same Idempotency-Key sent to both processes at once makes one payment', async () => {
    const bob = await signIn(cluster.url);
    const funded = 1_000_000n;
    await fund(cluster.url, bob, funded.toString());
    const [a, b] = cluster.hubs as [Cluster['hubs'][0], Cluster['hubs'][0]];
    const keys = Array.from({ length: 12 }, (_, i) => `both-${i}`);
    for (const key of keys) {
      const answers = await Promise.all([a, b].map((h) => pay(h.url, bob, key, body(100))));
      const bodies = await Promise.all(answers.map((r) => r.json() as Promise<{ transactionId?: string; type?: string }>));
      const ok = answers.flatMap((r, i) => (r.status === 200 ? [bodies[i]!.transactionId] : []));
      // The loser waits for the winner's commit and replays its answer, or is told the key is in flight.
      for (const [i, r] of answers.entries()) {
        if (r.status !== 200) {
          expect(r.status, key).toBe(409);
          expect(r.headers.get('content-type')).toContain('application/problem+json');
          expect(bodies[i]!.type).toContain('idempotency-key-in-flight');
        }
      }
      expect(ok.length, key).toBeGreaterThanOrEqual(1);
      expect(new Set(ok).size, key).toBe(1);
      // Asked again at the other process: the same payment.
      const again = await pay(b.url, bob, key, body(100));
      expect(((await again.json()) as { transactionId: string }).transactionId).toBe(ok[0]);
    }
    const mine = await store.db.all<{ id: string; amount: string }>(
      `SELECT p.id, p.amount FROM payments p JOIN idempotency_keys k ON k.resource_id = p.id WHERE k.key LIKE 'both-%'`,
    );
    expect(mine).toHaveLength(keys.length);
    const b2 = await balances(cluster.url, bob);
    expect(BigInt(b2.SOVR!.posted)).toBe(funded - 100n * BigInt(keys.length));
    await expectLedgerBalanced(store.db);
  }, 120_000);

  // Last: it leaves one process dead.
  it('one process SIGKILLed during a burst: every acknowledged payment is kept, one per key, and the ledger balances', async () => {
    const payers: Session[] = await Promise.all(Array.from({ length: 4 }, () => signIn(cluster.url)));
    const funded = 10_000_000n;
    for (const p of payers) await fund(cluster.url, p, funded.toString());
    const [a, b] = cluster.hubs as [Cluster['hubs'][0], Cluster['hubs'][0]];

    const keys = Array.from({ length: 300 }, (_, i) => `burst-${i}`);
    const payer = (i: number) => payers[i % payers.length]!;
    const amount = (i: number) => 100 + (i % 7);
    const acknowledged = new Map<string, string>();
    const unanswered: number[] = [];
    let answered = 0;
    let next = 0;
    let killed: Promise<void> | undefined;
    const worker = async () => {
      while (next < keys.length) {
        const i = next++;
        // Half the keys to each process, until B is gone.
        const target = i % 2 === 0 ? a : b;
        try {
          const r = await pay(target.url, payer(i), keys[i], body(amount(i)));
          const p = (await r.json()) as { transactionId: string; status: string };
          if (r.status === 200) acknowledged.set(keys[i]!, p.transactionId);
          else unanswered.push(i);
          if (++answered === 80) killed = b.kill('SIGKILL');
        } catch {
          // Refused or reset by the dead process: the client retries at the other one below.
          unanswered.push(i);
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    await killed;
    expect(b.proc.signalCode).toBe('SIGKILL');
    expect(acknowledged.size).toBeGreaterThanOrEqual(80);
    expect(unanswered.length).toBeGreaterThan(0);

    // The client retries every key at the surviving process, as the extension does after a failure:
    // an acknowledged key answers with the same payment, the rest are made now, once.
    const ids = new Map<string, string>();
    for (const [i, k] of keys.entries()) {
      const r = await pay(a.url, payer(i), k, body(amount(i)));
      expect(r.status, k).toBe(200);
      const p = (await r.json()) as { transactionId: string; status: string };
      expect(p.status, k).toBe('completed');
      if (acknowledged.has(k)) expect(p.transactionId, k).toBe(acknowledged.get(k));
      ids.set(k, p.transactionId);
    }
    expect(new Set(ids.values()).size).toBe(keys.length);

    const rows = await store.db.all<{ id: string; status: string }>(
      `SELECT p.id, p.status FROM payments p JOIN idempotency_keys k ON k.resource_id = p.id WHERE k.key LIKE 'burst-%'`,
    );
    expect(rows).toHaveLength(keys.length);
    expect(new Set(rows.map((r) => r.id))).toEqual(new Set(ids.values()));
    expect(rows.filter((r) => r.status !== 'completed')).toEqual([]);
    for (const [n, p] of payers.entries()) {
      const spent = keys.reduce((sum, _k, i) => (i % payers.length === n ? sum + BigInt(amount(i)) : sum), 0n);
      const bal = await balances(a.url, p);
      expect(BigInt(bal.SOVR!.posted)).toBe(funded - spent);
      expect(bal.SOVR!.pending).toBe('0');
    }
    await expectLedgerBalanced(store.db);
    // The balancer stopped sending new connections to the dead process.
    await until(() => cluster.balancer.up()[1] === false, 'the balancer to mark the dead process down');
    for (let i = 0; i < 4; i++) expect((await fetch(`${cluster.url}/readyz`)).status).toBe(200);
  }, 240_000);
});
