import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openPostgres } from './postgres.js';
import { openSqlite } from './sqlite.js';
import type { Db } from './types.js';

export interface StoreConfig {
  databaseUrl?: string;
  dataDir: string;
}

/** The embedded database's file in the data directory (backups and restores name it too). */
export const sqliteFile = (dataDir: string): string => join(dataDir, 'tollway.sqlite');

/** PostgreSQL when DATABASE_URL is set, otherwise the embedded SQLite file in the data directory. */
export function openStore(cfg: StoreConfig): Db {
  if (cfg.databaseUrl) return openPostgres({ connectionString: cfg.databaseUrl });
  mkdirSync(cfg.dataDir, { recursive: true });
  return openSqlite(sqliteFile(cfg.dataDir));
}

export * from './types.js';
export { migrate, pendingMigrations, type Migration } from './migrate.js';
export { openPostgres } from './postgres.js';
export { openSqlite } from './sqlite.js';
