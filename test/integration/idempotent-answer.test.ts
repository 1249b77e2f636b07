import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Payment } from '../../shared/api.js';
import { claimKey, keyScope } from '../../server/core/idempotency.js';
import { appendEvent } from '../../server/notify/outbox.js';
import { migrate } from '../../server/store/migrate.js';
import { MIGRATIONS } from '../../server/store/migrations/index.js';
import { createMerchant, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { ENGINES, freshStore, type TestStore } from '../helpers/stores.js';

/**
 * A payment settled at once keeps its idempotent answer once: the key refers to the payment's
 * first outbox event instead of storing the payment and its receipt again (migration 022; on
 * PostgreSQL both for payments settled one to a transaction and for those settled in a batch). A
 * replay must still answer the first answer byte for byte, whatever happened to the payment or
 * the user's event stream since.
 */
describe.each(ENGINES)('idempotent answers kept in the outbox event (%s)', (engine) => {
  let t: TestHub;
  let alice: Session;
  let shop: { merchant: { id: string }; apiKey: string };
  let k = 0;
  const key = () => `ia-${engine}-${++k}`;
  const body = (amount: string) => ({
    rail: 'internal',
    payTo: shop.merchant.id,
    amount,
    asset: 'SOVR',
    resource: { url: 'https://shop.example/a', method: 'GET' },
  });

  beforeAll(async () => {
    t = await startTestHub(engine);
    alice = await signIn(t.url);
    shop = await createMerchant(t.url, 'Shop');
    await fund(t.url, alice, '100000');
  });
  afterAll(async () => t?.stop());

  const stored = (k: string) =>
    t.store.db.get<{ response_body: string | null; answer_after_seq: number | string | null; response_status: number | string }>(
      'SELECT response_body, answer_after_seq, response_status FROM idempotency_keys WHERE key = ?',
      [k],
    );

  it('stores no second copy, and a replay answers the same bytes', async () => {
    const k1 = key();
    const first = await pay(t.url, alice, k1, body('100'));
    expect(first.status).toBe(200);
    const text = await first.text();
    expect(JSON.parse(text)).toMatchObject({ status: 'completed', receipt: { token: expect.any(String) } });

    const row = await stored(k1);
    expect(Number(row?.response_status)).toBe(200);
    // On PostgreSQL this payment settles through a batch (settle-batch.ts), which refers to the event too.
    expect(row?.response_body).toBeNull();
    expect(row?.answer_after_seq).not.toBeNull();

    const again = await pay(t.url, alice, k1, body('100'));
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.text()).toBe(text);
  });

  it('finds its event among the user’s later ones, and keeps the first answer after a refund', async () => {
    const k1 = key();
    const text = await (await pay(t.url, alice, k1, body('250'))).text();
    const id = (JSON.parse(text) as { transactionId: string }).transactionId;
    // Events after it, for the same user: other payments, and this payment's own refund event.
    for (let i = 0; i < 3; i++) expect((await pay(t.url, alice, key(), body('1'))).status).toBe(200);
    const refunded = await fetch(`${t.url}/payments/${id}/refund`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${shop.apiKey}`, 'idempotency-key': key() },
      body: JSON.stringify({}),
    });
    expect(await refunded.json()).toMatchObject({ status: 'refunded' });

    const again = await pay(t.url, alice, k1, body('250'));
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.text()).toBe(text);
  });

  it('a different body under the same key is still refused, not answered', async () => {
    const k1 = key();
    expect((await pay(t.url, alice, k1, body('5'))).status).toBe(200);
    const other = await pay(t.url, alice, k1, body('6'));
    expect(other.status).toBe(422);
  });
});

describe.each(ENGINES)('claimKey with answerIsEvent (%s)', (engine) => {
  let store: TestStore;
  afterEach(async () => store?.cleanup());

  const payment = (id: string, amount: string) =>
    ({
      transactionId: id,
      status: 'completed',
      rail: 'internal',
      payTo: 'm_1',
      amount,
      asset: 'SOVR',
      resource: null,
      description: 'say "hi", \\ and ,"previousStatus":',
      failureReason: null,
      refundedAmount: '0',
      receipt: { token: 'x.y.z' },
      createdAt: new Date(0).toISOString(),
      updatedAt: new Date(0).toISOString(),
    }) as unknown as Payment;

  /** One payment's transaction as the service writes it: claim, then the payment's first event. */
  const settle = (scopeUser: string, k: string, id: string, amount: string) => {
    const p = payment(id, amount);
    const json = JSON.stringify(p);
    return store.db.transaction(async (tx) => {
      const claim = await claimKey(tx, {
        scope: keyScope('payment', scopeUser),
        key: k,
        fingerprint: `fp-${amount}`,
        resourceId: id,
        now: Date.now(),
        response: { status: 200, body: p },
        responseJson: json,
        answerIsEvent: true,
      });
      if (claim.claimed)
        await appendEvent(
          tx,
          { userId: scopeUser, merchantId: 'm_1', type: 'payment.completed', payment: p, paymentJson: json, previousStatus: null },
          0,
        );
      return { claim, json };
    });
  };

  it('replays the text the event carries, past other events of the user, and refuses another body', async () => {
    store = await freshStore(engine);
    await migrate(store.db, MIGRATIONS);
    await store.db.run(`INSERT INTO users (id, address, created_at) VALUES ('u_1', '0x1', 0)`);
    const first = await settle('u_1', 'k1', 'pay_1', '10');
    expect(first.claim).toEqual({ claimed: true });
    await settle('u_1', 'k2', 'pay_2', '20');
    await settle('u_1', 'k3', 'pay_3', '30');

    const replay = await settle('u_1', 'k1', 'pay_other', '10');
    expect(replay.claim.claimed).toBe(false);
    expect(JSON.stringify((replay.claim as { replay: { body: unknown } }).replay.body)).toBe(first.json);
    await expect(settle('u_1', 'k1', 'pay_other', '11')).rejects.toMatchObject({ code: 'idempotency-key-reused' });
  });

  it('an answer whose event is gone is an error, not an empty answer', async () => {
    store = await freshStore(engine);
    await migrate(store.db, MIGRATIONS);
    await store.db.run(`INSERT INTO users (id, address, created_at) VALUES ('u_1', '0x1', 0)`);
    await settle('u_1', 'k1', 'pay_1', '10');
    await store.db.run('DELETE FROM outbox');
    await expect(settle('u_1', 'k1', 'pay_x', '10')).rejects.toThrow(/stored answer of pay_1/);
  });
});
