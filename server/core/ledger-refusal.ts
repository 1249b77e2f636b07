import { ProblemError, type ProblemCode } from '../../shared/problem.js';
import type { CreateTransferResult } from '../ledger/types.js';

type Refusal = Exclude<CreateTransferResult, 'created'>;

/**
 * What a caller is told when the ledger refuses a transfer a request asked for (a payment, a
 * refund, a deposit, the faucet). Each code is listed, so a new one does not compile until it is
 * placed: a problem when the request itself is the cause (not enough money, an amount that would
 * take a balance past 2^256-1), `null` when only a hub bug can cause it (ids, flags, accounts the
 * hub names itself); those stay a 500 and are logged.
 */
const AS_PROBLEM: Record<Refusal, ProblemCode | null> = {
  exceeds_credits: 'insufficient-funds',
  // No hub account limits its credits today; if one does, the amount is what it cannot take.
  exceeds_debits: 'amount-too-large',
  overflows_debits_pending: 'amount-too-large',
  overflows_credits_pending: 'amount-too-large',
  overflows_debits_posted: 'amount-too-large',
  overflows_credits_posted: 'amount-too-large',
  overflows_debits: 'amount-too-large',
  overflows_credits: 'amount-too-large',
  amount_must_not_be_zero: 'validation-error',
  exists: null,
  exists_with_different_flags: null,
  exists_with_different_debit_account_id: null,
  exists_with_different_credit_account_id: null,
  exists_with_different_amount: null,
  exists_with_different_pending_id: null,
  exists_with_different_timeout: null,
  exists_with_different_user_data: null,
  exists_with_different_code: null,
  exists_with_different_asset: null,
  id_must_not_be_empty: null,
  id_already_failed: null,
  linked_event_failed: null,
  linked_event_chain_open: null,
  flags_are_mutually_exclusive: null,
  accounts_must_be_different: null,
  debit_account_not_found: null,
  credit_account_not_found: null,
  accounts_must_have_the_same_asset: null,
  transfer_must_have_the_same_asset_as_accounts: null,
  pending_id_must_not_be_empty: null,
  pending_id_must_be_empty: null,
  pending_id_must_be_different: null,
  pending_transfer_not_found: null,
  pending_transfer_not_pending: null,
  pending_transfer_has_different_debit_account_id: null,
  pending_transfer_has_different_credit_account_id: null,
  pending_transfer_has_different_asset: null,
  pending_transfer_has_different_amount: null,
  exceeds_pending_transfer_amount: null,
  pending_transfer_already_posted: null,
  pending_transfer_already_voided: null,
  pending_transfer_expired: null,
  timeout_reserved_for_pending_transfer: null,
};

/** The transfer a request asked for, named for messages: `what` ("payment pay_…"), its amount and asset. */
export interface TransferAsked {
  what: string;
  amount: bigint;
  asset: string;
}

/** The error for a refused transfer: a ProblemError the caller can act on, or a plain Error (a hub bug). */
export function ledgerRefusal(result: CreateTransferResult | undefined, asked: TransferAsked): Error {
  const code = result && result !== 'created' ? AS_PROBLEM[result] : null;
  switch (code) {
    case 'insufficient-funds':
      return new ProblemError(code, `balance too low for ${asked.amount} ${asked.asset}`);
    case 'amount-too-large':
      // Not which balance: whose account is near the limit is none of the caller's business.
      return new ProblemError(code, `${asked.amount} ${asked.asset} would take a balance past 2^256-1 base units`);
    case null:
      return new Error(`ledger refused ${asked.what}: ${result}`);
    default:
      return new ProblemError(code, `the ledger refused ${asked.what}: ${result}`);
  }
}

/** Throws unless the ledger created the transfer: the one place requests map ledger results. */
export function expectCreated(result: CreateTransferResult | undefined, asked: TransferAsked): void {
  if (result !== 'created') throw ledgerRefusal(result, asked);
}
