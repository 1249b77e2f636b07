/**
 * L402: charge for a route in Lightning, the way Aperture does, with real macaroons.
 *
 * @example
 * ```ts
 * import { l402 } from './merchant/l402.js';
 * import { lndInvoices } from './merchant/lnd.js';
 *
 * const invoices = lndInvoices({ url: 'https://127.0.0.1:8080', macaroonHex, tlsCert });
 * // 2 sat per call; a paid token opens the API for an hour.
 * app.get('/api/quote', l402({ invoices, price: 2000n, service: 'quotes', validSeconds: 3600 }), handler);
 * ```
 *
 * Without a credential the route answers `402` with
 * `WWW-Authenticate: L402 version="0", token="<macaroon>", macaroon="<macaroon>", invoice="<bolt11>"`
 * (both parameter names, so L402 and older LSAT clients read it). The macaroon's identifier is
 * `uint16 version 0 ‖ payment hash ‖ 32-byte random token id`; it carries the caveats
 * `services=<service>:<tier>` and `<service>_valid_until=<unix seconds>`, and its root key (random,
 * one per macaroon) is kept in a store under `sha256(identifier)`; deleting it revokes the token.
 *
 * The client pays the invoice and retries with `Authorization: L402 <macaroon>:<hex preimage>`
 * (`LSAT` and a base64 preimage are read too). The middleware checks the HMAC chain with the root
 * key (by the `macaroon` library, libmacaroons-compatible), `sha256(preimage) == payment hash`,
 * and the caveats (each repetition may only narrow; unknown ones are skipped). A credential that
 * fails is 401 with a fresh challenge; one that cannot be read at all is a fresh 402.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { IssuedInvoice } from './lnd.js';

/** The part of the `macaroon` package used here (it ships no types). */
interface Macaroon {
  readonly identifier: Uint8Array;
  readonly signature: Uint8Array;
  readonly caveats: { identifier: Uint8Array; location?: string; vid?: Uint8Array }[];
  addFirstPartyCaveat(condition: string | Uint8Array): void;
  verify(rootKey: Uint8Array, check: (condition: string) => string | null, discharges?: Macaroon[]): void;
  exportBinary(): Uint8Array;
}
interface MacaroonLib {
  newMacaroon(o: { identifier: Uint8Array; location?: string; rootKey: Uint8Array; version?: 1 | 2 }): Macaroon;
  importMacaroons(o: string | Uint8Array): Macaroon[];
}
const macaroons = createRequire(import.meta.url)('macaroon') as MacaroonLib;

/** Where invoices come from: `lndInvoices()` from ./lnd.js, or anything that issues BOLT 11. */
export interface L402Invoices {
  addInvoice(req: { valueMsat: bigint; memo?: string; expirySeconds?: number }): Promise<IssuedInvoice>;
}

/** Root keys by `sha256(identifier)` hex. Replace the in-memory default to share tokens across processes. */
export interface RootKeyStore {
  put(id: string, rootKey: Uint8Array): void | Promise<void>;
  get(id: string): Uint8Array | undefined | Promise<Uint8Array | undefined>;
  /** Revokes the token. */
  delete(id: string): void | Promise<void>;
}

export function memoryRootKeyStore(): RootKeyStore & { readonly size: number } {
  const keys = new Map<string, Uint8Array>();
  return {
    put: (id, k) => void keys.set(id, k),
    get: (id) => keys.get(id),
    delete: (id) => void keys.delete(id),
    get size() {
      return keys.size;
    },
  };
}

export interface L402Options {
  invoices: L402Invoices;
  /** Millisatoshi, > 0. */
  price: bigint;
  /** The service name in the caveats (`services=<service>:<tier>`, `<service>_valid_until`). */
  service: string;
  /** How long a token is good for after it is minted (the 402), seconds. */
  validSeconds: number;
  tier?: number;
  /** Capabilities the token grants (`<service>_capabilities=a,b`); omitted: no such caveat. */
  capabilities?: readonly string[];
  /** A capability this route needs: a token whose capabilities caveats leave it out is refused. */
  requireCapability?: string;
  /** Default: one in-memory store per middleware. */
  rootKeys?: RootKeyStore;
  /** Invoice memo. */
  memo?: string | ((req: Request) => string);
  /** Invoice expiry, seconds. Default 3600. */
  invoiceExpirySeconds?: number;
  /** Macaroon location. Default "lsat", as Aperture. */
  location?: string;
  /** Milliseconds since the epoch (tests move it). */
  now?: () => number;
}

/** What a route behind l402() finds in `res.locals.l402`. */
export interface L402Paid {
  paymentHash: string;
  tokenId: string;
}

const IDENTIFIER_BYTES = 2 + 32 + 32;
const SERVICE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** `L402 <macaroons>:<preimage>` (or LSAT) → its parts; undefined when it cannot be read. */
export function parseL402Authorization(header: string | undefined): { macaroons: string[]; preimage: Buffer } | undefined {
  if (!header) return undefined;
  const m = /^(?:L402|LSAT)\s+(\S+)\s*$/i.exec(header.trim());
  if (!m) return undefined;
  const cred = m[1]!;
  const colon = cred.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const macs = cred.slice(0, colon).split(',').filter(Boolean);
  const pre = cred.slice(colon + 1);
  let preimage: Buffer;
  if (/^[0-9a-fA-F]{64}$/.test(pre)) preimage = Buffer.from(pre, 'hex');
  // Old LSAT clients sent the preimage in base64.
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(pre)) preimage = Buffer.from(pre.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  else return undefined;
  if (preimage.length !== 32 || macs.length === 0 || macs.some((s) => !/^[A-Za-z0-9+/_-]+={0,2}$/.test(s))) return undefined;
  return { macaroons: macs, preimage };
}

/** Checks the caveats this service knows; unknown ones pass (they are someone else's to check). */
function caveatChecker(o: { service: string; now: number; requireCapability?: string }): (condition: string) => string | null {
  return (condition) => {
    const eq = condition.indexOf('=');
    if (eq <= 0) return null;
    const key = condition.slice(0, eq).trim();
    const value = condition.slice(eq + 1).trim();
    if (key === 'services') {
      const names = value.split(',').map((s) => s.trim().split(':')[0]);
      return names.includes(o.service) ? null : `not valid for service ${o.service}`;
    }
    if (key === `${o.service}_valid_until`) {
      if (!/^\d{1,12}$/.test(value)) return 'unreadable expiry';
      return o.now < Number(value) * 1000 ? null : 'expired';
    }
    if (key === `${o.service}_capabilities` && o.requireCapability) {
      return value.split(',').map((s) => s.trim()).includes(o.requireCapability) ? null : `lacks capability ${o.requireCapability}`;
    }
    return null;
  };
}

export function l402(opts: L402Options): RequestHandler {
  if (opts.price <= 0n) throw new RangeError('price must be > 0 msat');
  if (!SERVICE_NAME.test(opts.service)) throw new RangeError('service must be 1–64 of A-Z a-z 0-9 _ . -');
  if (!(opts.validSeconds > 0)) throw new RangeError('validSeconds must be > 0');
  const rootKeys = opts.rootKeys ?? memoryRootKeyStore();
  const now = opts.now ?? Date.now;
  const location = opts.location ?? 'lsat';

  const keyId = (identifier: Uint8Array) => createHash('sha256').update(identifier).digest('hex');

  async function mint(req: Request): Promise<{ macaroon: string; invoice: string }> {
    const memo = typeof opts.memo === 'function' ? opts.memo(req) : (opts.memo ?? `${opts.service} access`);
    const invoice = await opts.invoices.addInvoice({ valueMsat: opts.price, memo, expirySeconds: opts.invoiceExpirySeconds ?? 3600 });
    const identifier = Buffer.concat([Buffer.from([0, 0]), Buffer.from(invoice.paymentHash, 'hex'), randomBytes(32)]);
    const rootKey = randomBytes(32);
    const mac = macaroons.newMacaroon({ identifier, location, rootKey, version: 2 });
    mac.addFirstPartyCaveat(`services=${opts.service}:${opts.tier ?? 0}`);
    if (opts.capabilities?.length) mac.addFirstPartyCaveat(`${opts.service}_capabilities=${opts.capabilities.join(',')}`);
    mac.addFirstPartyCaveat(`${opts.service}_valid_until=${Math.floor(now() / 1000) + opts.validSeconds}`);
    await rootKeys.put(keyId(identifier), rootKey);
    return { macaroon: Buffer.from(mac.exportBinary()).toString('base64'), invoice: invoice.paymentRequest };
  }

  async function challenge(req: Request, res: Response, status: 401 | 402, detail: string): Promise<void> {
    let minted: { macaroon: string; invoice: string };
    try {
      minted = await mint(req);
    } catch (err) {
      res.status(503).type('application/problem+json');
      res.send(JSON.stringify({ type: 'https://tollway.dev/problems/lightning-unavailable', title: 'Cannot issue a Lightning invoice right now', status: 503, detail: (err as Error).message }));
      return;
    }
    res.status(status);
    res.set('WWW-Authenticate', `L402 version="0", token="${minted.macaroon}", macaroon="${minted.macaroon}", invoice="${minted.invoice}"`);
    res.set('Cache-Control', 'no-store');
    res.type('application/problem+json');
    res.send(
      JSON.stringify({
        type: `https://tollway.dev/problems/${status === 402 ? 'payment-required' : 'invalid-l402-credential'}`,
        title: status === 402 ? 'Payment required' : 'The L402 credential is not valid',
        status,
        detail,
        invoice: minted.invoice,
        macaroon: minted.macaroon,
        amountMsat: opts.price.toString(),
      }),
    );
  }

  /** Why the credential is not good, or null when it is. */
  async function verify(cred: { macaroons: string[]; preimage: Buffer }, res: Response): Promise<string | null> {
    let mac: Macaroon;
    let discharges: Macaroon[];
    try {
      const all = cred.macaroons.flatMap((m) => macaroons.importMacaroons(m));
      [mac, ...discharges] = all as [Macaroon, ...Macaroon[]];
    } catch {
      return 'the macaroon cannot be read';
    }
    const id = Buffer.from(mac.identifier);
    if (id.length !== IDENTIFIER_BYTES || id.readUInt16BE(0) !== 0) return 'not an L402 version 0 macaroon';
    const rootKey = await rootKeys.get(keyId(id));
    if (!rootKey) return 'unknown or revoked token';
    try {
      mac.verify(rootKey, caveatChecker({ service: opts.service, now: now(), requireCapability: opts.requireCapability }), discharges);
    } catch (err) {
      return (err as Error).message.includes('caveat check failed') ? `caveat not met: ${(err as Error).message.replace(/^caveat check failed /, '')}` : 'the macaroon signature does not verify';
    }
    const paymentHash = id.subarray(2, 34);
    if (!timingSafeEqual(createHash('sha256').update(cred.preimage).digest(), paymentHash)) return 'the preimage does not match the payment hash';
    res.locals.l402 = { paymentHash: paymentHash.toString('hex'), tokenId: id.subarray(34).toString('hex') } satisfies L402Paid;
    return null;
  }

  return (req: Request, res: Response, next: NextFunction) => {
    (async () => {
      const header = req.headers.authorization;
      const isL402 = typeof header === 'string' && /^\s*(L402|LSAT)\b/i.test(header);
      if (!isL402) return challenge(req, res, 402, 'pay the invoice, then send Authorization: L402 <macaroon>:<preimage>');
      const cred = parseL402Authorization(header);
      if (!cred) return challenge(req, res, 402, 'the Authorization header cannot be read as L402 <macaroon>:<hex preimage>');
      const why = await verify(cred, res);
      if (why) return challenge(req, res, 401, why);
      next();
    })().catch(next);
  };
}
