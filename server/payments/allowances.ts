import type { z } from 'zod';
import type { Allowance, AllowancePeriod } from '../../shared/api.js';
import { periodBounds } from '../../shared/periods.js';
import { canonicalPayee } from '../../shared/payee.js';
import { ProblemError } from '../../shared/problem.js';
import type { Clock } from '../clock.js';
import { forUpdate, type Db, type Queryable } from '../store/types.js';

// Re-exported: callers here read the period rule from the module that uses it.
export { periodBounds };

interface AllowanceRow {
  user_id: string;
  site: string;
  /** '' on rows kept from before allowances named a payee (migration 012): it matches no payment. */
  payee: string;
  asset: string;
  amount: string;
  period: AllowancePeriod;
  spent: string;
  period_start: number;
  updated_at: number;
}

/** What is spent in the current period: nothing once the stored period has ended. */
function current(row: AllowanceRow, now: number): { spent: bigint; start: number; end: number } {
  const { start, end } = periodBounds(row.period, now);
  return { spent: Number(row.period_start) === start ? BigInt(row.spent) : 0n, start, end };
}

function toAllowance(row: AllowanceRow, now: number): z.infer<typeof Allowance> {
  const c = current(row, now);
  const amount = BigInt(row.amount);
  const remaining = amount > c.spent ? amount - c.spent : 0n;
  return {
    site: row.site,
    payee: row.payee === '' ? null : row.payee,
    asset: row.asset,
    amount: amount.toString(),
    period: row.period,
    spent: c.spent.toString(),
    remaining: remaining.toString(),
    periodStart: new Date(c.start).toISOString(),
    resetsAt: new Date(c.end).toISOString(),
  };
}

const COLUMNS = 'user_id, site, payee, asset, amount, period, spent, period_start, updated_at';

/**
 * Budgets for payments that go through without an approval window, each for one site and one payee
 * (shared/payee.ts): a script on the site can spend it on that payee only. The extension checks
 * them too, but only this check counts: it runs inside the payment's transaction with the row
 * locked, so two auto-payments arriving together cannot both spend the same remainder.
 */
export function createAllowances({ db, clock }: { db: Db; clock: Clock }) {
  return {
    async list(userId: string) {
      const rows = await db.all<AllowanceRow>(`SELECT ${COLUMNS} FROM allowances WHERE user_id = ? ORDER BY site, payee, asset`, [userId]);
      const now = clock.now();
      return { data: rows.map((r) => toAllowance(r, now)) };
    },
    /** Sets the amount and period; what was spent in the current period still counts. */
    async put(userId: string, a: { site: string; payee: string; asset: string; amount: string; period: AllowancePeriod }) {
      const now = clock.now();
      const payee = canonicalPayee(a.payee);
      return db.transaction(async (tx) => {
        const row = await tx.get<AllowanceRow>(
          `SELECT ${COLUMNS} FROM allowances WHERE user_id = ? AND site = ? AND payee = ? AND asset = ?${forUpdate(tx)}`,
          [userId, a.site, payee, a.asset],
        );
        const { start } = periodBounds(a.period, now);
        const spent = row && row.period === a.period ? current(row, now).spent : 0n;
        const next: AllowanceRow = {
          user_id: userId,
          site: a.site,
          payee,
          asset: a.asset,
          amount: a.amount,
          period: a.period,
          spent: spent.toString(),
          period_start: start,
          updated_at: now,
        };
        await tx.run(
          `INSERT INTO allowances (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (user_id, site, payee, asset) DO UPDATE SET amount = excluded.amount, period = excluded.period,
             spent = excluded.spent, period_start = excluded.period_start, updated_at = excluded.updated_at`,
          [next.user_id, next.site, next.payee, next.asset, next.amount, next.period, next.spent, next.period_start, next.updated_at],
        );
        return toAllowance(next, now);
      });
    },
    /** `payee` null: the site's allowance kept from before allowances named a payee. */
    async remove(userId: string, site: string, payee: string | null, asset: string): Promise<boolean> {
      const p = payee === null ? '' : canonicalPayee(payee);
      return (
        (await db.run('DELETE FROM allowances WHERE user_id = ? AND site = ? AND payee = ? AND asset = ?', [userId, site, p, asset]))
          .changes === 1
      );
    },
  };
}
export type Allowances = ReturnType<typeof createAllowances>;

/**
 * Inside the payment's transaction: takes `amount` from the allowance for this site and payee, or
 * refuses the payment (the caller's rollback then stores nothing). `payee` is the payment's, as the
 * rail names it (Rail.payeeOf), never anything the request says about itself.
 */
export async function spendAllowance(
  tx: Queryable,
  a: { userId: string; site: string; payee: string; asset: string; amount: bigint; now: number },
): Promise<void> {
  const payee = canonicalPayee(a.payee);
  const row = await tx.get<AllowanceRow>(
    `SELECT ${COLUMNS} FROM allowances WHERE user_id = ? AND site = ? AND payee = ? AND asset = ?${forUpdate(tx)}`,
    [a.userId, a.site, payee, a.asset],
  );
  if (!row) {
    // Said apart because the person can act on it: this site has a budget, but not for this payee.
    const other = await tx.get<{ payee: string }>('SELECT payee FROM allowances WHERE user_id = ? AND site = ? AND asset = ? LIMIT 1', [
      a.userId,
      a.site,
      a.asset,
    ]);
    if (other) {
      throw new ProblemError(
        'allowance-payee-mismatch',
        other.payee === ''
          ? `the allowance for ${a.site} was set before allowances named a payee: set it again`
          : `the allowance for ${a.site} is not for this payee: ask the person`,
      );
    }
    throw new ProblemError('allowance-exceeded', `no allowance for ${a.site} in ${a.asset}: ask the person`);
  }
  const c = current(row, a.now);
  const left = BigInt(row.amount) - c.spent;
  if (a.amount > left)
    throw new ProblemError('allowance-exceeded', `${left > 0n ? left : 0n} ${a.asset} left for ${a.site} this ${row.period}`, {
      remaining: (left > 0n ? left : 0n).toString(),
    });
  await tx.run(
    'UPDATE allowances SET spent = ?, period_start = ?, updated_at = ? WHERE user_id = ? AND site = ? AND payee = ? AND asset = ?',
    [(c.spent + a.amount).toString(), c.start, a.now, a.userId, a.site, payee, a.asset],
  );
}
