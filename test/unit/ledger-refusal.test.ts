/**
 * One mapping from ledger results to what an HTTP caller is told, shared by payments, refunds,
 * deposits and the faucet: the caller's own doing is a problem it can act on; what only a hub bug
 * can cause stays a plain error (a logged 500).
 */
import { describe, expect, it } from 'vitest';
import type { CreateTransferResult } from '../../server/ledger/types.js';
import { expectCreated, ledgerRefusal } from '../../server/core/ledger-refusal.js';
import { ProblemError } from '../../shared/problem.js';

const asked = { what: 'payment pay_1', amount: 10n, asset: 'SOVR' };
const OVERFLOWS: CreateTransferResult[] = [
  'overflows_debits_pending',
  'overflows_credits_pending',
  'overflows_debits_posted',
  'overflows_credits_posted',
  'overflows_debits',
  'overflows_credits',
];

describe('ledger refusals as problems', () => {
  it('says amount-too-large (422) for every overflow, without naming whose balance', () => {
    for (const r of OVERFLOWS) {
      const e = ledgerRefusal(r, asked);
      expect(e, r).toBeInstanceOf(ProblemError);
      expect((e as ProblemError).code).toBe('amount-too-large');
      expect((e as ProblemError).status).toBe(422);
      expect(e.message).not.toMatch(/debits|credits/);
    }
  });

  it('says insufficient-funds (400) when the payer cannot cover it', () => {
    const e = ledgerRefusal('exceeds_credits', asked) as ProblemError;
    expect([e.code, e.status, e.message]).toEqual(['insufficient-funds', 400, 'balance too low for 10 SOVR']);
  });

  it('keeps a hub bug a plain error that names the transfer', () => {
    for (const r of [
      'exists_with_different_amount',
      'debit_account_not_found',
      'id_already_failed',
      'pending_transfer_not_found',
    ] as const) {
      const e = ledgerRefusal(r, asked);
      expect(e).not.toBeInstanceOf(ProblemError);
      expect(e.message).toBe(`ledger refused payment pay_1: ${r}`);
    }
    expect(ledgerRefusal(undefined, asked)).not.toBeInstanceOf(ProblemError);
  });

  it('passes a created transfer and throws the refusal otherwise', () => {
    expect(() => expectCreated('created', asked)).not.toThrow();
    expect(() => expectCreated('overflows_credits_posted', asked)).toThrow(ProblemError);
    expect(() => expectCreated('exists', asked)).toThrow(/ledger refused payment pay_1: exists/);
  });
});
