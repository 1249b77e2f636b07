import { tEn } from '../helpers/i18n-en.js';
import { describe, expect, it } from 'vitest';
import { createBudgets } from '../../extension/background/budgets.js';
import { KEYS } from '../../extension/common/state.js';
import { MemoryStorage } from '../helpers/memory-storage.js';
import { allowanceAt, autoPayDecision, parseUnits, periodBounds, type Allowance } from '../../extension/common/budget.js';
import { budgetText, lightningAmount } from '../../extension/common/format.js';
import { periodBounds as hubPeriodBounds } from '../../server/payments/allowances.js';

const SITE = 'https://shop.example';
const PAYEE = 'm_shop';
const allowance = (over: Partial<Allowance> = {}): Allowance => ({
  site: SITE,
  payee: PAYEE,
  asset: 'SOVR',
  amount: '3000',
  period: 'day',
  spent: '1500',
  remaining: '1500',
  periodStart: '2025-03-10T00:00:00.000Z',
  resetsAt: '2025-03-11T00:00:00.000Z',
  ...over,
});
const at = (iso: string) => Date.parse(iso);

describe('budget periods (what the popup and the window show)', () => {
  it('are the hub’s UTC calendar periods: the same bounds for every period at awkward moments', () => {
    const moments = [
      '2024-02-29T23:59:59.999Z', // leap day, last ms
      '2024-12-31T23:30:00.000Z', // year end
      '2025-01-01T00:00:00.000Z',
      '2025-03-09T12:00:00.000Z', // a Sunday: ISO week began Monday the 3rd
      '2025-03-10T00:00:00.000Z', // a Monday at midnight
      '2025-03-30T01:30:00.000Z', // a DST change in Europe (UTC does not care)
      '2025-11-30T23:59:59.000Z',
    ];
    for (const m of moments) {
      for (const period of ['day', 'week', 'month'] as const)
        expect(periodBounds(period, at(m)), `${period} at ${m}`).toEqual(hubPeriodBounds(period, at(m)));
    }
    expect(periodBounds('week', at('2025-03-09T12:00:00Z'))).toEqual({
      start: at('2025-03-03T00:00:00Z'),
      end: at('2025-03-10T00:00:00Z'),
    });
    expect(periodBounds('month', at('2024-02-29T23:59:59.999Z'))).toEqual({
      start: at('2024-02-01T00:00:00Z'),
      end: at('2024-03-01T00:00:00Z'),
    });
  });

  it('counts nothing spent once the period the hub reported has ended, and names the next reset', () => {
    const a = allowance();
    expect(allowanceAt(a, at('2025-03-10T18:00:00Z'))).toEqual({
      amount: 3000n,
      spent: 1500n,
      remaining: 1500n,
      resetsAt: at('2025-03-11T00:00:00Z'),
    });
    expect(allowanceAt(a, at('2025-03-11T00:00:00Z'))).toEqual({
      amount: 3000n,
      spent: 0n,
      remaining: 3000n,
      resetsAt: at('2025-03-12T00:00:00Z'),
    });
    expect(allowanceAt(allowance({ period: 'month', resetsAt: '2025-04-01T00:00:00.000Z' }), at('2025-04-15T00:00:00Z')).resetsAt).toBe(
      at('2025-05-01T00:00:00Z'),
    );
    expect(budgetText(a, at('2025-03-10T18:00:00Z'), tEn, 'en-US')).toBe('0.0000000000000015 of 0.000000000000003 SOVR left this day');
    expect(budgetText(a, at('2025-03-12T18:00:00Z'), tEn, 'en-US')).toBe('0.000000000000003 of 0.000000000000003 SOVR left this day');
  });
});

describe('auto-pay or ask', () => {
  const pay = (amount = '1500', asset = 'SOVR') => ({ amount, asset });
  const now = at('2025-03-10T18:00:00Z');
  it('pays without asking only when the site’s budget for that payee in that asset covers the amount', () => {
    expect(autoPayDecision(SITE, PAYEE, pay(), allowance(), now)).toEqual({ auto: true });
    expect(autoPayDecision(SITE, PAYEE, pay('1501'), allowance(), now)).toEqual({ auto: false, reason: 'over-budget' });
    expect(autoPayDecision(SITE, PAYEE, pay('1'), allowance({ remaining: '0', spent: '3000' }), now)).toEqual({
      auto: false,
      reason: 'over-budget',
    });
    // A new period: the whole amount again.
    expect(autoPayDecision(SITE, PAYEE, pay('3000'), allowance({ remaining: '0', spent: '3000' }), at('2025-03-11T00:00:01Z'))).toEqual({
      auto: true,
    });
  });
  it('asks when there is no budget, it is another site’s, payee’s or asset’s, or nothing payable', () => {
    // A budget is bound to its payee: the same site asking to pay anyone else is asked about.
    expect(autoPayDecision(SITE, 'm_other', pay(), allowance(), now)).toEqual({ auto: false, reason: 'no-budget' });
    // A budget kept from before budgets named a payee pays nobody.
    expect(autoPayDecision(SITE, PAYEE, pay(), allowance({ payee: null }), now)).toEqual({ auto: false, reason: 'no-budget' });
    // A payee that cannot be told (an unreadable invoice) is never auto-paid.
    expect(autoPayDecision(SITE, null, pay(), allowance(), now)).toEqual({ auto: false, reason: 'no-payee' });
    expect(autoPayDecision(SITE, PAYEE, pay(), null, now)).toEqual({ auto: false, reason: 'no-budget' });
    expect(autoPayDecision(SITE, PAYEE, pay(), allowance({ site: 'https://other.example' }), now)).toEqual({
      auto: false,
      reason: 'no-budget',
    });
    expect(autoPayDecision(SITE, PAYEE, pay('1500', 'BTC'), allowance(), now)).toEqual({ auto: false, reason: 'no-budget' });
    expect(autoPayDecision(SITE, PAYEE, null, allowance(), now)).toEqual({ auto: false, reason: 'no-payment' });
    expect(autoPayDecision('null', PAYEE, pay(), allowance({ site: 'null' }), now)).toEqual({ auto: false, reason: 'not-a-site' });
    expect(autoPayDecision(`${SITE}/path`, PAYEE, pay(), allowance({ site: `${SITE}/path` }), now)).toEqual({
      auto: false,
      reason: 'not-a-site',
    });
  });
  it('never trusts a garbled stored budget to allow a payment', () => {
    expect(autoPayDecision(SITE, PAYEE, pay(), allowance({ remaining: '1e30' }), now)).toEqual({ auto: false, reason: 'over-budget' });
    expect(autoPayDecision(SITE, PAYEE, pay('-5'), allowance(), now)).toEqual({ auto: false, reason: 'no-payment' });
  });
});

describe('amounts typed in whole units', () => {
  it('become base units exactly, in bigint', () => {
    expect(parseUnits('0.000000000000003', 18)).toBe(3000n);
    expect(parseUnits('1.5', 18)).toBe(1_500_000_000_000_000_000n);
    expect(parseUnits(' 2 ', 18)).toBe(2_000_000_000_000_000_000n);
    expect(parseUnits('.25', 2)).toBe(25n);
    expect(parseUnits('1.', 0)).toBe(1n);
    expect(parseUnits('0.10', 1)).toBe(1n);
    expect(parseUnits('123456789012345678901234567890.123456789012345678', 18)).toBe(123456789012345678901234567890123456789012345678n);
  });
  it('refuse anything else', () => {
    for (const bad of ['', '-1', '1e3', '0x10', '1,5', '1.2.3', 'abc', '0.0000000000000000001'])
      expect(parseUnits(bad, 18), bad).toBeNull();
  });
  it('Lightning amounts show in sats with BTC beside', () => {
    expect(lightningAmount('1500000', tEn, 'en-US')).toBe('1,500 sats (0.000015 BTC)');
    expect(lightningAmount('1501', tEn, 'en-US')).toBe('1,501 msat (0.00000001501 BTC)');
  });
});

describe('the budgets mirror in the worker', () => {
  const session = { url: 'http://127.0.0.1:8402', accessToken: 'at', user: { id: 'u_1', address: '0x0' } };
  function service(
    api: Partial<Parameters<typeof createBudgets>[0]['api']>,
    current: () => Promise<typeof session | null> = async () => session,
  ) {
    const storage = new MemoryStorage();
    const calls: string[] = [];
    const budgets = createBudgets({
      t: tEn,
      session: storage,
      current,
      now: () => 1,
      lookupWaitMs: 50,
      api: {
        allowances: async () => (calls.push('GET'), { data: [allowance()] }),
        putAllowance: async (_s, a) => (
          calls.push(`PUT ${a.site} ${a.payee} ${a.amount}`), allowance({ ...a, remaining: a.amount, spent: '0' })
        ),
        deleteAllowance: async (_s, site, payee) => void calls.push(`DELETE ${site} ${payee}`),
        ...api,
      },
    });
    return { budgets, storage, calls };
  }

  it('reads the hub once per session, then answers from the mirror; put and delete keep it current', async () => {
    const t = service({});
    expect(await t.budgets.lookup(SITE, PAYEE, 'SOVR')).toMatchObject({ amount: '3000' });
    expect(await t.budgets.lookup(SITE, PAYEE, 'BTC')).toBeNull();
    expect(await t.budgets.lookup(SITE, 'm_other', 'SOVR')).toBeNull();
    expect(await t.budgets.lookup(SITE, null, 'SOVR')).toBeNull();
    expect(t.calls).toEqual(['GET']);
    await t.budgets.put({ site: 'https://a.example', payee: PAYEE, asset: 'SOVR', amount: '10', period: 'week' });
    expect((t.storage.peek(KEYS.budgets) as { data: Allowance[] }).data.map((a) => [a.site, a.amount])).toEqual([
      ['https://a.example', '10'],
      [SITE, '3000'],
    ]);
    await t.budgets.remove(SITE, PAYEE, 'SOVR');
    expect(await t.budgets.lookup(SITE, PAYEE, 'SOVR')).toBeNull();
    expect(t.calls).toEqual(['GET', 'PUT https://a.example m_shop 10', `DELETE ${SITE} m_shop`]);
  });

  it('a slow or unreachable hub does not hold a 402 back: no budget known, the person is asked', async () => {
    const slow = service({ allowances: () => new Promise(() => undefined) });
    expect(await slow.budgets.lookup(SITE, PAYEE, 'SOVR')).toBeNull();
    const down = service({ allowances: async () => Promise.reject(new Error('ECONNREFUSED')) });
    expect(await down.budgets.lookup(SITE, PAYEE, 'SOVR')).toBeNull();
    const signedOut = service({}, async () => null);
    expect(await signedOut.budgets.lookup(SITE, PAYEE, 'SOVR')).toBeNull();
    await expect(signedOut.budgets.put({ site: SITE, payee: PAYEE, asset: 'SOVR', amount: '1', period: 'day' })).rejects.toThrow(/sign in/);
  });

  it('never shows another user’s or another hub’s budgets', async () => {
    const t = service({});
    await t.storage.set({ [KEYS.budgets]: { hubUrl: session.url, userId: 'u_other', data: [allowance({ amount: '999' })], syncedAt: 0 } });
    expect(await t.budgets.lookup(SITE, PAYEE, 'SOVR')).toMatchObject({ amount: '3000' });
    expect(t.calls).toEqual(['GET']);
  });
});
