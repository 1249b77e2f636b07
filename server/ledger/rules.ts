/**
 * The ledger's rules as pure functions: an input and the state it meets → a result code.
 * No SQL here; the order of the checks is TigerBeetle's (state_machine.zig, create_transfer and
 * post_or_void_pending_transfer), so that when several apply the same one wins.
 */
import type {
  AccountFlags,
  AccountInput,
  CreateAccountResult,
  CreateTransferResult,
  TransferFlags,
  TransferInput,
  TransferState,
} from './types.js';

/** Amounts are unsigned 256-bit integers. */
export const AMOUNT_MAX = (1n << 256n) - 1n;

/** Transfer flag bits as stored in ledger_transfers.flags. */
export const LINKED = 1;
export const PENDING = 2;
export const POST = 4;
export const VOID = 8;

/** Account flag bits as stored in ledger_accounts.flags. */
export const DEBITS_MUST_NOT_EXCEED_CREDITS = 1;
export const CREDITS_MUST_NOT_EXCEED_DEBITS = 2;

export function transferFlagBits(f: TransferFlags | undefined): number {
  if (!f) return 0;
  return (f.linked ? LINKED : 0) | (f.pending ? PENDING : 0) | (f.postPendingTransfer ? POST : 0) | (f.voidPendingTransfer ? VOID : 0);
}

export function transferFlags(bits: number): Required<TransferFlags> {
  return {
    pending: (bits & PENDING) !== 0,
    postPendingTransfer: (bits & POST) !== 0,
    voidPendingTransfer: (bits & VOID) !== 0,
    linked: (bits & LINKED) !== 0,
  };
}

export function accountFlagBits(f: AccountFlags | undefined): number {
  if (!f) return 0;
  return (
    (f.debitsMustNotExceedCredits ? DEBITS_MUST_NOT_EXCEED_CREDITS : 0) |
    (f.creditsMustNotExceedDebits ? CREDITS_MUST_NOT_EXCEED_DEBITS : 0)
  );
}

export function accountFlags(bits: number): Required<AccountFlags> {
  return {
    debitsMustNotExceedCredits: (bits & DEBITS_MUST_NOT_EXCEED_CREDITS) !== 0,
    creditsMustNotExceedDebits: (bits & CREDITS_MUST_NOT_EXCEED_DEBITS) !== 0,
  };
}

/** An account as the ledger works on it in memory. */
export interface AccountState {
  id: string;
  asset: string;
  owner: string;
  flags: number;
  debitsPending: bigint;
  debitsPosted: bigint;
  creditsPending: bigint;
  creditsPosted: bigint;
  createdAt: number;
}

/**
 * A transfer as stored. `state`: plain transfers and posts are 'posted', a live reservation is
 * 'pending' (later 'posted', 'voided' or 'expired'), a void transfer is 'voided' (it moves
 * nothing), and a transient failure is 'failed' with its `result`.
 */
export interface TransferRecord {
  id: string;
  debitAccountId: string;
  creditAccountId: string;
  amount: bigint;
  asset: string;
  pendingId: string | null;
  timeout: number;
  flags: number;
  userData: string | null;
  code: number;
  state: TransferState;
  result: CreateTransferResult | null;
  createdAt: number;
  expiresAt: number | null;
}

/**
 * Failures that depend on the state of the ledger, not on the transfer itself: retrying the same
 * id could succeed later, so the id is recorded as failed (`id_already_failed` on a retry).
 * TigerBeetle's list, plus `pending_transfer_expired` (Tollway's protocol).
 */
export const TRANSIENT: ReadonlySet<CreateTransferResult> = new Set<CreateTransferResult>([
  'debit_account_not_found',
  'credit_account_not_found',
  'pending_transfer_not_found',
  'pending_transfer_expired',
  'exceeds_credits',
  'exceeds_debits',
]);

const isId = (v: unknown) => v === undefined || typeof v === 'string';

/** Malformed input is a programming error (the API validates first): throw, before any write. */
export function assertTransferInput(t: TransferInput, index: number): void {
  const bad = malformed(t);
  if (bad) throw new TypeError(`transfer ${index}: ${bad}`);
}

function malformed(t: TransferInput): string | null {
  if (typeof t?.id !== 'string') return 'id must be a string';
  if (!isId(t.debitAccountId) || !isId(t.creditAccountId) || !isId(t.pendingId)) return 'account and pending ids must be strings';
  if (!isId(t.asset) || !isId(t.userData)) return 'asset and userData must be strings';
  if (t.amount !== undefined && (typeof t.amount !== 'bigint' || t.amount < 0n || t.amount > AMOUNT_MAX)) {
    return 'amount must be a bigint in [0, 2^256-1]';
  }
  if (t.timeout !== undefined && !(Number.isInteger(t.timeout) && t.timeout >= 0 && t.timeout <= 0xffffffff)) {
    return 'timeout must be an integer number of seconds in [0, 2^32-1]';
  }
  if (t.code !== undefined && !(Number.isInteger(t.code) && t.code >= 0 && t.code <= 0x7fffffff))
    return 'code must be a non-negative integer';
  return null;
}

export function assertAccountInput(a: AccountInput, index: number): void {
  if (typeof a?.id !== 'string' || typeof a.asset !== 'string' || typeof a.owner !== 'string') {
    throw new TypeError(`account ${index}: id, asset and owner must be strings`);
  }
}

/** Checks that do not need the database. */
export function checkAccount(a: AccountInput): CreateAccountResult | null {
  if (!a.id) return 'id_must_not_be_empty';
  if (accountFlagBits(a.flags) === (DEBITS_MUST_NOT_EXCEED_CREDITS | CREDITS_MUST_NOT_EXCEED_DEBITS)) return 'flags_are_mutually_exclusive';
  return null;
}

export function accountExists(a: AccountInput, e: { asset: string; owner: string; flags: number }): CreateAccountResult {
  if (accountFlagBits(a.flags) !== e.flags) return 'exists_with_different_flags';
  if (a.asset !== e.asset) return 'exists_with_different_asset';
  if (a.owner !== e.owner) return 'exists_with_different_owner';
  return 'exists';
}

export function flagsAreMutuallyExclusive(bits: number): boolean {
  const kinds = (bits & PENDING ? 1 : 0) + (bits & POST ? 1 : 0) + (bits & VOID ? 1 : 0);
  return kinds > 1;
}

/** What a post or void moves: post → the amount given or the whole reservation; void → all of it. */
export function resolvedAmount(t: TransferInput, bits: number, p: TransferRecord): bigint {
  if (bits & VOID) return t.amount === undefined || t.amount === 0n ? p.amount : t.amount;
  return t.amount ?? p.amount;
}

/** A plain or pending transfer, given its accounts (undefined when not found). */
export function checkTransfer(
  t: TransferInput,
  bits: number,
  dr: AccountState | undefined,
  cr: AccountState | undefined,
): CreateTransferResult | null {
  if (!t.debitAccountId) return 'debit_account_not_found';
  if (!t.creditAccountId) return 'credit_account_not_found';
  if (t.debitAccountId === t.creditAccountId) return 'accounts_must_be_different';
  if (t.pendingId) return 'pending_id_must_be_empty';
  const pending = (bits & PENDING) !== 0;
  if (!pending && t.timeout) return 'timeout_reserved_for_pending_transfer';
  const amount = t.amount ?? 0n;
  if (amount === 0n) return 'amount_must_not_be_zero';
  if (!dr) return 'debit_account_not_found';
  if (!cr) return 'credit_account_not_found';
  if (dr.asset !== cr.asset) return 'accounts_must_have_the_same_asset';
  if (t.asset !== undefined && t.asset !== dr.asset) return 'transfer_must_have_the_same_asset_as_accounts';
  if (pending) {
    if (dr.debitsPending + amount > AMOUNT_MAX) return 'overflows_debits_pending';
    if (cr.creditsPending + amount > AMOUNT_MAX) return 'overflows_credits_pending';
  }
  if (dr.debitsPosted + amount > AMOUNT_MAX) return 'overflows_debits_posted';
  if (cr.creditsPosted + amount > AMOUNT_MAX) return 'overflows_credits_posted';
  const drDebits = dr.debitsPending + dr.debitsPosted + amount;
  const crCredits = cr.creditsPending + cr.creditsPosted + amount;
  if (drDebits > AMOUNT_MAX) return 'overflows_debits';
  if (crCredits > AMOUNT_MAX) return 'overflows_credits';
  if (dr.flags & DEBITS_MUST_NOT_EXCEED_CREDITS && drDebits > dr.creditsPosted) return 'exceeds_credits';
  if (cr.flags & CREDITS_MUST_NOT_EXCEED_DEBITS && crCredits > cr.debitsPosted) return 'exceeds_debits';
  return null;
}

/**
 * A post or void of pending transfer `p` (undefined when not found) at time `now`. A reservation
 * past its timeout answers `pending_transfer_expired`; the caller then releases it if nobody has.
 */
export function checkPostOrVoid(t: TransferInput, bits: number, p: TransferRecord | undefined, now: number): CreateTransferResult | null {
  if (!t.pendingId) return 'pending_id_must_not_be_empty';
  if (t.pendingId === t.id) return 'pending_id_must_be_different';
  if (t.timeout) return 'timeout_reserved_for_pending_transfer';
  if (!p || p.state === 'failed') return 'pending_transfer_not_found';
  if (!(p.flags & PENDING)) return 'pending_transfer_not_pending';
  if (t.debitAccountId && t.debitAccountId !== p.debitAccountId) return 'pending_transfer_has_different_debit_account_id';
  if (t.creditAccountId && t.creditAccountId !== p.creditAccountId) return 'pending_transfer_has_different_credit_account_id';
  if (t.asset !== undefined && t.asset !== p.asset) return 'pending_transfer_has_different_asset';
  const amount = resolvedAmount(t, bits, p);
  if (amount > p.amount) return 'exceeds_pending_transfer_amount';
  if (bits & VOID && amount < p.amount) return 'pending_transfer_has_different_amount';
  if (p.state === 'posted') return 'pending_transfer_already_posted';
  if (p.state === 'voided') return 'pending_transfer_already_voided';
  if (p.state === 'expired') return 'pending_transfer_expired';
  if (p.expiresAt !== null && p.expiresAt <= now) return 'pending_transfer_expired';
  return null;
}

/**
 * The same id again: `exists` when it is the same transfer, else the first field that differs.
 * `p` is the pending transfer a post/void refers to (omitted fields of a post/void mean "as the
 * pending transfer", so they are compared through it).
 */
export function transferExists(t: TransferInput, bits: number, e: TransferRecord, p: TransferRecord | undefined): CreateTransferResult {
  if (bits !== e.flags) return 'exists_with_different_flags';
  if ((t.pendingId || null) !== e.pendingId) return 'exists_with_different_pending_id';
  if ((t.timeout ?? 0) !== e.timeout) return 'exists_with_different_timeout';
  if (bits & (POST | VOID)) {
    if (t.debitAccountId && t.debitAccountId !== e.debitAccountId) return 'exists_with_different_debit_account_id';
    if (t.creditAccountId && t.creditAccountId !== e.creditAccountId) return 'exists_with_different_credit_account_id';
    const amount = p ? resolvedAmount(t, bits, p) : (t.amount ?? e.amount);
    if (amount !== e.amount) return 'exists_with_different_amount';
    if ((t.userData ?? p?.userData ?? e.userData) !== e.userData) return 'exists_with_different_user_data';
    if (t.code && t.code !== e.code) return 'exists_with_different_code';
    if (t.asset !== undefined && t.asset !== e.asset) return 'exists_with_different_asset';
    return 'exists';
  }
  if ((t.debitAccountId ?? '') !== e.debitAccountId) return 'exists_with_different_debit_account_id';
  if ((t.creditAccountId ?? '') !== e.creditAccountId) return 'exists_with_different_credit_account_id';
  if ((t.amount ?? 0n) !== e.amount) return 'exists_with_different_amount';
  if ((t.userData ?? null) !== e.userData) return 'exists_with_different_user_data';
  if ((t.code ?? 0) !== e.code) return 'exists_with_different_code';
  if (t.asset !== undefined && t.asset !== e.asset) return 'exists_with_different_asset';
  return 'exists';
}
