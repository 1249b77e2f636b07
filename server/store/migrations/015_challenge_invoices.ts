import { columnTypes } from '../types.js';
import type { Migration } from '../migrate.js';

/**
 * Challenge invoices (server/payments/challenge-invoices.ts): an invoice of the hub's node that a
 * merchant's paywall put in one 402 challenge. Whoever pays it (any Lightning wallet, or a hub
 * balance inside the ledger) pays that merchant, and the payment is recorded for that challenge.
 * The payment hash is unique (credited once); (merchant, challenge) is unique (one invoice per
 * challenge, however often the paywall asks).
 *
 * Payments from outside the hub have no Tollway user: they are recorded against one system user
 * (`OUTSIDE_PAYER_ID`), whose outbox room nobody joins.
 */
export const challengeInvoices: Migration = {
  id: '015_challenge_invoices',
  up(d) {
    const t = columnTypes(d);
    return [
      `CREATE TABLE challenge_invoices (
        payment_hash TEXT PRIMARY KEY,
        merchant_id TEXT NOT NULL REFERENCES merchants(id),
        challenge_id TEXT NOT NULL,
        asset TEXT NOT NULL,
        amount ${t.amount} NOT NULL,
        bolt11 TEXT NOT NULL,
        resource_url TEXT NOT NULL,
        resource_method TEXT NOT NULL,
        resource_body_hash TEXT,
        bind TEXT NOT NULL,
        description TEXT,
        expires_at ${t.ts} NOT NULL,
        status TEXT NOT NULL,
        payment_id TEXT,
        created_at ${t.ts} NOT NULL,
        updated_at ${t.ts} NOT NULL
      )`,
      `CREATE UNIQUE INDEX challenge_invoices_challenge ON challenge_invoices (merchant_id, challenge_id)`,
      `CREATE INDEX challenge_invoices_open ON challenge_invoices (expires_at) WHERE status = 'open'`,
      `INSERT INTO users (id, address, created_at) VALUES ('usr_lightning_outside', 'lightning:outside', 0)`,
    ];
  },
};
