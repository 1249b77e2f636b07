import { connect, type ConnectionOptions, type JetStreamClient, type NatsConnection } from 'nats';
import type { Logger } from '../logger.js';
import { brokerMessage } from './broker-message.js';
import { ensureStream, type StreamSettings } from './broker-stream.js';
import type { OutboxSink } from './dispatcher.js';
import type { OutboxRecord } from './outbox.js';

export interface BrokerSinkOptions {
  /** nats:// URLs (they may carry credentials: never logged). */
  urls: string[];
  stream: StreamSettings;
  /** How long one publish waits for JetStream's acknowledgement, ms. */
  publishTimeoutMs?: number;
  /** How long one connection attempt may take, ms. */
  connectTimeoutMs?: number;
  logger?: Pick<Logger, 'info' | 'warn'>;
  /** Connection options over ours (tests: reconnect timing). */
  connection?: Partial<ConnectionOptions>;
}

export interface BrokerSink extends OutboxSink {
  /** Closes the connection; a publish in flight fails (its events stay unpublished). */
  close(): Promise<void>;
}

interface Connected {
  nc: NatsConnection;
  js: JetStreamClient;
}

/**
 * Publishes outbox events to NATS JetStream: an outbox sink for a dispatcher of its own (its own
 * `published_at` cursor), so a broker that is down delays only the broker.
 *
 * An event counts as delivered only once JetStream's PubAck says the stream stored it (or already
 * had it: `duplicate`); anything else throws and the dispatcher tries the batch again later. A
 * user's events are published one after another, each after the previous one's PubAck, so a
 * failure can never leave a later event of a payment in the stream ahead of an earlier one;
 * different users' events go in parallel. Several hub processes on one PostgreSQL may publish the
 * same event; the server keeps one, and the order still holds, since a PubAck (new or duplicate)
 * means the stream has that event before the next is sent. The connection is opened on first use, not at start:
 * a hub whose broker is down starts and takes payments as usual, and its events wait.
 */
export function createBrokerSink(opts: BrokerSinkOptions): BrokerSink {
  const { stream, logger } = opts;
  const publishTimeoutMs = opts.publishTimeoutMs ?? 5000;
  let connecting: Promise<Connected> | null = null;
  let streamReady = false;
  let closed = false;

  async function open(): Promise<Connected> {
    const nc = await connect({
      ...serversAndCredentials(opts.urls),
      name: 'tollway-hub',
      timeout: opts.connectTimeoutMs ?? 5000,
      // Once connected, the client reconnects for as long as it takes; publishes meanwhile fail
      // by their timeout and the dispatcher retries them.
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      ...opts.connection,
    });
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect' || s.type === 'reconnect') logger?.info({ status: s.type }, 'event broker connection');
      }
    })().catch(() => undefined);
    return { nc, js: nc.jetstream({ timeout: publishTimeoutMs }) };
  }

  async function connection(): Promise<Connected> {
    if (closed) throw new Error('the event broker sink is closed');
    connecting ??= open();
    let c: Connected;
    try {
      c = await connecting;
    } catch (err) {
      connecting = null; // the next batch tries again
      throw err;
    }
    if (c.nc.isClosed()) {
      connecting = null;
      streamReady = false;
      return connection();
    }
    if (!streamReady) {
      await ensureStream(await c.nc.jetstreamManager({ timeout: publishTimeoutMs }), stream, logger);
      streamReady = true;
    }
    return c;
  }

  async function publishChain(js: JetStreamClient, chain: OutboxRecord[]): Promise<void> {
    for (const e of chain) {
      const m = brokerMessage(e, stream.subjectPrefix);
      const ack = await js.publish(m.subject, m.body, { msgID: m.id, timeout: publishTimeoutMs });
      // Another stream holding the subject would take our events where no consumer of ours looks.
      if (ack.stream !== stream.name) throw new Error(`event ${m.id} was stored by stream ${ack.stream}, not ${stream.name}`);
    }
  }

  return {
    async deliver(events) {
      const { js } = await connection();
      const chains = new Map<string, OutboxRecord[]>();
      for (const e of events) {
        const chain = chains.get(e.userId);
        if (chain) chain.push(e);
        else chains.set(e.userId, [e]);
      }
      // Every chain ends before the batch fails, so a retry never runs beside a chain still going.
      const results = await Promise.allSettled([...chains.values()].map((c) => publishChain(js, c)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) {
        streamReady = false; // a stream deleted under us is made again on the next try
        throw failed.reason;
      }
    },
    async close() {
      closed = true;
      const c = await connecting?.catch(() => undefined);
      if (c && !c.nc.isClosed()) await c.nc.close();
    },
  };
}

/**
 * nats.js takes credentials as options, not inside the server URLs: `nats://user:pass@host` gives
 * a user and password, `nats://token@host` a token (the first URL that has any counts).
 */
export function serversAndCredentials(urls: string[]): Pick<ConnectionOptions, 'servers' | 'user' | 'pass' | 'token'> {
  const servers: string[] = [];
  let auth: Pick<ConnectionOptions, 'user' | 'pass' | 'token'> = {};
  for (const url of urls) {
    const u = new URL(url);
    servers.push(`${u.protocol}//${u.host}`);
    if (u.username && auth.user === undefined && auth.token === undefined)
      auth = u.password
        ? { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) }
        : { token: decodeURIComponent(u.username) };
  }
  return { servers, ...auth };
}
