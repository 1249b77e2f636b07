import type { Server as HttpServer } from 'node:http';
import { createAdapter, type RedisStreamsAdapterOptions } from '@socket.io/redis-streams-adapter';
import { createClient } from 'redis';
import { type Namespace, Server, type Socket } from 'socket.io';
import type { PaymentStatus, PaymentStatusUpdate } from '../../shared/api.js';
import type { DepositStatusUpdate } from '../../shared/deposits.js';
import type { TopupStatusUpdate } from '../../shared/topups.js';
import { CHALLENGE_ID_PATTERN, MERCHANT_ID_PATTERN } from '../../shared/challenge.js';
import { systemClock, type Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Queryable } from '../store/types.js';
import type { OutboxSink } from './dispatcher.js';
import { eventsSince, isDepositEvent, isPaymentEvent, isTopupEvent, type OutboxRecord } from './outbox.js';
import { followSession, sessionRoom } from './socket-session.js';

export interface ServerToClientEvents {
  paymentStatusUpdate(update: PaymentStatusUpdate): void;
  topupStatusUpdate(update: TopupStatusUpdate): void;
  depositStatusUpdate(update: DepositStatusUpdate): void;
}
/**
 * The socket event an outbox row becomes: payments, top-ups and deposits each have their own;
 * a merchant's events (`webhook.*`) have none, as no person's socket is theirs to hear.
 */
function eventName(e: OutboxRecord): keyof ServerToClientEvents | undefined {
  if (isPaymentEvent(e)) return 'paymentStatusUpdate';
  if (isTopupEvent(e)) return 'topupStatusUpdate';
  if (isDepositEvent(e)) return 'depositStatusUpdate';
  return undefined;
}
/** What a page holding a challenge hears: only that it was paid (or failed), nothing about who. */
export interface ChallengeStatus {
  challengeId: string;
  status: PaymentStatus;
}
export interface ChallengeEvents {
  challengeStatus(update: ChallengeStatus): void;
}
// Clients send nothing but the handshake.
export type ClientToServerEvents = Record<string, never>;
export interface SocketData {
  userId: string;
  /** The session (refresh-token family) of the token the socket signed in with, if it named one. */
  sessionId: string | null;
  /** When that token expires (ms since the epoch): the socket is disconnected then. */
  expiresAt: number | null;
}
export type NotifyServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
type NotifySocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

export interface SocketNotifierOptions {
  httpServer: HttpServer;
  /** Where replays are read from (outside any transaction). */
  db: Queryable;
  /**
   * Access-token check; rejects (or throws) when the token is not good. With `expiresAt` the socket
   * is disconnected when the token expires; with `sessionId`, when that session is logged out.
   */
  verifyToken: (token: string) => Promise<{ userId: string; sessionId?: string | null; expiresAt?: number }>;
  /** Whether a session is still signed in: checked for every socket that names one. */
  sessionActive?: (sessionId: string) => Promise<boolean>;
  /** The clock token expiry is measured by. */
  clock?: Clock;
  corsOrigin?: boolean | string | string[];
  /** With it, every hub process sharing this Redis reaches every connected user. */
  redisUrl?: string;
  /** Adapter tuning (streamName, channelPrefix, blockTimeInMs, maxLen…). */
  redisAdapter?: RedisStreamsAdapterOptions;
  path?: string;
  /** Events per database page during a replay. */
  replayPageSize?: number;
  logger?: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
}

export interface SocketNotifier {
  io: NotifyServer;
  sink: OutboxSink;
  /** Disconnects this process's sockets and releases Redis; leaves the HTTP server to its owner. */
  close(): Promise<void>;
  /** Authenticated sockets connected to this process. */
  connectedCount(): number;
  /** Disconnects the sockets of a logged-out session, on every hub process sharing the adapter. */
  disconnectSession(sessionId: string): Promise<void>;
  /** Resolves once Redis is connected (at once without Redis). */
  ready(): Promise<void>;
}

export const INVALID_TOKEN_TYPE = 'https://tollway.dev/problems/invalid-token';
export const userRoom = (userId: string) => `user:${userId}`;
/**
 * A challenge's room is keyed by the merchant that issued it (its `payTo`) as well as its id: a
 * payment is announced to the room of the merchant it paid, so paying one's own merchant with
 * somebody else's challenge id reaches nobody. Neither part can hold a colon.
 */
export const challengeRoom = (merchantId: string, challengeId: string) => `challenge:${merchantId}:${challengeId}`;
/** The namespace where pages wait for their challenge to be paid (the snippet without the extension). */
export const CHALLENGE_NAMESPACE = '/challenges';
const CHALLENGE_FINAL: ReadonlySet<string> = new Set(['completed', 'failed']);

// socket.io-parser's PacketType.EVENT; the sink hands packets to the adapter itself (see below).
const EVENT_PACKET = 2;

function unauthorized(): Error {
  const err = new Error('unauthorized') as Error & { data?: unknown };
  err.data = { type: INVALID_TOKEN_TYPE };
  return err;
}

/**
 * Socket.IO on the hub's HTTP server: authenticated sockets, one room per user, the outbox sink
 * that pushes `paymentStatusUpdate`, and a durable replay from the outbox for clients that say
 * which seq they saw last.
 */
export function createSocketNotifier(opts: SocketNotifierOptions): SocketNotifier {
  const { db, verifyToken, logger } = opts;
  const clock = opts.clock ?? systemClock;
  const pageSize = Math.max(1, opts.replayPageSize ?? 500);

  let redis: ReturnType<typeof createClient> | undefined;
  let connected: Promise<void> = Promise.resolve();
  if (opts.redisUrl) {
    redis = createClient({ url: opts.redisUrl });
    // Without a listener an 'error' event would crash the process; node-redis reconnects itself.
    // The message only: the URL (which may hold a password) is never logged.
    redis.on('error', (err: Error) => logger?.warn({ reason: err.message }, 'redis error'));
    // Connect now, without waiting: commands issued meanwhile are queued by node-redis, and the
    // sink refuses to deliver (so the dispatcher retries) until the connection is ready.
    connected = redis.connect().then(() => undefined);
    connected.catch((err: Error) => logger?.error({ reason: err.message }, 'redis connect failed'));
  }

  const io: NotifyServer = new Server(opts.httpServer, {
    path: opts.path ?? '/socket.io',
    // The extension uses websocket only (no polling in a service worker); browsers may poll.
    transports: ['polling', 'websocket'],
    // The page snippet loads the official client from here (/socket.io/socket.io.min.js).
    serveClient: true,
    // The default 25 s ping keeps an MV3 service worker alive (it needs traffic every < 30 s).
    pingInterval: 25_000,
    pingTimeout: 20_000,
    connectTimeout: 10_000,
    // Clients only send the handshake; anything big is abuse.
    maxHttpBufferSize: 64 * 1024,
    ...(opts.corsOrigin !== undefined ? { cors: { origin: opts.corsOrigin } } : {}),
    // The streams adapter (not the pub/sub one) survives short Redis outages: it resumes reading
    // the stream where it stopped. It duplicates the client for its blocking reads.
    ...(redis ? { adapter: createAdapter(redis, { onlyPlaintext: true, ...opts.redisAdapter }) } : {}),
  });

  io.use((socket, next) => {
    const auth = socket.handshake.auth as Record<string, unknown> | undefined;
    const token = auth?.token;
    if (typeof token !== 'string' || token.length === 0 || token.length > 8192) return next(unauthorized());
    verifyToken(token).then(
      ({ userId, sessionId, expiresAt }) => {
        socket.data.userId = userId;
        socket.data.sessionId = sessionId ?? null;
        socket.data.expiresAt = expiresAt ?? null;
        next();
      },
      (err: unknown) => {
        // The reason's name only: a verifier's message could echo the token.
        logger?.debug({ sid: socket.id, reason: err instanceof Error ? err.name : 'rejected' }, 'socket auth refused');
        next(unauthorized());
      },
    );
  });

  io.on('connection', (socket: NotifySocket) => {
    const { userId } = socket.data;
    // Join first, replay second: every event dispatched from now on reaches the room, and every
    // event committed before the replay query is in the replay, so nothing falls between the two.
    // (An event dispatched during the replay may arrive twice or ahead of older replayed ones;
    // clients dedupe by seq.)
    void socket.join(userRoom(userId));
    // Ends the socket with its token or its session; the replay waits for the session check.
    const staying = followSession(socket, socket.data, { clock, sessionActive: opts.sessionActive, logger });
    const lastSeq = (socket.handshake.auth as Record<string, unknown>).lastSeq;
    if (typeof lastSeq === 'number' && Number.isSafeInteger(lastSeq) && lastSeq >= 0) {
      staying
        .then((ok) => (ok ? replay(socket, userId, lastSeq) : undefined))
        .catch((err: Error) => {
          logger?.warn({ sid: socket.id, userId, reason: err.message }, 'replay failed; dropping the connection');
          // Closing the transport (not a server-side disconnect) makes the client reconnect and ask again.
          socket.conn.close();
        });
    }
  });

  // Knowing the challenge id is the capability: it is random and only the page that got the 402
  // (and the wallet that paid it) holds it. Pages connect without signing in. The page also names
  // the merchant of its challenge (the tollway entry's payTo), and only a payment to that merchant
  // counts: anyone may put any challenge id in a payment, but only the money reaching the merchant
  // that issued the challenge says it was paid.
  const challenges = io.of(CHALLENGE_NAMESPACE) as unknown as Namespace<Record<string, never>, ChallengeEvents>;
  challenges.use((socket, next) => {
    const auth = socket.handshake.auth as Record<string, unknown> | undefined;
    const id = auth?.challengeId;
    if (typeof id !== 'string' || !CHALLENGE_ID_PATTERN.test(id)) return next(new Error('a challengeId is required'));
    const merchantId = auth?.merchantId;
    if (typeof merchantId !== 'string' || !MERCHANT_ID_PATTERN.test(merchantId)) {
      return next(new Error("a merchantId (the challenge's payTo) is required"));
    }
    next();
  });
  challenges.on('connection', (socket) => {
    const { challengeId, merchantId } = socket.handshake.auth as { challengeId: string; merchantId: string };
    void socket.join(challengeRoom(merchantId, challengeId));
    // A payment that finished before the page connected is announced at once.
    db.all<{ status: string }>('SELECT status FROM payments WHERE challenge_id = ? AND merchant_id = ?', [challengeId, merchantId]).then(
      (rows) => {
        const done = rows.find((r) => r.status === 'completed') ?? rows.find((r) => CHALLENGE_FINAL.has(r.status));
        if (done && socket.connected) socket.emit('challengeStatus', { challengeId, status: done.status as PaymentStatus });
      },
      (err: Error) => logger?.warn({ reason: err.message }, 'challenge status lookup failed'),
    );
  });

  /** Final events of payments that answered a challenge → their challenge rooms. */
  async function challengePackets(events: Parameters<OutboxSink['deliver']>[0]): Promise<unknown[]> {
    const final = events.filter(isPaymentEvent).filter((e) => CHALLENGE_FINAL.has(e.payload.status));
    if (final.length === 0) return [];
    const ids = [...new Set(final.map((e) => e.paymentId))];
    // The merchant the payment reached, as the hub recorded it (none for an on-chain payee).
    const rows = await db.all<{ id: string; challenge_id: string; merchant_id: string }>(
      `SELECT id, challenge_id, merchant_id FROM payments
        WHERE challenge_id IS NOT NULL AND merchant_id IS NOT NULL AND id IN (${ids.map(() => '?').join(', ')})`,
      ids,
    );
    const byPayment = new Map(rows.map((r) => [r.id, r]));
    const adapter = challenges.adapter;
    return final.flatMap((e) => {
      const paid = byPayment.get(e.paymentId);
      if (!paid) return [];
      const update: ChallengeStatus = { challengeId: paid.challenge_id, status: e.payload.status };
      return [
        adapter.broadcast(
          { type: EVENT_PACKET, data: ['challengeStatus', update], nsp: CHALLENGE_NAMESPACE },
          { rooms: new Set([challengeRoom(paid.merchant_id, paid.challenge_id)]), except: new Set() },
        ) as unknown,
      ];
    });
  }

  async function replay(socket: NotifySocket, userId: string, from: number): Promise<void> {
    let cursor = from;
    while (socket.connected) {
      const page = await eventsSince(db, userId, cursor, pageSize);
      if (!socket.connected) return;
      for (const e of page) {
        if (isPaymentEvent(e)) socket.emit('paymentStatusUpdate', e.payload);
        else if (isTopupEvent(e)) socket.emit('topupStatusUpdate', e.payload);
        else if (isDepositEvent(e)) socket.emit('depositStatusUpdate', e.payload);
      }
      const last = page[page.length - 1];
      if (!last || page.length < pageSize) return;
      cursor = last.seq;
    }
  }

  const sink: OutboxSink = {
    async deliver(events) {
      // Refusing here keeps the rows undispatched; the dispatcher retries once Redis is back.
      if (redis && !redis.isReady) throw new Error('redis is not connected');
      const adapter = io.of('/').adapter;
      // The packet goes to the adapter directly (what `io.to(room).emit()` does) because its
      // broadcast returns a promise with the cluster adapter: awaiting it means the event is in
      // the Redis stream before the dispatcher marks it dispatched, so the next event of the same
      // user, maybe delivered by another process, cannot overtake it. Publishing them all before
      // awaiting keeps the order: one connection, commands in order.
      const published = events.flatMap((e) => {
        const name = eventName(e);
        if (!name) return [];
        return [
          adapter.broadcast(
            { type: EVENT_PACKET, data: [name, e.payload], nsp: '/' },
            { rooms: new Set([userRoom(e.userId)]), except: new Set() },
          ) as unknown,
        ];
      });
      published.push(...(await challengePackets(events)));
      await Promise.all(published);
    },
  };

  let closing: Promise<void> | undefined;
  return {
    io,
    sink,
    connectedCount: () => io.of('/').sockets.size,
    async disconnectSession(sessionId) {
      // Through the adapter (what io.in(room).disconnectSockets() does) to await it: with Redis it
      // is published to every process, each of which disconnects the room's sockets it holds.
      await io.of('/').adapter.disconnectSockets({ rooms: new Set([sessionRoom(sessionId)]), except: new Set() }, true);
    },
    ready: () => connected,
    close() {
      // Not io.close(): it would also close the HTTP server, which belongs to the hub. `local`,
      // because with the Redis adapter a plain disconnectSockets() reaches every process.
      closing ??= (async () => {
        io.local.disconnectSockets(true);
        await io.of('/').adapter.close();
        await challenges.adapter.close();
        io.engine.close();
        // close() waits for pending replies, so only when connected; a client still trying to
        // (re)connect is dropped outright instead of being waited for.
        if (redis?.isReady) await redis.close().catch(() => undefined);
        else if (redis?.isOpen) redis.destroy();
      })();
      return closing;
    },
  };
}
