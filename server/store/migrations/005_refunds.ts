import type { Migration } from '../migrate.js';

/** How much of a payment has been given back; a payment fully refunded is `refunded`. */
export const refunds: Migration = {
  id: '005_refunds',
  up: (d) => [
    `ALTER TABLE payments ADD COLUMN refunded_amount ${d === 'postgres' ? 'NUMERIC(78,0) NOT NULL DEFAULT 0' : "TEXT NOT NULL DEFAULT '0'"}`,
  ],
};
