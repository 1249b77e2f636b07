import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from 'redis';
import type { Server as IoServer } from 'socket.io';
import { io as ioClient, type Socket as ClientSocket } from 'socket.io-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Payment, PaymentStatus, PaymentStatusUpdate } from '../../shared/api.js';
import { manualClock } from '../../server/clock.js';
import {
  appendEvent,
  createOutboxDispatcher,
  createSocketNotifier,
  INVALID_TOKEN_TYPE,
  purgeDispatched,
  type OutboxRecord,
  type OutboxSink,
  type SocketNotifier,
} from '../../server/notify/index.js';
import { migrate } from '../../server/store/migrate.js';
import { MIGRATIONS } from '../../server/store/migrations/index.js';
import { openPostgres } from '../../server/store/postgres.js';
import type { Db } from '../../server/store/types.js';
import { ENGINES, freshStore, type TestStore } from '../helpers/stores.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const TOKENS: Record<string, string> = { 'token-alice': 'alice', 'token-bob': 'bob', 'token-carol': 'carol' };
const verifyToken = async (token: string) => {
  const userId = TOKENS[token];
  if (!userId) throw new Error('bad token');
  return { userId };
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(cond: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function payment(id: string, status: PaymentStatus): Payment {
  const at = new Date(Date.UTC(2026, 0, 1)).toISOString();
  return {
    transactionId: id,
    status,
    rail: 'internal',
    payTo: 'm_shop',
    amount: '1500',
    asset: 'SOVR',
    resource: null,
    description: null,
    failureReason: null,
    receipt: {},
    createdAt: at,
    updatedAt: at,
  };
}

const clock = manualClock();

/** One status change of one payment, in its own transaction (as the payments service does). */
function record(db: Db, userId: string, paymentId: string, status: PaymentStatus, previous: PaymentStatus | null = null) {
  return db.transaction((tx) =>
    appendEvent(
      tx,
      { userId, merchantId: null, type: `payment.${status}`, payment: payment(paymentId, status), previousStatus: previous },
      clock.now(),
    ),
  );
}

const undispatched = async (db: Db) =>
  Number((await db.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM outbox WHERE dispatched_at IS NULL'))?.n);

async function listen(): Promise<{ server: HttpServer; url: string }> {
  const server = createServer((_req, res) => res.writeHead(404).end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

interface Client {
  socket: ClientSocket;
  updates: PaymentStatusUpdate[];
  seqs(): number[];
}

/** A client as the extension makes it: websocket only, token (and maybe lastSeq) in `auth`. */
async function connect(url: string, auth: Record<string, unknown>): Promise<Client> {
  const socket = ioClient(url, { auth, transports: ['websocket'], reconnection: false, forceNew: true });
  const updates: PaymentStatusUpdate[] = [];
  // Listening before the connection, so a replay sent right after it is not missed.
  socket.on('paymentStatusUpdate', (u: PaymentStatusUpdate) => updates.push(u));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (err) => reject(err));
  });
  return { socket, updates, seqs: () => updates.map((u) => u.seq) };
}

function connectError(url: string, auth: Record<string, unknown>): Promise<Error & { data?: { type?: string } }> {
  const socket = ioClient(url, { auth, transports: ['websocket'], reconnection: false, forceNew: true });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => {
      socket.close();
      reject(new Error('connected without a good token'));
    });
    socket.once('connect_error', (err) => {
      socket.close();
      resolve(err as Error & { data?: { type?: string } });
    });
  });
}

describe.each(ENGINES)('notify on %s', (engine) => {
  let store: TestStore;
  let db: Db;
  let server: HttpServer;
  let url: string;
  let notifier: SocketNotifier;
  const logs: unknown[][] = [];
  const cleanups: (() => Promise<void> | void)[] = [];

  beforeEach(async () => {
    store = await freshStore(engine);
    db = store.db;
    await migrate(db, MIGRATIONS);
    for (const id of ['alice', 'bob', 'carol']) {
      await db.run('INSERT INTO users (id, address, created_at) VALUES (?, ?, ?)', [id, `0x${id}`, clock.now()]);
    }
    ({ server, url } = await listen());
    logs.length = 0;
    const capture =
      (level: string) =>
      (...args: unknown[]) =>
        void logs.push([level, ...args]);
    const logger = { debug: capture('debug'), info: capture('info'), warn: capture('warn'), error: capture('error') };
    notifier = createSocketNotifier({ httpServer: server, db, verifyToken, replayPageSize: 2, logger });
  });

  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
    await notifier.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await store.cleanup();
  });

  const dispatcher = (sinks: OutboxSink[], batchSize?: number) => {
    const d = createOutboxDispatcher({ db, clock, sinks, ...(batchSize ? { batchSize } : {}) });
    cleanups.push(() => d.stop());
    return d;
  };
  const client = async (auth: Record<string, unknown>) => {
    const c = await connect(url, auth);
    cleanups.push(() => void c.socket.close());
    return c;
  };

  it('refuses a connection without a token or with a bad one', async () => {
    for (const auth of [{}, { token: '' }, { token: 42 }, { token: 'token-mallory' }]) {
      const err = await connectError(url, auth);
      expect(err.message).toBe('unauthorized');
      expect(err.data?.type).toBe(INVALID_TOKEN_TYPE);
    }
    expect(notifier.connectedCount()).toBe(0);
    // Refusals are logged, the tokens never.
    expect(logs.length).toBeGreaterThan(0);
    expect(JSON.stringify(logs)).not.toContain('token-mallory');
  });

  it('also serves long-polling clients (browsers), not only websocket', async () => {
    const socket = ioClient(url, { auth: { token: 'token-bob' }, transports: ['polling'], reconnection: false, forceNew: true });
    cleanups.push(() => void socket.close());
    const got: PaymentStatusUpdate[] = [];
    socket.on('paymentStatusUpdate', (u: PaymentStatusUpdate) => got.push(u));
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('connect_error', reject));
    await record(db, 'bob', 'pay_b', 'pending');
    await dispatcher([notifier.sink]).drainOnce();
    await waitFor(() => got.length === 1, 'update over polling');
    expect(got[0]?.seq).toBe(1);
  });

  it('pushes each user their own updates only', async () => {
    const alice = await client({ token: 'token-alice' });
    const bob = await client({ token: 'token-bob' });
    expect(notifier.connectedCount()).toBe(2);
    const d = dispatcher([notifier.sink]);
    await record(db, 'alice', 'pay_a1', 'pending');
    await record(db, 'bob', 'pay_b1', 'pending');
    await record(db, 'alice', 'pay_a1', 'completed', 'pending');
    expect(await d.drainOnce()).toBe(3);
    await waitFor(() => alice.updates.length === 2 && bob.updates.length === 1, 'updates');
    await sleep(50);
    expect(alice.updates.map((u) => [u.transactionId, u.status, u.previousStatus, u.seq])).toEqual([
      ['pay_a1', 'pending', null, 1],
      ['pay_a1', 'completed', 'pending', 2],
    ]);
    expect(bob.updates.map((u) => [u.transactionId, u.seq])).toEqual([['pay_b1', 1]]);
    expect(await undispatched(db)).toBe(0);
  });

  it('delivers a user’s updates in seq order, across payments and batches', async () => {
    const alice = await client({ token: 'token-alice' });
    const bob = await client({ token: 'token-bob' });
    // Interleaved payments and users; small batches so order has to hold across claims.
    const steps: [string, string, PaymentStatus, PaymentStatus | null][] = [];
    for (let i = 0; i < 6; i++) {
      steps.push(['alice', `pay_a${i}`, 'pending', null], ['bob', `pay_b${i}`, 'pending', null]);
      if (i > 0) steps.push(['alice', `pay_a${i - 1}`, 'submitted', 'pending'], ['alice', `pay_a${i - 1}`, 'completed', 'submitted']);
    }
    for (const [u, p, s, prev] of steps) await record(db, u, p, s, prev);
    const d = dispatcher([notifier.sink], 3);
    const delivered = await d.drainOnce();
    expect(delivered).toBe(steps.length);
    const aliceCount = steps.filter((s) => s[0] === 'alice').length;
    await waitFor(() => alice.updates.length === aliceCount && bob.updates.length === 6, 'all updates');
    expect(alice.seqs()).toEqual(Array.from({ length: aliceCount }, (_, i) => i + 1));
    expect(bob.seqs()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('replays exactly the missed updates from the database after a reconnect', async () => {
    const d = dispatcher([notifier.sink]);
    const first = await client({ token: 'token-alice', lastSeq: 0 });
    await record(db, 'alice', 'pay_1', 'pending');
    await record(db, 'alice', 'pay_1', 'completed', 'pending');
    await d.drainOnce();
    await waitFor(() => first.updates.length === 2, 'first updates');
    expect(first.seqs()).toEqual([1, 2]);
    first.socket.close();
    await waitFor(() => notifier.connectedCount() === 0, 'disconnect');

    // While nobody is connected: three events dispatched into the void, one not dispatched yet.
    await record(db, 'alice', 'pay_2', 'pending');
    await record(db, 'bob', 'pay_b', 'pending');
    await record(db, 'alice', 'pay_2', 'submitted', 'pending');
    await record(db, 'alice', 'pay_3', 'pending');
    expect(await d.drainOnce()).toBe(4);
    await record(db, 'alice', 'pay_2', 'completed', 'submitted');

    // Page size 2, so the replay pages through the database.
    const again = await client({ token: 'token-alice', lastSeq: 2 });
    await waitFor(() => again.updates.length === 4, 'replay');
    await sleep(100);
    expect(again.seqs()).toEqual([3, 4, 5, 6]);
    expect(again.updates.map((u) => [u.transactionId, u.status])).toEqual([
      ['pay_2', 'pending'],
      ['pay_2', 'submitted'],
      ['pay_3', 'pending'],
      ['pay_2', 'completed'],
    ]);

    // The undispatched one is then delivered live as well: a duplicate, which clients dedupe.
    expect(await d.drainOnce()).toBe(1);
    await waitFor(() => again.updates.length === 5, 'live duplicate');
    expect(again.seqs()).toEqual([3, 4, 5, 6, 6]);

    // A client without lastSeq gets no replay, only what comes next.
    const fresh = await client({ token: 'token-alice' });
    await record(db, 'alice', 'pay_3', 'completed', 'pending');
    await d.drainOnce();
    await waitFor(() => fresh.updates.length === 1, 'live update');
    expect(fresh.seqs()).toEqual([7]);
  });

  it('marks rows dispatched, and keeps them while a sink fails until it recovers', async () => {
    const seen: OutboxRecord[] = [];
    let failing = true;
    const flaky: OutboxSink = {
      async deliver(events) {
        if (failing) throw new Error('sink down');
        seen.push(...events);
      },
    };
    const alice = await client({ token: 'token-alice' });
    const d = dispatcher([notifier.sink, flaky]);
    await record(db, 'alice', 'pay_1', 'pending');
    await record(db, 'bob', 'pay_2', 'pending');
    await expect(d.drainOnce()).rejects.toThrow('sink down');
    expect(await undispatched(db)).toBe(2);

    // In the background: pokes during the failure leave the rows; the retry after recovery takes them.
    d.start();
    d.poke();
    await sleep(150);
    expect(await undispatched(db)).toBe(2);
    failing = false;
    await waitFor(async () => (await undispatched(db)) === 0, 'dispatch after recovery');
    expect(seen.map((e) => [e.userId, e.seq, e.paymentId, e.type])).toEqual([
      ['alice', 1, 'pay_1', 'payment.pending'],
      ['bob', 1, 'pay_2', 'payment.pending'],
    ]);
    const rows = await db.all<{ dispatched_at: number | string | null }>('SELECT dispatched_at FROM outbox');
    expect(rows.every((r) => Number(r.dispatched_at) === clock.now())).toBe(true);
    // At least once: the socket sink saw the batch on every attempt; seq 1 is all alice needs.
    await waitFor(() => alice.updates.length >= 1, 'alice update');
    expect(new Set(alice.seqs())).toEqual(new Set([1]));

    // poke() after a commit is enough, without waiting for the poll.
    await record(db, 'alice', 'pay_1', 'completed', 'pending');
    d.poke();
    await waitFor(() => seen.length === 3, 'poked delivery', 1000);
  });

  it('purges only dispatched rows older than the cutoff', async () => {
    const d = dispatcher([{ deliver: async () => undefined }]);
    await record(db, 'alice', 'pay_1', 'pending');
    await d.drainOnce();
    await record(db, 'alice', 'pay_1', 'completed', 'pending');
    const cutoff = clock.now() + 1;
    expect(await db.transaction((tx) => purgeDispatched(tx, clock.now()))).toBe(0);
    expect(await db.transaction((tx) => purgeDispatched(tx, cutoff))).toBe(1);
    const left = await db.all<{ seq: number | string }>('SELECT seq FROM outbox');
    expect(left.map((r) => Number(r.seq))).toEqual([2]);
    // The sequence keeps counting from users.last_seq.
    expect((await record(db, 'alice', 'pay_2', 'pending')).seq).toBe(3);
  });

  it.runIf(engine === 'postgres')('shares one PostgreSQL between two dispatchers without double or out-of-order delivery', async () => {
    // A second pool on the same schema: what another hub process would have.
    const db2 = openPostgres({ connectionString: store.env.DATABASE_URL!, max: 4 });
    cleanups.push(() => db2.close());
    const log: { by: string; e: OutboxRecord }[] = [];
    const slowSink = (by: string): OutboxSink => ({
      async deliver(events) {
        for (const e of events) log.push({ by, e });
        await sleep(2 + Math.random() * 8); // hold the claim a while so the two overlap
      },
    });
    const a = createOutboxDispatcher({ db, clock, sinks: [slowSink('A')], batchSize: 4 });
    const b = createOutboxDispatcher({ db: db2, clock, sinks: [slowSink('B')], batchSize: 4 });
    cleanups.push(
      () => a.stop(),
      () => b.stop(),
    );

    const users = ['alice', 'bob', 'carol'];
    for (let i = 4; i <= 12; i++) {
      const id = `u${i}`;
      users.push(id);
      await db.run('INSERT INTO users (id, address, created_at) VALUES (?, ?, ?)', [id, `0x${id}`, clock.now()]);
    }
    // Writers keep adding events while both dispatchers drain.
    const write = async () => {
      for (let p = 0; p < 4; p++) {
        await Promise.all(
          users.map(async (u) => {
            await record(db, u, `${u}_p${p}`, 'pending');
            await record(db, u, `${u}_p${p}`, 'submitted', 'pending');
            await record(db, u, `${u}_p${p}`, 'completed', 'submitted');
          }),
        );
      }
    };
    let writing = true;
    const drainers = [a, b].map(async (d) => {
      while (writing) await d.drainOnce();
      await d.drainOnce();
    });
    await write();
    writing = false;
    await Promise.all(drainers);
    await a.drainOnce();
    await b.drainOnce();

    const total = users.length * 4 * 3;
    expect(log.length).toBe(total);
    expect(new Set(log.map((l) => l.e.id)).size).toBe(total);
    expect(new Set(log.map((l) => l.by))).toEqual(new Set(['A', 'B']));
    expect(await undispatched(db)).toBe(0);
    // Delivery order (the log is in the order the sinks were called) is seq order per user,
    // hence status order per payment.
    for (const u of users) {
      expect(log.filter((l) => l.e.userId === u).map((l) => l.e.seq)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    }
    for (let p = 0; p < 4; p++) {
      const statuses = log.filter((l) => l.e.paymentId === `bob_p${p}`).map((l) => l.e.payload.status);
      expect(statuses).toEqual(['pending', 'submitted', 'completed']);
    }
  });

  it('reaches a user connected to another hub process through the Redis streams adapter', async () => {
    const stream = `tollway-test-${process.pid}-${Date.now().toString(36)}-${engine}`;
    const redisAdapter = { streamName: stream, channelPrefix: stream, blockTimeInMs: 200 };
    const redis = createClient({ url: REDIS_URL });
    await redis.connect();
    cleanups.push(async () => {
      await redis.del(stream);
      await redis.close();
    });
    const nodes = [] as { notifier: SocketNotifier; url: string }[];
    for (let i = 0; i < 2; i++) {
      const { server: s, url: u } = await listen();
      const n = createSocketNotifier({ httpServer: s, db, verifyToken, redisUrl: REDIS_URL, redisAdapter });
      cleanups.push(async () => {
        await n.close();
        s.closeAllConnections();
        await new Promise<void>((r) => s.close(() => r()));
      });
      await n.ready();
      nodes.push({ notifier: n, url: u });
    }
    const [A, B] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    const onB = await connect(B.url, { token: 'token-alice' });
    const bobOnB = await connect(B.url, { token: 'token-bob' });
    cleanups.push(
      () => void onB.socket.close(),
      () => void bobOnB.socket.close(),
    );

    // The adapter starts reading the stream asynchronously; wait until B hears A.
    let heard = false;
    onB.socket.on('probe', () => (heard = true));
    await waitFor(() => {
      (A.notifier.io as unknown as IoServer).to('user:alice').emit('probe');
      return heard;
    }, 'adapter to be live');

    const d = dispatcher([A.notifier.sink]);
    await record(db, 'alice', 'pay_x', 'pending');
    await record(db, 'alice', 'pay_x', 'completed', 'pending');
    expect(await d.drainOnce()).toBe(2);
    await waitFor(() => onB.updates.length === 2, 'update on B');
    await sleep(100);
    expect(onB.seqs()).toEqual([1, 2]);
    expect(bobOnB.updates).toEqual([]);
    expect(B.notifier.connectedCount()).toBe(2);
    expect(A.notifier.connectedCount()).toBe(0);
    expect(await redis.exists(stream)).toBe(1);
  });
});
