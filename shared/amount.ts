import { z } from 'zod';

/** Largest amount a transfer or balance may hold: an unsigned 256-bit integer (EVM uint256). */
export const MAX_AMOUNT = (1n << 256n) - 1n;
const DECIMAL = /^(0|[1-9][0-9]{0,77})$/;

/** Parses a wire amount (base units, decimal string, no sign, no leading zeros). Throws on anything else. */
export function parseAmount(s: string): bigint {
  if (typeof s !== 'string' || !DECIMAL.test(s)) throw new RangeError(`not a decimal amount: ${JSON.stringify(s)}`);
  const v = BigInt(s);
  if (v > MAX_AMOUNT) throw new RangeError('amount exceeds 2^256-1');
  return v;
}

export function formatAmount(v: bigint): string {
  if (v < 0n || v > MAX_AMOUNT) throw new RangeError('amount out of range');
  return v.toString(10);
}

const checked = (positive: boolean) =>
  z
    .string()
    .regex(DECIMAL, 'must be a decimal string of base units without sign, fraction or leading zeros')
    // zod runs every check even after one failed: each must be safe on any string.
    .refine((s) => !DECIMAL.test(s) || BigInt(s) <= MAX_AMOUNT, 'must not exceed 2^256-1')
    .refine((s) => !positive || s !== '0', 'must be greater than zero');

/** Wire amount, validated: a decimal string of base units. */
export const AmountString = checked(false).describe('Amount in base units as a decimal string');
/** Wire amount that must be positive. */
export const PositiveAmountString = checked(true).describe('Positive amount in base units as a decimal string');

// Kept apart from zod so browser code (the page snippet) can format amounts without bundling it.
export { formatUnits } from './units.js';
