/**
 * The slots API on the wire, in the document's shapes: snake_case fields, msat values and slot ids
 * as JSON integers. Inside they are bigint (values) and whole numbers (slot ids, times); values
 * stay ≤ 2^53 − 1 (MAX_VALUE_MSAT), and `jsonWithIntegers` writes bigints digit for digit, so no
 * amount ever passes through a floating-point number.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { MAX_VALUE_MSAT } from './period.js';

const DIGITS = /^(0|[1-9][0-9]{0,15})$/;

/** A msat value in a path (`/token/init/:value`): a whole number, no sign, no leading zeros, ≤ MAX_VALUE_MSAT. */
export const ValueParam = z
  .string()
  .regex(DIGITS, 'must be a whole number of msat, without sign, fraction or leading zeros')
  .refine((s) => !DIGITS.test(s) || BigInt(s) <= MAX_VALUE_MSAT, `must be at most ${MAX_VALUE_MSAT} msat`)
  .transform((s) => BigInt(s));

/** Token ids are random UUIDs; anything else that is not plainly an id is refused before a look-up. */
export const TokenId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a token id (letters, digits, - and _)');

const SlotNumber = z.union([
  z.number().int('must be a whole number').min(0, 'must not be negative').max(Number.MAX_SAFE_INTEGER),
  z
    .string()
    .regex(DIGITS, 'must be a whole number')
    .refine((s) => !DIGITS.test(s) || Number(s) <= Number.MAX_SAFE_INTEGER, 'is too large')
    .transform(Number),
]);

/** A slot id in a path (`/slotexpiry/:slot_id`): 1 or more. */
export const SlotIdParam = z
  .string()
  .regex(/^[1-9][0-9]{0,15}$/, 'must be a slot id: a whole number from 1')
  .refine((s) => Number(s) <= Number.MAX_SAFE_INTEGER, 'is too large')
  .transform(Number);

/** `POST /spendtoken`: `slot_id` 0 asks for a new slot. The document sends it as a JSON integer; a decimal string is read too. */
export const SpendTokenBody = z.object({ token_id: TokenId, slot_id: SlotNumber });

/** `GET /feerate` */
export interface FeeRateAnswer {
  fee_rate_per_month_in_msat: bigint;
}

/** `GET /token/init/:value` */
export interface TokenInitAnswer {
  lightning_invoice: { bolt11: string; expires_at: number; payment_hash: string };
  token_id: string;
  value: bigint;
}

/** `GET /token/verify/:token_id`: `amount` is what was paid (0 until it is). */
export interface TokenVerifyAnswer {
  amount: bigint;
  confirmed: boolean;
}

/** `GET /token/buy/:value` with a hub receipt: the verify answer of the token bought, and its id. */
export interface TokenBuyAnswer extends TokenVerifyAnswer {
  token_id: string;
  value: bigint;
}

/** `POST /spendtoken` and `GET /slotexpiry/:slot_id`: the expiry in ISO 8601 (UTC). */
export interface SlotAnswer {
  slot_id: number;
  expiry_date: string;
  token_id?: string;
}

/** JSON with bigints written as JSON integers, exactly (JSON.stringify refuses bigints). */
export function jsonWithIntegers(value: unknown): string {
  // A marker no string in the answer can contain: the digits replace the quoted marker afterwards.
  const mark = `~int${randomBytes(6).toString('hex')}~`;
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${mark}${v.toString(10)}` : v));
  return text.replace(new RegExp(`"${mark}(-?[0-9]+)"`, 'g'), '$1');
}
