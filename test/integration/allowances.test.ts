import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../server/clock.js';
import { periodBounds } from '../../server/payments/allowances.js';
import { migrate } from '../../server/store/migrate.js';
import { MIGRATIONS } from '../../server/store/migrations/index.js';
import { balances, createMerchant, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced, rowCounts } from '../helpers/invariant.js';
import { ENGINES, freshStore } from '../helpers/stores.js';

const SITE = 'https://shop.example';

describe('allowance periods', () => {
  it('are UTC calendar days, ISO weeks from Monday and months', () => {
    const wed = Date.UTC(2026, 10, 25, 15, 30); // Wednesday 25 Nov 2026
    expect(periodBounds('day', wed)).toEqual({ start: Date.UTC(2026, 10, 25), end: Date.UTC(2026, 10, 26) });
    expect(periodBounds('week', wed)).toEqual({ start: Date.UTC(2026, 10, 23), end: Date.UTC(2026, 10, 30) });
    expect(periodBounds('month', wed)).toEqual({ start: Date.UTC(2026, 10, 1), end: Date.UTC(2026, 11, 1) });
    expect(periodBounds('month', Date.UTC(2026, 11, 31, 23))).toEqual({ start: Date.UTC(2026, 11, 1), end: Date.UTC(2027, 0, 1) });
    expect(periodBounds('week', Date.UTC(2026, 10, 29, 23))).toEqual({ start: Date.UTC(2026, 10, 23), end: Date.UTC(2026, 10, 30) });
  });
});

describe.each(ENGINES)('allowances on %s', (engine) => {
  const clock = manualClock(Date.now());
  let t: TestHub;
  let s: Session;
  let merchant: string;
  let other: string;
  let k = 0;
  const auth = () => ({ authorization: `Bearer ${s.accessToken}`, 'content-type': 'application/json' });
  const put = (body: unknown) => fetch(`${t.url}/allowances`, { method: 'PUT', headers: auth(), body: JSON.stringify(body) });
  const list = async () =>
    (
      (await (await fetch(`${t.url}/allowances`, { headers: auth() })).json()) as {
        data: { site: string; payee: string | null; spent: string; remaining: string }[];
      }
    ).data;
  const autoPay = (amount: string, site = SITE, payTo = merchant) =>
    pay(t.url, s, `al-${engine}-${++k}`, { rail: 'internal', payTo, amount, asset: 'SOVR', allowance: { site } });

  beforeAll(async () => {
    t = await startTestHub(engine, { clock });
    s = await signIn(t.url);
    merchant = (await createMerchant(t.url)).merchant.id;
    other = (await createMerchant(t.url, 'Another shop')).merchant.id;
    await fund(t.url, s, '100000');
  });
  afterEach(async () => expectLedgerBalanced(t.store.db));
  afterAll(async () => t?.stop());

  it('lets auto-payments through up to the allowance and refuses the one past it, storing nothing', async () => {
    const set = await put({ site: SITE, payee: merchant, asset: 'SOVR', amount: '1000', period: 'day' });
    expect(set.status).toBe(200);
    expect(await set.json()).toMatchObject({ site: SITE, payee: merchant, amount: '1000', spent: '0', remaining: '1000', period: 'day' });
    expect((await autoPay('600')).status).toBe(200);
    const before = await rowCounts(t.store.db);
    const refused = await autoPay('401');
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ type: 'https://tollway.dev/problems/allowance-exceeded', remaining: '400' });
    expect(await rowCounts(t.store.db)).toEqual(before);
    expect((await autoPay('400')).status).toBe(200);
    expect((await list()).find((a) => a.site === SITE)).toMatchObject({ spent: '1000', remaining: '0' });
  });

  it('refuses an auto-payment to a site without an allowance', async () => {
    const res = await autoPay('1', 'https://other.example');
    expect(res.status).toBe(403);
    expect(((await res.json()) as { type: string }).type).toBe('https://tollway.dev/problems/allowance-exceeded');
  });

  it('never lets two auto-payments arriving together spend the same remainder', async () => {
    const site = 'https://race.example';
    await put({ site, payee: merchant, asset: 'SOVR', amount: '500', period: 'week' });
    const before = await balances(t.url, s);
    const results = await Promise.all(Array.from({ length: 12 }, () => autoPay('100', site)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(5);
    expect(results.filter((r) => r.status === 403)).toHaveLength(7);
    const after = await balances(t.url, s);
    expect(BigInt(before.SOVR!.posted) - BigInt(after.SOVR!.posted)).toBe(500n);
  });

  it('starts afresh in the next period', async () => {
    const site = 'https://daily.example';
    await put({ site, payee: merchant, asset: 'SOVR', amount: '100', period: 'day' });
    expect((await autoPay('100', site)).status).toBe(200);
    expect((await autoPay('1', site)).status).toBe(403);
    clock.advance(24 * 3600 * 1000);
    s = await signIn(t.url, s.wallet); // the access token aged out with the day
    expect((await autoPay('100', site)).status).toBe(200);
  });

  it('validates input and removes an allowance', async () => {
    expect((await put({ site: 'https://shop.example/path', payee: merchant, asset: 'SOVR', amount: '1', period: 'day' })).status).toBe(400);
    expect((await put({ site: SITE, payee: merchant, asset: 'SOVR', amount: '1', period: 'year' })).status).toBe(400);
    expect((await put({ site: SITE, payee: merchant, asset: 'SOVR', amount: '-1', period: 'day' })).status).toBe(400);
    // A budget without a payee is what let any script on the site pay anyone.
    expect((await put({ site: SITE, asset: 'SOVR', amount: '1', period: 'day' })).status).toBe(400);
    expect((await put({ site: SITE, payee: '', asset: 'SOVR', amount: '1', period: 'day' })).status).toBe(400);
    const query = `site=${encodeURIComponent(SITE)}&payee=${encodeURIComponent(merchant)}&asset=SOVR`;
    const del = await fetch(`${t.url}/allowances?${query}`, { method: 'DELETE', headers: auth() });
    expect(del.status).toBe(204);
    expect((await list()).some((a) => a.site === SITE)).toBe(false);
    expect((await fetch(`${t.url}/allowances?${query}`, { method: 'DELETE', headers: auth() })).status).toBe(404);
  });

  it('an allowance for one payee pays nobody else from the site: refused, nothing paid, nothing charged', async () => {
    const site = 'https://bound.example';
    await put({ site, payee: merchant, asset: 'SOVR', amount: '1000', period: 'day' });
    const before = { balances: await balances(t.url, s), rows: await rowCounts(t.store.db), list: await list() };
    const refused = await autoPay('100', site, other);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ type: 'https://tollway.dev/problems/allowance-payee-mismatch' });
    expect(await balances(t.url, s)).toEqual(before.balances);
    expect(await rowCounts(t.store.db)).toEqual(before.rows);
    expect(await list()).toEqual(before.list);
    expect((await list()).find((a) => a.site === site)).toMatchObject({ payee: merchant, spent: '0', remaining: '1000' });
    // The payee it was set for is paid as before; a second payee needs its own allowance.
    expect((await autoPay('100', site)).status).toBe(200);
    expect((await put({ site, payee: other, asset: 'SOVR', amount: '50', period: 'day' })).status).toBe(200);
    expect((await autoPay('50', site, other)).status).toBe(200);
    const spent = new Map((await list()).filter((a) => a.site === site).map((a) => [a.payee, a.spent]));
    expect(spent).toEqual(
      new Map([
        [merchant, '100'],
        [other, '50'],
      ]),
    );
  });

  it('an allowance kept from before payees were recorded is listed without one and auto-pays nothing until set again', async () => {
    const site = 'https://legacy.example';
    // What migration 012 leaves of an old row: the empty payee.
    await t.store.db.run(
      "INSERT INTO allowances (user_id, site, payee, asset, amount, period, spent, period_start, updated_at) VALUES (?, ?, '', 'SOVR', '1000', 'day', '0', ?, ?)",
      [s.user.id, site, periodBounds('day', clock.now()).start, clock.now()],
    );
    expect((await list()).find((a) => a.site === site)).toMatchObject({ payee: null, remaining: '1000' });
    const before = await balances(t.url, s);
    const refused = await autoPay('1', site);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({
      type: 'https://tollway.dev/problems/allowance-payee-mismatch',
      detail: expect.stringMatching(/set it again/),
    });
    expect(await balances(t.url, s)).toEqual(before);
    // Deleted without a payee (it has none).
    expect(
      (await fetch(`${t.url}/allowances?site=${encodeURIComponent(site)}&asset=SOVR`, { method: 'DELETE', headers: auth() })).status,
    ).toBe(204);
    expect((await list()).some((a) => a.site === site)).toBe(false);
  });
});

describe.each(ENGINES)('migration 012 on %s', (engine) => {
  it('keeps old allowances with the empty payee and keys them by (user, site, payee, asset)', async () => {
    const store = await freshStore(engine);
    try {
      const db = store.db;
      await migrate(
        db,
        MIGRATIONS.filter((m) => m.id !== '012_allowance_payee'),
      );
      await db.run("INSERT INTO users (id, address, created_at) VALUES ('u1', '0xabc', 1)");
      await db.run(
        "INSERT INTO allowances (user_id, site, asset, amount, period, spent, period_start, updated_at) VALUES ('u1', ?, 'SOVR', '700', 'week', '200', 5, 6)",
        [SITE],
      );
      expect(await migrate(db, MIGRATIONS)).toEqual(['012_allowance_payee']);
      const rows = await db.all<{ payee: string; amount: string | number; spent: string | number }>(
        'SELECT payee, amount, spent FROM allowances',
      );
      expect(rows.map((r) => [r.payee, String(r.amount), String(r.spent)])).toEqual([['', '700', '200']]);
      // The same site and asset for a payee is another allowance; the same payee twice is refused.
      const insert = (payee: string) =>
        db.run(
          "INSERT INTO allowances (user_id, site, payee, asset, amount, period, spent, period_start, updated_at) VALUES ('u1', ?, ?, 'SOVR', '1', 'day', '0', 1, 1)",
          [SITE, payee],
        );
      await insert('m_1');
      await expect(insert('m_1')).rejects.toThrow();
      expect(Number((await db.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM allowances'))!.n)).toBe(2);
    } finally {
      await store.cleanup();
    }
  });
});
