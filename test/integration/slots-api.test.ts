/**
 * slots(): prepaid tokens and renewable slots, against the stand-in LND (the shop's node) and an
 * outside wallet on the same simulated network, with the store on SQLite and on PostgreSQL and a
 * clock the test moves. The document's flow (init → verify unpaid → pay → verify paid → spend on a
 * new slot → expiry from the fee rate), renewals of a live and of an expired slot, 20 concurrent
 * spends of one token, requireSlot() before and after expiry, and bad input that changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPIRED_TEXT, MONTH_MS } from '../../merchant/index.js';
import { PROBLEM_BASE } from '../../shared/problem.js';
import { type FreshSlotStore, freshSlotStore, type SlotsShop, slotsWorld, type SlotsWorld, startSlotsShop } from '../helpers/slots-shop.js';
import { ENGINES, type Engine } from '../helpers/stores.js';

const FEE = 300_000n; // msat a month: 300 sats
const MONTH = Number(MONTH_MS);
const DAY = 86_400_000;
const START = Date.UTC(2026, 0, 15, 12, 0, 0);

describe.each(ENGINES)('slots() on %s', (engine: Engine) => {
  let w: SlotsWorld;
  let s: FreshSlotStore;
  let shop: SlotsShop;
  let now = START;

  beforeAll(async () => {
    w = await slotsWorld();
    s = await freshSlotStore(engine);
    shop = await startSlotsShop({ node: w.node, store: s.store, feeRatePerMonthMsat: FEE, clock: () => now, rateLimit: false });
  });
  afterAll(async () => {
    await shop?.close();
    await s?.cleanup();
    await w?.close();
  });

  const get = (path: string) => fetch(`${shop.url}/slots${path}`);
  const spend = (body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    fetch(`${shop.url}/slots/spendtoken`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const json = async (res: Response) => JSON.parse(await res.text()) as Record<string, unknown>;
  type Init = { lightning_invoice: { bolt11: string; expires_at: number; payment_hash: string }; token_id: string; value: number };
  const init = async (value: bigint): Promise<Init> => {
    const res = await get(`/token/init/${value}`);
    expect(res.status).toBe(200);
    return (await res.json()) as Init;
  };
  const payFromOutside = async (bolt11: string) => {
    const paid = await w.outside.pay({ bolt11, feeLimitMsat: 1000n, timeoutSeconds: 10 });
    expect(paid.state).toBe('succeeded');
  };
  /** A token paid and verified, worth `months` months. */
  const paidToken = async (months: bigint) => {
    const t = await init(months * FEE);
    await payFromOutside(t.lightning_invoice.bolt11);
    expect(await (await get(`/token/verify/${t.token_id}`)).json()).toEqual({ amount: Number(months * FEE), confirmed: true });
    return t.token_id;
  };
  const expectProblem = async (res: Response, status: number, type: string) => {
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const body = await json(res);
    expect(body.type).toBe(PROBLEM_BASE + type);
    return body;
  };
  const snapshot = async () => ({
    tokens: await s.query('SELECT * FROM tollway_slot_tokens ORDER BY token_id'),
    slots: await s.query('SELECT * FROM tollway_slots ORDER BY slot_id'),
  });

  it('GET /feerate answers the fee per month in msat, as a JSON integer', async () => {
    const res = await get('/feerate');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('{"fee_rate_per_month_in_msat":300000}');
  });

  it('init → verify unpaid → pay from an outside wallet → verify paid → spend on a new slot: expiry from the fee rate', async () => {
    const t = await init(2n * FEE);
    expect(t.value).toBe(600_000);
    expect(t.token_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(t.lightning_invoice.bolt11).toMatch(/^lnbcrt6u/); // 600,000 msat = 6 µBTC on regtest
    expect(t.lightning_invoice.payment_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(t.lightning_invoice.expires_at).toBeGreaterThan(Date.now() / 1000);
    expect(w.shopLnd.invoiceState(t.lightning_invoice.payment_hash)).toBe('OPEN');

    expect(await (await get(`/token/verify/${t.token_id}`)).json()).toEqual({ amount: 0, confirmed: false });
    await expectProblem(await spend({ token_id: t.token_id, slot_id: 0 }), 409, 'token-not-paid');

    await payFromOutside(t.lightning_invoice.bolt11);
    expect(await (await get(`/token/verify/${t.token_id}`)).json()).toEqual({ amount: 600_000, confirmed: true });

    const res = await spend({ token_id: t.token_id, slot_id: 0 });
    expect(res.status).toBe(200);
    const slot = (await res.json()) as { token_id: string; slot_id: number; expiry_date: string };
    expect(slot.token_id).toBe(t.token_id);
    expect(slot.slot_id).toBeGreaterThanOrEqual(1);
    // Two months of 30 days from now, to the millisecond.
    expect(slot.expiry_date).toBe(new Date(now + 2 * MONTH).toISOString());
    expect(await (await get(`/slotexpiry/${slot.slot_id}`)).json()).toEqual({ slot_id: slot.slot_id, expiry_date: slot.expiry_date });

    // Spent once: the second time is refused and the slot keeps its expiry.
    await expectProblem(await spend({ token_id: t.token_id, slot_id: 0 }), 409, 'token-spent');
    await expectProblem(await spend({ token_id: t.token_id, slot_id: slot.slot_id }), 409, 'token-spent');
    expect(await (await get(`/slotexpiry/${slot.slot_id}`)).json()).toMatchObject({ expiry_date: slot.expiry_date });
  });

  it('a paid token spends without a verify first; a value not a whole number of months buys time in proportion', async () => {
    const t = await init(FEE + FEE / 2n);
    await payFromOutside(t.lightning_invoice.bolt11);
    const res = await spend({ token_id: t.token_id, slot_id: '0' });
    expect(res.status).toBe(200);
    const { expiry_date } = (await res.json()) as { expiry_date: string };
    expect(expiry_date).toBe(new Date(now + 45 * DAY).toISOString());
  });

  it('renews a live slot from its expiry and an expired one from now', async () => {
    const first = await spend({ token_id: await paidToken(1n), slot_id: 0 });
    const { slot_id, expiry_date } = (await first.json()) as { slot_id: number; expiry_date: string };
    const expiry = Date.parse(expiry_date);
    expect(expiry).toBe(now + MONTH);

    // Ten days in, one more month: it runs on from the current expiry, no paid day lost.
    now += 10 * DAY;
    const live = await spend({ token_id: await paidToken(1n), slot_id });
    expect(((await live.json()) as { expiry_date: string }).expiry_date).toBe(new Date(expiry + MONTH).toISOString());

    // Past the expiry by five days: two more months run from now.
    now = expiry + MONTH + 5 * DAY;
    const late = await spend({ token_id: await paidToken(2n), slot_id });
    expect(((await late.json()) as { expiry_date: string }).expiry_date).toBe(new Date(now + 2 * MONTH).toISOString());
    expect(await (await get(`/slotexpiry/${slot_id}`)).json()).toEqual({ slot_id, expiry_date: new Date(now + 2 * MONTH).toISOString() });
  });

  it('20 concurrent spends of one token make one slot; 20 of another renew a slot once', async () => {
    const before = (await s.query<{ n: number | string }>('SELECT COUNT(*) AS n FROM tollway_slots'))[0]!.n;
    const token = await paidToken(1n);
    const answers = await Promise.all(Array.from({ length: 20 }, () => spend({ token_id: token, slot_id: 0 })));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses.filter((x) => x === 200)).toHaveLength(1);
    expect(statuses.filter((x) => x === 409)).toHaveLength(19);
    for (const r of answers.filter((x) => x.status === 409)) expect((await json(r)).type).toBe(`${PROBLEM_BASE}token-spent`);
    const made = (await answers.find((r) => r.status === 200)!.json()) as { slot_id: number; expiry_date: string };
    expect(Number((await s.query<{ n: number | string }>('SELECT COUNT(*) AS n FROM tollway_slots'))[0]!.n)).toBe(Number(before) + 1);

    const renewal = await paidToken(1n);
    const renewals = await Promise.all(Array.from({ length: 20 }, () => spend({ token_id: renewal, slot_id: made.slot_id })));
    expect(renewals.filter((r) => r.status === 200)).toHaveLength(1);
    expect(await (await get(`/slotexpiry/${made.slot_id}`)).json()).toMatchObject({
      expiry_date: new Date(Date.parse(made.expiry_date) + MONTH).toISOString(),
    });
    const spent = await s.query<{ slot_id: number | string }>(
      `SELECT slot_id FROM tollway_slot_tokens WHERE token_id IN ('${token}', '${renewal}')`,
    );
    expect(spent.map((r) => Number(r.slot_id))).toEqual([made.slot_id, made.slot_id]);
  });

  it('requireSlot() lets a live slot through and refuses a missing, unknown or expired one with a 402 that offers renewal', async () => {
    const publish = (slot?: string) =>
      fetch(`${shop.url}/publish`, { method: 'POST', headers: slot === undefined ? {} : { 'slot-id': slot } });
    const { slot_id, expiry_date } = (await (await spend({ token_id: await paidToken(1n), slot_id: 0 })).json()) as {
      slot_id: number;
      expiry_date: string;
    };

    const ok = await publish(String(slot_id));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ published: true, slot: { slotId: slot_id, expiresAt: expiry_date } });

    for (const missing of [undefined, 'x', '0', '-1', '999999']) {
      const body = await expectProblem(await publish(missing), 402, 'slot-required');
      expect(body.renew).toMatchObject({ token_init: '/slots/token/init/{value}', spend_token: '/slots/spendtoken' });
    }

    now = Date.parse(expiry_date) - 1;
    expect((await publish(String(slot_id))).status).toBe(200);
    now = Date.parse(expiry_date);
    const expired = await publish(String(slot_id));
    expect(expired.headers.get('link')).toBe(`</slots/token/init/${FEE}>; rel="payment"`);
    const body = await expectProblem(expired, 402, 'slot-expired');
    expect(body).toMatchObject({ detail: EXPIRED_TEXT, slot_id, expiry_date });
    expect((body.renew as { how: string }).how).toContain(`"slot_id": ${slot_id}`);
    expect(expired.headers.get('payment-required')).toBeNull();

    // Renewed, it works again.
    await spend({ token_id: await paidToken(1n), slot_id });
    expect((await publish(String(slot_id))).status).toBe(200);
  });

  it('refuses bad input with a problem and changes nothing', async () => {
    const unpaid = await init(FEE);
    const spentToken = await paidToken(1n);
    const { slot_id } = (await (await spend({ token_id: spentToken, slot_id: 0 })).json()) as { slot_id: number };
    const paid = await paidToken(1n);
    const before = await snapshot();

    for (const value of ['-5', '1.5', '1e6', 'abc', '0300000', ' 300000', '99999999999999999999', '9007199254740992', '%zz'])
      await expectProblem(await get(`/token/init/${value}`), 400, 'validation-error');
    for (const value of ['0', '1', String(FEE - 1n)]) {
      const p = await expectProblem(await get(`/token/init/${value}`), 422, 'value-below-minimum');
      expect(p.min_value_msat).toBe(Number(FEE));
    }
    // 2^53 − 1 msat at 300 sats a month is past the year 9999.
    await expectProblem(await get('/token/init/9007199254740991'), 400, 'validation-error');

    await expectProblem(await get('/token/verify/00000000-0000-4000-8000-000000000000'), 404, 'not-found');
    await expectProblem(await get('/token/verify/not%20an%20id'), 400, 'validation-error');

    await expectProblem(await spend({ token_id: unpaid.token_id, slot_id: 0 }), 409, 'token-not-paid');
    await expectProblem(await spend({ token_id: spentToken, slot_id: 0 }), 409, 'token-spent');
    await expectProblem(await spend({ token_id: paid, slot_id: slot_id + 1000 }), 404, 'not-found');
    await expectProblem(await spend({ token_id: '00000000-0000-4000-8000-000000000000', slot_id: 0 }), 404, 'not-found');
    for (const body of [
      { token_id: paid, slot_id: -1 },
      { token_id: paid, slot_id: 1.5 },
      { token_id: paid, slot_id: '1e3' },
      { token_id: paid, slot_id: 2 ** 60 },
      { token_id: paid },
      { slot_id: 0 },
      { token_id: 7, slot_id: 0 },
      [paid, 0],
    ])
      await expectProblem(await spend(body), 400, 'validation-error');
    await expectProblem(await spend('{"token_id": '), 400, 'validation-error');
    await expectProblem(await spend({ token_id: paid, slot_id: 0 }, { 'content-type': 'text/plain' }), 415, 'unsupported-media-type');
    await expectProblem(await spend(JSON.stringify({ token_id: paid, slot_id: 0, pad: 'x'.repeat(5000) })), 413, 'payload-too-large');

    await expectProblem(await get(`/slotexpiry/${slot_id + 1000}`), 404, 'not-found');
    for (const id of ['0', '-1', 'x', '1.5']) await expectProblem(await get(`/slotexpiry/${id}`), 400, 'validation-error');
    await expectProblem(await fetch(`${shop.url}/slots/feerate`, { method: 'POST' }), 405, 'method-not-allowed');
    // Tokens are not sold through a hub here.
    await expectProblem(await get(`/token/buy/${FEE}`), 404, 'not-found');

    expect(await snapshot()).toEqual(before);
    // The token refused on a slot that does not exist is still good.
    expect((await spend({ token_id: paid, slot_id: 0 })).status).toBe(200);
  });

  it('answers 503 when the Lightning node cannot be asked, and stores nothing', async () => {
    const t = await init(FEE);
    await w.shopLnd.close();
    const before = await snapshot();
    await expectProblem(await get(`/token/init/${FEE}`), 503, 'lightning-unavailable');
    await expectProblem(await get(`/token/verify/${t.token_id}`), 503, 'lightning-unavailable');
    await expectProblem(await spend({ token_id: t.token_id, slot_id: 0 }), 503, 'lightning-unavailable');
    expect(await snapshot()).toEqual(before);
  });
});
