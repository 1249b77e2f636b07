/**
 * The ledger's SQL, for both engines. PostgreSQL gets whole batches in one statement through
 * arrays (`unnest`, `= ANY`); SQLite gets multi-row statements of fixed sizes so that the store's
 * prepared-statement cache is reused. Amounts go in as decimal strings and come back as strings.
 */
import type { Queryable } from '../store/types.js';
import type { AccountState, TransferRecord } from './rules.js';
import type { CreateTransferResult, TransferState } from './types.js';

export const ACCOUNT_COLUMNS = 'id, asset, owner, flags, debits_pending, debits_posted, credits_pending, credits_posted, created_at';
export const TRANSFER_COLUMNS =
  'id, debit_account_id, credit_account_id, amount, asset, pending_id, timeout, flags, user_data, code, state, result, created_at, expires_at';

export interface AccountRow {
  id: string;
  asset: string;
  owner: string;
  flags: number;
  debits_pending: string;
  debits_posted: string;
  credits_pending: string;
  credits_posted: string;
  created_at: number;
}

export interface TransferRow {
  id: string;
  debit_account_id: string;
  credit_account_id: string;
  amount: string;
  asset: string;
  pending_id: string | null;
  timeout: number;
  flags: number;
  user_data: string | null;
  code: number;
  state: TransferState;
  result: CreateTransferResult | null;
  created_at: number;
  expires_at: number | null;
}

export const toAccount = (r: AccountRow): AccountState => ({
  id: r.id,
  asset: r.asset,
  owner: r.owner,
  flags: Number(r.flags),
  debitsPending: BigInt(r.debits_pending),
  debitsPosted: BigInt(r.debits_posted),
  creditsPending: BigInt(r.credits_pending),
  creditsPosted: BigInt(r.credits_posted),
  createdAt: Number(r.created_at),
});

export const toRecord = (r: TransferRow): TransferRecord => ({
  id: r.id,
  debitAccountId: r.debit_account_id,
  creditAccountId: r.credit_account_id,
  amount: BigInt(r.amount),
  asset: r.asset,
  pendingId: r.pending_id,
  timeout: Number(r.timeout),
  flags: Number(r.flags),
  userData: r.user_data,
  code: Number(r.code),
  state: r.state,
  result: r.result,
  createdAt: Number(r.created_at),
  expiresAt: r.expires_at === null ? null : Number(r.expires_at),
});

const SQLITE_IN_MAX = 512;
const SQLITE_ROWS_PER_INSERT = 100;

/** SQL text cached per shape, so each is built (and prepared by the store) once. */
const cache = new Map<string, string>();
function cached(key: string, build: () => string): string {
  let sql = cache.get(key);
  if (sql === undefined) cache.set(key, (sql = build()));
  return sql;
}

const placeholders = (n: number, width: number) => {
  const row = `(${Array.from({ length: width }, () => '?').join(', ')})`;
  return Array.from({ length: n }, () => row).join(', ');
};

/**
 * Rows of `table` whose id is in `ids`. With `lock` (PostgreSQL), the rows are locked
 * `FOR UPDATE` in id order, one global order for every caller, so lockers never deadlock.
 */
async function selectByIds<R>(q: Queryable, table: string, columns: string, ids: readonly string[], lock: boolean): Promise<R[]> {
  if (ids.length === 0) return [];
  if (q.dialect === 'postgres') {
    const tail = lock ? ' ORDER BY id COLLATE "C" FOR UPDATE' : '';
    return q.all<R>(`SELECT ${columns} FROM ${table} WHERE id = ANY(?::text[])${tail}`, [ids]);
  }
  const out: R[] = [];
  for (let i = 0; i < ids.length; i += SQLITE_IN_MAX) {
    const chunk = ids.slice(i, i + SQLITE_IN_MAX);
    // Pad to a power of two (repeating an id changes nothing) to bound the statement shapes.
    let size = 1;
    while (size < chunk.length) size *= 2;
    while (chunk.length < size) chunk.push(chunk[chunk.length - 1]!);
    const sql = cached(
      `sel:${table}:${columns}:${size}`,
      () => `SELECT ${columns} FROM ${table} WHERE id IN (${Array(size).fill('?').join(', ')})`,
    );
    for (const row of await q.all<R>(sql, chunk)) out.push(row);
  }
  return out;
}

export async function selectAccounts(q: Queryable, ids: readonly string[], lock = false): Promise<AccountState[]> {
  return (await selectByIds<AccountRow>(q, 'ledger_accounts', ACCOUNT_COLUMNS, ids, lock)).map(toAccount);
}

export async function selectTransfers(q: Queryable, ids: readonly string[], lock = false): Promise<TransferRecord[]> {
  return (await selectByIds<TransferRow>(q, 'ledger_transfers', TRANSFER_COLUMNS, ids, lock)).map(toRecord);
}

/** Inserts new transfer rows, skipping ids that are already taken; returns how many went in. */
export async function insertTransfers(q: Queryable, rows: readonly TransferRecord[]): Promise<number> {
  if (rows.length === 0) return 0;
  if (q.dialect === 'postgres') {
    const cols: unknown[][] = Array.from({ length: 14 }, () => new Array(rows.length));
    const values = new Array<unknown>(14);
    rows.forEach((r, i) => {
      writeTransferValues(r, values, 0);
      for (let c = 0; c < 14; c++) cols[c]![i] = values[c];
    });
    // Sorted by id, so two batches that share ids wait for each other in one order.
    const sql = `INSERT INTO ledger_transfers (${TRANSFER_COLUMNS})
      SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::numeric[], ?::text[], ?::text[], ?::bigint[], ?::int[],
                           ?::text[], ?::int[], ?::text[], ?::text[], ?::bigint[], ?::bigint[])
        AS v(id, d, c, a, s, p, t, f, u, k, st, r, ca, ea)
      ORDER BY v.id COLLATE "C"
      ON CONFLICT (id) DO NOTHING`;
    return (await q.run(sql, cols)).changes;
  }
  let inserted = 0;
  for (let i = 0; i < rows.length; i += SQLITE_ROWS_PER_INSERT) {
    const n = Math.min(SQLITE_ROWS_PER_INSERT, rows.length - i);
    const params = new Array<unknown>(n * 14);
    for (let j = 0; j < n; j++) writeTransferValues(rows[i + j]!, params, j * 14);
    const sql = cached(
      `ins:${n}`,
      () => `INSERT INTO ledger_transfers (${TRANSFER_COLUMNS}) VALUES ${placeholders(n, 14)} ON CONFLICT (id) DO NOTHING`,
    );
    inserted += (await q.run(sql, params)).changes;
  }
  return inserted;
}

/** The row's values in TRANSFER_COLUMNS order, written into `out` from `at`. */
function writeTransferValues(r: TransferRecord, out: unknown[], at: number): void {
  out[at] = r.id;
  out[at + 1] = r.debitAccountId;
  out[at + 2] = r.creditAccountId;
  out[at + 3] = r.amount.toString();
  out[at + 4] = r.asset;
  out[at + 5] = r.pendingId;
  out[at + 6] = r.timeout;
  out[at + 7] = r.flags;
  out[at + 8] = r.userData;
  out[at + 9] = r.code;
  out[at + 10] = r.state;
  out[at + 11] = r.result;
  out[at + 12] = r.createdAt;
  out[at + 13] = r.expiresAt;
}

/**
 * PostgreSQL, one round trip: inserts one new transfer and, only if it went in, writes the
 * accounts' balances (a data-modifying CTE runs whether or not it is referenced, so the update
 * checks the insert's count itself). Returns how many rows were inserted, as insertTransfers does.
 */
export async function insertTransferAndBalancesPg(q: Queryable, row: TransferRecord, accounts: readonly AccountState[]): Promise<number> {
  const values = new Array<unknown>(14);
  writeTransferValues(row, values, 0);
  const r = await q.get<{ n: number | string }>(
    `WITH ins AS (
       INSERT INTO ledger_transfers (${TRANSFER_COLUMNS})
       VALUES (?, ?, ?, ?::numeric, ?, ?, ?::bigint, ?::int, ?, ?::int, ?, ?, ?::bigint, ?::bigint)
       ON CONFLICT (id) DO NOTHING RETURNING 1),
     upd AS (
       UPDATE ledger_accounts AS a
          SET debits_pending = v.dp, debits_posted = v.dpo, credits_pending = v.cp, credits_posted = v.cpo
         FROM unnest(?::text[], ?::numeric[], ?::numeric[], ?::numeric[], ?::numeric[]) AS v(id, dp, dpo, cp, cpo)
        WHERE a.id = v.id AND EXISTS (SELECT 1 FROM ins))
     SELECT count(*) AS n FROM ins`,
    [
      ...values,
      accounts.map((a) => a.id),
      accounts.map((a) => a.debitsPending.toString()),
      accounts.map((a) => a.debitsPosted.toString()),
      accounts.map((a) => a.creditsPending.toString()),
      accounts.map((a) => a.creditsPosted.toString()),
    ],
  );
  return Number(r?.n ?? 0);
}

export async function updateAccountBalances(q: Queryable, accounts: readonly AccountState[]): Promise<void> {
  if (accounts.length === 0) return;
  if (q.dialect === 'postgres') {
    await q.run(
      `UPDATE ledger_accounts AS a
          SET debits_pending = v.dp, debits_posted = v.dpo, credits_pending = v.cp, credits_posted = v.cpo
         FROM unnest(?::text[], ?::numeric[], ?::numeric[], ?::numeric[], ?::numeric[]) AS v(id, dp, dpo, cp, cpo)
        WHERE a.id = v.id`,
      [
        accounts.map((a) => a.id),
        accounts.map((a) => a.debitsPending.toString()),
        accounts.map((a) => a.debitsPosted.toString()),
        accounts.map((a) => a.creditsPending.toString()),
        accounts.map((a) => a.creditsPosted.toString()),
      ],
    );
    return;
  }
  const sql = 'UPDATE ledger_accounts SET debits_pending = ?, debits_posted = ?, credits_pending = ?, credits_posted = ? WHERE id = ?';
  for (const a of accounts) {
    await q.run(sql, [
      a.debitsPending.toString(),
      a.debitsPosted.toString(),
      a.creditsPending.toString(),
      a.creditsPosted.toString(),
      a.id,
    ]);
  }
}

export async function updateTransferStates(q: Queryable, rows: readonly TransferRecord[]): Promise<void> {
  if (rows.length === 0) return;
  if (q.dialect === 'postgres') {
    await q.run(`UPDATE ledger_transfers AS t SET state = v.state FROM unnest(?::text[], ?::text[]) AS v(id, state) WHERE t.id = v.id`, [
      rows.map((r) => r.id),
      rows.map((r) => r.state),
    ]);
    return;
  }
  for (const r of rows) await q.run('UPDATE ledger_transfers SET state = ? WHERE id = ?', [r.state, r.id]);
}
