/**
 * A bounded, in-memory token-bucket limiter for what unauthenticated requests make a merchant do
 * (issue an invoice): per client, and for all clients together, with at most `maxClients` tracked.
 * Framework-neutral: each user says how a request names its client.
 */
import { isIPv6 } from 'node:net';

/** How fast something a client causes (an invoice per 402) may happen. */
export interface RateLimitOptions<Req> {
  /** Invoices one client may cause per minute, sustained. > 0. */
  perMinute: number;
  /** Invoices one client may cause at once (the bucket size). Default: `perMinute`, at least 1. */
  burst?: number;
  /**
   * Who the client is. Default: `req.ip` (an IPv6 address by its /64, which one subscriber
   * usually holds whole). Behind a proxy, set Express's `trust proxy` so that `req.ip` is the
   * client and not the proxy, or every client shares one bucket.
   */
  key?: (req: Req) => string;
  /** Clients tracked at most; past it the least recently seen is forgotten. Default 10,000. */
  maxClients?: number;
  /**
   * A ceiling for all clients together, the bound that holds when many addresses take part.
   * Default `{ perMinute: 600, burst: 100 }`; `false`: none.
   */
  total?: { perMinute: number; burst?: number } | false;
}

export type RateDecision = { ok: true } | { ok: false; retryAfterSeconds: number; scope: 'client' | 'total' };

/** A bounded, in-memory token-bucket limiter; pass one to several routes to share its budget. */
export interface RateLimiter<Req> {
  /** The client key for a request. */
  key(req: Req): string;
  /** Takes one token for `client` at `nowMs` if its bucket and the total one both have one. */
  take(client: string, nowMs: number): RateDecision;
  /** Clients tracked now (≤ maxClients). */
  readonly size: number;
  readonly maxClients: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export const DEFAULT_RATE_LIMIT = { perMinute: 60, burst: 20, maxClients: 10_000, total: { perMinute: 600, burst: 100 } } as const;

/** IPv4 as is (IPv4-mapped IPv6 unwrapped); IPv6 as its /64, e.g. `2001:db8:0:1::/64`. */
export function clientKeyOf(address: string | undefined): string {
  let ip = address ?? '';
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

export function rateLimiter<Req>(o: RateLimitOptions<Req>, defaultKey: (req: Req) => string): RateLimiter<Req> {
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
      : rate((o.total ?? DEFAULT_RATE_LIMIT.total).perMinute, (o.total ?? DEFAULT_RATE_LIMIT.total).burst, 'rateLimit.total.');
  const maxClients = o.maxClients ?? DEFAULT_RATE_LIMIT.maxClients;
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
    key: o.key ?? defaultKey,
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

const isLimiter = <Req>(x: RateLimitOptions<Req> | RateLimiter<Req>): x is RateLimiter<Req> =>
  typeof (x as RateLimiter<Req>).take === 'function';

/** The limiter an option names: one given, one built from settings (default DEFAULT_RATE_LIMIT), or none for `false`. */
export function rateLimiterFrom<Req>(
  option: RateLimitOptions<Req> | RateLimiter<Req> | false | undefined,
  defaultKey: (req: Req) => string,
): RateLimiter<Req> | undefined {
  if (option === false) return undefined;
  return option && isLimiter(option) ? option : rateLimiter(option ?? DEFAULT_RATE_LIMIT, defaultKey);
}
