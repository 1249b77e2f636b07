import type { Migration } from '../migrate.js';

/**
 * Idempotency keys belong to a scope (`payment:<user>`, `deposit:<user>`, `refund:<merchant>`, …)
 * and name the resource they created, whatever its kind: the columns say so instead of calling
 * every scope a user and every resource a payment. Rows from before keep their meaning: a bare
 * user id was a payment key, `merchant:<id>` a refund key, `deposit:<user>` already a scope.
 */
export const idempotencyScope: Migration = {
  id: '013_idempotency_scope',
  up: () => [
    `ALTER TABLE idempotency_keys RENAME COLUMN user_id TO scope`,
    `ALTER TABLE idempotency_keys RENAME COLUMN payment_id TO resource_id`,
    `UPDATE idempotency_keys SET scope = 'refund:' || substr(scope, 10) WHERE scope LIKE 'merchant:%'`,
    `UPDATE idempotency_keys SET scope = 'payment:' || scope WHERE scope NOT LIKE 'refund:%' AND scope NOT LIKE 'deposit:%'`,
  ],
};
