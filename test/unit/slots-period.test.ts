/**
 * What a token's value buys (merchant/slots/period.ts) and how values go on the wire
 * (merchant/slots/wire.ts): integer arithmetic to the millisecond, a month of 30 days, renewals
 * from the later of now and the expiry, the cap at the end of year 9999, exact JSON integers.
 */
import { describe, expect, it } from 'vitest';
import {
  checkPricing,
  durationMs,
  extendedExpiry,
  MAX_EXPIRY_MS,
  MAX_VALUE_MSAT,
  MONTH_MS,
  minValueMsat,
} from '../../merchant/slots/period.js';
import { jsonWithIntegers, SpendTokenBody, ValueParam } from '../../merchant/slots/wire.js';

const p = checkPricing(300_000n, 2);
const NOW = Date.UTC(2026, 0, 31);

describe('slot time', () => {
  it('a month is 30 days; a value buys time in proportion, rounded down to the millisecond', () => {
    expect(MONTH_MS).toBe(2_592_000_000n);
    expect(durationMs(300_000n, p)).toBe(MONTH_MS);
    expect(durationMs(450_000n, p)).toBe(45n * 86_400_000n);
    expect(durationMs(1n, p)).toBe(8640n); // 2,592,000,000 / 300,000
    expect(minValueMsat(p)).toBe(600_000n);
  });

  it('extends a live slot from its expiry and an expired or new one from now', () => {
    const month = Number(MONTH_MS);
    expect(extendedExpiry(undefined, 300_000n, NOW, p)).toBe(NOW + month);
    expect(extendedExpiry(NOW + 5, 300_000n, NOW, p)).toBe(NOW + 5 + month);
    expect(extendedExpiry(NOW - 5, 300_000n, NOW, p)).toBe(NOW + month);
    expect(extendedExpiry(MAX_EXPIRY_MS - month, 300_000n, NOW, p)).toBe(MAX_EXPIRY_MS);
    expect(extendedExpiry(MAX_EXPIRY_MS - month + 1, 300_000n, NOW, p)).toBeUndefined();
    expect(extendedExpiry(undefined, MAX_VALUE_MSAT, NOW, p)).toBeUndefined();
  });

  it('refuses pricing that is not whole msat within range at start', () => {
    for (const bad of [0n, -1n, '1.5', '01', 1.5, MAX_VALUE_MSAT + 1n, 'abc'])
      expect(() => checkPricing(bad as never, 1), String(bad)).toThrow(TypeError);
    expect(() => checkPricing(1000n, 0)).toThrow(TypeError);
    expect(() => checkPricing(1000n, 1.5)).toThrow(TypeError);
    expect(checkPricing('1000', undefined)).toEqual({ feeRatePerMonthMsat: 1000n, minMonths: 1 });
  });
});

describe('the wire', () => {
  it('writes bigints as exact JSON integers, and leaves strings that look like markers alone', () => {
    expect(jsonWithIntegers({ value: MAX_VALUE_MSAT, nested: [1n, { a: 0n }], s: '~int~5' })).toBe(
      '{"value":9007199254740991,"nested":[1,{"a":0}],"s":"~int~5"}',
    );
    expect(JSON.parse(jsonWithIntegers({ v: MAX_VALUE_MSAT })).v).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('reads values and spend bodies strictly', () => {
    expect(ValueParam.parse('300000')).toBe(300_000n);
    for (const bad of ['-1', '1.0', '1e3', '007', '', ' 1', '9007199254740992']) expect(ValueParam.safeParse(bad).success, bad).toBe(false);
    expect(SpendTokenBody.parse({ token_id: 'abc-1', slot_id: '12' })).toEqual({ token_id: 'abc-1', slot_id: 12 });
    for (const bad of [
      { token_id: 'a b', slot_id: 0 },
      { token_id: 'a', slot_id: -1 },
      { token_id: 'a', slot_id: 0.5 },
      { token_id: 'a', slot_id: '01' },
    ])
      expect(SpendTokenBody.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
  });
});
