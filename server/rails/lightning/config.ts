import { z } from 'zod';
import { NODE_KIND_NAMES, type NodeKind } from '../../../lightning/index.js';
import { fail, hideSecret, readConfigFile } from '../../env.js';

/** The Lightning rail's variables: the hub's own Lightning node and what it may spend on routing. */
export const lightningEnv = {
  TOLLWAY_LIGHTNING_NODE: z
    .enum(NODE_KIND_NAMES)
    .default('lnd')
    .describe("which software runs the hub's Lightning node; `lnd` reads the `TOLLWAY_LND_*` variables"),
  TOLLWAY_LND_REST_URL: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe("LND's REST listener (`https://127.0.0.1:8080`); with a macaroon, turns the Lightning rail on"),
  TOLLWAY_LND_MACAROON: z
    .string()
    .regex(/^(?:[0-9a-fA-F]{2})+$/, 'must be the macaroon in hex (xxd -p -c 1000 admin.macaroon)')
    .optional()
    .describe('the LND macaroon in hex (needs `offchain:read`, `offchain:write`, `info:read`); a secret, never logged'),
  TOLLWAY_LND_MACAROON_PATH: z.string().min(1).optional().describe('instead of `TOLLWAY_LND_MACAROON`: the macaroon file (binary or hex)'),
  TOLLWAY_LND_TLS_CERT_PATH: z.string().min(1).optional().describe("LND's self-signed `tls.cert`, trusted for that node only"),
  TOLLWAY_LIGHTNING_FEE_LIMIT_MSAT: z
    .string()
    .regex(/^\d{1,15}$/, 'must be a whole number of millisatoshi')
    .default('10000')
    .describe('least routing-fee limit per payment (msat); the hub operator pays routing fees'),
  TOLLWAY_LIGHTNING_FEE_LIMIT_PERCENT: z
    .string()
    .regex(/^\d{1,3}(\.\d{1,4})?$/, 'must be a percentage like 1 or 0.5')
    .refine((v) => Number(v) <= 100, 'must be at most 100')
    .default('1')
    .describe('routing-fee limit as a share of the amount; the larger of the two limits applies'),
  TOLLWAY_LIGHTNING_PAY_TIMEOUT: z.coerce.number().int().min(1).max(3600).default(60).describe('seconds the node searches for a route'),
  TOLLWAY_LIGHTNING_WAIT: z.coerce
    .number()
    .positive()
    .max(300)
    .default(10)
    .describe('seconds `POST /payments` waits for the node before answering `submitted` (the end comes by socket)'),
};

export interface LightningConfig {
  /** Which kind of node (TOLLWAY_LIGHTNING_NODE): decides which adapter lightning/ builds. */
  node: NodeKind;
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

type LightningEnv = z.infer<z.ZodObject<typeof lightningEnv>>;

/** The Lightning rail is on when a node URL and a macaroon are both given, and off when neither is. */
export function lightningConfig(e: LightningEnv): LightningConfig | undefined {
  if (e.TOLLWAY_LND_MACAROON && e.TOLLWAY_LND_MACAROON_PATH) {
    fail('TOLLWAY_LND_MACAROON_PATH', 'set either TOLLWAY_LND_MACAROON or TOLLWAY_LND_MACAROON_PATH, not both');
  }
  const hasMacaroon = Boolean(e.TOLLWAY_LND_MACAROON || e.TOLLWAY_LND_MACAROON_PATH);
  if (!e.TOLLWAY_LND_REST_URL) {
    if (hasMacaroon) fail('TOLLWAY_LND_REST_URL', "required when a macaroon is set (the node's REST address, e.g. https://127.0.0.1:8080)");
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
    if (!tlsCert.includes('-----BEGIN CERTIFICATE-----')) fail('TOLLWAY_LND_TLS_CERT_PATH', "not a PEM certificate (LND's tls.cert)");
    if (!e.TOLLWAY_LND_REST_URL.startsWith('https:'))
      fail('TOLLWAY_LND_REST_URL', 'must be https:// when TOLLWAY_LND_TLS_CERT_PATH is set');
  }
  const [whole, fraction = ''] = e.TOLLWAY_LIGHTNING_FEE_LIMIT_PERCENT.split('.');
  return hideSecret(
    {
      node: e.TOLLWAY_LIGHTNING_NODE,
      restUrl: e.TOLLWAY_LND_REST_URL.replace(/\/+$/, ''),
      ...(tlsCert ? { tlsCert } : {}),
      feeLimitMsat: BigInt(e.TOLLWAY_LIGHTNING_FEE_LIMIT_MSAT),
      // percent × 10,000 = parts per million, in integers: 0.25 % → 2,500 ppm.
      feeLimitPpm: BigInt(whole!) * 10_000n + BigInt(fraction.padEnd(4, '0')),
      payTimeoutSeconds: e.TOLLWAY_LIGHTNING_PAY_TIMEOUT,
      settleWaitMs: Math.round(e.TOLLWAY_LIGHTNING_WAIT * 1000),
    },
    'macaroonHex',
    macaroonHex,
  );
}
