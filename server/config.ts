import { z } from 'zod';

/**
 * The hub's configuration, read from the environment and validated once at start. A bad value
 * stops the hub with a message that names the variable.
 */
const flag = z
  .enum(['0', '1', 'true', 'false', 'yes', 'no', ''])
  .transform((v) => v === '1' || v === 'true' || v === 'yes');
const seconds = (def: number) => z.coerce.number().int().positive().default(def);

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
  TOLLWAY_CORS_ORIGINS: z.string().default(''),
  TOLLWAY_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TOLLWAY_ACCESS_TOKEN_TTL: seconds(900),
  TOLLWAY_RECEIPT_TTL: seconds(3600),
  TOLLWAY_PAYMENT_TIMEOUT: seconds(900),
  TOLLWAY_BODY_LIMIT: z.string().regex(/^\d+(b|kb|mb)$/i, 'like 64kb').default('64kb'),
  TOLLWAY_WEBHOOK_ALLOW_PRIVATE: flag.optional(),
  TOLLWAY_WEBHOOK_TIMEOUT: z.coerce.number().int().min(1).max(30).default(15),
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
}

export class ConfigError extends Error {}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
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
    corsOrigins: e.TOLLWAY_CORS_ORIGINS.split(',').map((s) => s.trim()).filter(Boolean),
    logLevel: e.TOLLWAY_LOG_LEVEL,
    accessTokenTtl: e.TOLLWAY_ACCESS_TOKEN_TTL,
    receiptTtl: e.TOLLWAY_RECEIPT_TTL,
    paymentTimeout: e.TOLLWAY_PAYMENT_TIMEOUT,
    bodyLimit: e.TOLLWAY_BODY_LIMIT,
    webhookAllowPrivate: e.TOLLWAY_WEBHOOK_ALLOW_PRIVATE ?? e.TOLLWAY_DEV,
    webhookTimeout: e.TOLLWAY_WEBHOOK_TIMEOUT,
  };
}
