/**
 * The event broker under faults (issue 15): the hub stopped between JetStream's PubAck and marking
 * the events published, and killed with SIGKILL in a burst, publishes each event once after it
 * restarts (the server drops the re-publish by its Nats-Msg-Id); a NATS server that is down
 * during a burst, and stopped again in the middle of it, delays events and loses none, and each
 * payment's events reach the stream in order. The shared server on 4222 is never stopped: the
 * outage test runs a nats-server of its own.
 *
 * Run with `npm run test:faults -- test/faults/broker.test.ts`. BROKER_PAYMENTS (300) per run.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ProblemError } from '../../shared/problem.js';
import type { RailParts } from '../../server/app.js';
import { createBrokerSink } from '../../server/notify/broker.js';
import type { Rail } from '../../server/rails/types.js';
import {
  consumeAll,
  deleteStream,
  expectEachOnceInOrder,
  NATS_URL,
  outboxRecords,
  ownNats,
  streamMessages,
  uniqueEvents,
  unpublished,
  until,
} from '../helpers/broker.js';
import { spawnHub } from '../helpers/child-hub.js';
import { createMerchant, freePort, fund, pay, signIn, startTestHub, type Session } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { ENGINES, freshStore } from '../helpers/stores.js';

const PAYMENTS = Number(process.env.BROKER_PAYMENTS ?? 300);
type P = { transactionId: string; status: string };
/** A busy machine (two cores, other suites) can stretch a hub's start, which compiles with tsx. */
const START = { startTimeoutMs: 120_000 };

/**
 * Pays `count` times from the people in turn, `inFlight` at once; every fifth completed payment is
 * refunded in two parts (three events for that payment). Resolves with the answers it got.
 */
async function burst(
  url: string,
  people: Session[],
  shop: { merchant: { id: string }; apiKey: string },
  count: number,
  opts: { inFlight?: number; tag: string; rail?: string; afterEach?: (i: number) => Promise<void> | void },
): Promise<P[]> {
  const done: P[] = [];
  let next = 0;
  const refund = (id: string, key: string, body: unknown) =>
    fetch(`${url}/payments/${id}/refund`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${shop.apiKey}`, 'idempotency-key': key },
      body: JSON.stringify(body),
    });
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const who = people[i % people.length]!;
      const res = await pay(url, who, `${opts.tag}-${i}`, {
        rail: opts.rail ?? 'internal',
        payTo: shop.merchant.id,
        amount: '10',
        asset: 'SOVR',
      });
      if (res.status !== 200) throw new Error(`payment ${i}: ${res.status} ${await res.text()}`);
      const p = (await res.json()) as P;
      done.push(p);
      if (i % 5 === 0 && p.status === 'completed') {
        expect((await refund(p.transactionId, `${opts.tag}-r${i}a`, { amount: '4' })).status).toBe(200);
        expect((await refund(p.transactionId, `${opts.tag}-r${i}b`, {})).status).toBe(200);
      }
      await opts.afterEach?.(i);
    }
  };
  await Promise.all(Array.from({ length: opts.inFlight ?? 8 }, worker));
  return done;
}

async function people(url: string, n: number): Promise<Session[]> {
  const out: Session[] = [];
  for (let i = 0; i < n; i++) {
    const s = await signIn(url);
    await fund(url, s, '1000000');
    out.push(s);
  }
  return out;
}

describe.each(ENGINES)('event broker faults on %s', (engine) => {
  const streams: string[] = [];
  afterAll(async () => {
    for (const s of streams) await deleteStream(NATS_URL, s);
  });

  it('publishes each event once when the hub stopped between the PubAck and the mark', async () => {
    const store = await freshStore(engine);
    const events = uniqueEvents();
    streams.push(events.stream);
    const port = await freePort();
    try {
      // First life: its broker unreachable, so nothing is marked published; then, as the hub
      // would have done just before it stopped, every event is published without being marked.
      const nowhere = `nats://127.0.0.1:${await freePort()}`;
      let hub = await spawnHub(port, { ...store.env, ...events.env, TOLLWAY_EVENTS_URL: nowhere }, START);
      const who = await people(hub.url, 3);
      const shop = await createMerchant(hub.url);
      await burst(hub.url, who, shop, Math.floor(PAYMENTS / 3), { tag: 'a' });
      await hub.kill('SIGKILL');
      const rows = await outboxRecords(store.db);
      expect(await unpublished(store.db)).toBe(rows.length);
      const published = createBrokerSink({
        urls: [NATS_URL],
        stream: { name: events.stream, subjectPrefix: events.prefix, duplicateWindowSeconds: 86_400 },
      });
      await published.deliver(rows);
      await published.close();
      expect(await streamMessages(NATS_URL, events.stream)).toBe(rows.length);

      // Second life, broker reachable: it publishes all of them again and the server keeps one each.
      hub = await spawnHub(port, { ...store.env, ...events.env }, START);
      try {
        await until(async () => (await unpublished(store.db)) === 0, 'the restarted hub to publish the backlog');
      } finally {
        await hub.kill();
      }
      expect(await streamMessages(NATS_URL, events.stream)).toBe(rows.length);
      expectEachOnceInOrder(rows, await consumeAll(NATS_URL, events.stream, rows.length), events.prefix);
      await expectLedgerBalanced(store.db);
    } finally {
      await store.cleanup();
    }
  });

  it('publishes each event once after SIGKILLs in a burst', async () => {
    const store = await freshStore(engine);
    const events = uniqueEvents();
    streams.push(events.stream);
    const port = await freePort();
    const env = { ...store.env, ...events.env };
    let hub = await spawnHub(port, env, START);
    try {
      const who = await people(hub.url, 3);
      const shop = await createMerchant(hub.url);
      let caughtBetween = 0;
      for (let round = 0; round < 3; round++) {
        const killAt = 20 + Math.floor(Math.random() * 40);
        const url = hub.url;
        let killed: Promise<void> | undefined;
        await burst(url, who, shop, Math.floor(PAYMENTS / 3), {
          tag: `k${round}`,
          afterEach: (i) => {
            if (i === killAt) killed = hub.kill('SIGKILL');
          },
        }).catch(() => undefined); // requests in flight when it died fail; they are not retried here
        await killed;
        // Between publish and mark: the stream holds events the database does not count as published.
        const marked = (await outboxRecords(store.db)).length - (await unpublished(store.db));
        if ((await streamMessages(NATS_URL, events.stream).catch(() => 0)) > marked) caughtBetween++;
        hub = await spawnHub(port, env, START);
      }
      await until(async () => (await unpublished(store.db)) === 0, 'the last hub to publish everything');
      const rows = await outboxRecords(store.db);
      expect(await streamMessages(NATS_URL, events.stream)).toBe(rows.length);
      expectEachOnceInOrder(rows, await consumeAll(NATS_URL, events.stream, rows.length), events.prefix);
      console.log(`${engine}: ${rows.length} events, ${caughtBetween} of 3 kills fell between a PubAck and its mark`);
      await expectLedgerBalanced(store.db);
    } finally {
      await hub.kill();
      await store.cleanup();
    }
  });

  it('loses nothing while NATS is down during a burst, and keeps each payment in order', async () => {
    const nats = ownNats(await freePort());
    const events = uniqueEvents(nats.url);
    const t = await startTestHub(engine, {
      env: events.env,
      rails: (parts) => ({ sovr: laterRail(parts) }),
    });
    try {
      const who = await people(t.url, 4);
      const shop = await createMerchant(t.url);
      // Down from the start: the hub takes payments all the same.
      const first = await burst(t.url, who, shop, Math.floor(PAYMENTS / 3), { tag: 'd1' });
      expect(first.every((p) => p.status === 'completed')).toBe(true);
      expect(await unpublished(t.store.db)).toBeGreaterThan(0);
      // Up in the middle of the next burst, then stopped in the middle of the one after, then up again.
      const n = Math.floor(PAYMENTS / 3);
      await burst(t.url, who, shop, n, { tag: 'd2', rail: 'sovr', afterEach: (i) => (i === Math.floor(n / 2) ? nats.start() : undefined) });
      await settleLater(t, await outboxRecords(t.store.db));
      await burst(t.url, who, shop, n, { tag: 'd3', afterEach: (i) => (i === Math.floor(n / 2) ? nats.stop() : undefined) });
      await nats.start();
      await until(async () => (await unpublished(t.store.db)) === 0, 'every event published after the outage', 120_000);
      const rows = await outboxRecords(t.store.db);
      expect(await streamMessages(nats.url, events.stream)).toBe(rows.length);
      expectEachOnceInOrder(rows, await consumeAll(nats.url, events.stream, rows.length), events.prefix);
      await expectLedgerBalanced(t.store.db);
    } finally {
      await t.stop();
      await nats.cleanup();
    }
  });
});

/** An outside rail that takes a payment now (submitted) and confirms it later (settleLater). */
function laterRail(parts: RailParts): Rail {
  return {
    name: 'sovr',
    settlement: 'external',
    async resolvePayee(tx, payTo, asset) {
      const m = await tx.get<{ id: string }>('SELECT id FROM merchants WHERE id = ?', [payTo]);
      if (!m) throw new ProblemError('unknown-merchant');
      return { creditAccountId: await parts.accounts.merchant(tx, m.id, asset), merchantId: m.id };
    },
    execute: async () => ({ status: 'submitted' }),
    resume: async () => ({ status: 'completed' }),
    // GET /rails is not under test; a stand-in's entry need not be a chain's.
    info: async () => ({ name: 'sovr', assets: ['SOVR'] }) as Awaited<ReturnType<Rail['info']>>,
  };
}

/** Confirms every submitted payment: each gets a later event than its first. */
async function settleLater(t: Awaited<ReturnType<typeof startTestHub>>, rows: { type: string; paymentId: string }[]) {
  const submitted = [...new Set(rows.filter((r) => r.type === 'payment.submitted').map((r) => r.paymentId))];
  for (const id of submitted) await t.hub.payments.applyOutcome(id, { status: 'completed' });
}
