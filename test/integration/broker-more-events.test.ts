/**
 * Deposits and webhook endpoints switched off reach NATS JetStream like payments do (issue 15),
 * against the real server on 4222 with a stream of this file's own: a SOVR deposit on a real local
 * chain (confirmed, and one that reverts) and a merchant endpoint that answers 410 Gone. Each event
 * arrives once at a durable consumer, on `<prefix>.<type>`, with its webhook-shaped body; the
 * deposit's owner hears `depositStatusUpdate` on the socket; no webhook carries either kind, so
 * the disabled endpoint never receives its own `webhook.disabled`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { io, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DepositStatusUpdate } from '../../shared/deposits.js';
import { brokerMessage } from '../../server/notify/broker-message.js';
import { MERCHANT_EVENTS_USER_ID } from '../../server/notify/events.js';
import type { OutboxRecord } from '../../server/notify/outbox.js';
import { webhookBody } from '../../server/notify/webhooks.js';
import { consumeAll, deleteStream, NATS_URL, outboxRecords, streamMessages, uniqueEvents, unpublished, until } from '../helpers/broker.js';
import { ADMIN_TOKEN, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { SOVR, useSovrChain, type SovrHub } from '../helpers/sovr.js';
import { ENGINES } from '../helpers/stores.js';

type D = { depositId: string; status: string };

/** Every outbox row arrived once at a consumer of the stream, on its subject, with its body; returns what came. */
async function expectPublishedOnce(t: TestHub, stream: string, prefix: string): Promise<{ rows: OutboxRecord[]; types: string[] }> {
  await until(async () => (await unpublished(t.store.db)) === 0, 'every event published');
  const rows = await outboxRecords(t.store.db);
  const got = await consumeAll(NATS_URL, stream, rows.length);
  expect(got).toHaveLength(rows.length);
  expect(await streamMessages(NATS_URL, stream)).toBe(rows.length);
  const byId = new Map(got.map((m) => [m.msgId, m]));
  expect(byId.size).toBe(rows.length);
  for (const r of rows) {
    const m = byId.get(brokerMessage(r, prefix).id);
    expect(m, `${r.type} of ${r.paymentId}`).toBeDefined();
    expect(m!.subject).toBe(`${prefix}.${r.type}`);
    expect(m!.body).toEqual(JSON.parse(webhookBody(r)));
  }
  return { rows, types: got.sort((a, b) => a.streamSeq - b.streamSeq).map((m) => m.body.type) };
}

describe('deposits on the broker', () => {
  const bed = useSovrChain();
  const events = uniqueEvents();
  let h: SovrHub;
  let socket: Socket | undefined;

  beforeAll(async () => {
    h = await bed.startSovrHub('sqlite', { env: events.env });
  });
  afterEach(async () => {
    await bed.chain.setAutomine(true);
    await expectLedgerBalanced(h.t.store.db);
  });
  afterAll(async () => {
    socket?.close();
    await h?.t.stop();
    await deleteStream(NATS_URL, events.stream);
  });

  const deposit = async (s: Session, amount: bigint, key: string) => {
    const res = await fetch(`${h.t.url}/deposits`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${s.accessToken}`, 'idempotency-key': key },
      body: JSON.stringify({ amount: amount.toString(), authorization: await bed.authorize(s, h.treasury, amount) }),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as D;
  };
  const statusOf = async (s: Session, id: string) =>
    ((await (await fetch(`${h.t.url}/deposits/${id}`, { headers: { authorization: `Bearer ${s.accessToken}` } })).json()) as D).status;

  it('publishes deposit.submitted, then deposit.completed or deposit.failed, once each; the owner hears them on the socket', async () => {
    const s = await bed.person(h.t.url, 10n * SOVR);
    const heard: DepositStatusUpdate[] = [];
    socket = io(h.t.url, { auth: { token: s.accessToken }, transports: ['websocket'], reconnection: false, forceNew: true });
    socket.on('depositStatusUpdate', (u: DepositStatusUpdate) => heard.push(u));
    await new Promise<void>((resolve, reject) => {
      socket!.once('connect', () => resolve());
      socket!.once('connect_error', reject);
    });

    const credited = await deposit(s, 4n * SOVR, 'dep-ok');
    await until(async () => (await statusOf(s, credited.depositId)) === 'completed', 'the deposit credited');

    // A deposit whose transfer reverts: before it is mined the person spends everything elsewhere.
    await bed.chain.setAutomine(false);
    const reverted = await deposit(s, 6n * SOVR, 'dep-revert');
    expect(reverted.status).toBe('submitted');
    await bed.relayAuthorization(await bed.authorize(s, bed.chain.accounts[18]!.address, 6n * SOVR));
    await bed.chain.mine(1);
    await until(async () => (await statusOf(s, reverted.depositId)) === 'failed', 'the deposit failed');

    const { rows } = await expectPublishedOnce(h.t, events.stream, events.prefix);
    const of = (id: string) => rows.filter((r) => r.paymentId === id).map((r) => [r.type, r.userId, r.merchantId]);
    expect(of(credited.depositId)).toEqual([
      ['deposit.submitted', s.user.id, null],
      ['deposit.completed', s.user.id, null],
    ]);
    expect(of(reverted.depositId)).toEqual([
      ['deposit.submitted', s.user.id, null],
      ['deposit.failed', s.user.id, null],
    ]);
    const failed = rows.find((r) => r.type === 'deposit.failed')!;
    expect(JSON.parse(webhookBody(failed)).data).toMatchObject({
      depositId: reverted.depositId,
      status: 'failed',
      amount: (6n * SOVR).toString(),
      failureReason: expect.stringMatching(/reverted/),
    });

    // The owner's socket heard the four, in seq order, each with the status it left.
    await until(() => heard.length >= 4, 'the socket updates');
    expect(heard.map((u) => [u.depositId, u.previousStatus, u.status])).toEqual([
      [credited.depositId, 'pending', 'submitted'],
      [credited.depositId, 'submitted', 'completed'],
      [reverted.depositId, 'pending', 'submitted'],
      [reverted.depositId, 'submitted', 'failed'],
    ]);
    expect(heard.map((u) => u.seq)).toEqual(rows.filter((r) => r.userId === s.user.id).map((r) => r.seq));
    // No merchant is party to a deposit: nothing for a webhook.
    expect(await h.t.store.db.get('SELECT 1 FROM webhook_deliveries')).toBeUndefined();
  });
});

/** A webhook endpoint that answers every POST with `status` and counts them. */
async function endpoint(status: number): Promise<{ url: string; bodies: string[]; close(): Promise<void> }> {
  const bodies: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      bodies.push(body);
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    bodies,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe.each(ENGINES)('webhook.disabled on the broker, %s', (engine) => {
  const events = uniqueEvents();
  let t: TestHub;
  let s: Session;

  beforeAll(async () => {
    t = await startTestHub(engine, { env: events.env, webhooks: { jitter: 0, pollIntervalMs: 50 } });
    s = await signIn(t.url);
    await fund(t.url, s, '1000');
  });
  afterEach(async () => expectLedgerBalanced(t.store.db));
  afterAll(async () => {
    await t?.stop();
    await deleteStream(NATS_URL, events.stream);
  });

  it('is published once per endpoint switched off, ordered by the merchants’ sequence, and never sent to the endpoint', async () => {
    const gone = [await endpoint(410), await endpoint(410)];
    try {
      const shops = [];
      for (const g of gone) {
        const res = await fetch(`${t.url}/merchants`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
          body: JSON.stringify({ name: 'Gone shop', webhookUrl: g.url }),
        });
        expect(res.status).toBe(201);
        shops.push(((await res.json()) as { merchant: { id: string } }).merchant.id);
      }
      for (const [i, shop] of shops.entries()) {
        expect((await pay(t.url, s, `wd-${engine}-${i}`, { rail: 'internal', payTo: shop, amount: '10', asset: 'SOVR' })).status).toBe(200);
        await until(
          async () => (await t.store.db.get('SELECT 1 FROM outbox WHERE payment_id = ?', [shop])) !== undefined,
          `${shop} disabled`,
        );
      }
      // A payment to a disabled endpoint's merchant is not sent, and writes no second disabled event.
      expect((await pay(t.url, s, `wd-${engine}-again`, { rail: 'internal', payTo: shops[0]!, amount: '10', asset: 'SOVR' })).status).toBe(
        200,
      );

      const { rows } = await expectPublishedOnce(t, events.stream, events.prefix);
      const disabled = rows.filter((r) => r.type === 'webhook.disabled');
      expect(disabled.map((r) => [r.userId, r.merchantId, r.paymentId, r.seq])).toEqual([
        [MERCHANT_EVENTS_USER_ID, null, shops[0], 1],
        [MERCHANT_EVENTS_USER_ID, null, shops[1], 2],
      ]);
      const body = JSON.parse(webhookBody(disabled[0]!)) as { type: string; timestamp: string; data: Record<string, unknown> };
      expect(body).toEqual({
        type: 'webhook.disabled',
        timestamp: expect.any(String),
        data: {
          merchantId: shops[0],
          status: 'disabled',
          url: gone[0]!.url,
          disabledAt: body.timestamp,
          disabledReason: 'the endpoint answered 410 Gone',
        },
      });
      // Each endpoint got the one payment.completed that found it gone, and nothing else.
      for (const g of gone) expect(g.bodies.map((b) => (JSON.parse(b) as { type: string }).type)).toEqual(['payment.completed']);
      const kinds = await t.store.db.all<{ event_type: string }>('SELECT DISTINCT event_type FROM webhook_deliveries');
      expect(kinds.map((k) => k.event_type)).toEqual(['payment.completed']);
    } finally {
      for (const g of gone) await g.close();
    }
  });
});
