/** The store a target string names, for options that take a URL or a file path. */
import { postgresSlotStore } from './postgres-store.js';
import { sqliteSlotStore } from './sqlite-store.js';
import type { SlotStore, SqlStoreOptions } from './store.js';

/**
 * A `postgres://` or `postgresql://` URL opens PostgreSQL; anything else is a SQLite file path
 * (`:memory:` for one that lives as long as the process). Nothing connects until first use; the
 * driver (`better-sqlite3` or `pg`, installed beside the kit) is loaded then.
 */
export function openSlotStore(target: string, opts: SqlStoreOptions = {}): SlotStore {
  if (/^postgres(ql)?:\/\//i.test(target)) return postgresSlotStore({ connectionString: target, ...opts });
  return sqliteSlotStore({ path: target, ...opts });
}
