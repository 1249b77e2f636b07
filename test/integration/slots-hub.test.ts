/**
 * A slot token bought through the hub: `GET /slots/token/buy/:value` answers the kit's standard 402
 * (a tollway entry in BTC for the value), a hub balance pays it the way the extension does, and the
 * retry with the receipt answers the token, confirmed. The same receipt answers the same token
 * again (one token per hub transaction); a receipt for another value or route opens nothing; the
 * token spends like a Lightning one. The hub's ledger stays balanced.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodePaymentSignature, parsePaymentRequired, type PaymentOption } from '../../shared/challenge.js';
import { createMerchant, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { type FreshSlotStore, freshSlotStore, type SlotsShop, slotsWorld, type SlotsWorld, startSlotsShop } from '../helpers/slots-shop.js';

const FEE = 300_000n;

describe('slot tokens bought through the hub', () => {
  let w: SlotsWorld;
  let s: FreshSlotStore;
  let t: TestHub;
  let shop: SlotsShop;
  let merchantId: string;
  let session: Session;

  beforeAll(async () => {
    w = await slotsWorld();
    s = await freshSlotStore('sqlite');
    t = await startTestHub('sqlite');
    merchantId = (await createMerchant(t.url, 'Slot shop')).merchant.id;
    shop = await startSlotsShop({
      node: w.node,
      store: s.store,
      feeRatePerMonthMsat: FEE,
      hub: { url: t.url, merchantId },
      rateLimit: false,
    });
    session = await signIn(t.url);
    await fund(t.url, session, '10000000', 'BTC');
  });
  afterEach(async () => {
    await expectLedgerBalanced(t.store.db);
  });
  afterAll(async () => {
    await shop?.close();
    await t?.stop();
    await s?.cleanup();
    await w?.close();
  });

  const merchantBtc = async () =>
    BigInt(
      (
        await t.store.db.get<{ c: string | number }>('SELECT credits_posted AS c FROM ledger_accounts WHERE id = ?', [
          `merchant:${merchantId}:BTC`,
        ])
      )?.c ?? 0,
    );

  /** The 402 of the buy route, and a hub payment of its tollway entry (what the extension does after approval). */
  async function buy(value: bigint) {
    const res = await fetch(`${shop.url}/slots/token/buy/${value}`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(402);
    const parsed = parsePaymentRequired(res.headers.get('payment-required')!);
    if (!parsed.ok) throw new Error(parsed.error.message);
    const entry = parsed.value.accepts.find((a) => a.scheme === 'tollway')!;
    const paid = await pay(t.url, session, randomUUID(), {
      rail: 'internal',
      payTo: entry.payTo,
      amount: entry.amount,
      asset: entry.asset,
      requirement: entry,
      resource: { url: parsed.value.resource!.url, method: 'GET' },
    });
    expect(paid.status).toBe(200);
    const p = (await paid.json()) as { status: string; transactionId: string; receipt: { token: string } };
    expect(p.status).toBe('completed');
    return { entry, receipt: p.receipt.token, transactionId: p.transactionId };
  }
  const withReceipt = (value: bigint | string, entry: PaymentOption, receipt: string) =>
    fetch(`${shop.url}/slots/token/buy/${value}`, {
      headers: { accept: 'application/json', 'PAYMENT-SIGNATURE': encodePaymentSignature({ accepted: entry, payload: { receipt } }) },
    });

  it('answers a tollway 402 for the value in BTC, and the token once paid; the same receipt answers the same token', async () => {
    const before = await merchantBtc();
    const { entry, receipt, transactionId } = await buy(2n * FEE);
    expect(entry).toMatchObject({ scheme: 'tollway', asset: 'BTC', amount: String(2n * FEE), payTo: merchantId });
    expect((await merchantBtc()) - before).toBe(2n * FEE);

    const res = await withReceipt(2n * FEE, entry, receipt);
    expect(res.status).toBe(200);
    expect(res.headers.get('payment-response')).toBeTruthy();
    expect(res.headers.get('cache-control')).toBe('no-store');
    const token = (await res.json()) as { token_id: string; amount: number; value: number; confirmed: boolean };
    expect(token).toEqual({ amount: 600_000, confirmed: true, token_id: expect.stringMatching(/^[0-9a-f-]{36}$/), value: 600_000 });
    const rows = await s.query<{ hub_transaction: string }>(
      `SELECT hub_transaction FROM tollway_slot_tokens WHERE token_id = '${token.token_id}'`,
    );
    expect(rows).toEqual([{ hub_transaction: transactionId }]);

    // Sent again (a lost answer, a retry): the same token, no second one.
    expect(await (await withReceipt(2n * FEE, entry, receipt)).json()).toEqual(token);
    expect(await s.query('SELECT token_id FROM tollway_slot_tokens')).toHaveLength(1);
    expect(await (await fetch(`${shop.url}/slots/token/verify/${token.token_id}`)).json()).toEqual({ amount: 600_000, confirmed: true });

    // It spends like a Lightning token, once.
    const spend = () =>
      fetch(`${shop.url}/slots/spendtoken`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token_id: token.token_id, slot_id: 0 }),
      });
    const spent = await spend();
    expect(spent.status).toBe(200);
    expect((await spend()).status).toBe(409);
    // After spending, the receipt still answers the same (spent) token, never a fresh one.
    expect(await (await withReceipt(2n * FEE, entry, receipt)).json()).toEqual(token);
    expect(await s.query('SELECT token_id FROM tollway_slot_tokens')).toHaveLength(1);
  });

  it('a receipt opens only the value it paid for, and bad values are problems before any 402', async () => {
    const { entry, receipt } = await buy(2n * FEE);
    const less = await withReceipt(FEE, entry, receipt);
    expect(less.status).toBe(402);
    expect(((await less.json()) as { error: string }).error).toBe('binding_mismatch');
    const more = await withReceipt(3n * FEE, entry, receipt);
    expect(more.status).toBe(402);
    expect(((await more.json()) as { error: string }).error).toBe('insufficient_amount');
    const forged = await withReceipt(2n * FEE, entry, `${receipt.slice(0, -4)}AAAA`);
    expect(forged.status).toBe(402);
    for (const [value, status] of [
      ['-1', 400],
      ['1.5', 400],
      ['1', 422],
    ] as const) {
      const r = await fetch(`${shop.url}/slots/token/buy/${value}`);
      expect(r.status).toBe(status);
      expect(r.headers.get('payment-required')).toBeNull();
    }
    // Only the first test's token exists: nothing here made one.
    expect(await s.query('SELECT token_id FROM tollway_slot_tokens')).toHaveLength(1);
  });

  it('a browser asking without a proof gets the 402 page', async () => {
    const res = await fetch(`${shop.url}/slots/token/buy/${FEE}`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(402);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('payment-required')).toBeTruthy();
  });
});
