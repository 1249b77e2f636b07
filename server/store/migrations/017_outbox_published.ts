import { columnTypes } from '../types.js';
import type { Migration } from '../migrate.js';

/**
 * The event broker's own cursor over the outbox (server/notify/broker.ts): `published_at` is set
 * once JetStream has acknowledged the event, independently of `dispatched_at` (sockets and
 * webhooks), so a broker that is down delays only itself. Rows written while no broker is
 * configured stay unpublished until one is (docs/operations.md).
 */
export const outboxPublished: Migration = {
  id: '017_outbox_published',
  up(d) {
    const t = columnTypes(d);
    return [
      `ALTER TABLE outbox ADD COLUMN published_at ${t.ts}`,
      `CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL`,
    ];
  },
};
