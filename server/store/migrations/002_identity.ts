import { columnTypes } from '../types.js';
import type { Migration } from '../migrate.js';

/** People (by wallet address), sign-in nonces, refresh-token families, merchants. */
export const identity: Migration = {
  id: '002_identity',
  up(d) {
    const t = columnTypes(d);
    return [
      `CREATE TABLE users (
        id TEXT PRIMARY KEY,
        address TEXT NOT NULL UNIQUE,
        created_at ${t.ts} NOT NULL,
        last_seq ${t.int} NOT NULL DEFAULT 0
      )`,
      `CREATE TABLE siwe_nonces (
        nonce TEXT PRIMARY KEY,
        expires_at ${t.ts} NOT NULL,
        used_at ${t.ts}
      )`,
      `CREATE TABLE refresh_tokens (
        id TEXT PRIMARY KEY,
        family_id TEXT NOT NULL,
        user_id TEXT NOT NULL REFERENCES users(id),
        token_hash TEXT NOT NULL UNIQUE,
        created_at ${t.ts} NOT NULL,
        expires_at ${t.ts} NOT NULL,
        rotated_at ${t.ts},
        revoked_at ${t.ts}
      )`,
      `CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id)`,
      `CREATE TABLE merchants (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        webhook_url TEXT,
        payout_address TEXT,
        api_key_hash TEXT NOT NULL UNIQUE,
        webhook_secret TEXT NOT NULL,
        created_at ${t.ts} NOT NULL
      )`,
    ];
  },
};
