import pg from 'pg';
import { createGroupCommit } from './pg-group-commit.js';
import type { Db, Queryable } from './types.js';

// int8 (timestamps in ms, sequence numbers) fit a JS number; NUMERIC amounts stay strings.
const types = {
  getTypeParser(oid: number, format?: string) {
    if (oid === 20) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

const converted = new Map<string, string>();
/** `?` → `$n`. The project's SQL never has `?` inside a literal. */
function toPg(sql: string): string {
  let out = converted.get(sql);
  if (out === undefined) {
    let n = 0;
    out = sql.replace(/\?/g, () => `$${++n}`);
    converted.set(sql, out);
  }
  return out;
}

const bind = (params: readonly unknown[] | undefined): unknown[] =>
  (params ?? []).map((p) => (typeof p === 'bigint' ? p.toString() : typeof p === 'boolean' ? (p ? 1 : 0) : p));

const OVER = { closed: false };
/** With `state`, statements after the transaction ended are refused (they would land in the next one). */
function wrap(client: pg.Pool | pg.PoolClient, state: { closed: boolean } = OVER): Queryable {
  const query = (sql: string, params: readonly unknown[] | undefined) => {
    if (state.closed) return Promise.reject(new Error('transaction is over'));
    return client.query(toPg(sql), bind(params));
  };
  return {
    dialect: 'postgres',
    async all<T>(sql: string, params?: readonly unknown[]) {
      return (await query(sql, params)).rows as T[];
    },
    async get<T>(sql: string, params?: readonly unknown[]) {
      return (await query(sql, params)).rows[0] as T | undefined;
    },
    async run(sql: string, params?: readonly unknown[]) {
      return { changes: (await query(sql, params)).rowCount ?? 0 };
    },
  };
}

export interface PostgresOptions {
  connectionString: string;
  max?: number;
  /** Transactions per group commit (pg-group-commit.ts); 1 runs each in a transaction of its own. */
  maxGroup?: number;
  /** Schema to use (created if missing); lets tests run side by side in one database. */
  schema?: string;
}

/**
 * Reads (outside transactions, and snapshots) use a pool; every transaction goes through one
 * writer connection that commits them in groups (pg-group-commit.ts), as SQLite's single writer does.
 */
export function openPostgres(opts: PostgresOptions): Db {
  const connection = {
    connectionString: opts.connectionString,
    types,
    ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}),
  };
  const pool = new pg.Pool({ ...connection, max: opts.max ?? 10 });
  // A pool of one: it reconnects by itself after the writer's connection was lost.
  const writer = new pg.Pool({ ...connection, max: 1 });
  // An idle client that errors (server restart) must not crash the process.
  pool.on('error', () => undefined);
  writer.on('error', () => undefined);
  const base = wrap(pool);
  const groups = createGroupCommit(writer, (client, state) => wrap(client, state), { maxGroup: opts.maxGroup });
  let closed = false;
  let schemaReady: Promise<void> | undefined;
  const ensureSchema = () => {
    if (!opts.schema) return Promise.resolve();
    schemaReady ??= pool.query(`CREATE SCHEMA IF NOT EXISTS "${opts.schema}"`).then(() => undefined);
    return schemaReady;
  };

  async function transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    if (closed) throw new Error('the store is closed');
    await ensureSchema();
    return groups.transaction(fn);
  }

  return {
    dialect: 'postgres',
    all: async (sql, params) => (await ensureSchema(), base.all(sql, params)),
    get: async (sql, params) => (await ensureSchema(), base.get(sql, params)),
    // A lone write is a transaction of its own, queued behind the open group: a write beside the
    // writer could wait for a row the group holds while the group waits for it.
    run: (sql, params) => transaction((tx) => tx.run(sql, params)),
    transaction,
    async snapshot(fn) {
      await ensureSchema();
      const client = await pool.connect();
      try {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        return await fn(wrap(client));
      } finally {
        await client.query('COMMIT').catch(() => undefined);
        client.release();
      }
    },
    async ping() {
      await ensureSchema();
      await pool.query('SELECT 1');
    },
    async close() {
      if (closed) return;
      closed = true;
      // Transactions queued before close still run.
      await groups.drain();
      await Promise.all([pool.end(), writer.end()]);
    },
  };
}
