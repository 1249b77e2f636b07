import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadSigningKeys, type SigningKeys } from './auth/keys.js';
import { createMerchants } from './auth/merchants.js';
import { createAuthService } from './auth/service.js';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import { createHttpApp } from './http/router.js';
import { createLedger } from './ledger/ledger.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics } from './metrics.js';
import { createBrokerSink } from './notify/broker.js';
import { createOutboxDispatcher } from './notify/dispatcher.js';
import { purgeDispatched } from './notify/outbox.js';
import { createSocketNotifier } from './notify/socket.js';
import {
  createWebhookSink,
  createWebhookWorker,
  DEFAULT_WEBHOOK_SCHEDULE_MS,
  purgeWebhookDeliveries,
  type WebhookWorkerOptions,
} from './notify/webhooks.js';
import { buildOpenApi } from './openapi.js';
import { createAccountDirectory } from './core/accounts.js';
import { createAllowances } from './payments/allowances.js';
import { createWallets } from './payments/balances.js';
import { purgeExpiredKeys } from './core/idempotency.js';
import { createReceiptIssuer } from './payments/receipts.js';
import { createChallengeInvoices } from './payments/challenge-invoices.js';
import { createPaymentIds, createPaymentsService, type PaymentsService } from './payments/service.js';
import { RAIL_MODULES } from './rails/index.js';
import type { RailParts } from './rails/module.js';
import type { RailOutcome, Rails } from './rails/types.js';
import type { CreatePaymentRequest, Payment, RailsInfo } from '../shared/api.js';
import { migrate, pendingMigrations } from './store/migrate.js';
import { MIGRATIONS } from './store/migrations/index.js';
import { openStore, type Db } from './store/index.js';

export interface HubOptions {
  config: Config;
  clock?: Clock;
  logger?: Logger;
  /** A store the caller opened (tests); otherwise opened from the config and closed with the hub. */
  db?: Db;
  keys?: SigningKeys;
  /** How often the sweeper releases lapsed reservations, ms. */
  sweepIntervalMs?: number;
  /** Rails to add or replace, built from the hub's parts (tests, further rails). */
  rails?: (parts: RailParts) => Rails;
  /** Webhook worker settings to override (tests: a short schedule, a fake transport or DNS). */
  webhooks?: Partial<Pick<WebhookWorkerOptions, 'schedule' | 'timeoutMs' | 'fetch' | 'resolve' | 'jitter' | 'random' | 'pollIntervalMs'>>;
}

export type { RailParts };

export interface Hub {
  url: string;
  port: number;
  server: Server;
  db: Db;
  /** The payment state machine, for rails and tools running in this process. */
  payments: PaymentsService;
  close(): Promise<void>;
}

/**
 * Builds the hub from its parts and starts it: migrations, recovery of unfinished payments,
 * HTTP, Socket.IO, the outbox dispatcher and the sweeper. Everything is passed in or built here;
 * nothing is a module-level singleton, so tests run several hubs in one process.
 */
export async function startHub(opts: HubOptions): Promise<Hub> {
  const { config } = opts;
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? createLogger(config.logLevel);
  const db = opts.db ?? openStore(config);
  const ownsDb = !opts.db;

  await migrate(db, MIGRATIONS);
  const keys =
    opts.keys ?? (await loadSigningKeys({ dataDir: config.dataDir, envKey: config.signingKey, previousKeys: config.previousSigningKeys }));
  const metrics = createMetrics();
  const ledger = createLedger({ clock });
  // A logout must reach the session's sockets, which the notifier (built later) holds.
  let disconnectSession = (_sessionId: string) => {};
  const auth = createAuthService({
    db,
    keys,
    clock,
    publicUrl: config.publicUrl,
    accessTtlSeconds: config.accessTokenTtl,
    noncesPerClient: config.siweNoncesPerClient,
    noncesTotal: config.siweNoncesTotal,
    onSessionRevoked: (sessionId) => disconnectSession(sessionId),
  });
  let pokeWebhooks = () => {};
  const merchants = createMerchants({
    db,
    clock,
    allowPrivateWebhooks: config.webhookAllowPrivate,
    onWebhookScheduled: () => pokeWebhooks(),
  });
  const accounts = createAccountDirectory(ledger);

  // Background work keeps its promise, so close() can wait for it instead of racing it.
  const inFlight = new Set<Promise<void>>();
  const closed = new AbortController();
  const spawn = (name: string, work: (signal: AbortSignal) => Promise<unknown>) => {
    if (closed.signal.aborted) return;
    const p: Promise<void> = work(closed.signal)
      .then(() => undefined)
      .catch((err) => logger.error({ err }, `${name} failed`))
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  // Wakes the outbox dispatcher (built later) after a commit that wrote events.
  let poke = () => {};
  let applyOutcome: (id: string, outcome: RailOutcome) => Promise<Payment> = () => Promise.reject(new Error('payments not ready'));
  const railParts: RailParts = {
    db,
    accounts,
    ledger,
    clock,
    logger,
    report: (id, outcome) => applyOutcome(id, outcome),
    eventWritten: () => poke(),
    spawn,
    signal: closed.signal,
    publicUrl: config.publicUrl,
  };
  // Every rail the registry knows and the environment turned on; tests may add or replace rails.
  const rails: Rails = {};
  for (const m of RAIL_MODULES) {
    const settings = (config.rails as Record<string, unknown>)[m.name];
    if (settings !== undefined) rails[m.name] = (m.create as (p: RailParts, s: unknown) => Rails[typeof m.name])(railParts, settings);
  }
  Object.assign(rails, opts.rails?.(railParts));
  const issueReceipt = createReceiptIssuer({ keys, issuer: config.publicUrl, ttlSeconds: config.receiptTtl, now: () => clock.now() });

  // The hub's node as a receiver of payments (the Lightning rail), when there is one.
  const receiving = Object.values(rails).find((r) => r?.receiving)?.receiving;
  const challengeInvoices = createChallengeInvoices({
    db,
    ledger,
    accounts,
    clock,
    logger,
    issueReceipt,
    receiving,
    newPaymentId: createPaymentIds(),
    onEvent: () => poke(),
    spawn,
  });
  const service = createPaymentsService({
    db,
    ledger,
    accounts,
    clock,
    rails,
    issueReceipt,
    ownInvoices: challengeInvoices,
    paymentTimeout: config.paymentTimeout,
    onEvent: () => poke(),
    onStatus: (status) => metrics.payments.inc({ status }),
  });
  applyOutcome = service.applyOutcome;
  const payments: PaymentsService = {
    ...service,
    async create(user, key, body: CreatePaymentRequest, rawBody) {
      await rails[body.rail]?.checkRequest?.({ payTo: body.payTo, amount: BigInt(body.amount), asset: body.asset });
      return service.create(user, key, body, rawBody);
    },
  };

  // Recovery before serving: every unfinished payment is carried to where its rail says it is,
  // and reservations that lapsed while the hub was down are released.
  const sweep = async () => {
    await db.transaction((tx) => ledger.expirePendingTransfers(tx, 500));
    await payments.failLapsed();
  };
  await sweep();
  const resumed = await payments.resumeOpen();
  if (resumed) logger.info({ resumed }, 'resumed unfinished payments');

  const app = createHttpApp({
    config,
    logger,
    metrics,
    auth,
    wallets: createWallets({ db, ledger, accounts }),
    allowances: createAllowances({ db, clock }),
    payments,
    merchants,
    challengeInvoices,
    ready: async () => {
      await db.ping();
      return (await pendingMigrations(db, MIGRATIONS)).length === 0;
    },
    openapi: (() => {
      let doc: unknown;
      return () => (doc ??= buildOpenApi(config.publicUrl, config.dev));
    })(),
    rails: () => railsInfo(rails),
    // A rail that brings an x402 facilitator core (SOVR, from the environment or a test's rails).
    facilitator: config.x402Facilitator === 'off' ? undefined : Object.values(rails).find((r) => r?.facilitator)?.facilitator,
    // A node whose webhooks are hints (LNbits): POST /lightning/lnbits-webhook asks it about the payment named.
    lnbitsWebhook: receiving?.webhookHint ? (body) => receiving.webhookHint!(body) : undefined,
    ilp: rails.ilp?.interledger,
  });
  const server = createServer(app);
  const notifier = createSocketNotifier({
    httpServer: server,
    db,
    verifyToken: (t) => auth.verifyAccessTokenSession(t),
    sessionActive: (sessionId) => auth.isSessionActive(sessionId),
    clock,
    corsOrigin: true,
    redisUrl: config.redisUrl,
    logger,
  });
  disconnectSession = (sessionId) =>
    void notifier
      .disconnectSession(sessionId)
      .catch((err: Error) => logger.warn({ reason: err.message }, 'disconnecting a logged-out session failed'));
  // Webhooks: the sink only records deliveries (one transaction per batch, no HTTP in the
  // dispatcher's path); the worker sends them, retries them and keeps the delivery log.
  const webhookOverrides = opts.webhooks ?? {};
  const webhookWorker = createWebhookWorker({
    ...webhookOverrides,
    db,
    clock,
    logger,
    allowPrivateTargets: config.webhookAllowPrivate,
    timeoutMs: webhookOverrides.timeoutMs ?? config.webhookTimeout * 1000,
    schedule: webhookOverrides.schedule ?? DEFAULT_WEBHOOK_SCHEDULE_MS,
    onOutcome: (outcome) => {
      metrics.webhookDeliveries.inc({ outcome });
      if (outcome === 'disabled') poke(); // its webhook.disabled event is in the outbox
    },
  });
  pokeWebhooks = () => webhookWorker.poke();
  const webhookSink = createWebhookSink({ db, clock, onRecorded: () => webhookWorker.poke() });
  const dispatcher = createOutboxDispatcher({
    db,
    clock,
    sinks: [notifier.sink, webhookSink],
    onDelivered: (lagMs) => metrics.outboxLag.set(lagMs / 1000),
  });
  // Events to NATS JetStream on a cursor of their own (published_at): a broker that is down
  // delays its events, never the sockets, the webhooks or a payment.
  const broker = config.events
    ? createBrokerSink({
        urls: config.events.urls,
        stream: {
          name: config.events.stream,
          subjectPrefix: config.events.subjectPrefix,
          duplicateWindowSeconds: config.events.duplicateWindowSeconds,
        },
        logger,
      })
    : undefined;
  const publisher = broker
    ? createOutboxDispatcher({ db, clock, sinks: [broker], doneColumn: 'published_at', unlocked: true, logger })
    : undefined;
  poke = () => {
    dispatcher.poke();
    publisher?.poke();
  };
  dispatcher.start();
  publisher?.start();
  webhookWorker.start();

  const background = (name: string, work: () => Promise<unknown>) => () => spawn(name, work);
  const timers = [
    setInterval(background('sweep', sweep), opts.sweepIntervalMs ?? 5000),
    setInterval(
      background('purge', () => {
        const now = clock.now();
        return db.transaction(async (tx) => {
          await purgeExpiredKeys(tx, now);
          await purgeDispatched(tx, now - 7 * 24 * 3600 * 1000, { keepUnpublished: broker !== undefined });
          await purgeWebhookDeliveries(tx, now - 30 * 24 * 3600 * 1000);
        });
      }),
      3600 * 1000,
    ),
  ];
  for (const t of timers) t.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
  // kids are public (the JWKS lists them); they tell an operator which keys a rotation left in use.
  logger.info(
    { url, publicUrl: config.publicUrl, engine: db.dialect, dev: config.dev, kid: keys.kid, previousKids: keys.previousKids },
    'hub listening',
  );

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    server,
    db,
    payments,
    close() {
      closing ??= (async () => {
        for (const t of timers) clearInterval(t);
        // Rails stop following payments (they are resumed on the next start); then wait for all.
        closed.abort();
        await Promise.all(inFlight);
        await dispatcher.stop();
        // Closing the connection fails a publish that waits for a broker that is down at once,
        // rather than after its timeout; its events stay unpublished for the next start.
        const publisherStopped = publisher?.stop();
        await broker?.close();
        await publisherStopped;
        await webhookWorker.stop();
        await notifier.close();
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
        if (ownsDb) await db.close();
      })();
      return closing;
    },
  };
}

/** What `GET /rails` says: each rail that is on, with what a wallet needs to use it. */
async function railsInfo(rails: Rails): Promise<RailsInfo> {
  const on = Object.values(rails).filter((r) => r !== undefined);
  return { rails: await Promise.all(on.map((r) => r.info())) };
}
