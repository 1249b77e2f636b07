import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import type { Config } from '../config.js';
import { sqliteFile } from '../store/index.js';
import { backupSqlite } from './backup.js';
import { OpsError } from './errors.js';
import { restoreSqlite } from './restore.js';

const POSTGRES =
  'the hub is on PostgreSQL (DATABASE_URL): back it up with pg_dump, or continuously with WAL archiving for point-in-time recovery (docs/operations.md)';

/** `npm run hub -- backup <file>`: returns the exit code. */
export async function runBackup(config: Config, args: string[], out: Writable, err: Writable): Promise<number> {
  return command(args, err, async (file) => {
    if (config.databaseUrl) throw new OpsError(POSTGRES);
    const r = await backupSqlite(sqliteFile(config.dataDir), file);
    out.write(`backup written to ${r.file} (${r.bytes} bytes, ${Math.round(r.ms)} ms)\n`);
    if (!config.signingKey)
      out.write(`the signing key is not in it: keep a copy of ${resolve(config.dataDir, 'signing-key.json')} as well\n`);
  });
}

/** `npm run hub -- restore <file>`: returns the exit code. */
export async function runRestore(config: Config, args: string[], out: Writable, err: Writable): Promise<number> {
  return command(args, err, async (file) => {
    if (config.databaseUrl) throw new OpsError(POSTGRES);
    const r = restoreSqlite(file, sqliteFile(config.dataDir), new Date());
    out.write(`restored ${file}${r.replaced ? `; the database it replaced is at ${r.replaced}` : ''}\n`);
    out.write('check it with `npm run hub -- doctor`; on start the hub asks the rails about every unfinished payment\n');
  });
}

async function command(args: string[], err: Writable, run: (file: string) => Promise<void>): Promise<number> {
  const [file, ...rest] = args;
  if (!file || rest.length > 0) {
    err.write('tollway: give one file: backup <file> | restore <file>\n');
    return 2;
  }
  try {
    await run(resolve(file));
    return 0;
  } catch (e) {
    if (!(e instanceof OpsError)) throw e;
    err.write(`tollway: ${e.message}\n`);
    return 1;
  }
}
