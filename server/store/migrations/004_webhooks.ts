import { columnTypes } from '../types.js';
import type { Migration } from '../migrate.js';

/**
 * Webhook deliveries (one per event and merchant endpoint, the unit that is retried and shown in
 * the delivery log), their attempts, and the merchant's endpoint switch (410 Gone disables it).
 */
export const webhooks: Migration = {
  id: '004_webhooks',
  up(d) {
    const t = columnTypes(d);
    return [
      `ALTER TABLE merchants ADD COLUMN webhook_disabled_at ${t.ts}`,
      `ALTER TABLE merchants ADD COLUMN webhook_disabled_reason TEXT`,
      // id is also the webhook-id header: stable across every attempt and redelivery of the event.
      // state: pending (an attempt is due at next_attempt_at) | delivered | failed (gave up, or the
      // endpoint was disabled). claim marks an attempt in flight; next_attempt_at is then its lease.
      // schedule_step: failed attempts of the current automatic series (indexes the retry schedule).
      `CREATE TABLE webhook_deliveries (
        id TEXT PRIMARY KEY,
        merchant_id TEXT NOT NULL REFERENCES merchants(id),
        event_id ${t.int} NOT NULL,
        event_type TEXT NOT NULL,
        payment_id TEXT NOT NULL,
        body TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        schedule_step INTEGER NOT NULL DEFAULT 0,
        next_attempt_at ${t.ts},
        claim TEXT,
        last_status INTEGER,
        last_error TEXT,
        created_at ${t.ts} NOT NULL,
        updated_at ${t.ts} NOT NULL,
        delivered_at ${t.ts}
      )`,
      `CREATE UNIQUE INDEX webhook_deliveries_event ON webhook_deliveries (event_id, merchant_id)`,
      `CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending'`,
      `CREATE INDEX webhook_deliveries_merchant_recent ON webhook_deliveries (merchant_id, created_at, id)`,
      `CREATE TABLE webhook_attempts (
        id ${t.serial},
        delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id),
        attempt INTEGER NOT NULL,
        url TEXT NOT NULL,
        started_at ${t.ts} NOT NULL,
        duration_ms INTEGER NOT NULL,
        status_code INTEGER,
        error TEXT,
        outcome TEXT NOT NULL
      )`,
      `CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, attempt)`,
    ];
  },
};
