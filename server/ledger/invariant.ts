/**
 * The ledger's invariant, for tests and the `doctor` command:
 *  - per asset, Σ debits_posted = Σ credits_posted and Σ debits_pending = Σ credits_pending over
 *    the accounts (summed with bigint: SQLite has no 256-bit arithmetic);
 *  - every account's stored balances equal what its transfers add up to: transfers in state
 *    'posted' (plain ones and posts; a partial post carries only the posted part) count as
 *    posted, reservations still 'pending' as pending; voids, released reservations and failures
 *    count for nothing.
 *
 * PostgreSQL adds up per account in one statement (one snapshot, exact NUMERIC). SQLite reads
 * pages of rows; on a live database run it inside `db.snapshot` for a consistent view.
 */
import type { Queryable } from '../store/types.js';
import { PENDING } from './rules.js';
import type { InvariantReport } from './types.js';

interface Balances {
  dp: bigint;
  dpo: bigint;
  cp: bigint;
  cpo: bigint;
}

interface AccountCheck {
  id: string;
  /** null when transfers name an account that does not exist. */
  asset: string | null;
  stored: Balances | null;
  expected: Balances;
}

const PAGE = 10_000;
const zero = (): Balances => ({ dp: 0n, dpo: 0n, cp: 0n, cpo: 0n });
/** Which transfers count, and how (see above). */
const COUNTS = `(state = 'pending' OR (state = 'posted' AND flags & ${PENDING} = 0))`;

export async function checkInvariant(q: Queryable): Promise<InvariantReport> {
  const checks = q.dialect === 'postgres' ? await perAccountInSql(q) : await perAccountInJs(q);

  const assets = new Map<string, Balances>();
  const mismatched: string[] = [];
  for (const c of checks) {
    if (c.asset === null || c.stored === null) {
      mismatched.push(c.id);
      continue;
    }
    const s = c.stored;
    const e = c.expected;
    if (s.dp !== e.dp || s.dpo !== e.dpo || s.cp !== e.cp || s.cpo !== e.cpo) mismatched.push(c.id);
    let t = assets.get(c.asset);
    if (!t) assets.set(c.asset, (t = zero()));
    t.dp += s.dp;
    t.dpo += s.dpo;
    t.cp += s.cp;
    t.cpo += s.cpo;
  }
  const perAsset = [...assets.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([asset, t]) => ({
      asset,
      debitsPosted: t.dpo,
      creditsPosted: t.cpo,
      debitsPending: t.dp,
      creditsPending: t.cp,
      ok: t.dpo === t.cpo && t.dp === t.cp,
    }));
  mismatched.sort();
  return { ok: mismatched.length === 0 && perAsset.every((a) => a.ok), assets: perAsset, mismatchedAccounts: mismatched };
}

async function perAccountInSql(q: Queryable): Promise<AccountCheck[]> {
  const rows = await q.all<Record<string, string | null>>(`
    WITH moves AS (
      SELECT debit_account_id AS id,
             CASE WHEN state = 'pending' THEN amount ELSE 0 END AS dp,
             CASE WHEN state = 'posted' THEN amount ELSE 0 END AS dpo,
             0::numeric AS cp, 0::numeric AS cpo
        FROM ledger_transfers WHERE ${COUNTS}
      UNION ALL
      SELECT credit_account_id, 0, 0,
             CASE WHEN state = 'pending' THEN amount ELSE 0 END,
             CASE WHEN state = 'posted' THEN amount ELSE 0 END
        FROM ledger_transfers WHERE ${COUNTS}
    ), sums AS (
      SELECT id, SUM(dp) AS dp, SUM(dpo) AS dpo, SUM(cp) AS cp, SUM(cpo) AS cpo FROM moves GROUP BY id
    )
    SELECT COALESCE(a.id, s.id) AS id, a.asset,
           a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted,
           COALESCE(s.dp, 0) AS e_dp, COALESCE(s.dpo, 0) AS e_dpo, COALESCE(s.cp, 0) AS e_cp, COALESCE(s.cpo, 0) AS e_cpo
      FROM ledger_accounts a FULL JOIN sums s ON s.id = a.id`);
  return rows.map((r) => ({
    id: r.id!,
    asset: r.asset ?? null,
    stored:
      r.asset == null
        ? null
        : { dp: BigInt(r.debits_pending!), dpo: BigInt(r.debits_posted!), cp: BigInt(r.credits_pending!), cpo: BigInt(r.credits_posted!) },
    expected: { dp: BigInt(r.e_dp!), dpo: BigInt(r.e_dpo!), cp: BigInt(r.e_cp!), cpo: BigInt(r.e_cpo!) },
  }));
}

async function perAccountInJs(q: Queryable): Promise<AccountCheck[]> {
  const checks = new Map<string, AccountCheck>();
  const check = (id: string) => {
    let c = checks.get(id);
    if (!c) checks.set(id, (c = { id, asset: null, stored: null, expected: zero() }));
    return c;
  };

  type AccountRow = {
    id: string;
    asset: string;
    debits_pending: string;
    debits_posted: string;
    credits_pending: string;
    credits_posted: string;
  };
  for (let after = ''; ; ) {
    const page = await q.all<AccountRow>(
      `SELECT id, asset, debits_pending, debits_posted, credits_pending, credits_posted
         FROM ledger_accounts WHERE id > ? ORDER BY id LIMIT ${PAGE}`,
      [after],
    );
    for (const r of page) {
      const c = check(r.id);
      c.asset = r.asset;
      c.stored = {
        dp: BigInt(r.debits_pending),
        dpo: BigInt(r.debits_posted),
        cp: BigInt(r.credits_pending),
        cpo: BigInt(r.credits_posted),
      };
    }
    if (page.length < PAGE) break;
    after = page[page.length - 1]!.id;
  }

  type MoveRow = { id: string; debit_account_id: string; credit_account_id: string; amount: string; state: string };
  for (let after = ''; ; ) {
    const page = await q.all<MoveRow>(
      `SELECT id, debit_account_id, credit_account_id, amount, state
         FROM ledger_transfers WHERE id > ? AND ${COUNTS} ORDER BY id LIMIT ${PAGE}`,
      [after],
    );
    for (const r of page) {
      const amount = BigInt(r.amount);
      const dr = check(r.debit_account_id).expected;
      const cr = check(r.credit_account_id).expected;
      if (r.state === 'pending') {
        dr.dp += amount;
        cr.cp += amount;
      } else {
        dr.dpo += amount;
        cr.cpo += amount;
      }
    }
    if (page.length < PAGE) break;
    after = page[page.length - 1]!.id;
  }
  return [...checks.values()];
}
