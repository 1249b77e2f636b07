/**
 * What a token's value buys: time on a slot, at the merchant's fee rate per month. Integer
 * arithmetic only (bigint msat, whole milliseconds), so the same value always buys the same time.
 *
 * A month is 30 days exactly (2,592,000,000 ms): calendar months differ in length, and a slot
 * bought for "one month" on 31 January must not be worth less than one bought on 1 March.
 */

/** One month of slot time: 30 days, in milliseconds. */
export const MONTH_MS = 30n * 24n * 60n * 60n * 1000n;

/**
 * The largest value the API takes or answers, in msat: 2^53 − 1, so that the document's JSON
 * integers read back exactly in any JSON parser (a JavaScript one included). About 90,000 BTC.
 */
export const MAX_VALUE_MSAT = (1n << 53n) - 1n;

/** The latest expiry a slot can have: the last millisecond of the year 9999, the end of ISO 8601 dates. */
export const MAX_EXPIRY_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

export interface Pricing {
  /** The fee for one month (30 days) of slot time, msat, > 0. */
  feeRatePerMonthMsat: bigint;
  /** The shortest period a token may buy, in months (≥ 1, whole). */
  minMonths: number;
}

/** The time `valueMsat` buys, in whole milliseconds (rounded down). */
export function durationMs(valueMsat: bigint, p: Pricing): bigint {
  return (valueMsat * MONTH_MS) / p.feeRatePerMonthMsat;
}

/** The smallest value a token may have: the minimum period at the fee rate. */
export const minValueMsat = (p: Pricing): bigint => BigInt(p.minMonths) * p.feeRatePerMonthMsat;

/** The value of `months` months at the fee rate (what the join dialog asks an invoice for). */
export const valueForMonths = (months: number, p: Pricing): bigint => BigInt(months) * p.feeRatePerMonthMsat;

/**
 * The slot's new expiry after spending `valueMsat` on it at `nowMs`: a new or expired slot runs from
 * now, a live one is extended from its current expiry (time already paid for is never lost).
 * Undefined when the result would pass MAX_EXPIRY_MS.
 */
export function extendedExpiry(currentExpiryMs: number | undefined, valueMsat: bigint, nowMs: number, p: Pricing): number | undefined {
  const from = BigInt(Math.max(nowMs, currentExpiryMs ?? nowMs));
  const until = from + durationMs(valueMsat, p);
  return until > BigInt(MAX_EXPIRY_MS) ? undefined : Number(until);
}

/** Checks the merchant's pricing once, at start, so a typo fails loudly. */
export function checkPricing(feeRatePerMonthMsat: bigint | string | number, minMonths: number | undefined): Pricing {
  let fee: bigint;
  try {
    fee = typeof feeRatePerMonthMsat === 'bigint' ? feeRatePerMonthMsat : BigInt(String(feeRatePerMonthMsat));
  } catch {
    throw new TypeError('slots: feeRatePerMonthMsat must be a whole number of msat');
  }
  if (typeof feeRatePerMonthMsat === 'string' && !/^[1-9][0-9]*$/.test(feeRatePerMonthMsat))
    throw new TypeError('slots: feeRatePerMonthMsat must be a whole number of msat');
  if (typeof feeRatePerMonthMsat === 'number' && !Number.isSafeInteger(feeRatePerMonthMsat))
    throw new TypeError('slots: feeRatePerMonthMsat must be a whole number of msat');
  if (fee <= 0n || fee > MAX_VALUE_MSAT) throw new TypeError(`slots: feeRatePerMonthMsat must be between 1 and ${MAX_VALUE_MSAT}`);
  const min = minMonths ?? 1;
  if (!Number.isSafeInteger(min) || min < 1) throw new TypeError('slots: minMonths must be a whole number ≥ 1');
  if (BigInt(min) * fee > MAX_VALUE_MSAT) throw new TypeError('slots: minMonths × feeRatePerMonthMsat is past the largest value');
  return { feeRatePerMonthMsat: fee, minMonths: min };
}
