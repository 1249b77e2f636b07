/**
 * Outbox events to NATS JetStream (TOLLWAY_EVENTS_URL), against the real server on 4222: every
 * kind the outbox carries arrives once at a durable pull consumer, on `<prefix>.<type>`, with the
 * webhook body and the event id as Nats-Msg-Id; a re-publish of the same events is dropped by the
 * server; the broker's cursor is its own, so sockets and webhooks do not wait for it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ProblemError } from '../../shared/problem.js';
import type { Topup } from '../../shared/topups.js';
import { startFakeLnd, type FakeLnd } from '../../devnet/lnd.js';
import { createLndNode } from '../../lightning/lnd/index.js';
import type { RailParts } from '../../server/app.js';
import { ConfigError, loadConfig } from '../../server/config.js';
import { brokerMessage } from '../../server/notify/broker-message.js';
import { createBrokerSink } from '../../server/notify/broker.js';
import { OUTBOX_COLUMNS, toRecord } from '../../server/notify/outbox.js';
import { webhookBody } from '../../server/notify/webhooks.js';
import { createLightningRail } from '../../server/rails/lightning/index.js';
import type { Rail, RailOutcome } from '../../server/rails/types.js';
import { connect } from 'nats';
import {
  consumeAll,
  deleteStream,
  NATS_URL,
  outboxRecords,
  ownNats,
  streamMessages,
  uniqueEvents,
  unpublished,
  until,
} from '../helpers/broker.js';
import { createMerchant, freePort, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { ENGINES } from '../helpers/stores.js';

type P = { transactionId: string; status: string };

/** An outside rail whose outcome the test decides: submitted now, completed or failed later. */
function scriptedRail(parts: RailParts, outcome: () => RailOutcome): Rail {
  return {
    name: 'sovr',
    settlement: 'external',
    async resolvePayee(tx, payTo, asset) {
      const m = await tx.get<{ id: string }>('SELECT id FROM merchants WHERE id = ?', [payTo]);
      if (!m) throw new ProblemError('unknown-merchant');
      return { creditAccountId: await parts.accounts.merchant(tx, m.id, asset), merchantId: m.id };
    },
    execute: async () => outcome(),
    resume: async () => ({ status: 'completed' }),
    // GET /rails is not under test; a stand-in's entry need not be a chain's.
    info: async () => ({ name: 'sovr', assets: ['SOVR'] }) as Awaited<ReturnType<Rail['info']>>,
  };
}

describe.each(ENGINES)('events to JetStream on %s', (engine) => {
  let t: TestHub;
  let lnd: FakeLnd;
  let s: Session;
  let shop: { merchant: { id: string }; apiKey: string };
  const events = uniqueEvents();
  let next: () => RailOutcome = () => ({ status: 'submitted' });
  let k = 0;
  const key = () => `ev-${engine}-${++k}`;

  beforeAll(async () => {
    lnd = await startFakeLnd();
    t = await startTestHub(engine, {
      env: events.env,
      rails: (parts) => ({
        sovr: scriptedRail(parts, () => next()),
        lightning: createLightningRail({
          ...parts,
          node: createLndNode({ url: lnd.url, macaroonHex: lnd.macaroonHex }),
          options: { feeLimitMsat: 1000n, feeLimitPpm: 5000n, payTimeoutSeconds: 30, settleWaitMs: 300 },
          topupOptions: { expirySeconds: 8, expiryCheckMs: 100, retryMs: 100 },
        }),
      }),
    });
    s = await signIn(t.url);
    shop = await createMerchant(t.url);
    await fund(t.url, s, '100000');
  });
  afterEach(async () => expectLedgerBalanced(t.store.db));
  afterAll(async () => {
    await t?.stop();
    await lnd?.close();
    await deleteStream(NATS_URL, events.stream);
  });

  it('publishes every kind of event once, on its subject, with the webhook body and the event id', async () => {
    const internal = (await (
      await pay(t.url, s, key(), { rail: 'internal', payTo: shop.merchant.id, amount: '1000', asset: 'SOVR' })
    ).json()) as P;
    const refund = (body: unknown) =>
      fetch(`${t.url}/payments/${internal.transactionId}/refund`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${shop.apiKey}`, 'idempotency-key': key() },
        body: JSON.stringify(body),
      });
    expect((await refund({ amount: '300' })).status).toBe(200);
    expect((await refund({})).status).toBe(200);

    next = () => ({ status: 'submitted' });
    const outside = (await (
      await pay(t.url, s, key(), { rail: 'sovr', payTo: shop.merchant.id, amount: '50', asset: 'SOVR' })
    ).json()) as P;
    expect(outside.status).toBe('submitted');
    expect((await t.hub.payments.applyOutcome(outside.transactionId, { status: 'completed' })).status).toBe('completed');
    next = () => ({ status: 'failed', reason: 'reverted' });
    const failed = (await (await pay(t.url, s, key(), { rail: 'sovr', payTo: shop.merchant.id, amount: '60', asset: 'SOVR' })).json()) as P;
    expect(failed.status).toBe('failed');

    const newTopup = async () => {
      const res = await fetch(`${t.url}/topups`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${s.accessToken}`, 'idempotency-key': key() },
        body: JSON.stringify({ asset: 'BTC', amount: '2500000' }),
      });
      expect(res.status).toBe(200);
      return (await res.json()) as Topup;
    };
    // One paid at once, one left to expire (the rail's invoices here live 8 s).
    const paid = await newTopup();
    await newTopup();
    expect(lnd.settleInvoice(paid.paymentHash)).toBe(true);
    for (const kind of ['topup.credited', 'topup.expired'])
      await until(async () => (await t.store.db.get('SELECT 1 FROM outbox WHERE type = ?', [kind])) !== undefined, kind);

    await until(async () => (await unpublished(t.store.db)) === 0, 'every event published');
    const rows = (await t.store.db.all<Parameters<typeof toRecord>[0]>(`SELECT ${OUTBOX_COLUMNS} FROM outbox ORDER BY id`)).map(toRecord);
    const types = new Set(rows.map((r) => r.type));
    for (const kind of [
      'payment.created',
      'payment.submitted',
      'payment.completed',
      'payment.failed',
      'payment.refunded',
      'topup.credited',
      'topup.expired',
    ])
      expect(types, kind).toContain(kind);

    const got = await consumeAll(NATS_URL, events.stream, rows.length);
    expect(got).toHaveLength(rows.length);
    expect(await streamMessages(NATS_URL, events.stream)).toBe(rows.length); // nothing more than once
    const byId = new Map(got.map((m) => [m.msgId, m]));
    expect(byId.size).toBe(rows.length);
    for (const r of rows) {
      const m = byId.get(brokerMessage(r, events.prefix).id);
      expect(m, `${r.type} of ${r.paymentId}`).toBeDefined();
      expect(m!.subject).toBe(`${events.prefix}.${r.type}`);
      expect(m!.body).toEqual(JSON.parse(webhookBody(r)));
    }
    // In order per payment: a payment's events sit in the stream in the order of their seq.
    const payments = new Set(rows.map((r) => r.paymentId));
    for (const id of payments) {
      const inStream = got
        .filter((m) => (m.body.data.transactionId ?? m.body.data.topupId) === id)
        .sort((a, b) => a.streamSeq - b.streamSeq);
      const inOutbox = rows.filter((r) => r.paymentId === id);
      expect(inStream.map((m) => m.msgId)).toEqual(inOutbox.map((r) => brokerMessage(r, events.prefix).id));
    }
  });

  it('drops a second publish of the same events (a hub stopped between the PubAck and the mark)', async () => {
    await pay(t.url, s, key(), { rail: 'internal', payTo: shop.merchant.id, amount: '10', asset: 'SOVR' });
    await until(async () => (await unpublished(t.store.db)) === 0, 'every event published');
    const before = await streamMessages(NATS_URL, events.stream);
    const rows = (await t.store.db.all<Parameters<typeof toRecord>[0]>(`SELECT ${OUTBOX_COLUMNS} FROM outbox ORDER BY id`)).map(toRecord);
    const again = createBrokerSink({
      urls: [NATS_URL],
      stream: { name: events.stream, subjectPrefix: events.prefix, duplicateWindowSeconds: 86_400 },
    });
    try {
      await again.deliver(rows);
    } finally {
      await again.close();
    }
    expect(await streamMessages(NATS_URL, events.stream)).toBe(before);
  });
});

describe('TOLLWAY_EVENTS_URL', () => {
  it('keeps credentials out of what is logged, and refuses what is not a nats:// URL', () => {
    const config = loadConfig({ TOLLWAY_EVENTS_URL: 'nats://hub:s3cret-pass@nats.internal:4222,nats://nats2.internal:4222' });
    expect(config.events).toMatchObject({
      servers: 'nats://nats.internal:4222,nats://nats2.internal:4222',
      stream: 'TOLLWAY',
      subjectPrefix: 'tollway',
    });
    expect(config.events?.urls[0]).toContain('s3cret-pass');
    expect(JSON.stringify(config)).not.toContain('s3cret-pass');
    expect(loadConfig({}).events).toBeUndefined();
    expect(() => loadConfig({ TOLLWAY_EVENTS_URL: 'http://nats:4222' })).toThrow(ConfigError);
    expect(() => loadConfig({ TOLLWAY_EVENTS_URL: 'nats://h:4222', TOLLWAY_EVENTS_SUBJECT_PREFIX: 'a.*' })).toThrow(ConfigError);
  });
});

describe('a NATS server that wants a user and password', () => {
  it('is reached with the credentials given in TOLLWAY_EVENTS_URL', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const nats = ownNats(port, ['--user', 'hub', '--pass', 'p@ss word']);
    await nats.start();
    const events = uniqueEvents();
    const t = await startTestHub('sqlite', {
      env: { ...events.env, TOLLWAY_EVENTS_URL: `nats://hub:${encodeURIComponent('p@ss word')}@127.0.0.1:${port}` },
    });
    try {
      const s = await signIn(t.url);
      const shop = await createMerchant(t.url);
      await fund(t.url, s, '100');
      await pay(t.url, s, 'cred-1', { rail: 'internal', payTo: shop.merchant.id, amount: '5', asset: 'SOVR' });
      await until(async () => (await unpublished(t.store.db)) === 0, 'the events published with the credentials');
      const nc = await connect({ servers: nats.url, user: 'hub', pass: 'p@ss word' });
      const info = await (await nc.jetstreamManager()).streams.info(events.stream);
      await nc.close();
      expect(info.state.messages).toBe((await outboxRecords(t.store.db)).length);
      // Without them the server refuses: the URL's credentials were what got the events in.
      await expect(connect({ servers: nats.url, reconnect: false })).rejects.toThrow(/Authorization/i);
    } finally {
      await t.stop();
      await nats.cleanup();
    }
  });
});
