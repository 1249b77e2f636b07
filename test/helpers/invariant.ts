import { expect } from 'vitest';
import { createLedger } from '../../server/ledger/ledger.js';
import type { Db } from '../../server/store/types.js';

/** The ledger invariant, asserted: no scenario may create or lose value. */
export async function expectLedgerBalanced(db: Db): Promise<void> {
  const ledger = createLedger({ clock: { now: () => Date.now() } });
  const report = await db.snapshot((q) => ledger.checkInvariant(q));
  expect(report.mismatchedAccounts).toEqual([]);
  for (const a of report.assets) {
    expect(a.debitsPosted, `${a.asset} posted`).toBe(a.creditsPosted);
    expect(a.debitsPending, `${a.asset} pending`).toBe(a.creditsPending);
  }
  expect(report.ok).toBe(true);
}

/** Row counts of every table a payment writes, to prove a refused request wrote nothing. */
const TABLES = ['payments', 'idempotency_keys', 'outbox', 'ledger_transfers', 'ledger_accounts', 'merchants', 'users'] as const;
export async function rowCounts(db: Db): Promise<Record<(typeof TABLES)[number], number>> {
  const out = {} as Record<(typeof TABLES)[number], number>;
  for (const t of TABLES) {
    const r = await db.get<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${t}`);
    out[t] = Number(r?.n ?? 0);
  }
  return out;
}
