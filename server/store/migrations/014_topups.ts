import { columnTypes } from '../types.js';
import type { Migration } from '../migrate.js';

/**
 * Top-ups (server/rails/lightning/topups.ts): a person's request to add BTC to their hub balance,
 * with the invoice the hub's node issued for it. The payment hash is unique: a settled invoice is
 * credited once, however many times the node's stream or a look-up reports it.
 *
 * `stream_cursors`: where a rail last stood in a node's stream of events (the Lightning node's
 * settle index), so a restarted hub asks the node to replay from there instead of from nothing.
 */
export const topups: Migration = {
  id: '014_topups',
  up(d) {
    const t = columnTypes(d);
    return [
      `CREATE TABLE topups (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id),
        rail TEXT NOT NULL,
        asset TEXT NOT NULL,
        amount ${t.amount} NOT NULL,
        payment_hash TEXT NOT NULL UNIQUE,
        bolt11 TEXT NOT NULL,
        expires_at ${t.ts} NOT NULL,
        status TEXT NOT NULL,
        credited_amount ${t.amount},
        credited_at ${t.ts},
        created_at ${t.ts} NOT NULL,
        updated_at ${t.ts} NOT NULL
      )`,
      `CREATE INDEX topups_open ON topups (expires_at) WHERE status = 'open'`,
      `CREATE TABLE stream_cursors (
        name TEXT PRIMARY KEY,
        cursor TEXT NOT NULL,
        updated_at ${t.ts} NOT NULL
      )`,
    ];
  },
};
