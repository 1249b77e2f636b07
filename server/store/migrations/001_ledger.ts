import { columnTypes } from '../types.js';
import type { Migration } from '../migrate.js';

/**
 * The ledger (server/ledger/): accounts with their four balances, and every transfer ever
 * attempted under a client-chosen id. Amounts are NUMERIC(78,0) in PostgreSQL (2^256-1 has 78
 * digits) and decimal TEXT in SQLite; timestamps are integer milliseconds. `flags` are bit sets
 * (server/ledger/rules.ts). A transfer that failed for a transient cause is kept with
 * state 'failed' and its `result`, so that its id stays failed.
 */
export const ledger: Migration = {
  id: '001_ledger',
  up(d) {
    const t = columnTypes(d);
    const nonNegative = (col: string) => (d === 'postgres' ? ` CHECK (${col} >= 0)` : '');
    return [
      `CREATE TABLE ledger_accounts (
        id TEXT PRIMARY KEY,
        asset TEXT NOT NULL,
        owner TEXT NOT NULL,
        flags INTEGER NOT NULL,
        debits_pending ${t.amount} NOT NULL${nonNegative('debits_pending')},
        debits_posted ${t.amount} NOT NULL${nonNegative('debits_posted')},
        credits_pending ${t.amount} NOT NULL${nonNegative('credits_pending')},
        credits_posted ${t.amount} NOT NULL${nonNegative('credits_posted')},
        created_at ${t.ts} NOT NULL
      )`,
      `CREATE INDEX ledger_accounts_owner ON ledger_accounts (owner, asset)`,
      `CREATE TABLE ledger_transfers (
        id TEXT PRIMARY KEY,
        debit_account_id TEXT NOT NULL,
        credit_account_id TEXT NOT NULL,
        amount ${t.amount} NOT NULL${nonNegative('amount')},
        asset TEXT NOT NULL,
        pending_id TEXT,
        timeout ${t.int} NOT NULL,
        flags INTEGER NOT NULL,
        user_data TEXT,
        code INTEGER NOT NULL,
        state TEXT NOT NULL,
        result TEXT,
        created_at ${t.ts} NOT NULL,
        expires_at ${t.ts}
      )`,
      // Only live reservations are indexed: the sweeper's work list, free for posted transfers.
      `CREATE INDEX ledger_transfers_expiry ON ledger_transfers (expires_at) WHERE state = 'pending'`,
    ];
  },
};
