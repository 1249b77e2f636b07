import { columnTypes } from '../types.js';
import type { Migration } from '../migrate.js';

/**
 * A payment's idempotent answer kept once. The answer to a request that created and settled a
 * payment in one transaction is the payment exactly as its first outbox event carries it (that
 * event's payload minus `previousStatus` and `seq`), so the key stores where to find that event
 * instead of a third copy of the payment and its receipt: `answer_after_seq` is the user's event
 * seq when the key was claimed, and the answer is the first of the user's events after it that
 * names the key's resource (core/idempotency.ts). Keys claimed before, and every other key, keep
 * their `response_body`.
 */
export const idempotentAnswerEvent: Migration = {
  id: '022_idempotent_answer_event',
  up(d) {
    const t = columnTypes(d);
    return [`ALTER TABLE idempotency_keys ADD COLUMN answer_after_seq ${t.int}`];
  },
};
