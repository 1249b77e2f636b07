/**
 * The ledger's contract: TigerBeetle's account and transfer model on SQL (see docs/protocols.md,
 * §5 "Ledger"). Amounts are bigint; ids are client-chosen strings. Every operation takes
 * the caller's `Queryable` so that a ledger change commits in the same transaction as the state
 * that caused it (a payment row, an outbox event).
 */
import type { Queryable } from '../store/types.js';

export interface AccountFlags {
  /** User wallets: refuse a transfer when debits_pending + debits_posted + amount > credits_posted. */
  debitsMustNotExceedCredits?: boolean;
  /** The mirror image (e.g. a liability that must not go negative). */
  creditsMustNotExceedDebits?: boolean;
}

export interface AccountInput {
  id: string;
  asset: string;
  /** Who the account belongs to (a user id, a merchant id, "system"); informational. */
  owner: string;
  flags?: AccountFlags;
}

export interface Account extends Required<Omit<AccountInput, 'flags'>> {
  flags: Required<AccountFlags>;
  debitsPending: bigint;
  debitsPosted: bigint;
  creditsPending: bigint;
  creditsPosted: bigint;
  createdAt: number;
}

export type CreateAccountResult =
  | 'created'
  | 'exists'
  | 'exists_with_different_asset'
  | 'exists_with_different_owner'
  | 'exists_with_different_flags'
  | 'flags_are_mutually_exclusive'
  | 'id_must_not_be_empty';

export interface TransferFlags {
  /** Reserve now, post or void later. */
  pending?: boolean;
  postPendingTransfer?: boolean;
  voidPendingTransfer?: boolean;
  /** Commit or fail together with the next transfer in the batch. */
  linked?: boolean;
}

export interface TransferInput {
  id: string;
  /** Post/void: may be omitted (taken from the pending transfer); if given must match. */
  debitAccountId?: string;
  creditAccountId?: string;
  /**
   * Plain and pending transfers: the amount (> 0). Post: the amount to post, ≤ the pending
   * amount, the rest released; omitted means the full pending amount. Void: omitted or equal to
   * the pending amount.
   */
  amount?: bigint;
  asset?: string;
  /** The pending transfer a post or void resolves. */
  pendingId?: string;
  /** Pending only: seconds after creation when the reservation lapses (0 = never). */
  timeout?: number;
  flags?: TransferFlags;
  /** Free-form reference (a payment id), kept with the transfer. */
  userData?: string;
  code?: number;
}

export type TransferState = 'posted' | 'pending' | 'voided' | 'expired' | 'failed';

export interface Transfer {
  id: string;
  debitAccountId: string;
  creditAccountId: string;
  amount: bigint;
  asset: string;
  pendingId: string | null;
  timeout: number;
  flags: Required<TransferFlags>;
  userData: string | null;
  code: number;
  /** posted/pending for successful transfers; a pending transfer becomes posted, voided or expired. */
  state: TransferState;
  createdAt: number;
  /** When a pending transfer lapses (ms), or null. */
  expiresAt: number | null;
}

export type CreateTransferResult =
  | 'created'
  | 'exists'
  | 'exists_with_different_flags'
  | 'exists_with_different_debit_account_id'
  | 'exists_with_different_credit_account_id'
  | 'exists_with_different_amount'
  | 'exists_with_different_pending_id'
  | 'exists_with_different_timeout'
  | 'exists_with_different_user_data'
  | 'exists_with_different_code'
  /** Added (TigerBeetle's exists_with_different_ledger): the same id was used on another asset. */
  | 'exists_with_different_asset'
  | 'id_must_not_be_empty'
  | 'id_already_failed'
  | 'linked_event_failed'
  | 'linked_event_chain_open'
  | 'flags_are_mutually_exclusive'
  | 'amount_must_not_be_zero'
  | 'accounts_must_be_different'
  | 'debit_account_not_found'
  | 'credit_account_not_found'
  | 'accounts_must_have_the_same_asset'
  | 'transfer_must_have_the_same_asset_as_accounts'
  | 'pending_id_must_not_be_empty'
  | 'pending_id_must_be_empty'
  | 'pending_id_must_be_different'
  | 'pending_transfer_not_found'
  | 'pending_transfer_not_pending'
  | 'pending_transfer_has_different_debit_account_id'
  | 'pending_transfer_has_different_credit_account_id'
  | 'pending_transfer_has_different_asset'
  | 'pending_transfer_has_different_amount'
  | 'exceeds_pending_transfer_amount'
  | 'pending_transfer_already_posted'
  | 'pending_transfer_already_voided'
  | 'pending_transfer_expired'
  | 'timeout_reserved_for_pending_transfer'
  | 'exceeds_credits'
  | 'exceeds_debits'
  | 'overflows_debits_pending'
  | 'overflows_credits_pending'
  | 'overflows_debits_posted'
  | 'overflows_credits_posted'
  | 'overflows_debits'
  | 'overflows_credits';

export interface InvariantReport {
  ok: boolean;
  assets: { asset: string; debitsPosted: bigint; creditsPosted: bigint; debitsPending: bigint; creditsPending: bigint; ok: boolean }[];
  /** Accounts whose stored balances disagree with the sum of their transfers (should be none). */
  mismatchedAccounts: string[];
}

export interface Ledger {
  /** Must run inside a transaction (`db.transaction`); results line up with the input. */
  createAccounts(tx: Queryable, accounts: readonly AccountInput[]): Promise<CreateAccountResult[]>;
  /** Must run inside a transaction. Results line up with the input, one per transfer. */
  createTransfers(tx: Queryable, transfers: readonly TransferInput[]): Promise<CreateTransferResult[]>;
  lookupAccounts(q: Queryable, ids: readonly string[]): Promise<Account[]>;
  lookupTransfers(q: Queryable, ids: readonly string[]): Promise<Transfer[]>;
  /** Releases pending transfers whose timeout has passed (state → expired); returns their ids. */
  expirePendingTransfers(tx: Queryable, limit?: number): Promise<string[]>;
  /** Per asset: Σ debits = Σ credits, posted and pending; and each account equals its transfers. */
  checkInvariant(q: Queryable): Promise<InvariantReport>;
}
