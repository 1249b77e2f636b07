import pg from 'pg';
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

function wrap(client: pg.Pool | pg.PoolClient): Queryable {
  return {
    dialect: 'postgres',
    async all<T>(sql: string, params?: readonly unknown[]) {
      return (await client.query(toPg(sql), bind(params))).rows as T[];
    },
    async get<T>(sql: string, params?: readonly unknown[]) {
      return (await client.query(toPg(sql), bind(params))).rows[0] as T | undefined;
    },
    async run(sql: string, params?: readonly unknown[]) {
      return { changes: (await client.query(toPg(sql), bind(params))).rowCount ?? 0 };
    },
  };
}

export interface PostgresOptions {
  connectionString: string;
  max?: number;
  /** Schema to use (created if missing); lets tests run side by side in one database. */
  schema?: string;
}

export function openPostgres(opts: PostgresOptions): Db {
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    max: opts.max ?? 10,
    // Kept open while idle: a new backend costs PostgreSQL a process and cold caches, and a hub's
    // load comes in bursts. allowExitOnIdle lets a short-lived command exit without closing the pool.
    idleTimeoutMillis: 0,
    allowExitOnIdle: true,
    types,
    ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}),
  });
  // An idle client that errors (server restart) must not crash the process.
  pool.on('error', () => undefined);
  const base = wrap(pool);
  let schemaReady: Promise<void> | undefined;
  const ensureSchema = () => {
    if (!opts.schema) return Promise.resolve();
    schemaReady ??= pool.query(`CREATE SCHEMA IF NOT EXISTS "${opts.schema}"`).then(() => undefined);
    return schemaReady;
  };

  return {
    dialect: 'postgres',
    all: async (sql, params) => (await ensureSchema(), base.all(sql, params)),
    get: async (sql, params) => (await ensureSchema(), base.get(sql, params)),
    run: async (sql, params) => (await ensureSchema(), base.run(sql, params)),
    async transaction(fn) {
      await ensureSchema();
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const value = await fn(wrap(client));
        await client.query('COMMIT');
        return value;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
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
      await pool.end();
    },
  };
}
