/**
 * One store interface, two engines. SQL is written once with `?` placeholders; each engine
 * adapts it. Amounts travel as decimal strings in both directions (TEXT in SQLite,
 * NUMERIC(78,0) in PostgreSQL), timestamps as integer milliseconds.
 */
export type Dialect = 'sqlite' | 'postgres';
export type Row = Record<string, unknown>;

export interface Queryable {
  readonly dialect: Dialect;
  all<T = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  get<T = Row>(sql: string, params?: readonly unknown[]): Promise<T | undefined>;
  run(sql: string, params?: readonly unknown[]): Promise<{ changes: number }>;
}

export interface Db extends Queryable {
  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back when it throws.
   * SQLite transactions are serialised in-process (one writer); PostgreSQL ones run on a pooled
   * client at READ COMMITTED, so code that read-modify-writes rows must lock them (`forUpdate`).
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Runs read-only `fn` on one consistent snapshot without blocking writers (SQLite: a read
   * transaction on the reader connection, which WAL serves from a snapshot; PostgreSQL:
   * REPEATABLE READ READ ONLY). For checks that read many rows, like the ledger invariant.
   */
  snapshot<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** ` FOR UPDATE` where the engine has row locks; SQLite's single writer makes it unnecessary. */
export function forUpdate(q: Queryable, skipLocked = false): string {
  if (q.dialect !== 'postgres') return '';
  return skipLocked ? ' FOR UPDATE SKIP LOCKED' : ' FOR UPDATE';
}

/**
 * Column types that differ between the engines, for migrations. SQLite's serial is the plain rowid
 * alias, not AUTOINCREMENT: ids still only grow while the newest row exists, and it saves a
 * sqlite_sequence write on every insert.
 */
export function columnTypes(d: Dialect) {
  return d === 'postgres'
    ? { amount: 'NUMERIC(78,0)', ts: 'BIGINT', int: 'BIGINT', serial: 'BIGSERIAL PRIMARY KEY', json: 'TEXT' }
    : { amount: 'TEXT', ts: 'INTEGER', int: 'INTEGER', serial: 'INTEGER PRIMARY KEY', json: 'TEXT' };
}
