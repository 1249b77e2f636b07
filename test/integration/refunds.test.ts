import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { balances, createMerchant, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced, rowCounts } from '../helpers/invariant.js';
import { ENGINES } from '../helpers/stores.js';

type P = { transactionId: string; status: string; refundedAmount?: string };

describe.each(ENGINES)('refunds on %s', (engine) => {
  let t: TestHub;
  let alice: Session;
  let shop: { merchant: { id: string }; apiKey: string };
  let other: { merchant: { id: string }; apiKey: string };
  let k = 0;
  const key = () => `rf-${engine}-${++k}`;
  const refund = (id: string, apiKey: string, body: unknown, idem: string | undefined = key()) =>
    fetch(`${t.url}/payments/${id}/refund`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}`, ...(idem ? { 'idempotency-key': idem } : {}) },
      body: JSON.stringify(body),
    });
  const buy = async (amount: string) =>
    (await (await pay(t.url, alice, key(), { rail: 'internal', payTo: shop.merchant.id, amount, asset: 'SOVR' })).json()) as P;

  beforeAll(async () => {
    t = await startTestHub(engine);
    alice = await signIn(t.url);
    shop = await createMerchant(t.url, 'Shop');
    other = await createMerchant(t.url, 'Other');
    await fund(t.url, alice, '10000');
  });
  afterEach(async () => expectLedgerBalanced(t.store.db));
  afterAll(async () => t?.stop());

  it('gives back part, then the rest, and the payment ends refunded', async () => {
    const p = await buy('1000');
    const before = await balances(t.url, alice);
    const part = await refund(p.transactionId, shop.apiKey, { amount: '300', reason: 'late delivery' });
    expect(part.status).toBe(200);
    expect(await part.json()).toMatchObject({ status: 'completed', refundedAmount: '300' });
    const rest = await refund(p.transactionId, shop.apiKey, {});
    expect(await rest.json()).toMatchObject({ status: 'refunded', refundedAmount: '1000' });
    const after = await balances(t.url, alice);
    expect(BigInt(after.SOVR!.posted) - BigInt(before.SOVR!.posted)).toBe(1000n);
    const events = await t.store.db.all<{ type: string }>('SELECT type FROM outbox WHERE payment_id = ? ORDER BY seq', [p.transactionId]);
    expect(events.map((e) => e.type)).toEqual(['payment.completed', 'payment.refunded', 'payment.refunded']);
    // Nothing is left: another refund is refused and changes nothing.
    const counts = await rowCounts(t.store.db);
    const again = await refund(p.transactionId, shop.apiKey, { amount: '1' });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { type: string }).type).toBe('https://tollway.dev/problems/payment-not-refundable');
    expect(await rowCounts(t.store.db)).toEqual(counts);
  });

  it('refuses more than is left, another merchant, a user token, and a missing key', async () => {
    const p = await buy('500');
    const counts = await rowCounts(t.store.db);
    const tooMuch = await refund(p.transactionId, shop.apiKey, { amount: '501' });
    expect(tooMuch.status).toBe(400);
    expect(((await tooMuch.json()) as { type: string }).type).toBe('https://tollway.dev/problems/refund-exceeds-payment');
    expect((await refund(p.transactionId, other.apiKey, {})).status).toBe(404);
    expect((await refund(p.transactionId, alice.accessToken, {})).status).toBe(401);
    expect((await refund(p.transactionId, shop.apiKey, {}, '')).status).toBe(400);
    expect((await refund(p.transactionId, shop.apiKey, { amount: '-5' })).status).toBe(400);
    expect((await refund(p.transactionId, shop.apiKey, { amount: '5', extra: true })).status).toBe(400);
    expect(await rowCounts(t.store.db)).toEqual(counts);
  });

  it('is idempotent per merchant key, and racing refunds never give back more than was paid', async () => {
    const p = await buy('100');
    const idem = key();
    const first = await refund(p.transactionId, shop.apiKey, { amount: '40' }, idem);
    const replay = await refund(p.transactionId, shop.apiKey, { amount: '40' }, idem);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await replay.json()).toEqual(await first.json());
    expect((await refund(p.transactionId, shop.apiKey, { amount: '41' }, idem)).status).toBe(422);

    const racers = await Promise.all(Array.from({ length: 10 }, () => refund(p.transactionId, shop.apiKey, { amount: '20' })));
    expect(racers.filter((r) => r.status === 200)).toHaveLength(3);
    const row = await t.store.db.get<{ refunded_amount: string; status: string }>(
      'SELECT refunded_amount, status FROM payments WHERE id = ?',
      [p.transactionId],
    );
    expect(row).toMatchObject({ status: 'refunded' });
    expect(String(row!.refunded_amount)).toBe('100');
  });
});
