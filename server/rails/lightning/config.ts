import { z } from 'zod';
import { NODE_KIND_NAMES, type NodeKind } from '../../../lightning/index.js';
import { fail, hideSecret, readConfigFile } from '../../env.js';

/** Where the hub takes LNbits' webhooks (server/http/lnbits-webhook-routes.ts). */
export const LNBITS_WEBHOOK_PATH = '/lightning/lnbits-webhook';

/** The Lightning rail's variables: the hub's own Lightning node and what it may spend on routing. */
export const lightningEnv = {
  TOLLWAY_LIGHTNING_NODE: z
    .enum(NODE_KIND_NAMES)
    .default('lnd')
    .describe(
      "which software runs the hub's Lightning node: `lnd` reads the `TOLLWAY_LND_*` variables, `cln` (Core Lightning through clnrest) `TOLLWAY_CLN_*`, `lnbits` (an LNbits wallet) `TOLLWAY_LNBITS_*`",
    ),
  TOLLWAY_LND_REST_URL: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe("LND's REST listener (`https://127.0.0.1:8080`); with a macaroon, turns the Lightning rail on"),
  TOLLWAY_LND_MACAROON: z
    .string()
    .regex(/^(?:[0-9a-fA-F]{2})+$/, 'must be the macaroon in hex (xxd -p -c 1000 admin.macaroon)')
    .optional()
    .describe('the LND macaroon in hex (needs `offchain:read`, `offchain:write`, `info:read`, `invoices:write`); a secret, never logged'),
  TOLLWAY_LND_MACAROON_PATH: z.string().min(1).optional().describe('instead of `TOLLWAY_LND_MACAROON`: the macaroon file (binary or hex)'),
  TOLLWAY_LND_TLS_CERT_PATH: z.string().min(1).optional().describe("LND's self-signed `tls.cert`, trusted for that node only"),
  TOLLWAY_CLN_REST_URL: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe(
      "Core Lightning's clnrest address (`https://127.0.0.1:3010`); with a rune and `TOLLWAY_LIGHTNING_NODE=cln`, turns the Lightning rail on",
    ),
  TOLLWAY_CLN_RUNE: z
    .string()
    .regex(/^[A-Za-z0-9_=-]{8,4096}$/, 'must be a rune as `lightning-cli createrune` prints it (base64url)')
    .optional()
    .describe(
      'the rune sent as `Rune` (needs `getinfo`, `pay`, `listpays`, `listinvoices`, `invoice`, `waitanyinvoice`, `delinvoice`); a secret, never logged',
    ),
  TOLLWAY_CLN_CA_CERT_PATH: z
    .string()
    .min(1)
    .optional()
    .describe("clnrest's `ca.pem` (in its certs directory), trusted for that node only"),
  TOLLWAY_LNBITS_URL: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe(
      'the LNbits server (`https://lnbits.example.com`); with the admin key and `TOLLWAY_LIGHTNING_NODE=lnbits`, turns the Lightning rail on',
    ),
  TOLLWAY_LNBITS_ADMIN_KEY: z
    .string()
    .regex(/^[0-9A-Za-z_-]{8,256}$/, "must be the wallet's admin key as LNbits shows it")
    .optional()
    .describe("the LNbits wallet's admin key (paying needs it); a secret, never logged"),
  TOLLWAY_LNBITS_INVOICE_KEY: z
    .string()
    .regex(/^[0-9A-Za-z_-]{8,256}$/, "must be the wallet's invoice/read key as LNbits shows it")
    .optional()
    .describe("the same wallet's invoice/read key, for look-ups (defaults to the admin key); a secret, never logged"),
  TOLLWAY_LNBITS_WEBHOOK_URL: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe(
      `the hub's address as LNbits reaches it: \`${LNBITS_WEBHOOK_PATH}\` is appended and registered with every invoice (only a hint, checked with LNbits); unset, none: look-ups and the WebSocket still find every payment`,
    ),
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
  /** The node's address: LND's REST listener (https://127.0.0.1:8080), clnrest, or the LNbits server. */
  restUrl: string;
  /**
   * The credentials of the kind in use: LND's macaroon in hex, CLN's rune, the LNbits keys. Secrets:
   * not enumerable, so a logged or serialised config leaves them out.
   */
  readonly macaroonHex?: string;
  readonly rune?: string;
  readonly lnbitsAdminKey?: string;
  readonly lnbitsInvoiceKey?: string;
  /** LNbits only: where LNbits POSTs when an invoice is paid (the hub's webhook route), if set. */
  lnbitsWebhookUrl?: string;
  /** PEM of LND's tls.cert or of clnrest's ca.pem, for a node with a self-signed certificate. */
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

const KIND_VARIABLES: Record<NodeKind, (keyof LightningEnv)[]> = {
  lnd: ['TOLLWAY_LND_REST_URL', 'TOLLWAY_LND_MACAROON', 'TOLLWAY_LND_MACAROON_PATH', 'TOLLWAY_LND_TLS_CERT_PATH'],
  cln: ['TOLLWAY_CLN_REST_URL', 'TOLLWAY_CLN_RUNE', 'TOLLWAY_CLN_CA_CERT_PATH'],
  lnbits: ['TOLLWAY_LNBITS_URL', 'TOLLWAY_LNBITS_ADMIN_KEY', 'TOLLWAY_LNBITS_INVOICE_KEY', 'TOLLWAY_LNBITS_WEBHOOK_URL'],
};

/**
 * The Lightning rail is on when the chosen kind's node address and credentials are both given, and
 * off when none of its variables is. Another kind's variables stop the hub, naming the mismatch.
 */
export function lightningConfig(e: LightningEnv): LightningConfig | undefined {
  for (const [kind, names] of Object.entries(KIND_VARIABLES)) {
    if (kind === e.TOLLWAY_LIGHTNING_NODE) continue;
    const stray = names.find((n) => e[n] !== undefined);
    if (stray) fail(stray, `is for TOLLWAY_LIGHTNING_NODE=${kind}, but the node is ${e.TOLLWAY_LIGHTNING_NODE}`);
  }
  const node = e.TOLLWAY_LIGHTNING_NODE;
  const common = () => {
    const [whole, fraction = ''] = e.TOLLWAY_LIGHTNING_FEE_LIMIT_PERCENT.split('.');
    return {
      feeLimitMsat: BigInt(e.TOLLWAY_LIGHTNING_FEE_LIMIT_MSAT),
      // percent × 10,000 = parts per million, in integers: 0.25 % → 2,500 ppm.
      feeLimitPpm: BigInt(whole!) * 10_000n + BigInt(fraction.padEnd(4, '0')),
      payTimeoutSeconds: e.TOLLWAY_LIGHTNING_PAY_TIMEOUT,
      settleWaitMs: Math.round(e.TOLLWAY_LIGHTNING_WAIT * 1000),
    };
  };
  if (node === 'cln') {
    if (!e.TOLLWAY_CLN_REST_URL) {
      if (e.TOLLWAY_CLN_RUNE) fail('TOLLWAY_CLN_REST_URL', "required when a rune is set (clnrest's address, e.g. https://127.0.0.1:3010)");
      if (e.TOLLWAY_CLN_CA_CERT_PATH) fail('TOLLWAY_CLN_REST_URL', 'required when TOLLWAY_CLN_CA_CERT_PATH is set');
      return undefined;
    }
    if (!e.TOLLWAY_CLN_RUNE) fail('TOLLWAY_CLN_RUNE', 'required with TOLLWAY_CLN_REST_URL (lightning-cli createrune)');
    const caCert = e.TOLLWAY_CLN_CA_CERT_PATH
      ? readPem('TOLLWAY_CLN_CA_CERT_PATH', e.TOLLWAY_CLN_CA_CERT_PATH, "clnrest's ca.pem")
      : undefined;
    if (caCert && !e.TOLLWAY_CLN_REST_URL.startsWith('https:'))
      fail('TOLLWAY_CLN_REST_URL', 'must be https:// when TOLLWAY_CLN_CA_CERT_PATH is set');
    return hideSecret(
      { node, restUrl: e.TOLLWAY_CLN_REST_URL.replace(/\/+$/, ''), ...(caCert ? { tlsCert: caCert } : {}), ...common() },
      'rune',
      e.TOLLWAY_CLN_RUNE,
    );
  }
  if (node === 'lnbits') {
    if (!e.TOLLWAY_LNBITS_URL) {
      if (e.TOLLWAY_LNBITS_ADMIN_KEY || e.TOLLWAY_LNBITS_INVOICE_KEY || e.TOLLWAY_LNBITS_WEBHOOK_URL)
        fail('TOLLWAY_LNBITS_URL', 'required when an LNbits key is set (the LNbits server, e.g. https://lnbits.example.com)');
      return undefined;
    }
    if (!e.TOLLWAY_LNBITS_ADMIN_KEY)
      fail('TOLLWAY_LNBITS_ADMIN_KEY', "required with TOLLWAY_LNBITS_URL: the hub pays, and paying needs the wallet's admin key");
    const webhook = e.TOLLWAY_LNBITS_WEBHOOK_URL && `${e.TOLLWAY_LNBITS_WEBHOOK_URL.replace(/\/+$/, '')}${LNBITS_WEBHOOK_PATH}`;
    const ln = hideSecret(
      { node, restUrl: e.TOLLWAY_LNBITS_URL.replace(/\/+$/, ''), ...(webhook ? { lnbitsWebhookUrl: webhook } : {}), ...common() },
      'lnbitsAdminKey',
      e.TOLLWAY_LNBITS_ADMIN_KEY,
    );
    return hideSecret(ln, 'lnbitsInvoiceKey', e.TOLLWAY_LNBITS_INVOICE_KEY ?? e.TOLLWAY_LNBITS_ADMIN_KEY);
  }
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
    tlsCert = readPem('TOLLWAY_LND_TLS_CERT_PATH', e.TOLLWAY_LND_TLS_CERT_PATH, "LND's tls.cert");
    if (!e.TOLLWAY_LND_REST_URL.startsWith('https:'))
      fail('TOLLWAY_LND_REST_URL', 'must be https:// when TOLLWAY_LND_TLS_CERT_PATH is set');
  }
  return hideSecret(
    { node, restUrl: e.TOLLWAY_LND_REST_URL.replace(/\/+$/, ''), ...(tlsCert ? { tlsCert } : {}), ...common() },
    'macaroonHex',
    macaroonHex,
  );
}

function readPem(name: string, path: string, what: string): string {
  const pem = readConfigFile(name, path).toString('utf8');
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) fail(name, `not a PEM certificate (${what})`);
  return pem;
}
