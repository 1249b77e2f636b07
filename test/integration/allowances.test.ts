import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../server/clock.js';
import { periodBounds } from '../../server/payments/allowances.js';
import { balances, createMerchant, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced, rowCounts } from '../helpers/invariant.js';
import { ENGINES } from '../helpers/stores.js';

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
  let k = 0;
  const auth = () => ({ authorization: `Bearer ${s.accessToken}`, 'content-type': 'application/json' });
  const put = (body: unknown) => fetch(`${t.url}/allowances`, { method: 'PUT', headers: auth(), body: JSON.stringify(body) });
  const list = async () => ((await (await fetch(`${t.url}/allowances`, { headers: auth() })).json()) as { data: { site: string; spent: string; remaining: string }[] }).data;
  const autoPay = (amount: string, site = SITE) => pay(t.url, s, `al-${engine}-${++k}`, { rail: 'internal', payTo: merchant, amount, asset: 'SOVR', allowance: { site } });

  beforeAll(async () => {
    t = await startTestHub(engine, { clock });
    s = await signIn(t.url);
    merchant = (await createMerchant(t.url)).merchant.id;
    await fund(t.url, s, '100000');
  });
  afterEach(async () => expectLedgerBalanced(t.store.db));
  afterAll(async () => t?.stop());

  it('lets auto-payments through up to the allowance and refuses the one past it, storing nothing', async () => {
    const set = await put({ site: SITE, asset: 'SOVR', amount: '1000', period: 'day' });
    expect(set.status).toBe(200);
    expect(await set.json()).toMatchObject({ site: SITE, amount: '1000', spent: '0', remaining: '1000', period: 'day' });
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
    await put({ site, asset: 'SOVR', amount: '500', period: 'week' });
    const before = await balances(t.url, s);
    const results = await Promise.all(Array.from({ length: 12 }, () => autoPay('100', site)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(5);
    expect(results.filter((r) => r.status === 403)).toHaveLength(7);
    const after = await balances(t.url, s);
    expect(BigInt(before.SOVR!.posted) - BigInt(after.SOVR!.posted)).toBe(500n);
  });

  it('starts afresh in the next period', async () => {
    const site = 'https://daily.example';
    await put({ site, asset: 'SOVR', amount: '100', period: 'day' });
    expect((await autoPay('100', site)).status).toBe(200);
    expect((await autoPay('1', site)).status).toBe(403);
    clock.advance(24 * 3600 * 1000);
    s = await signIn(t.url, s.wallet); // the access token aged out with the day
    expect((await autoPay('100', site)).status).toBe(200);
  });

  it('validates input and removes an allowance', async () => {
    expect((await put({ site: 'https://shop.example/path', asset: 'SOVR', amount: '1', period: 'day' })).status).toBe(400);
    expect((await put({ site: SITE, asset: 'SOVR', amount: '1', period: 'year' })).status).toBe(400);
    expect((await put({ site: SITE, asset: 'SOVR', amount: '-1', period: 'day' })).status).toBe(400);
    const del = await fetch(`${t.url}/allowances?site=${encodeURIComponent(SITE)}&asset=SOVR`, { method: 'DELETE', headers: auth() });
    expect(del.status).toBe(204);
    expect((await list()).some((a) => a.site === SITE)).toBe(false);
    expect((await fetch(`${t.url}/allowances?site=${encodeURIComponent(SITE)}&asset=SOVR`, { method: 'DELETE', headers: auth() })).status).toBe(404);
  });
});
