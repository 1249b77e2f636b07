import Database from 'better-sqlite3';
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { checkCopy } from './backup.js';
import { OpsError } from './errors.js';

export interface RestoreResult {
  /** Where the database that was replaced now is, if there was one. */
  replaced?: string;
}

/**
 * Puts a backup in place of the SQLite database, with no hub running on it.
 *
 * Safety: SQLite itself says whether anyone has the database open. A connection that asks for
 * exclusive locking gets its exclusive lock only when no other connection holds the file open
 * (every connection in WAL mode keeps a shared lock on it while open, idle or not), so a running
 * hub, a doctor or a backup in progress makes the restore refuse. The replaced database is kept
 * beside it (`<file>.before-restore-<time>`), checkpointed first so that it is whole without its
 * WAL; leftover `-wal` and `-shm` files are removed before the backup goes in, since a stale WAL
 * would be replayed onto the restored file.
 *
 * What it cannot stop is a hub started in the milliseconds between that check and the rename:
 * keep the hub stopped (systemctl stop …) until the restore has ended.
 */
export function restoreSqlite(backup: string, target: string, now: Date): RestoreResult {
  if (!existsSync(backup)) throw new OpsError(`there is no backup at ${backup}`);
  checkCopy(backup);
  let replaced: string | undefined;
  if (existsSync(target)) {
    checkpointUnused(target);
    replaced = `${target}.before-restore-${now.toISOString().replace(/[:.]/g, '-')}`;
    renameSync(target, replaced);
  }
  for (const leftover of [`${target}-wal`, `${target}-shm`]) rmSync(leftover, { force: true });
  mkdirSync(dirname(target), { recursive: true });
  const incoming = `${target}.restoring`;
  copyFileSync(backup, incoming);
  renameSync(incoming, target);
  return { replaced };
}

/** Refuses when any other connection has the file open; otherwise folds its WAL into it. */
function checkpointUnused(file: string): void {
  const db = new Database(file, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 0');
    db.pragma('locking_mode = EXCLUSIVE');
    try {
      db.exec('BEGIN EXCLUSIVE');
      db.exec('COMMIT');
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_BUSY')
        throw new OpsError(`${file} is in use (a hub or another program has it open): stop it, then restore`);
      throw err;
    }
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}
