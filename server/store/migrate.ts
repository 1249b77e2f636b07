import type { Db, Dialect } from './types.js';

export interface Migration {
  id: string;
  /** DDL statements, one per entry, for the given engine. */
  up(d: Dialect): string[];
}

/**
 * Applies what has not been applied yet, each migration in its own transaction. On PostgreSQL an
 * advisory lock keeps several hub processes that start together from racing each other.
 */
export async function migrate(db: Db, migrations: readonly Migration[]): Promise<string[]> {
  return db.transaction(async (tx) => {
    if (tx.dialect === 'postgres') await tx.run('SELECT pg_advisory_xact_lock(84020001)');
    await tx.run('CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)');
    const done = new Set((await tx.all<{ id: string }>('SELECT id FROM schema_migrations')).map((r) => r.id));
    const applied: string[] = [];
    for (const m of migrations) {
      if (done.has(m.id)) continue;
      for (const stmt of m.up(tx.dialect)) await tx.run(stmt);
      await tx.run('INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)', [m.id, Date.now()]);
      applied.push(m.id);
    }
    return applied;
  });
}

export async function pendingMigrations(db: Db, migrations: readonly Migration[]): Promise<string[]> {
  const rows = await db.all<{ id: string }>('SELECT id FROM schema_migrations').catch(() => [] as { id: string }[]);
  const done = new Set(rows.map((r) => r.id));
  return migrations.filter((m) => !done.has(m.id)).map((m) => m.id);
}
