import { columnTypes } from '../types.js';
import type { Migration } from '../migrate.js';

/** Payments, the idempotency keys that created them, and the outbox of their status events. */
export const payments: Migration = {
  id: '003_payments',
  up(d) {
    const t = columnTypes(d);
    return [
      `CREATE TABLE payments (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id),
        merchant_id TEXT REFERENCES merchants(id),
        rail TEXT NOT NULL,
        pay_to TEXT NOT NULL,
        amount ${t.amount} NOT NULL,
        asset TEXT NOT NULL,
        status TEXT NOT NULL,
        transfer_id TEXT NOT NULL,
        resource_url TEXT,
        resource_method TEXT,
        resource_body_hash TEXT,
        bind TEXT,
        description TEXT,
        failure_reason TEXT,
        receipt_token TEXT,
        transaction_hash TEXT,
        block_explorer_url TEXT,
        preimage TEXT,
        created_at ${t.ts} NOT NULL,
        updated_at ${t.ts} NOT NULL
      )`,
      `CREATE INDEX payments_user_recent ON payments (user_id, created_at, id)`,
      `CREATE INDEX payments_merchant_recent ON payments (merchant_id, created_at, id)`,
      `CREATE INDEX payments_open ON payments (status) WHERE status IN ('pending', 'submitted')`,
      `CREATE TABLE idempotency_keys (
        user_id TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        payment_id TEXT,
        state TEXT NOT NULL,
        response_status INTEGER,
        response_body TEXT,
        created_at ${t.ts} NOT NULL,
        expires_at ${t.ts} NOT NULL,
        PRIMARY KEY (user_id, key)
      )`,
      `CREATE INDEX idempotency_keys_payment ON idempotency_keys (payment_id)`,
      `CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at)`,
      `CREATE TABLE outbox (
        id ${t.serial},
        user_id TEXT NOT NULL,
        merchant_id TEXT,
        payment_id TEXT NOT NULL,
        type TEXT NOT NULL,
        seq ${t.int} NOT NULL,
        payload TEXT NOT NULL,
        created_at ${t.ts} NOT NULL,
        dispatched_at ${t.ts}
      )`,
      `CREATE UNIQUE INDEX outbox_user_seq ON outbox (user_id, seq)`,
      `CREATE INDEX outbox_undispatched ON outbox (id) WHERE dispatched_at IS NULL`,
    ];
  },
};
