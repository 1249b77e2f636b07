/**
 * L402: charge for a route in Lightning, the way Aperture does, with real macaroons.
 *
 * @example
 * ```ts
 * import { l402 } from './merchant/l402.js';
 * import { createLndNode } from './lightning/index.js';
 *
 * const node = createLndNode({ url: 'https://127.0.0.1:8080', macaroonHex, tlsCert }); // any LightningNode
 * // 2 sat per call; a paid token opens the API for an hour.
 * app.get(
 *   '/api/quote',
 *   // rootKeySecret: 32+ random bytes (hex or base64), the same in every process and across restarts.
 *   l402({ node, price: 2000n, service: 'quotes', validSeconds: 3600, rootKeySecret: process.env.L402_ROOT_KEY_SECRET! }),
 *   handler,
 * );
 * ```
 *
 * Without a credential the route answers `402` with
 * `WWW-Authenticate: L402 version="0", token="<macaroon>", macaroon="<macaroon>", invoice="<bolt11>"`
 * (both parameter names, so L402 and older LSAT clients read it). The macaroon's identifier is
 * `uint16 version 0 ‖ payment hash ‖ 32-byte random token id`; it carries the caveats
 * `services=<service>:<tier>` and `<service>_valid_until=<unix seconds>`. Its root key is
 * `HMAC-SHA256(rootKeySecret, "tollway/l402 root key v0" ‖ identifier)`: nothing is stored per
 * challenge, any process holding the same secret verifies the token (a restart included), and
 * changing the secret voids every token issued under the old one. (With `rootKeys` instead, each
 * macaroon gets a random root key kept in that store, and deleting it revokes the one token.)
 *
 * Invoices cost the merchant's node something, so issuing them is rate limited: a token bucket per
 * client (by default the client's IP, an IPv6 address by its /64) and one for all clients
 * together, in memory, with at most `maxClients` clients tracked (least recently seen dropped
 * first). Over the limit the route answers `429` with `Retry-After` and an
 * `application/problem+json` body of type `rate-limited`; no invoice, no macaroon. A request with
 * a good credential never touches the limiter.
 *
 * The client pays the invoice and retries with `Authorization: L402 <macaroon>:<hex preimage>`
 * (`LSAT` and a base64 preimage are read too). The middleware checks the HMAC chain with the root
 * key (by the `macaroon` library, libmacaroons-compatible), `sha256(preimage) == payment hash`,
 * and the caveats (each repetition may only narrow; unknown ones are skipped). A credential that
 * fails is 401 with a fresh challenge; one that cannot be read at all is a fresh 402.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import { isIPv6 } from 'node:net';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { LightningNode } from '@tollway/lightning/node.js';
import { ProblemError } from '@tollway/shared/problem.js';
import type { IssuedInvoice } from './lnd.js';
import { exportMacaroonV2 } from './macaroon-v2.js';

/** The part of the `macaroon` package used here (it ships no types). */
interface Macaroon {
  readonly location?: string;
  readonly identifier: Uint8Array;
  readonly signature: Uint8Array;
  readonly caveats: { identifier: Uint8Array; location?: string; vid?: Uint8Array }[];
  addFirstPartyCaveat(condition: string | Uint8Array): void;
  verify(rootKey: Uint8Array, check: (condition: string) => string | null, discharges?: Macaroon[]): void;
}
interface MacaroonLib {
  newMacaroon(o: { identifier: Uint8Array; location?: string; rootKey: Uint8Array; version?: 1 | 2 }): Macaroon;
  importMacaroons(o: string | Uint8Array): Macaroon[];
}
const macaroons = createRequire(import.meta.url)('macaroon') as MacaroonLib;

/** What l402() needs of a Lightning node: invoices. */
export type L402Node = Pick<LightningNode, 'createInvoice'>;

/** @deprecated The older source of invoices (`lndInvoices()` from ./lnd.js); give `node` instead. */
export interface L402Invoices {
  addInvoice(req: { valueMsat: bigint; memo?: string; expirySeconds?: number }): Promise<IssuedInvoice>;
}

/**
 * Root keys by `sha256(identifier)` hex, for merchants who want to revoke single tokens. Not the
 * default: it holds one entry per challenge issued (paid or not), so a durable store should drop
 * entries once `validSeconds` have passed. The default, `rootKeySecret`, stores nothing.
 */
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
  /** The merchant's Lightning node, which issues the invoices (`createLndNode()`, or any LightningNode). */
  node?: L402Node;
  /** @deprecated Instead of `node`: `lndInvoices()`, or anything with `addInvoice`. */
  invoices?: L402Invoices;
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
  /**
   * The secret every root key is derived from: 32+ random bytes (hex, base64 or bytes), the same
   * in each process that verifies these tokens and kept across restarts; changing it voids every
   * token issued before. Required when NODE_ENV is "production" (unless `rootKeys` is given);
   * elsewhere, when left out, a random secret is made once per process and a restart voids the
   * tokens then outstanding.
   */
  rootKeySecret?: string | Uint8Array;
  /** Instead of `rootKeySecret`: a random root key per macaroon, kept here (revocable, grows per challenge). */
  rootKeys?: RootKeyStore;
  /**
   * Rate limit on issuing invoices (every 402 and 401 issues one). Default
   * `{ perMinute: 60, burst: 20, maxClients: 10_000, total: { perMinute: 600, burst: 100 } }`;
   * a limiter from `l402RateLimiter()` to share one budget between routes; `false`: none.
   */
  rateLimit?: L402RateLimitOptions | L402RateLimiter | false;
  /** Invoice memo. */
  memo?: string | ((req: Request) => string);
  /** Invoice expiry, seconds. Default 3600. */
  invoiceExpirySeconds?: number;
  /** Macaroon location. Default "lsat", as Aperture. */
  location?: string;
  /** Milliseconds since the epoch (tests move it). */
  now?: () => number;
}

/** How fast invoices may be issued. */
export interface L402RateLimitOptions {
  /** Invoices one client may cause per minute, sustained. > 0. */
  perMinute: number;
  /** Invoices one client may cause at once (the bucket size). Default: `perMinute`, at least 1. */
  burst?: number;
  /**
   * Who the client is. Default: `req.ip` (an IPv6 address by its /64, which one subscriber
   * usually holds whole). Behind a proxy, set Express's `trust proxy` so that `req.ip` is the
   * client and not the proxy, or every client shares one bucket.
   */
  key?: (req: Request) => string;
  /** Clients tracked at most; past it the least recently seen is forgotten. Default 10,000. */
  maxClients?: number;
  /**
   * A ceiling for all clients together, the bound that holds when many addresses take part.
   * Default `{ perMinute: 600, burst: 100 }`; `false`: none.
   */
  total?: { perMinute: number; burst?: number } | false;
}

export type L402RateDecision = { ok: true } | { ok: false; retryAfterSeconds: number; scope: 'client' | 'total' };

/** A bounded, in-memory token-bucket limiter; pass one to several routes to share its budget. */
export interface L402RateLimiter {
  /** The client key for a request. */
  key(req: Request): string;
  /** Takes one token for `client` at `nowMs` if its bucket and the total one both have one. */
  take(client: string, nowMs: number): L402RateDecision;
  /** Clients tracked now (≤ maxClients). */
  readonly size: number;
  readonly maxClients: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export const DEFAULT_L402_RATE_LIMIT = { perMinute: 60, burst: 20, maxClients: 10_000, total: { perMinute: 600, burst: 100 } } as const;

/** IPv4 as is (IPv4-mapped IPv6 unwrapped); IPv6 as its /64, e.g. `2001:db8:0:1::/64`. */
export function l402ClientKey(req: Pick<Request, 'ip' | 'socket'>): string {
  let ip = req.ip ?? req.socket?.remoteAddress ?? '';
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) ip = mapped[1]!;
  if (!isIPv6(ip)) return ip || 'unknown';
  const zone = ip.indexOf('%');
  if (zone >= 0) ip = ip.slice(0, zone);
  const [head = '', tail] = ip.split('::') as [string, string | undefined];
  const part = (x: string) => (x ? x.split(':') : []);
  const h = part(head);
  let t = tail === undefined ? [] : part(tail);
  // An embedded IPv4 tail (::1.2.3.4) is the last 32 bits, beyond the /64 anyway.
  if (t.length && t[t.length - 1]!.includes('.')) t = [...t.slice(0, -1), '0', '0'];
  else if (!t.length && h.length && h[h.length - 1]!.includes('.')) h.splice(-1, 1, '0', '0');
  const groups = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

export function l402RateLimiter(o: L402RateLimitOptions): L402RateLimiter {
  const rate = (perMinute: number, burst: number | undefined, what: string) => {
    if (!(Number.isFinite(perMinute) && perMinute > 0)) throw new RangeError(`${what}perMinute must be > 0`);
    const size = burst ?? Math.max(1, perMinute);
    if (!(Number.isFinite(size) && size >= 1)) throw new RangeError(`${what}burst must be >= 1`);
    return { perMs: perMinute / 60_000, size };
  };
  const client = rate(o.perMinute, o.burst, 'rateLimit.');
  const total =
    o.total === false
      ? undefined
      : rate((o.total ?? DEFAULT_L402_RATE_LIMIT.total).perMinute, (o.total ?? DEFAULT_L402_RATE_LIMIT.total).burst, 'rateLimit.total.');
  const maxClients = o.maxClients ?? DEFAULT_L402_RATE_LIMIT.maxClients;
  if (!(Number.isInteger(maxClients) && maxClients >= 1)) throw new RangeError('rateLimit.maxClients must be an integer >= 1');
  // A Map iterates in insertion order: re-inserting on each use keeps the least recent first.
  const buckets = new Map<string, Bucket>();
  const all: Bucket = { tokens: total?.size ?? 0, at: -Infinity };

  const refill = (b: Bucket, r: { perMs: number; size: number }, now: number) => {
    if (b.at === -Infinity) b.tokens = r.size;
    else if (now > b.at) b.tokens = Math.min(r.size, b.tokens + (now - b.at) * r.perMs);
    b.at = Math.max(b.at, now);
  };
  const wait = (b: Bucket, r: { perMs: number }) => Math.max(1, Math.ceil((1 - b.tokens) / r.perMs / 1000));

  return {
    key: o.key ?? l402ClientKey,
    maxClients,
    get size() {
      return buckets.size;
    },
    take(key, now) {
      let b = buckets.get(key);
      if (b) buckets.delete(key);
      else b = { tokens: client.size, at: now };
      buckets.set(key, b);
      if (buckets.size > maxClients) buckets.delete(buckets.keys().next().value!);
      refill(b, client, now);
      if (b.tokens < 1) return { ok: false, retryAfterSeconds: wait(b, client), scope: 'client' };
      if (total) {
        refill(all, total, now);
        if (all.tokens < 1) return { ok: false, retryAfterSeconds: wait(all, total), scope: 'total' };
        all.tokens -= 1;
      }
      b.tokens -= 1;
      return { ok: true };
    },
  };
}

const isLimiter = (x: L402RateLimitOptions | L402RateLimiter): x is L402RateLimiter => typeof (x as L402RateLimiter).take === 'function';

/** Hex (64+ digits) or base64/base64url of 32+ bytes, or the bytes. */
function secretBytes(secret: string | Uint8Array): Buffer {
  let b: Buffer;
  if (typeof secret !== 'string') b = Buffer.from(secret);
  else if (/^(?:[0-9a-fA-F]{2}){32,}$/.test(secret.trim())) b = Buffer.from(secret.trim(), 'hex');
  else if (/^[A-Za-z0-9+/_-]{43,}={0,2}$/.test(secret.trim()))
    b = Buffer.from(secret.trim().replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  else throw new RangeError('rootKeySecret must be 32+ bytes: hex (64+ digits), base64, or a Uint8Array');
  if (b.length < 32) throw new RangeError('rootKeySecret must be at least 32 bytes');
  return b;
}

let processSecret: Buffer | undefined;
/** One random secret per process, for tests and development only: a restart voids its tokens. */
function developmentSecret(): Buffer {
  if (!processSecret) {
    processSecret = randomBytes(32);
    if (process.env.NODE_ENV !== 'test') {
      process.emitWarning(
        'l402(): no rootKeySecret, so tokens are signed under a random secret made for this process; they stop working when it restarts. Set rootKeySecret (32+ random bytes) for real use.',
        { code: 'TOLLWAY_L402_EPHEMERAL_SECRET' },
      );
    }
  }
  return processSecret;
}

const ROOT_KEY_LABEL = Buffer.from('tollway/l402 root key v0', 'utf8');

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
      return value
        .split(',')
        .map((s) => s.trim())
        .includes(o.requireCapability)
        ? null
        : `lacks capability ${o.requireCapability}`;
    }
    return null;
  };
}

/** An `addInvoice` source as a `createInvoice` one. */
const legacyInvoices =
  (invoices: L402Invoices) =>
  async (req: { amountMsat: bigint; memo: string; expirySeconds: number }): Promise<{ bolt11: string; paymentHash: string }> => {
    const inv = await invoices.addInvoice({ valueMsat: req.amountMsat, memo: req.memo, expirySeconds: req.expirySeconds });
    return { bolt11: inv.paymentRequest, paymentHash: inv.paymentHash };
  };

export function l402(opts: L402Options): RequestHandler {
  if (!opts.node === !opts.invoices) throw new RangeError('l402(): give node (a LightningNode), or the older invoices, not both');
  const issue = opts.node
    ? (req: { amountMsat: bigint; memo: string; expirySeconds: number }) => opts.node!.createInvoice(req)
    : legacyInvoices(opts.invoices!);
  if (opts.price <= 0n) throw new RangeError('price must be > 0 msat');
  if (!SERVICE_NAME.test(opts.service)) throw new RangeError('service must be 1–64 of A-Z a-z 0-9 _ . -');
  if (!(opts.validSeconds > 0)) throw new RangeError('validSeconds must be > 0');
  if (opts.rootKeys && opts.rootKeySecret !== undefined) throw new RangeError('give rootKeySecret or rootKeys, not both');
  if (!opts.rootKeys && opts.rootKeySecret === undefined && process.env.NODE_ENV === 'production') {
    throw new RangeError('l402(): set rootKeySecret (32+ random bytes, kept across restarts) when NODE_ENV is production');
  }
  const rootKeys = opts.rootKeys;
  const secret = rootKeys ? undefined : opts.rootKeySecret !== undefined ? secretBytes(opts.rootKeySecret) : developmentSecret();
  const limiter =
    opts.rateLimit === false
      ? undefined
      : opts.rateLimit && isLimiter(opts.rateLimit)
        ? opts.rateLimit
        : l402RateLimiter(opts.rateLimit ?? DEFAULT_L402_RATE_LIMIT);
  const now = opts.now ?? Date.now;
  const location = opts.location ?? 'lsat';

  const keyId = (identifier: Uint8Array) => createHash('sha256').update(identifier).digest('hex');
  const derivedKey = (identifier: Uint8Array) => createHmac('sha256', secret!).update(ROOT_KEY_LABEL).update(identifier).digest();

  async function mint(req: Request): Promise<{ macaroon: string; invoice: string }> {
    const memo = typeof opts.memo === 'function' ? opts.memo(req) : (opts.memo ?? `${opts.service} access`);
    const invoice = await issue({ amountMsat: opts.price, memo, expirySeconds: opts.invoiceExpirySeconds ?? 3600 });
    const identifier = Buffer.concat([Buffer.from([0, 0]), Buffer.from(invoice.paymentHash, 'hex'), randomBytes(32)]);
    const rootKey = rootKeys ? randomBytes(32) : derivedKey(identifier);
    const mac = macaroons.newMacaroon({ identifier, location, rootKey, version: 2 });
    mac.addFirstPartyCaveat(`services=${opts.service}:${opts.tier ?? 0}`);
    if (opts.capabilities?.length) mac.addFirstPartyCaveat(`${opts.service}_capabilities=${opts.capabilities.join(',')}`);
    mac.addFirstPartyCaveat(`${opts.service}_valid_until=${Math.floor(now() / 1000) + opts.validSeconds}`);
    if (rootKeys) await rootKeys.put(keyId(identifier), rootKey);
    // Never mac.exportBinary(): see macaroon-v2.ts (it allocated hundreds of MiB per challenge).
    return { macaroon: exportMacaroonV2(mac).toString('base64'), invoice: invoice.bolt11 };
  }

  async function challenge(req: Request, res: Response, status: 401 | 402, detail: string): Promise<void> {
    const allowed = limiter?.take(limiter.key(req), now());
    if (allowed && !allowed.ok) {
      res.status(429);
      res.set('Retry-After', String(allowed.retryAfterSeconds));
      res.set('Cache-Control', 'no-store');
      res.type('application/problem+json');
      const detail = `${allowed.scope === 'client' ? 'this client has' : 'all clients together have'} asked for too many Lightning invoices; retry in ${allowed.retryAfterSeconds} s (a paid token is not limited)`;
      res.send(JSON.stringify(new ProblemError('rate-limited', detail).toProblem()));
      return;
    }
    let minted: { macaroon: string; invoice: string };
    try {
      minted = await mint(req);
    } catch (err) {
      res.status(503).type('application/problem+json');
      res.send(JSON.stringify(new ProblemError('lightning-unavailable', (err as Error).message).toProblem()));
      return;
    }
    res.status(status);
    res.set('WWW-Authenticate', `L402 version="0", token="${minted.macaroon}", macaroon="${minted.macaroon}", invoice="${minted.invoice}"`);
    res.set('Cache-Control', 'no-store');
    res.type('application/problem+json');
    // The catalogue's status for each code is the one asked for: 402 unpaid, 401 a bad credential.
    const problem = new ProblemError(status === 402 ? 'payment-required' : 'invalid-l402-credential', detail, {
      invoice: minted.invoice,
      macaroon: minted.macaroon,
      amountMsat: opts.price.toString(),
    });
    res.send(JSON.stringify(problem.toProblem()));
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
    const rootKey = rootKeys ? await rootKeys.get(keyId(id)) : derivedKey(id);
    if (!rootKey) return 'unknown or revoked token';
    try {
      mac.verify(rootKey, caveatChecker({ service: opts.service, now: now(), requireCapability: opts.requireCapability }), discharges);
    } catch (err) {
      return (err as Error).message.includes('caveat check failed')
        ? `caveat not met: ${(err as Error).message.replace(/^caveat check failed /, '')}`
        : 'the macaroon signature does not verify';
    }
    const paymentHash = id.subarray(2, 34);
    if (!timingSafeEqual(createHash('sha256').update(cred.preimage).digest(), paymentHash))
      return 'the preimage does not match the payment hash';
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
