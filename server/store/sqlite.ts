import Database from 'better-sqlite3';
import type { Db, Queryable, Row } from './types.js';

type Stmt = Database.Statement<unknown[], unknown>;

/**
 * better-sqlite3 is synchronous and has one writer, so transactions are serialised through a
 * promise chain: a transaction holds the write connection across its awaits, and nothing else
 * may touch that connection meanwhile. Reads outside a transaction go to a second connection,
 * so they never observe another request's uncommitted writes (WAL gives them a snapshot).
 */
export function openSqlite(file: string): Db {
  const writer = new Database(file);
  writer.pragma('journal_mode = WAL');
  writer.pragma('synchronous = NORMAL');
  writer.pragma('foreign_keys = ON');
  writer.pragma('busy_timeout = 5000');
  const reader = file === ':memory:' ? writer : new Database(file, { readonly: false });
  if (reader !== writer) {
    reader.pragma('busy_timeout = 5000');
    reader.pragma('query_only = ON');
  }

  const cache = new WeakMap<Database.Database, Map<string, Stmt>>();
  const prepare = (conn: Database.Database, sql: string): Stmt => {
    let m = cache.get(conn);
    if (!m) cache.set(conn, (m = new Map()));
    let s = m.get(sql);
    if (!s) {
      s = conn.prepare(sql);
      m.set(sql, s);
    }
    return s;
  };
  const bind = (params: readonly unknown[] | undefined): unknown[] =>
    (params ?? []).map((p) => (typeof p === 'bigint' ? p.toString() : typeof p === 'boolean' ? (p ? 1 : 0) : p));

  const on = (conn: Database.Database, dialectHolder: { closed: boolean }): Queryable => ({
    dialect: 'sqlite',
    async all<T>(sql: string, params?: readonly unknown[]) {
      if (dialectHolder.closed) throw new Error('transaction is over');
      return prepare(conn, sql).all(...bind(params)) as T[];
    },
    async get<T>(sql: string, params?: readonly unknown[]) {
      if (dialectHolder.closed) throw new Error('transaction is over');
      return prepare(conn, sql).get(...bind(params)) as T | undefined;
    },
    async run(sql: string, params?: readonly unknown[]) {
      if (dialectHolder.closed) throw new Error('transaction is over');
      const s = prepare(conn, sql);
      if (!s.reader) return { changes: s.run(...bind(params)).changes };
      s.all(...bind(params));
      return { changes: 0 };
    },
  });

  let tail: Promise<unknown> = Promise.resolve();
  let closed = false;
  const readOnly = on(reader, { closed: false });

  const transaction = <T>(fn: (tx: Queryable) => Promise<T>): Promise<T> => {
    const result = tail.then(async () => {
      const state = { closed: false };
      const tx = on(writer, state);
      writer.exec('BEGIN IMMEDIATE');
      try {
        const value = await fn(tx);
        writer.exec('COMMIT');
        return value;
      } catch (err) {
        if (writer.inTransaction) writer.exec('ROLLBACK');
        throw err;
      } finally {
        state.closed = true;
      }
    });
    tail = result.catch(() => undefined);
    return result;
  };

  return {
    dialect: 'sqlite',
    all: (sql, params) => readOnly.all(sql, params),
    get: (sql, params) => readOnly.get(sql, params),
    // A lone write is a transaction of its own, queued behind any open one.
    run: (sql, params) => transaction((tx) => tx.run(sql, params)),
    transaction,
    async ping() {
      prepare(reader, 'SELECT 1').get();
    },
    async close() {
      if (closed) return;
      closed = true;
      await tail;
      if (reader !== writer) reader.close();
      writer.close();
    },
  };
}

export type { Row };
