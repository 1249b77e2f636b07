import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * The hub's configuration, read from the environment and validated once at start. A bad value
 * stops the hub with a message that names the variable.
 */
const flag = z
  .enum(['0', '1', 'true', 'false', 'yes', 'no', ''])
  .transform((v) => v === '1' || v === 'true' || v === 'yes');
const seconds = (def: number) => z.coerce.number().int().positive().default(def);
const evmAddress = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x address');

const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8402),
  HOST: z.string().min(1).default('127.0.0.1'),
  TOLLWAY_PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  TOLLWAY_DATA_DIR: z.string().min(1).default('./data'),
  TOLLWAY_DEV: flag.default(false),
  TOLLWAY_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// URL')
    .optional(),
  TOLLWAY_SIGNING_KEY: z.string().min(1).optional(),
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
      'Unused sign-in nonces one client (IPv4 address or IPv6 /64) may hold at once; GET /auth/nonce answers 429 past it. Behind a reverse proxy every request comes from the proxy\'s address: raise it there.',
    ),
  TOLLWAY_SIWE_NONCES_TOTAL: z.coerce
    .number()
    .int()
    .positive()
    .default(10_000)
    .describe('Unused sign-in nonces all clients together may hold at once: bounds the nonce table whatever the addresses.'),
  TOLLWAY_CORS_ORIGINS: z.string().default(''),
  TOLLWAY_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TOLLWAY_ACCESS_TOKEN_TTL: seconds(900),
  TOLLWAY_RECEIPT_TTL: seconds(3600),
  TOLLWAY_PAYMENT_TIMEOUT: seconds(900),
  TOLLWAY_BODY_LIMIT: z.string().regex(/^\d+(b|kb|mb)$/i, 'like 64kb').default('64kb'),
  TOLLWAY_WEBHOOK_ALLOW_PRIVATE: flag.optional(),
  TOLLWAY_WEBHOOK_TIMEOUT: z.coerce.number().int().min(1).max(30).default(15),
  TOLLWAY_LND_REST_URL: z.url({ protocol: /^https?$/ }).optional(),
  TOLLWAY_LND_MACAROON: z
    .string()
    .regex(/^(?:[0-9a-fA-F]{2})+$/, 'must be the macaroon in hex (xxd -p -c 1000 admin.macaroon)')
    .optional(),
  TOLLWAY_LND_MACAROON_PATH: z.string().min(1).optional(),
  TOLLWAY_LND_TLS_CERT_PATH: z.string().min(1).optional(),
  TOLLWAY_LIGHTNING_FEE_LIMIT_MSAT: z
    .string()
    .regex(/^\d{1,15}$/, 'must be a whole number of millisatoshi')
    .default('10000'),
  TOLLWAY_LIGHTNING_FEE_LIMIT_PERCENT: z
    .string()
    .regex(/^\d{1,3}(\.\d{1,4})?$/, 'must be a percentage like 1 or 0.5')
    .refine((v) => Number(v) <= 100, 'must be at most 100')
    .default('1'),
  TOLLWAY_LIGHTNING_PAY_TIMEOUT: z.coerce.number().int().min(1).max(3600).default(60),
  TOLLWAY_LIGHTNING_WAIT: z.coerce.number().positive().max(300).default(10),
  TOLLWAY_SOVR_RPC_URL: z.url({ protocol: /^https?$/ }).optional(),
  TOLLWAY_SOVR_CHAIN_ID: z.coerce.number().int().positive().optional(),
  TOLLWAY_SOVR_TOKEN: evmAddress.optional(),
  TOLLWAY_SOVR_PRIVATE_KEY: z
    .string()
    .regex(/^(0x)?[0-9a-fA-F]{64}$/, 'must be a 32-byte private key in hex')
    .optional(),
  TOLLWAY_SOVR_KEYSTORE_PATH: z.string().min(1).optional(),
  TOLLWAY_SOVR_KEYSTORE_PASSWORD: z.string().optional(),
  TOLLWAY_SOVR_KEYSTORE_PASSWORD_FILE: z.string().min(1).optional(),
  TOLLWAY_SOVR_TREASURY: evmAddress.optional(),
  TOLLWAY_SOVR_CONFIRMATIONS: z.coerce.number().int().min(1).max(1000).optional(),
  /** The name the SOVR issue uses; TOLLWAY_SOVR_CONFIRMATIONS wins when both are set. */
  SOVR_CONFIRMATIONS: z.coerce.number().int().min(1).max(1000).optional(),
  TOLLWAY_SOVR_POLL_INTERVAL: z.coerce.number().int().min(50).max(600_000).default(2000),
  TOLLWAY_SOVR_EXPLORER_TX_URL: z
    .string()
    .regex(/^https?:\/\/\S*\{hash\}\S*$/, 'must be an http(s) URL with {hash} in it')
    .optional(),
  TOLLWAY_SOVR_MIN_VALIDITY: seconds(60),
  TOLLWAY_SOVR_MAX_VALIDITY: seconds(3600),
  TOLLWAY_SOVR_SETTLE_GRACE: seconds(3600),
  TOLLWAY_SOVR_SETTLE_TIMEOUT: seconds(60),
  TOLLWAY_X402_FACILITATOR: z.enum(['open', 'merchants', 'off']).default('open'),
  TOLLWAY_SOVR_GAS_LIMIT: z
    .string()
    .regex(/^\d{5,9}$/, 'must be a whole number of gas units')
    .optional(),
});

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
  logLevel: z.infer<typeof EnvSchema>['TOLLWAY_LOG_LEVEL'];
  accessTokenTtl: number;
  receiptTtl: number;
  /** Seconds a payment's reservation lasts before it lapses and the funds come back. */
  paymentTimeout: number;
  bodyLimit: string;
  /** Webhooks may target private, loopback and link-local addresses (default: on in dev mode only). */
  webhookAllowPrivate: boolean;
  /** Seconds one webhook attempt may take. */
  webhookTimeout: number;
  /** The Lightning rail, present when an LND node is configured. */
  lightning?: LightningConfig;
  /** The SOVR on-chain rail, present when a chain, the token and a service key are configured. */
  sovr?: SovrConfig;
  /** Who may use /x402/verify and /x402/settle: anyone, the hub's merchants (API key), or nobody. */
  x402Facilitator: 'open' | 'merchants' | 'off';
}

export interface SovrConfig {
  rpcUrl: string;
  chainId: number;
  token: string;
  /** The gas-paying service wallet: a private key or an ethers keystore. Not enumerable (secrets). */
  readonly signer: { privateKey: string } | { keystoreJson: string; password: string };
  treasury?: string;
  confirmations: number;
  pollIntervalMs: number;
  explorerTxUrl?: string;
  minValiditySeconds: number;
  maxValiditySeconds: number;
  settleGraceSeconds: number;
  /** Seconds the x402 facilitator's settle waits for the receipt before answering settlement_pending. */
  settleTimeoutSeconds: number;
  gasLimit?: bigint;
}

export interface LightningConfig {
  /** LND's REST listener, e.g. https://127.0.0.1:8080. */
  restUrl: string;
  /** The macaroon in hex. A secret: not enumerable, so a logged or serialised config leaves it out. */
  readonly macaroonHex: string;
  /** PEM of LND's tls.cert, for a node with a self-signed certificate. */
  tlsCert?: string;
  /** Routing fees the hub's node may pay per payment: the larger of this (msat) … */
  feeLimitMsat: bigint;
  /** … and this share of the amount, in parts per million. */
  feeLimitPpm: bigint;
  /** Seconds LND keeps trying routes for a payment. */
  payTimeoutSeconds: number;
  /** Milliseconds POST /payments waits for the node's final answer before answering `submitted`. */
  settleWaitMs: number;
}

export class ConfigError extends Error {}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const lightning = lightningConfig(e);
  const sovr = sovrConfig(e);
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
    corsOrigins: e.TOLLWAY_CORS_ORIGINS.split(',').map((s) => s.trim()).filter(Boolean),
    logLevel: e.TOLLWAY_LOG_LEVEL,
    accessTokenTtl: e.TOLLWAY_ACCESS_TOKEN_TTL,
    receiptTtl: e.TOLLWAY_RECEIPT_TTL,
    paymentTimeout: e.TOLLWAY_PAYMENT_TIMEOUT,
    bodyLimit: e.TOLLWAY_BODY_LIMIT,
    webhookAllowPrivate: e.TOLLWAY_WEBHOOK_ALLOW_PRIVATE ?? e.TOLLWAY_DEV,
    webhookTimeout: e.TOLLWAY_WEBHOOK_TIMEOUT,
    ...(lightning ? { lightning } : {}),
    ...(sovr ? { sovr } : {}),
    x402Facilitator: e.TOLLWAY_X402_FACILITATOR,
  };
}

/** The SOVR rail is on when the RPC URL, chain id, token and a service key are all given, off when none is. */
function sovrConfig(e: z.infer<typeof EnvSchema>): SovrConfig | undefined {
  const hasKey = Boolean(e.TOLLWAY_SOVR_PRIVATE_KEY || e.TOLLWAY_SOVR_KEYSTORE_PATH);
  const parts = { TOLLWAY_SOVR_RPC_URL: e.TOLLWAY_SOVR_RPC_URL, TOLLWAY_SOVR_CHAIN_ID: e.TOLLWAY_SOVR_CHAIN_ID, TOLLWAY_SOVR_TOKEN: e.TOLLWAY_SOVR_TOKEN };
  const given = Object.values(parts).some((v) => v !== undefined) || hasKey;
  if (!given) return undefined;
  for (const [name, value] of Object.entries(parts)) if (value === undefined) fail(name, 'required to turn the SOVR rail on (set all of TOLLWAY_SOVR_RPC_URL, _CHAIN_ID, _TOKEN and a service key, or none)');
  if (e.TOLLWAY_SOVR_PRIVATE_KEY && e.TOLLWAY_SOVR_KEYSTORE_PATH) fail('TOLLWAY_SOVR_KEYSTORE_PATH', 'set either TOLLWAY_SOVR_PRIVATE_KEY or TOLLWAY_SOVR_KEYSTORE_PATH, not both');
  if (!hasKey) fail('TOLLWAY_SOVR_PRIVATE_KEY', 'required with the SOVR rail (or TOLLWAY_SOVR_KEYSTORE_PATH with its password): the service wallet that pays gas');
  let signer: SovrConfig['signer'];
  if (e.TOLLWAY_SOVR_PRIVATE_KEY) {
    signer = { privateKey: e.TOLLWAY_SOVR_PRIVATE_KEY.startsWith('0x') ? e.TOLLWAY_SOVR_PRIVATE_KEY : `0x${e.TOLLWAY_SOVR_PRIVATE_KEY}` };
  } else {
    const keystoreJson = readConfigFile('TOLLWAY_SOVR_KEYSTORE_PATH', e.TOLLWAY_SOVR_KEYSTORE_PATH!).toString('utf8');
    let password = e.TOLLWAY_SOVR_KEYSTORE_PASSWORD;
    if (e.TOLLWAY_SOVR_KEYSTORE_PASSWORD_FILE) password = readConfigFile('TOLLWAY_SOVR_KEYSTORE_PASSWORD_FILE', e.TOLLWAY_SOVR_KEYSTORE_PASSWORD_FILE).toString('utf8').replace(/\r?\n$/, '');
    if (password === undefined) fail('TOLLWAY_SOVR_KEYSTORE_PASSWORD', 'required with TOLLWAY_SOVR_KEYSTORE_PATH (or TOLLWAY_SOVR_KEYSTORE_PASSWORD_FILE)');
    signer = { keystoreJson, password: password! };
  }
  if (e.TOLLWAY_SOVR_MIN_VALIDITY >= e.TOLLWAY_SOVR_MAX_VALIDITY) fail('TOLLWAY_SOVR_MIN_VALIDITY', 'must be less than TOLLWAY_SOVR_MAX_VALIDITY');
  const config: SovrConfig = {
    rpcUrl: e.TOLLWAY_SOVR_RPC_URL!,
    chainId: e.TOLLWAY_SOVR_CHAIN_ID!,
    token: e.TOLLWAY_SOVR_TOKEN!,
    signer: { privateKey: '' },
    ...(e.TOLLWAY_SOVR_TREASURY ? { treasury: e.TOLLWAY_SOVR_TREASURY } : {}),
    confirmations: e.TOLLWAY_SOVR_CONFIRMATIONS ?? e.SOVR_CONFIRMATIONS ?? 1,
    pollIntervalMs: e.TOLLWAY_SOVR_POLL_INTERVAL,
    ...(e.TOLLWAY_SOVR_EXPLORER_TX_URL ? { explorerTxUrl: e.TOLLWAY_SOVR_EXPLORER_TX_URL } : {}),
    minValiditySeconds: e.TOLLWAY_SOVR_MIN_VALIDITY,
    maxValiditySeconds: e.TOLLWAY_SOVR_MAX_VALIDITY,
    settleGraceSeconds: e.TOLLWAY_SOVR_SETTLE_GRACE,
    settleTimeoutSeconds: e.TOLLWAY_SOVR_SETTLE_TIMEOUT,
    ...(e.TOLLWAY_SOVR_GAS_LIMIT ? { gasLimit: BigInt(e.TOLLWAY_SOVR_GAS_LIMIT) } : {}),
  };
  Object.defineProperty(config, 'signer', { value: signer, enumerable: false });
  return config;
}

function fail(variable: string, message: string): never {
  throw new ConfigError(`invalid configuration:\n  ${variable}: ${message}`);
}

function readConfigFile(variable: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    return fail(variable, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** The Lightning rail is on when a node URL and a macaroon are both given, and off when neither is. */
function lightningConfig(e: z.infer<typeof EnvSchema>): LightningConfig | undefined {
  if (e.TOLLWAY_LND_MACAROON && e.TOLLWAY_LND_MACAROON_PATH) {
    fail('TOLLWAY_LND_MACAROON_PATH', 'set either TOLLWAY_LND_MACAROON or TOLLWAY_LND_MACAROON_PATH, not both');
  }
  const hasMacaroon = Boolean(e.TOLLWAY_LND_MACAROON || e.TOLLWAY_LND_MACAROON_PATH);
  if (!e.TOLLWAY_LND_REST_URL) {
    if (hasMacaroon) fail('TOLLWAY_LND_REST_URL', 'required when a macaroon is set (the node\'s REST address, e.g. https://127.0.0.1:8080)');
    if (e.TOLLWAY_LND_TLS_CERT_PATH) fail('TOLLWAY_LND_REST_URL', 'required when TOLLWAY_LND_TLS_CERT_PATH is set');
    return undefined;
  }
  if (!hasMacaroon) fail('TOLLWAY_LND_MACAROON', 'required with TOLLWAY_LND_REST_URL (or TOLLWAY_LND_MACAROON_PATH to the macaroon file)');
  let macaroonHex = e.TOLLWAY_LND_MACAROON?.toLowerCase();
  if (!macaroonHex) {
    const bytes = readConfigFile('TOLLWAY_LND_MACAROON_PATH', e.TOLLWAY_LND_MACAROON_PATH!);
    // LND writes the macaroon as binary; a file someone saved as hex text is accepted too.
    const text = bytes.toString('latin1').trim();
    macaroonHex = /^(?:[0-9a-fA-F]{2})+$/.test(text) ? text.toLowerCase() : bytes.toString('hex');
    if (!macaroonHex) fail('TOLLWAY_LND_MACAROON_PATH', 'the macaroon file is empty');
  }
  let tlsCert: string | undefined;
  if (e.TOLLWAY_LND_TLS_CERT_PATH) {
    tlsCert = readConfigFile('TOLLWAY_LND_TLS_CERT_PATH', e.TOLLWAY_LND_TLS_CERT_PATH).toString('utf8');
    if (!tlsCert.includes('-----BEGIN CERTIFICATE-----')) fail('TOLLWAY_LND_TLS_CERT_PATH', 'not a PEM certificate (LND\'s tls.cert)');
    if (!e.TOLLWAY_LND_REST_URL.startsWith('https:')) fail('TOLLWAY_LND_REST_URL', 'must be https:// when TOLLWAY_LND_TLS_CERT_PATH is set');
  }
  const [whole, fraction = ''] = e.TOLLWAY_LIGHTNING_FEE_LIMIT_PERCENT.split('.');
  const config: LightningConfig = {
    restUrl: e.TOLLWAY_LND_REST_URL.replace(/\/+$/, ''),
    macaroonHex: '',
    ...(tlsCert ? { tlsCert } : {}),
    feeLimitMsat: BigInt(e.TOLLWAY_LIGHTNING_FEE_LIMIT_MSAT),
    // percent × 10,000 = parts per million, in integers: 0.25 % → 2,500 ppm.
    feeLimitPpm: BigInt(whole!) * 10_000n + BigInt(fraction.padEnd(4, '0')),
    payTimeoutSeconds: e.TOLLWAY_LIGHTNING_PAY_TIMEOUT,
    settleWaitMs: Math.round(e.TOLLWAY_LIGHTNING_WAIT * 1000),
  };
  Object.defineProperty(config, 'macaroonHex', { value: macaroonHex, enumerable: false });
  return config;
}
