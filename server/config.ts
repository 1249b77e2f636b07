import { z } from 'zod';
import { ConfigError, flag, hideSecret, seconds } from './env.js';
import { RAIL_MODULES, type RailSettings } from './rails/index.js';

export { ConfigError };

/**
 * The hub's configuration, read from the environment and validated once at start. A bad value
 * stops the hub with a message that names the variable. The hub's own variables are here; each
 * rail declares its own (server/rails/*\/config.ts) and the registry brings them in. Every variable
 * is described: docs/configuration.md is generated from these schemas (`npm run docs:config`).
 */
export const hubEnv = {
  PORT: z.coerce.number().int().min(0).max(65535).default(8402).describe('HTTP and Socket.IO port'),
  HOST: z.string().min(1).default('127.0.0.1').describe('interface to listen on (`0.0.0.0` for all)'),
  TOLLWAY_PUBLIC_URL: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe(
      'the origin people reach the hub at (default `http://HOST:PORT`); SIWE messages must name it, and it is the `iss` of tokens and receipts',
    ),
  TOLLWAY_DATA_DIR: z
    .string()
    .min(1)
    .default('./data')
    .describe('SQLite file (`tollway.sqlite`) and the generated signing key (`signing-key.json`, mode 0600)'),
  TOLLWAY_DEV: flag.default(false).describe('`1` enables `POST /dev/faucet` and lets any `localhost` page call the API'),
  TOLLWAY_ADMIN_TOKEN: z
    .string()
    .min(16, 'must be at least 16 characters')
    .optional()
    .describe('bearer token for `POST /merchants` (≥ 16 characters); unset, registration is off. `npm start` generates one'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional()
    .describe('`postgres://…`: use PostgreSQL instead of SQLite'),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// URL')
    .optional()
    .describe('`redis://…`: Socket.IO reaches users connected to any hub process (Redis Streams adapter)'),
  TOLLWAY_SIGNING_KEY: z
    .string()
    .min(1)
    .optional()
    .describe(
      'the ES256 private key for access tokens and receipts, as PKCS#8/SEC1 PEM or a private JWK; otherwise generated into the data directory on first start',
    ),
  TOLLWAY_PREVIOUS_SIGNING_KEYS: z
    .string()
    .optional()
    .describe(
      'Retired signing keys that still verify receipts and access tokens they signed (listed in the JWKS by kid) but never sign: PEMs separated by commas, or JSON (one JWK, a list, or a JWKS). Private or public keys; only the public half is kept. Remove a key once everything it signed has expired (TOLLWAY_RECEIPT_TTL, TOLLWAY_ACCESS_TOKEN_TTL).',
    ),
  TOLLWAY_SIWE_NONCES_PER_CLIENT: z.coerce
    .number()
    .int()
    .positive()
    .default(20)
    .describe(
      "Unused sign-in nonces one client (IPv4 address or IPv6 /64) may hold at once; GET /auth/nonce answers 429 past it. Behind a reverse proxy every request comes from the proxy's address: raise it there.",
    ),
  TOLLWAY_SIWE_NONCES_TOTAL: z.coerce
    .number()
    .int()
    .positive()
    .default(10_000)
    .describe('Unused sign-in nonces all clients together may hold at once: bounds the nonce table whatever the addresses.'),
  TOLLWAY_CORS_ORIGINS: z
    .string()
    .default('')
    .describe('comma-separated web origins allowed to call the API (the extension is always allowed)'),
  TOLLWAY_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level'),
  TOLLWAY_ACCESS_TOKEN_TTL: seconds(900).describe('access token lifetime, seconds'),
  TOLLWAY_RECEIPT_TTL: seconds(3600).describe('receipt token lifetime, seconds'),
  TOLLWAY_PAYMENT_TIMEOUT: seconds(900).describe(
    "seconds a payment's reservation lasts; after it the funds are released and the payment fails",
  ),
  TOLLWAY_BODY_LIMIT: z
    .string()
    .regex(/^\d+(b|kb|mb)$/i, 'like 64kb')
    .default('64kb')
    .describe('largest request body'),
  TOLLWAY_WEBHOOK_ALLOW_PRIVATE: flag
    .optional()
    .describe(
      '`1` lets webhooks target private, loopback and link-local addresses (default: as `TOLLWAY_DEV`); off, such targets are refused when set and again at every attempt',
    ),
  TOLLWAY_WEBHOOK_TIMEOUT: z.coerce.number().int().min(1).max(30).default(15).describe('seconds per webhook attempt (1–30)'),
  TOLLWAY_EVENTS_URL: z
    .string()
    .regex(/^(nats|tls):\/\/[^\s,]+(,(nats|tls):\/\/[^\s,]+)*$/, 'must be nats:// URLs, separated by commas')
    .optional()
    .describe(
      '`nats://host:4222` (several separated by commas): publish every outbox event to NATS JetStream, subject `<prefix>.<event type>` (docs/operations.md). Unset, nothing is published',
    ),
  TOLLWAY_EVENTS_STREAM: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, `_` and `-`')
    .default('TOLLWAY')
    .describe('the JetStream stream the events go into; created (file storage) when missing'),
  TOLLWAY_EVENTS_SUBJECT_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'NATS subject tokens separated by dots, no wildcards')
    .default('tollway')
    .describe('first tokens of each event subject: `tollway` gives `tollway.payment.completed`; the stream holds `<prefix>.>`'),
  TOLLWAY_EVENTS_DUPLICATE_WINDOW: seconds(86_400).describe(
    "the stream's de-duplication window, seconds: an event re-published within it (the hub stopped between JetStream's acknowledgement and recording it) is dropped by the server. Longer than the longest the hub may be down; the server keeps every event id of the window in memory",
  ),
  TOLLWAY_X402_FACILITATOR: z
    .enum(['open', 'merchants', 'off'])
    .default('open')
    .describe(
      "who may call `POST /x402/verify` and `/x402/settle` (with a rail that brings a facilitator): `open` (anyone, like the reference facilitators), `merchants` (a hub merchant's API key as `Authorization: Bearer`), `off` (every `/x402` path 404)",
    ),
};

const EnvSchema = z.object({ ...hubEnv, ...Object.assign({}, ...RAIL_MODULES.map((m) => m.env)) });
type HubEnv = z.infer<z.ZodObject<typeof hubEnv>>;

export interface Config {
  port: number;
  host: string;
  /** The origin SIWE messages and receipts name; also the JWT issuer. */
  publicUrl: string;
  dataDir: string;
  dev: boolean;
  adminToken?: string;
  databaseUrl?: string;
  redisUrl?: string;
  signingKey?: string;
  /** Retired signing keys (TOLLWAY_PREVIOUS_SIGNING_KEYS): they verify, they don't sign. */
  previousSigningKeys?: string;
  /** Caps on unused SIWE nonces, per client key and overall. */
  siweNoncesPerClient: number;
  siweNoncesTotal: number;
  corsOrigins: string[];
  logLevel: HubEnv['TOLLWAY_LOG_LEVEL'];
  accessTokenTtl: number;
  receiptTtl: number;
  /** Seconds a payment's reservation lasts before it lapses and the funds come back. */
  paymentTimeout: number;
  bodyLimit: string;
  /** Webhooks may target private, loopback and link-local addresses (default: on in dev mode only). */
  webhookAllowPrivate: boolean;
  /** Seconds one webhook attempt may take. */
  webhookTimeout: number;
  /** Settings of each rail that is on, by name (the registry in server/rails/index.ts). */
  rails: RailSettings;
  /** Who may use /x402/verify and /x402/settle: anyone, the hub's merchants (API key), or nobody. */
  x402Facilitator: 'open' | 'merchants' | 'off';
  /** Outbox events to NATS JetStream (TOLLWAY_EVENTS_URL); undefined when off. */
  events?: EventsConfig;
}

export interface EventsConfig {
  /** The servers, credentials removed: what logs and the banner may show. */
  servers: string;
  /** The URLs as given (they may carry a user and password): not enumerable, so never logged. */
  readonly urls: string[];
  stream: string;
  subjectPrefix: string;
  duplicateWindowSeconds: number;
}

/** TOLLWAY_EVENTS_URL and its companions; the URLs kept out of logs and JSON. */
function eventsConfig(e: HubEnv): EventsConfig | undefined {
  if (!e.TOLLWAY_EVENTS_URL) return undefined;
  const urls = e.TOLLWAY_EVENTS_URL.split(',');
  const servers = urls
    .map((u) => {
      const parsed = new URL(u);
      return `${parsed.protocol}//${parsed.host}`;
    })
    .join(',');
  const cfg = {
    servers,
    stream: e.TOLLWAY_EVENTS_STREAM,
    subjectPrefix: e.TOLLWAY_EVENTS_SUBJECT_PREFIX,
    duplicateWindowSeconds: e.TOLLWAY_EVENTS_DUPLICATE_WINDOW,
  };
  return hideSecret(cfg, 'urls', urls);
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data as HubEnv;
  // Each rail reads its own variables; one that is half configured stops the hub here.
  const rails: Record<string, unknown> = {};
  for (const m of RAIL_MODULES) {
    const settings = (m.configure as (env: unknown) => unknown)(parsed.data);
    if (settings !== undefined) rails[m.name] = settings;
  }
  const publicUrl = (e.TOLLWAY_PUBLIC_URL ?? `http://${e.HOST === '0.0.0.0' ? '127.0.0.1' : e.HOST}:${e.PORT}`).replace(/\/+$/, '');
  return {
    port: e.PORT,
    host: e.HOST,
    publicUrl,
    dataDir: e.TOLLWAY_DATA_DIR,
    dev: e.TOLLWAY_DEV,
    adminToken: e.TOLLWAY_ADMIN_TOKEN,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    signingKey: e.TOLLWAY_SIGNING_KEY,
    previousSigningKeys: e.TOLLWAY_PREVIOUS_SIGNING_KEYS,
    siweNoncesPerClient: e.TOLLWAY_SIWE_NONCES_PER_CLIENT,
    siweNoncesTotal: e.TOLLWAY_SIWE_NONCES_TOTAL,
    corsOrigins: e.TOLLWAY_CORS_ORIGINS.split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    logLevel: e.TOLLWAY_LOG_LEVEL,
    accessTokenTtl: e.TOLLWAY_ACCESS_TOKEN_TTL,
    receiptTtl: e.TOLLWAY_RECEIPT_TTL,
    paymentTimeout: e.TOLLWAY_PAYMENT_TIMEOUT,
    bodyLimit: e.TOLLWAY_BODY_LIMIT,
    webhookAllowPrivate: e.TOLLWAY_WEBHOOK_ALLOW_PRIVATE ?? e.TOLLWAY_DEV,
    webhookTimeout: e.TOLLWAY_WEBHOOK_TIMEOUT,
    rails: rails as RailSettings,
    x402Facilitator: e.TOLLWAY_X402_FACILITATOR,
    events: eventsConfig(e),
  };
}
