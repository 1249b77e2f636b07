import { columnTypes } from '../types.js';
import type { Migration } from '../migrate.js';

/**
 * The SOVR rail's x402 side (server/rails/sovr/):
 *
 * - `sovr_transactions.kind`: `hub` (the hub submits the authorization to its treasury) or `exact`
 *   (a plain x402 merchant's own facilitator submits it; the hub only reserves and watches).
 * - `sovr_settlements`: what the hub's facilitator settled, keyed by the authorization
 *   (authorizer, nonce), so that settling it twice answers the first result. The signed
 *   transaction is written before it is broadcast, like the rail's own.
 * - `sovr_deposits`: a person moving SOVR from their wallet into their hub balance; the same
 *   authorization and transaction columns as `sovr_transactions`, plus the deposit's own state.
 */
export const sovrExact: Migration = {
  id: '009_sovr_exact',
  up(d) {
    const t = columnTypes(d);
    return [
      `ALTER TABLE sovr_transactions ADD COLUMN kind TEXT NOT NULL DEFAULT 'hub'`,
      `CREATE TABLE sovr_settlements (
        authorizer TEXT NOT NULL,
        auth_nonce TEXT NOT NULL,
        chain_id ${t.int} NOT NULL,
        token TEXT NOT NULL,
        to_address TEXT NOT NULL,
        value ${t.amount} NOT NULL,
        valid_after ${t.amount} NOT NULL,
        valid_before ${t.amount} NOT NULL,
        signature TEXT NOT NULL,
        from_block ${t.int} NOT NULL,
        sender TEXT NOT NULL,
        nonce ${t.int} NOT NULL,
        tx_hash TEXT NOT NULL,
        raw_tx TEXT NOT NULL,
        status TEXT NOT NULL,
        transaction_hash TEXT,
        error_reason TEXT,
        error_detail TEXT,
        created_at ${t.ts} NOT NULL,
        updated_at ${t.ts} NOT NULL,
        PRIMARY KEY (authorizer, auth_nonce)
      )`,
      `CREATE INDEX sovr_settlements_open ON sovr_settlements (sender, nonce) WHERE status = 'sent'`,
      `CREATE TABLE sovr_deposits (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id),
        chain_id ${t.int} NOT NULL,
        token TEXT NOT NULL,
        from_address TEXT NOT NULL,
        to_address TEXT NOT NULL,
        value ${t.amount} NOT NULL,
        valid_after ${t.amount} NOT NULL,
        valid_before ${t.amount} NOT NULL,
        auth_nonce TEXT NOT NULL,
        signature TEXT NOT NULL,
        from_block ${t.int} NOT NULL,
        sender TEXT,
        nonce ${t.int},
        tx_hash TEXT,
        raw_tx TEXT,
        broadcast_error TEXT,
        status TEXT NOT NULL,
        failure_reason TEXT,
        transaction_hash TEXT,
        block_explorer_url TEXT,
        created_at ${t.ts} NOT NULL,
        updated_at ${t.ts} NOT NULL
      )`,
      `CREATE INDEX sovr_deposits_user_recent ON sovr_deposits (user_id, created_at, id)`,
      `CREATE INDEX sovr_deposits_authorization ON sovr_deposits (from_address, auth_nonce)`,
      `CREATE INDEX sovr_deposits_open ON sovr_deposits (status) WHERE status IN ('pending', 'submitted')`,
    ];
  },
};
