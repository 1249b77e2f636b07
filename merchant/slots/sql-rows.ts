/** Rows of the two tables as both SQL stores read them (SQLite gives numbers, PostgreSQL strings for BIGINT and NUMERIC). */
import type { SlotRecord, TokenRecord } from './store.js';

type Cell = string | number | bigint | null;

export interface TokenRow {
  token_id: string;
  value_msat: Cell;
  amount_msat: Cell;
  payment_hash: string | null;
  hub_transaction: string | null;
  created_at: Cell;
  confirmed_at: Cell;
  spent_at: Cell;
  slot_id: Cell;
}

export interface SlotRow {
  slot_id: Cell;
  expires_at: Cell;
  created_at: Cell;
}

export const TOKEN_COLUMNS =
  'token_id, value_msat, amount_msat, payment_hash, hub_transaction, created_at, confirmed_at, spent_at, slot_id';
export const SLOT_COLUMNS = 'slot_id, expires_at, created_at';

const msat = (c: Cell): bigint => BigInt(c as string);
// Times and slot ids stay far below 2^53: numbers are exact.
const int = (c: Cell): number => Number(c);
const orNull = <T>(c: Cell, f: (c: Cell) => T): T | null => (c === null || c === undefined ? null : f(c));

export const tokenOf = (r: TokenRow): TokenRecord => ({
  tokenId: r.token_id,
  valueMsat: msat(r.value_msat),
  amountMsat: orNull(r.amount_msat, msat),
  paymentHash: r.payment_hash,
  hubTransaction: r.hub_transaction,
  createdAt: int(r.created_at),
  confirmedAt: orNull(r.confirmed_at, int),
  spentAt: orNull(r.spent_at, int),
  slotId: orNull(r.slot_id, int),
});

export const slotOf = (r: SlotRow): SlotRecord => ({ slotId: int(r.slot_id), expiresAt: int(r.expires_at), createdAt: int(r.created_at) });
