import type { Migration } from '../migrate.js';

/**
 * The system user whose sequence orders merchants' outbox events (`webhook.disabled`,
 * server/notify/events.ts): every outbox row takes a user's seq, and a merchant is no user. Its
 * address is no Ethereum address, so nobody signs in as it and no socket joins its room.
 */
export const merchantEvents: Migration = {
  id: '020_merchant_events',
  up() {
    return [`INSERT INTO users (id, address, created_at) VALUES ('usr_merchant_events', 'system:merchant-events', 0)`];
  },
};
