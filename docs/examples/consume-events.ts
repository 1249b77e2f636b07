/**
 * A consumer of the hub's events on NATS JetStream (docs/operations.md): a durable pull consumer
 * that acknowledges each message after handling it. Stop it and start it again: it goes on where
 * it stopped, because the server keeps the durable consumer's position.
 *
 *   NATS_URL=nats://127.0.0.1:4222 npx tsx docs/examples/consume-events.ts
 *
 * TOLLWAY_EVENTS_STREAM and TOLLWAY_EVENTS_SUBJECT_PREFIX as the hub has them; CONSUMER names this
 * consumer (one name per service that reads the events).
 */
import { AckPolicy, connect, type NatsError } from 'nats';

/** The body of every event: the same as a webhook's. */
interface TollwayEvent {
  type: string; // 'payment.completed', 'payment.refunded', 'topup.credited', 'deposit.completed', 'webhook.disabled', …
  timestamp: string; // when the hub recorded it (ISO 8601)
  data: {
    status: string;
    transactionId?: string; // payment.*
    topupId?: string; // topup.*
    depositId?: string; // deposit.*
    merchantId?: string; // webhook.* (and a payment's payee, as payTo)
    amount?: string;
    asset?: string;
  } & Record<string, unknown>;
}

const servers = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const stream = process.env.TOLLWAY_EVENTS_STREAM ?? 'TOLLWAY';
const prefix = process.env.TOLLWAY_EVENTS_SUBJECT_PREFIX ?? 'tollway';
const name = process.env.CONSUMER ?? 'example';

const nc = await connect({ servers });
const jsm = await nc.jetstreamManager();
try {
  await jsm.consumers.info(stream, name);
} catch (err) {
  if ((err as NatsError).api_error?.err_code !== 10014) throw err; // 10014: no such consumer yet
  await jsm.consumers.add(stream, {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    filter_subject: `${prefix}.>`,
    // One message unacknowledged at a time keeps a payment's events in order even when one is
    // redelivered; raise it for throughput if the order does not matter to this consumer.
    max_ack_pending: 1,
  });
}

// Delivery is at least once: the event id (Nats-Msg-Id) tells a redelivery apart. A real consumer
// records the ids it handled in its own database, in the transaction that handles the event.
const handled = new Set<string>();
const consumer = await nc.jetstream().consumers.get(stream, name);
const messages = await consumer.consume();
const stop = () => void messages.close();
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

for await (const m of messages) {
  const id = m.headers?.get('Nats-Msg-Id') ?? '';
  if (!handled.has(id)) {
    const event = m.json<TollwayEvent>();
    const what = event.data.transactionId ?? event.data.topupId ?? event.data.depositId ?? event.data.merchantId;
    console.log(`${event.timestamp} ${event.type} ${what} ${event.data.amount ?? ''} ${event.data.asset ?? ''}`.trim());
    handled.add(id);
  }
  m.ack();
}
await nc.close();
