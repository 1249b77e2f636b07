/**
 * L402's framework-neutral core: mints the macaroon and invoice of a challenge and verifies
 * `Authorization: L402 <macaroon>:<preimage>` against a described request (./core-contract.ts).
 * `l402()` (./l402.ts, Express) and `l402Hono()` (./hono.ts) are its adapters; ./l402.ts says
 * what the tokens carry and how they are checked.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import type { LightningNode } from '@tollway/lightning/node.js';
import { BIND_PARTS, bindingInput, type BindPart } from '@tollway/shared/binding.js';
import { BodyTooLargeError } from './body.js';
import { type CoreChallenge, type CorePaid, type CoreRequest, coreBody, problemAnswer } from './core-contract.js';
import type { IssuedInvoice } from './lnd.js';
import { type RateLimiter, type RateLimitOptions, rateLimiterFrom } from './rate-limit.js';
import { exportMacaroonV2, importMacaroonV2, type MacaroonV2, mintMacaroonV2, verifyFirstPartyV2 } from './macaroon-v2.js';
import { defaultReceiptStore, type ReceiptStore } from './store.js';

/** The part of the `macaroon` package used here (it ships no types). */
interface Macaroon {
  readonly location?: string;
  readonly identifier: Uint8Array;
  readonly signature: Uint8Array;
  readonly caveats: { identifier: Uint8Array; location?: string; vid?: Uint8Array }[];
  verify(rootKey: Uint8Array, check: (condition: string) => string | null, discharges?: Macaroon[]): void;
}
interface MacaroonLib {
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

/** l402()'s options; `N` is the framework's request (Express `Request`, Hono `Context`), given to `memo` and the rate limit's `key`. */
export interface L402CoreOptions<N = unknown> {
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
  rateLimit?: RateLimitOptions<N> | RateLimiter<N> | false;
  /** Invoice memo. */
  memo?: string | ((req: N) => string);
  /** Invoice expiry, seconds. Default 3600. */
  invoiceExpirySeconds?: number;
  /** Macaroon location. Default "lsat", as Aperture. */
  location?: string;
  /**
   * The path prefix a token minted here opens (`<service>_path_prefix`), matched by whole
   * segments: `/api` opens `/api` and `/api/x`, not `/apix`. Default: the path the 402 answered,
   * so a token opens that path (and the paths under it) and no other route of the service.
   */
  pathPrefix?: string;
  /**
   * The methods a token minted here opens (`<service>_method`). Default: the method the 402
   * answered (HEAD counts as GET, as Express routes it).
   */
  methods?: readonly string[];
  /**
   * Each token opens one request (`<service>_uses=1`): its id is claimed in `store` once the rest
   * has verified, and a second use is 401. Default false: a token opens the route until it expires.
   */
  singleUse?: boolean;
  /**
   * Where spent single-use tokens are remembered, until their `valid_until`. Default: the kit's
   * process-wide in-memory store (shared with paywall(), ids prefixed `l402:`); back it with Redis
   * or SQL so that spent tokens stay spent across restarts and processes.
   */
  store?: ReceiptStore;
  /**
   * Binds each token to the request that got the 402: a `<service>_bind=<parts>:<hash>` caveat
   * over these parts of it (the receipts' `bind`: method, path, query, body), and a request here
   * must hash the same. Default: none (the path prefix and method caveats still apply).
   */
  bind?: readonly BindPart[];
  /** Largest body read for a `body` binding, bytes. Default 1 MiB. */
  bodyLimit?: number;
  /**
   * Tokens without path, method and amount caveats (minted by kits before those existed, under
   * the same secret) open routes of their service until they expire. Default true; false refuses them.
   */
  acceptUnscopedTokens?: boolean;
  /** Shown in price discovery. Default: the memo when it is a string. */
  description?: string;
  /** Milliseconds since the epoch (tests move it). */
  now?: () => number;
}

/** What price discovery (describeRoutes, openApiPaths) reads from an l402() middleware. */
export interface L402Info {
  /** Millisatoshi, decimal. */
  price: string;
  service: string;
  tier: number;
  validSeconds: number;
  capabilities: string[];
  /** The configured prefix; absent: each token opens the path that minted it. */
  pathPrefix?: string;
  /** The configured methods; absent: the method that minted it. */
  methods?: string[];
  bind: BindPart[];
  singleUse: boolean;
  description: string;
}

/** The property of an l402() middleware that holds its L402Info. */
export const L402_INFO = 'tollwayL402' as const;

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

/** What the request offers the caveats: its method (HEAD as GET) and its path, as sent and resolved. */
interface RequestFacts {
  method: string;
  /** The path as sent and with dot segments resolved; a path prefix caveat must hold for both. */
  paths: readonly string[];
}

/** What the caveats said that is checked after the chain: whether the token is scoped, its limits. */
interface CaveatsSeen {
  path: boolean;
  method: boolean;
  amount: boolean;
  singleUse: boolean;
  /** The earliest `valid_until`, ms. */
  until: number;
  binds: { parts: BindPart[]; hash: string }[];
}

/** `/api` opens `/api` and `/api/…`, never `/apix`; `/` opens everything. */
export function underPathPrefix(path: string, prefix: string): boolean {
  const p = prefix.replace(/\/+$/, '');
  return p === '' || path === p || path.startsWith(`${p}/`);
}

const BIND_CAVEAT = /^([a-z]+(?:,[a-z]+)*):([A-Za-z0-9_-]{43})$/;

/**
 * Checks the caveats this service knows; unknown ones pass (they are someone else's to check).
 * Each is checked on its own, so a repetition can only narrow. Bindings need the body, which the
 * chain walk cannot wait for: they are collected in `seen` and checked after the signature.
 */
function caveatChecker(
  o: { service: string; now: number; requireCapability?: string; price: bigint; request: RequestFacts },
  seen: CaveatsSeen,
): (condition: string) => string | null {
  const s = o.service;
  return (condition) => {
    const eq = condition.indexOf('=');
    if (eq <= 0) return null;
    const key = condition.slice(0, eq).trim();
    const value = condition.slice(eq + 1).trim();
    if (key === 'services') {
      const names = value.split(',').map((x) => x.trim().split(':')[0]);
      return names.includes(s) ? null : `not valid for service ${s}`;
    }
    if (!key.startsWith(`${s}_`)) return null;
    switch (key.slice(s.length + 1)) {
      case 'valid_until': {
        if (!/^\d{1,12}$/.test(value)) return 'unreadable expiry';
        seen.until = Math.min(seen.until, Number(value) * 1000);
        return o.now < Number(value) * 1000 ? null : 'expired';
      }
      case 'capabilities':
        if (!o.requireCapability) return null;
        return value
          .split(',')
          .map((x) => x.trim())
          .includes(o.requireCapability)
          ? null
          : `lacks capability ${o.requireCapability}`;
      case 'path_prefix':
        seen.path = true;
        if (!value.startsWith('/')) return 'unreadable path prefix';
        return o.request.paths.every((p) => underPathPrefix(p, value)) ? null : `not valid for path ${o.request.paths[0]}`;
      case 'method':
        seen.method = true;
        return value
          .split(',')
          .map((m) => m.trim().toUpperCase())
          .includes(o.request.method)
          ? null
          : `not valid for method ${o.request.method}`;
      case 'amount_msat':
        seen.amount = true;
        if (!/^\d{1,30}$/.test(value)) return 'unreadable amount';
        return BigInt(value) >= o.price ? null : `paid ${value} msat, the route costs ${o.price} msat`;
      case 'uses':
        if (value !== '1') return 'unsupported uses caveat';
        seen.singleUse = true;
        return null;
      case 'bind': {
        const m = BIND_CAVEAT.exec(value);
        const parts = (m?.[1]?.split(',') ?? []) as BindPart[];
        if (!m || !parts.every((p) => (BIND_PARTS as readonly string[]).includes(p))) return 'unreadable binding';
        seen.binds.push({ parts, hash: m[2]! });
        return null;
      }
      default:
        return null;
    }
  };
}

/** HEAD is answered by GET routes in Express, so it counts as GET for the method caveat and binding. */
const methodOf = (req: CoreRequest) => (req.method.toUpperCase() === 'HEAD' ? 'GET' : req.method.toUpperCase());

const URL_BASE = 'http://l402.invalid';

function requestFacts(req: CoreRequest): RequestFacts {
  const url = req.url;
  const q = url.indexOf('?');
  const raw = q >= 0 ? url.slice(0, q) : url;
  // Only dots, percent signs, backslashes and doubled slashes change when a URL parser resolves a path.
  let resolved = raw;
  if (!/^\/[A-Za-z0-9_~!$&'()*+,;=:@/-]*$/.test(raw) || raw.includes('//')) {
    try {
      resolved = new URL(url, URL_BASE).pathname;
    } catch {
      resolved = raw;
    }
  }
  return { method: methodOf(req), paths: raw === resolved ? [resolved] : [resolved, raw] };
}

/** base64url(sha256(the bound parts)): the receipts' `rqh`, computed here synchronously. */
function bindHash(req: CoreRequest, parts: readonly BindPart[], body: Uint8Array | undefined): string {
  let url: string;
  try {
    url = new URL(req.url, URL_BASE).href;
  } catch {
    // A request line no URL parser reads is bound to nothing: no token's hash is empty.
    return '';
  }
  const input = bindingInput(
    { method: methodOf(req), url, ...(body ? { bodyHash: createHash('sha256').update(body).digest('hex') } : {}) },
    parts,
  );
  return createHash('sha256').update(input).digest('base64url');
}

/** An `addInvoice` source as a `createInvoice` one. */
const legacyInvoices =
  (invoices: L402Invoices) =>
  async (req: { amountMsat: bigint; memo: string; expirySeconds: number }): Promise<{ bolt11: string; paymentHash: string }> => {
    const inv = await invoices.addInvoice({ valueMsat: req.amountMsat, memo: req.memo, expirySeconds: req.expirySeconds });
    return { bolt11: inv.paymentRequest, paymentHash: inv.paymentHash };
  };

/** What an adapter gives the core besides the options. */
export interface L402Adapter<N> {
  /** The rate limit's client key when the options name none (the client's address, by default). */
  clientKey: (req: N) => string;
}

export interface L402Core<N = unknown> {
  readonly info: L402Info;
  /**
   * Paid (run the route with `locals`), or the answer to send: 402 (no credential, or one that
   * cannot be read), 401 (refused), 429, 413 or 503, each a problem+json. Rejects only on a
   * configuration error (`BodyUnavailableError`), for the framework's error handling.
   */
  handle(req: CoreRequest<N>): Promise<CoreChallenge | CorePaid<L402Paid>>;
}

export function l402Core<N>(opts: L402CoreOptions<N>, adapter: L402Adapter<N>): L402Core<N> {
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
  const limiter = rateLimiterFrom(opts.rateLimit, adapter.clientKey);
  const now = opts.now ?? Date.now;
  const location = opts.location ?? 'lsat';
  const store = opts.store ?? defaultReceiptStore;
  const bind = [...new Set(opts.bind ?? [])];
  if (bind.some((p) => !(BIND_PARTS as readonly string[]).includes(p))) throw new RangeError(`bind lists only ${BIND_PARTS.join(', ')}`);
  if (opts.pathPrefix !== undefined && !/^\/[\x21-\x7e]*$/.test(opts.pathPrefix))
    throw new RangeError('pathPrefix must start with / and hold no spaces or control characters');
  const methods = opts.methods?.map((m) => m.toUpperCase());
  if (methods && (!methods.length || methods.some((m) => !/^[A-Z]{1,16}$/.test(m))))
    throw new RangeError('methods must be HTTP method names');
  const bodyLimit = opts.bodyLimit ?? 1024 * 1024;
  const acceptUnscoped = opts.acceptUnscopedTokens ?? true;
  const needsBody = bind.includes('body');

  const keyId = (identifier: Uint8Array) => createHash('sha256').update(identifier).digest('hex');
  const derivedKey = (identifier: Uint8Array) => createHmac('sha256', secret!).update(ROOT_KEY_LABEL).update(identifier).digest();

  async function mint(req: CoreRequest<N>): Promise<{ macaroon: string; invoice: string }> {
    // The binding first: a body that cannot be read must not cost an invoice.
    const bound = bind.length
      ? `${bind.join(',')}:${bindHash(req, bind, needsBody ? await coreBody(req, bodyLimit) : undefined)}`
      : undefined;
    const memo = typeof opts.memo === 'function' ? opts.memo(req.native as N) : (opts.memo ?? `${opts.service} access`);
    const invoice = await issue({ amountMsat: opts.price, memo, expirySeconds: opts.invoiceExpirySeconds ?? 3600 });
    const identifier = Buffer.concat([Buffer.from([0, 0]), Buffer.from(invoice.paymentHash, 'hex'), randomBytes(32)]);
    const rootKey = rootKeys ? randomBytes(32) : derivedKey(identifier);
    const s = opts.service;
    const caveats = [`services=${s}:${opts.tier ?? 0}`];
    if (opts.capabilities?.length) caveats.push(`${s}_capabilities=${opts.capabilities.join(',')}`);
    caveats.push(
      `${s}_valid_until=${Math.floor(now() / 1000) + opts.validSeconds}`,
      `${s}_path_prefix=${opts.pathPrefix ?? requestFacts(req).paths[0]}`,
      `${s}_method=${(methods ?? [methodOf(req)]).join(',')}`,
      `${s}_amount_msat=${opts.price}`,
    );
    if (opts.singleUse) caveats.push(`${s}_uses=1`);
    if (bound) caveats.push(`${s}_bind=${bound}`);
    const mac = mintMacaroonV2({ identifier, location, rootKey, caveats });
    if (rootKeys) await rootKeys.put(keyId(identifier), rootKey);
    // Never the macaroon package's exportBinary(): see macaroon-v2.ts (it allocated hundreds of MiB per challenge).
    return { macaroon: exportMacaroonV2(mac).toString('base64'), invoice: invoice.bolt11 };
  }

  async function challenge(req: CoreRequest<N>, status: 401 | 402, detail: string): Promise<CoreChallenge> {
    const allowed = limiter?.take(limiter.key(req.native as N), now());
    if (allowed && !allowed.ok) {
      const why = `${allowed.scope === 'client' ? 'this client has' : 'all clients together have'} asked for too many Lightning invoices; retry in ${allowed.retryAfterSeconds} s (a paid token is not limited)`;
      return problemAnswer('rate-limited', why, { 'Retry-After': String(allowed.retryAfterSeconds) });
    }
    let minted: { macaroon: string; invoice: string };
    try {
      minted = await mint(req);
    } catch (err) {
      if (err instanceof BodyTooLargeError) return problemAnswer('payload-too-large', err.message);
      if (!(err instanceof Error) || err.name === 'BodyUnavailableError') throw err;
      return problemAnswer('lightning-unavailable', err.message);
    }
    // The catalogue's status for each code is the one asked for: 402 unpaid, 401 a bad credential.
    return problemAnswer(
      status === 402 ? 'payment-required' : 'invalid-l402-credential',
      detail,
      {
        'WWW-Authenticate': `L402 version="0", token="${minted.macaroon}", macaroon="${minted.macaroon}", invoice="${minted.invoice}"`,
        'Access-Control-Expose-Headers': 'WWW-Authenticate',
      },
      { invoice: minted.invoice, macaroon: minted.macaroon, amountMsat: opts.price.toString() },
    );
  }

  /** Why the credential is not good, or what it paid for. */
  async function verify(req: CoreRequest<N>, cred: { macaroons: string[]; preimage: Buffer }): Promise<string | L402Paid> {
    // One macaroon in the v2 binary format with first-party caveats only (every token l402() mints,
    // narrowed or not) is checked with native HMAC; discharges and other formats go to the package.
    let fast: MacaroonV2 | undefined;
    let mac: Macaroon | undefined;
    let discharges: Macaroon[] = [];
    if (cred.macaroons.length === 1) {
      fast = importMacaroonV2(Buffer.from(cred.macaroons[0]!, 'base64'));
      if (fast?.caveats.some((c) => c.vid)) fast = undefined;
    }
    if (!fast) {
      try {
        const all = cred.macaroons.flatMap((m) => macaroons.importMacaroons(m));
        [mac, ...discharges] = all as [Macaroon, ...Macaroon[]];
      } catch {
        return 'the macaroon cannot be read';
      }
    }
    const id = Buffer.from((fast ?? mac)!.identifier);
    if (id.length !== IDENTIFIER_BYTES || id.readUInt16BE(0) !== 0) return 'not an L402 version 0 macaroon';
    const rootKey = rootKeys ? await rootKeys.get(keyId(id)) : derivedKey(id);
    if (!rootKey) return 'unknown or revoked token';
    const t = now();
    const seen: CaveatsSeen = { path: false, method: false, amount: false, singleUse: false, until: Infinity, binds: [] };
    const check = caveatChecker(
      { service: opts.service, now: t, requireCapability: opts.requireCapability, price: opts.price, request: requestFacts(req) },
      seen,
    );
    if (fast) {
      const failed = verifyFirstPartyV2(fast, rootKey, check);
      if (failed)
        return 'signature' in failed ? 'the macaroon signature does not verify' : `caveat not met: (${failed.condition}): ${failed.reason}`;
    } else {
      try {
        mac!.verify(rootKey, check, discharges);
      } catch (err) {
        return (err as Error).message.includes('caveat check failed')
          ? `caveat not met: ${(err as Error).message.replace(/^caveat check failed /, '')}`
          : 'the macaroon signature does not verify';
      }
    }
    const paymentHash = id.subarray(2, 34);
    if (!timingSafeEqual(createHash('sha256').update(cred.preimage).digest(), paymentHash))
      return 'the preimage does not match the payment hash';
    if (!(seen.path && seen.method && seen.amount) && !acceptUnscoped)
      return `caveat not met: the token names no ${opts.service}_path_prefix, _method and _amount_msat (minted before they existed)`;
    if (bind.length && !seen.binds.some((b) => bind.every((p) => b.parts.includes(p))))
      return `caveat not met: the token is not bound to a request (${bind.join(', ')})`;
    if (seen.binds.length) {
      const body = seen.binds.some((b) => b.parts.includes('body')) ? await coreBody(req, bodyLimit) : undefined;
      for (const b of seen.binds) {
        if (bindHash(req, b.parts, body) !== b.hash)
          return `caveat not met: the token is for another request (${b.parts.join(', ')} must match)`;
      }
    }
    const tokenId = id.subarray(34).toString('hex');
    // Last, so that a token refused for any other reason is not spent.
    if (opts.singleUse || seen.singleUse) {
      const expiresAt = Number.isFinite(seen.until) ? seen.until : t + opts.validSeconds * 1000;
      if (!(await store.claim(`l402:${tokenId}`, expiresAt))) return 'this single-use token was already used';
    }
    return { paymentHash: paymentHash.toString('hex'), tokenId };
  }

  const info: L402Info = Object.freeze({
    price: opts.price.toString(),
    service: opts.service,
    tier: opts.tier ?? 0,
    validSeconds: opts.validSeconds,
    capabilities: [...(opts.capabilities ?? [])],
    ...(opts.pathPrefix !== undefined ? { pathPrefix: opts.pathPrefix } : {}),
    ...(methods ? { methods } : {}),
    bind,
    singleUse: opts.singleUse ?? false,
    description: opts.description ?? (typeof opts.memo === 'string' ? opts.memo : ''),
  });

  return {
    info,
    async handle(req) {
      const header = req.headers.authorization;
      const isL402 = typeof header === 'string' && /^\s*(L402|LSAT)\b/i.test(header);
      if (!isL402) return challenge(req, 402, 'pay the invoice, then send Authorization: L402 <macaroon>:<preimage>');
      const cred = parseL402Authorization(header);
      if (!cred) return challenge(req, 402, 'the Authorization header cannot be read as L402 <macaroon>:<hex preimage>');
      let verdict: string | L402Paid;
      try {
        verdict = await verify(req, cred);
      } catch (err) {
        if (err instanceof BodyTooLargeError) return problemAnswer('payload-too-large', err.message);
        throw err;
      }
      if (typeof verdict === 'string') return challenge(req, 401, verdict);
      // A paid token opens the route for anyone holding it: no shared cache may keep the answer.
      return { kind: 'paid', locals: verdict, responseHeaders: { 'Cache-Control': 'private' } };
    },
  };
}
