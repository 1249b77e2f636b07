import { createHash } from 'node:crypto';
import type { OutboxRecord } from './outbox.js';
import { webhookBody } from './webhooks.js';

/** What one outbox event becomes on the broker. */
export interface BrokerMessage {
  subject: string;
  /** `Nats-Msg-Id`: the server drops a second message with the same id inside its window. */
  id: string;
  /** The webhook body: `{type, timestamp, data}`. */
  body: string;
}

/**
 * The event's id is derived from what the event says (its user, seq and body), not from the
 * outbox row's number: row numbers start over where a restored backup left them, and a new event
 * that reused the number of one published before the restore would be dropped as its duplicate.
 * The same row always gives the same id, which is all de-duplication after a crash needs.
 */
export function brokerMessage(e: OutboxRecord, subjectPrefix: string): BrokerMessage {
  const body = webhookBody(e);
  const digest = createHash('sha256').update(`${e.userId}\n${e.seq}\n${body}`).digest('base64url');
  return { subject: `${subjectPrefix}.${e.type}`, id: `evt_${digest.slice(0, 27)}`, body };
}
