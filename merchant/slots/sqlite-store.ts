/**
 * The slots store in a SQLite file (better-sqlite3, loaded on first use). A spend runs in a
 * `BEGIN IMMEDIATE` transaction, which takes the file's write lock before reading, so that
 * processes sharing the file spend a token once too; a writer waits up to 5 s for the lock.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { SLOT_COLUMNS, type SlotRow, slotOf, TOKEN_COLUMNS, type TokenRow, tokenOf } from './sql-rows.js';
import { checkPrefix, type SlotStore, type SqlStoreOptions, type SpendOutcome } from './store.js';

export interface SqliteSlotStoreOptions extends SqlStoreOptions {
  /** The database file, created if missing; `:memory:` for one that lives as long as the process. */
  path: string;
}

export function sqliteSlotStore(opts: SqliteSlotStoreOptions): SlotStore {
  const p = checkPrefix(opts.tablePrefix);
  const tokens = `${p}slot_tokens`;
  const slots = `${p}slots`;
  let opened: Promise<BetterSqlite3.Database> | undefined;
  let closed = false;

  const open = (): Promise<BetterSqlite3.Database> =>
    (opened ??= import('better-sqlite3').then(({ default: Database }) => {
      if (closed) throw new Error('slot store: closed');
      const db = new Database(opts.path);
      db.pragma('journal_mode = WAL');
      db.pragma('busy_timeout = 5000');
      db.exec(`CREATE TABLE IF NOT EXISTS ${tokens} (
  token_id TEXT PRIMARY KEY,
  value_msat TEXT NOT NULL,
  amount_msat TEXT,
  payment_hash TEXT UNIQUE,
  hub_transaction TEXT UNIQUE,
  created_at INTEGER NOT NULL,
  confirmed_at INTEGER,
  spent_at INTEGER,
  slot_id INTEGER
);
CREATE TABLE IF NOT EXISTS ${slots} (
  slot_id INTEGER PRIMARY KEY AUTOINCREMENT,
  expires_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);`);
      return db;
    }));

  const tokenRow = (db: BetterSqlite3.Database, column: 'token_id' | 'hub_transaction', v: string) =>
    db.prepare(`SELECT ${TOKEN_COLUMNS} FROM ${tokens} WHERE ${column} = ?`).get(v) as TokenRow | undefined;

  return {
    async addToken(t) {
      const db = await open();
      db.prepare(`INSERT INTO ${tokens} (token_id, value_msat, payment_hash, created_at) VALUES (?, ?, ?, ?)`).run(
        t.tokenId,
        t.valueMsat.toString(),
        t.paymentHash,
        t.createdAt,
      );
    },
    async token(tokenId) {
      const row = tokenRow(await open(), 'token_id', tokenId);
      return row && tokenOf(row);
    },
    async confirmToken(tokenId, amountMsat, at) {
      const db = await open();
      db.prepare(`UPDATE ${tokens} SET amount_msat = ?, confirmed_at = ? WHERE token_id = ? AND amount_msat IS NULL`).run(
        amountMsat.toString(),
        at,
        tokenId,
      );
      const row = tokenRow(db, 'token_id', tokenId);
      return row && tokenOf(row);
    },
    async tokenForHubPayment(t) {
      const db = await open();
      db.prepare(
        `INSERT INTO ${tokens} (token_id, value_msat, amount_msat, hub_transaction, created_at, confirmed_at)
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (hub_transaction) DO NOTHING`,
      ).run(t.tokenId, t.valueMsat.toString(), t.amountMsat.toString(), t.hubTransaction, t.at, t.at);
      return tokenOf(tokenRow(db, 'hub_transaction', t.hubTransaction)!);
    },
    async spendToken(tokenId, slotId, at, extend) {
      const db = await open();
      const spend = db.transaction((): SpendOutcome => {
        const row = tokenRow(db, 'token_id', tokenId);
        if (!row) return { ok: false, reason: 'unknown-token' };
        const token = tokenOf(row);
        if (token.amountMsat === null) return { ok: false, reason: 'not-paid' };
        if (token.spentAt !== null) return { ok: false, reason: 'spent' };
        const current =
          slotId === 0
            ? undefined
            : (db.prepare(`SELECT ${SLOT_COLUMNS} FROM ${slots} WHERE slot_id = ?`).get(slotId) as SlotRow | undefined);
        if (slotId !== 0 && !current) return { ok: false, reason: 'unknown-slot' };
        const expiresAt = extend(current ? slotOf(current).expiresAt : undefined, token);
        if (expiresAt === undefined) return { ok: false, reason: 'too-far' };
        let id = slotId;
        if (current) db.prepare(`UPDATE ${slots} SET expires_at = ? WHERE slot_id = ?`).run(expiresAt, slotId);
        else id = Number(db.prepare(`INSERT INTO ${slots} (expires_at, created_at) VALUES (?, ?)`).run(expiresAt, at).lastInsertRowid);
        db.prepare(`UPDATE ${tokens} SET spent_at = ?, slot_id = ? WHERE token_id = ?`).run(at, id, tokenId);
        const slot = slotOf(db.prepare(`SELECT ${SLOT_COLUMNS} FROM ${slots} WHERE slot_id = ?`).get(id) as SlotRow);
        return { ok: true, slot, token: tokenOf(tokenRow(db, 'token_id', tokenId)!) };
      });
      return spend.immediate();
    },
    async slot(slotId) {
      const row = (await open()).prepare(`SELECT ${SLOT_COLUMNS} FROM ${slots} WHERE slot_id = ?`).get(slotId) as SlotRow | undefined;
      return row && slotOf(row);
    },
    async close() {
      closed = true;
      if (opened) (await opened.catch(() => undefined))?.close();
    },
  };
}
