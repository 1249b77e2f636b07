/**
 * The outbox events that are not payments' (server/notify/events.ts): a deposit's status change
 * and a webhook endpoint switched off. What each builder makes, what a stored one becomes on the
 * broker and in a webhook body, and which kind each predicate recognises; appended on a real
 * SQLite store, each takes the next seq of its user (a merchant's, the system user of migration 020).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deposit } from '../../shared/deposits.js';
import { brokerMessage } from '../../server/notify/broker-message.js';
import { depositEvent, MERCHANT_EVENTS_USER_ID, webhookDisabledEvent } from '../../server/notify/events.js';
import {
  appendOutboxEvent,
  isDepositEvent,
  isPaymentEvent,
  isTopupEvent,
  isWebhookEvent,
  OUTBOX_COLUMNS,
  toRecord,
  type OutboxRecord,
} from '../../server/notify/outbox.js';
import { webhookBody, WEBHOOK_EVENT_TYPES } from '../../server/notify/webhooks.js';
import { migrate } from '../../server/store/migrate.js';
import { MIGRATIONS } from '../../server/store/migrations/index.js';
import { freshStore, type TestStore } from '../helpers/stores.js';

const deposit: Deposit = {
  depositId: 'dep_AAAAAAAAAAAAAAAA',
  status: 'completed',
  asset: 'SOVR',
  amount: '4000000000000000000',
  from: '0x1111111111111111111111111111111111111111',
  transactionHash: '0xabc',
  failureReason: null,
  createdAt: '2026-12-07T05:00:00.000Z',
  updatedAt: '2026-12-07T05:00:03.000Z',
};
const at = Date.parse('2026-12-07T05:10:00.000Z');

const record = (over: Partial<OutboxRecord> & Pick<OutboxRecord, 'type' | 'payload'>): OutboxRecord => ({
  id: 1,
  userId: 'usr_a',
  merchantId: null,
  paymentId: 'x',
  seq: 7,
  createdAt: at,
  dispatchedAt: null,
  ...over,
});

describe('deposit events', () => {
  it('are typed by the new status, about the deposit, for its owner, and name no merchant', () => {
    for (const status of ['submitted', 'completed', 'failed'] as const) {
      const e = depositEvent('usr_a', { ...deposit, status }, 'pending');
      expect(e).toEqual({
        userId: 'usr_a',
        merchantId: null,
        subjectId: deposit.depositId,
        type: `deposit.${status}`,
        payload: { ...deposit, status, previousStatus: 'pending' },
      });
    }
  });

  it('become a broker message on tollway.deposit.<status> whose data is the deposit as the API shows it', () => {
    const e = depositEvent('usr_a', deposit, 'submitted');
    const r = record({ type: e.type, paymentId: e.subjectId, payload: { ...e.payload, seq: 7 } });
    const m = brokerMessage(r, 'tollway');
    expect(m.subject).toBe('tollway.deposit.completed');
    expect(m.id).toMatch(/^evt_[A-Za-z0-9_-]{27}$/);
    expect(JSON.parse(m.body)).toEqual({ type: 'deposit.completed', timestamp: '2026-12-07T05:10:00.000Z', data: deposit });
    expect([isDepositEvent(r), isPaymentEvent(r), isTopupEvent(r), isWebhookEvent(r)]).toEqual([true, false, false, false]);
    expect(WEBHOOK_EVENT_TYPES.has(r.type)).toBe(false);
  });
});

describe('webhook.disabled', () => {
  it('is about the merchant, ordered by the merchants’ system user, and names no merchant for webhooks', () => {
    const e = webhookDisabledEvent('m_shop', 'https://shop.example/hooks', 'the endpoint answered 410 Gone', at);
    expect(e).toEqual({
      userId: MERCHANT_EVENTS_USER_ID,
      merchantId: null,
      subjectId: 'm_shop',
      type: 'webhook.disabled',
      payload: {
        merchantId: 'm_shop',
        status: 'disabled',
        url: 'https://shop.example/hooks',
        disabledAt: '2026-12-07T05:10:00.000Z',
        disabledReason: 'the endpoint answered 410 Gone',
      },
    });
    const r = record({ type: e.type, userId: e.userId, paymentId: e.subjectId, payload: { ...e.payload, seq: 3 } });
    expect(brokerMessage(r, 'ops.tollway').subject).toBe('ops.tollway.webhook.disabled');
    expect(JSON.parse(webhookBody(r)).data).toEqual(e.payload);
    expect([isWebhookEvent(r), isPaymentEvent(r), isTopupEvent(r), isDepositEvent(r)]).toEqual([true, false, false, false]);
    expect(WEBHOOK_EVENT_TYPES.has(r.type)).toBe(false);
  });
});

describe('appendOutboxEvent on SQLite', () => {
  let store: TestStore;
  beforeAll(async () => {
    store = await freshStore('sqlite');
    await migrate(store.db, MIGRATIONS);
    await store.db.run("INSERT INTO users (id, address, created_at, last_seq) VALUES ('usr_a', '0xa', 0, 4)");
  });
  afterAll(async () => store?.cleanup());

  it("takes the user's next seq and stores the payload with it", async () => {
    const written = await store.db.transaction(async (tx) => {
      const d = await appendOutboxEvent(tx, depositEvent('usr_a', deposit, 'submitted'), at);
      const w1 = await appendOutboxEvent(tx, webhookDisabledEvent('m_1', 'https://a.example/', 'gone', at), at);
      const w2 = await appendOutboxEvent(tx, webhookDisabledEvent('m_2', 'https://b.example/', 'gone', at), at);
      return [d.seq, w1.seq, w2.seq];
    });
    expect(written).toEqual([5, 1, 2]);
    const rows = (await store.db.all<Parameters<typeof toRecord>[0]>(`SELECT ${OUTBOX_COLUMNS} FROM outbox ORDER BY id`)).map(toRecord);
    expect(rows.map((r) => [r.userId, r.merchantId, r.paymentId, r.type, r.seq])).toEqual([
      ['usr_a', null, deposit.depositId, 'deposit.completed', 5],
      [MERCHANT_EVENTS_USER_ID, null, 'm_1', 'webhook.disabled', 1],
      [MERCHANT_EVENTS_USER_ID, null, 'm_2', 'webhook.disabled', 2],
    ]);
    expect(rows[0]!.payload).toEqual({ ...deposit, previousStatus: 'submitted', seq: 5 });
  });

  it('refuses an event for a user that does not exist, writing nothing', async () => {
    const before = await store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM outbox');
    await expect(store.db.transaction((tx) => appendOutboxEvent(tx, depositEvent('usr_nobody', deposit, null), at))).rejects.toThrow(
      /no user usr_nobody/,
    );
    expect(await store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM outbox')).toEqual(before);
  });
});
