import { columnTypes } from '../types.js';
import type { Migration } from '../migrate.js';

/**
 * The SOVR rail's own record of each payment (server/rails/sovr/): the EIP-3009 authorization the
 * person signed, and the one transaction the hub signed for it. The transaction (nonce, hash, raw
 * bytes) is written before it is broadcast, so a restart can only ever re-broadcast that very
 * transaction. `from_block` bounds the log search when another transaction used the authorization.
 * A payment whose broadcast the node refused keeps its transaction with `broadcast_error`, and its
 * nonce goes to the next payment, so nonces are not unique here.
 */
export const sovr: Migration = {
  id: '008_sovr',
  up(d) {
    const t = columnTypes(d);
    return [
      `CREATE TABLE sovr_transactions (
        payment_id TEXT PRIMARY KEY REFERENCES payments(id),
        user_id TEXT NOT NULL,
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
        created_at ${t.ts} NOT NULL,
        updated_at ${t.ts} NOT NULL
      )`,
      `CREATE INDEX sovr_transactions_from ON sovr_transactions (from_address)`,
      `CREATE INDEX sovr_transactions_authorization ON sovr_transactions (from_address, auth_nonce)`,
      `CREATE INDEX sovr_transactions_sender_nonce ON sovr_transactions (sender, nonce)`,
    ];
  },
};
