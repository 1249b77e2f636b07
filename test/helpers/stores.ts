import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openPostgres } from '../../server/store/postgres.js';
import { openSqlite } from '../../server/store/sqlite.js';
import type { Db } from '../../server/store/types.js';

export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestStore {
  db: Db;
  /** What a second process would pass to reach the same data (env for a child hub). */
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

export type Engine = 'sqlite' | 'postgres';
export const ENGINES: Engine[] = ['sqlite', 'postgres'];

let counter = 0;

/** A fresh, empty store: a temp SQLite file, or a PostgreSQL schema of its own (dropped after). */
export async function freshStore(engine: Engine): Promise<TestStore> {
  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'tollway-test-'));
    const db = openSqlite(join(dir, 'tollway.sqlite'));
    return {
      db,
      env: { TOLLWAY_DATA_DIR: dir },
      async cleanup() {
        await db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = `t_${process.pid}_${Date.now().toString(36)}_${++counter}`;
  const db = openPostgres({ connectionString: PG_URL, schema, max: 10 });
  await db.ping();
  const url = new URL(PG_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    db,
    env: { DATABASE_URL: url.toString() },
    async cleanup() {
      await db.close();
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    },
  };
}
