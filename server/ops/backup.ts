import Database from 'better-sqlite3';
import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { OpsError } from './errors.js';

export interface BackupResult {
  file: string;
  bytes: number;
  /** How long the copy held its snapshot, ms. */
  ms: number;
}

/**
 * A consistent copy of the live SQLite database, taken while a hub keeps writing to it (SQLite's
 * online backup API through better-sqlite3's `db.backup()`).
 *
 * Every page is copied in one step, so inside one read transaction: one snapshot, the database
 * as some commit left it. In WAL mode that read blocks no writer and waits for none; the hub goes
 * on committing into the WAL meanwhile (which cannot be checkpointed past the snapshot until the
 * copy ends). The API's default of a few pages per step would not do here: a write by another
 * process between two steps restarts the copy, and under steady load it might never end.
 *
 * The copy is written beside the target and renamed into place once SQLite's own check passes,
 * so a backup file that exists is a whole one.
 */
export async function backupSqlite(source: string, target: string): Promise<BackupResult> {
  if (!existsSync(source)) throw new OpsError(`there is no database at ${source}`);
  if (existsSync(target)) throw new OpsError(`${target} exists already: name a new file`);
  if (!existsSync(dirname(target))) throw new OpsError(`there is no directory ${dirname(target)} to write ${target} in`);
  const partial = `${target}.partial`;
  rmSync(partial, { force: true });
  const db = new Database(source, { fileMustExist: true });
  const started = performance.now();
  try {
    db.pragma('busy_timeout = 5000');
    db.pragma('query_only = ON');
    await db.backup(partial, { progress: () => ALL_PAGES });
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  } finally {
    db.close();
  }
  const ms = performance.now() - started;
  try {
    checkCopy(partial);
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  }
  renameSync(partial, target);
  return { file: target, bytes: statSync(target).size, ms };
}

/** As many pages as one step may copy (SQLite takes the count as a 32-bit int). */
const ALL_PAGES = 0x7fffffff;

/** SQLite's structural check, and that it is a Tollway database (it has migrations applied). */
export function checkCopy(file: string): void {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new OpsError(`${file} fails SQLite's check: ${String(check)}`);
    const migrations = db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get() as {
      n: number;
    };
    if (migrations.n !== 1) throw new OpsError(`${file} is not a Tollway database (no schema_migrations table)`);
  } catch (err) {
    if (err instanceof OpsError) throw err;
    throw new OpsError(`${file} is not a readable SQLite database: ${(err as Error).message}`);
  } finally {
    db.close();
  }
}
