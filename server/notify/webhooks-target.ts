import { lookup as dnsLookup } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';

/**
 * The SSRF guard for webhook targets. A merchant chooses the URL the hub POSTs to, so without a
 * guard anyone with a merchant key could make the hub reach its own network (cloud metadata at
 * 169.254.169.254, a database on 10.x, the hub's own admin port on 127.0.0.1).
 *
 * Refused unless the hub allows private targets (tests, dev mode): schemes other than http(s),
 * credentials in the URL, `localhost` names, and every address that is not globally routable:
 * unspecified, loopback, private (RFC 1918, CGNAT), link-local, multicast, reserved and
 * documentation ranges, IPv6 unique-local, site-local, and IPv4 embedded in IPv6 (mapped,
 * compatible, NAT64, 6to4) classified as the IPv4 address it carries.
 *
 * Three checks, each for what the one before cannot see:
 * - `staticTargetProblem` when the URL is set (POST /merchants, PUT webhook): what can never be allowed.
 * - `checkWebhookTarget` before each attempt: the hostname resolved now, every address checked.
 * - `guardedLookup` as the connection's own resolver: the address actually connected to is checked,
 *   so a DNS answer that changes between the check and the connect (rebinding) gets nowhere.
 */

export type ResolveAll = (hostname: string) => Promise<{ address: string; family: number }[]>;

export const resolveAll: ResolveAll = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  );

// ---------------------------------------------------------------------------------------------
// Address classification

type V4Range = [base: number, prefix: number, why: string];
const v4 = (a: string, prefix: number, why: string): V4Range => [parseV4(a)!, prefix, why];

const V4_BLOCKED: V4Range[] = [
  v4('0.0.0.0', 8, 'unspecified ("this network")'),
  v4('10.0.0.0', 8, 'private'),
  v4('100.64.0.0', 10, 'shared address space (CGNAT)'),
  v4('127.0.0.0', 8, 'loopback'),
  v4('169.254.0.0', 16, 'link-local'),
  v4('172.16.0.0', 12, 'private'),
  v4('192.0.0.0', 24, 'IETF protocol assignments'),
  v4('192.0.2.0', 24, 'documentation'),
  v4('192.88.99.0', 24, '6to4 relay anycast'),
  v4('192.168.0.0', 16, 'private'),
  v4('198.18.0.0', 15, 'benchmarking'),
  v4('198.51.100.0', 24, 'documentation'),
  v4('203.0.113.0', 24, 'documentation'),
  v4('224.0.0.0', 4, 'multicast'),
  v4('240.0.0.0', 4, 'reserved'), // includes 255.255.255.255, broadcast
];

function parseV4(s: string): number | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = n * 256 + v;
  }
  return n;
}

function classifyV4(n: number): string | null {
  for (const [base, prefix, why] of V4_BLOCKED) {
    const size = 2 ** (32 - prefix);
    if (Math.floor(n / size) === Math.floor(base / size)) return why;
  }
  return null;
}

/** 16 bytes of an IPv6 address (zone id dropped, embedded dotted IPv4 accepted), or null. */
function parseV6(input: string): number[] | null {
  let s = input.toLowerCase();
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    // Embedded dotted IPv4 (::ffff:1.2.3.4): rewritten as its two hex groups.
    const n = parseV4(s.slice(lastColon + 1));
    if (n === null) return null;
    s = `${s.slice(0, lastColon + 1)}${((n >>> 16) & 0xffff).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groups = (h: string) => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  const parse = (g: string) => (/^[0-9a-f]{1,4}$/.test(g) ? parseInt(g, 16) : NaN);
  const h = head.map(parse);
  const r = rest.map(parse);
  if ([...h, ...r].some(Number.isNaN)) return null;
  const have = h.length + r.length;
  let words: number[];
  if (halves.length === 2) {
    if (have > 7) return null;
    words = [...h, ...Array<number>(8 - have).fill(0), ...r];
  } else {
    if (have !== 8) return null;
    words = h;
  }
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

const v4FromBytes = (b: number[], at: number) => ((b[at]! << 24) >>> 0) + (b[at + 1]! << 16) + (b[at + 2]! << 8) + b[at + 3]!;
const zeros = (b: number[], from: number, to: number) => b.slice(from, to).every((x) => x === 0);

function classifyV6(b: number[]): string | null {
  if (zeros(b, 0, 16)) return 'unspecified';
  if (zeros(b, 0, 15) && b[15] === 1) return 'loopback';
  // IPv4-mapped ::ffff:a.b.c.d and IPv4-compatible ::a.b.c.d: the IPv4 address decides.
  if (zeros(b, 0, 10) && b[10] === 0xff && b[11] === 0xff) return embedded(v4FromBytes(b, 12), 'IPv4-mapped');
  if (zeros(b, 0, 12)) return embedded(v4FromBytes(b, 12), 'IPv4-compatible');
  // NAT64 64:ff9b::/96 and 64:ff9b:1::/48 translate to the IPv4 address they carry.
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b) {
    if (zeros(b, 4, 12)) return embedded(v4FromBytes(b, 12), 'NAT64');
    if (b[4] === 0 && b[5] === 1) return 'NAT64 local-use';
  }
  // 6to4 2002:a.b.c.d::/48
  if (b[0] === 0x20 && b[1] === 0x02) return embedded(v4FromBytes(b, 2), '6to4');
  if (b[0] === 0x01 && b[1] === 0x00 && zeros(b, 2, 8)) return 'discard-only';
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x0d && b[3] === 0xb8) return 'documentation';
  if ((b[0]! & 0xfe) === 0xfc) return 'unique local (fc00::/7)';
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return 'link-local';
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0xc0) return 'site-local';
  if (b[0] === 0xff) return 'multicast';
  return null;
}

function embedded(n: number, kind: string): string | null {
  const why = classifyV4(n);
  return why ? `${kind} ${why}` : null;
}

/**
 * Why an IP address may not be a webhook target, or null when it is a public unicast address.
 * Anything that is not an IP address at all is refused too.
 */
export function blockedAddressReason(address: string): string | null {
  const kind = isIP(address.replace(/%.*$/, ''));
  if (kind === 4) return classifyV4(parseV4(address)!);
  if (kind === 6) {
    const bytes = parseV6(address);
    return bytes ? classifyV6(bytes) : 'not an IP address';
  }
  return 'not an IP address';
}

// ---------------------------------------------------------------------------------------------
// URLs

/** The host of a URL as an IP literal (brackets of IPv6 removed), or null for a name. */
function ipLiteral(u: URL): string | null {
  const h = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  return isIP(h) ? h : null;
}

const isLocalhostName = (host: string) => {
  const h = host.toLowerCase().replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost');
};

/**
 * What makes a URL one that can never be a webhook target on this hub, or null. No DNS: a name is
 * judged when the hub sends (its addresses may change). Used when the URL is set.
 */
export function staticTargetProblem(url: string, allowPrivate: boolean): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'must be an absolute http(s) URL';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'must be an http or https URL';
  if (u.username || u.password) return 'must not carry credentials; requests are authenticated by their signature';
  if (allowPrivate) return null;
  if (isLocalhostName(u.hostname)) return 'must not name localhost (this hub does not allow private webhook targets)';
  const ip = ipLiteral(u);
  if (ip) {
    const why = blockedAddressReason(ip);
    if (why) return `must not be a ${why} address (this hub does not allow private webhook targets)`;
  }
  return null;
}

export type TargetCheck = { ok: true; addresses: string[] } | { ok: false; reason: string };

/**
 * The check before each attempt: the static one, then every address the hostname resolves to
 * (one private address among public ones is enough to refuse: the connection may pick it).
 */
export async function checkWebhookTarget(url: string, opts: { allowPrivate: boolean; resolve?: ResolveAll }): Promise<TargetCheck> {
  const staticProblem = staticTargetProblem(url, opts.allowPrivate);
  if (staticProblem) return { ok: false, reason: `webhook URL ${staticProblem}` };
  if (opts.allowPrivate) return { ok: true, addresses: [] };
  const u = new URL(url);
  const ip = ipLiteral(u);
  if (ip) return { ok: true, addresses: [ip] };
  let addresses: { address: string }[];
  try {
    addresses = await (opts.resolve ?? resolveAll)(u.hostname);
  } catch (err) {
    return { ok: false, reason: `cannot resolve ${u.hostname}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
  if (addresses.length === 0) return { ok: false, reason: `${u.hostname} resolves to no address` };
  for (const { address } of addresses) {
    const why = blockedAddressReason(address);
    if (why) return { ok: false, reason: `${u.hostname} resolves to ${address}, a ${why} address` };
  }
  return { ok: true, addresses: addresses.map((a) => a.address) };
}

export class BlockedTargetError extends Error {
  readonly code = 'EWEBHOOKTARGET';
}

/**
 * A resolver for `http.request({lookup})` that refuses a name any of whose addresses is blocked.
 * The socket connects to what this returns, so this is the check that cannot be raced.
 */
export function guardedLookup(resolve: ResolveAll = resolveAll): LookupFunction {
  return (hostname, options, callback) => {
    const f = options.family;
    const family = f === 'IPv4' ? 4 : f === 'IPv6' ? 6 : (f ?? 0);
    resolve(hostname).then(
      (addresses) => {
        for (const { address } of addresses) {
          const why = blockedAddressReason(address);
          if (why) return callback(new BlockedTargetError(`${hostname} resolves to ${address}, a ${why} address`), '', 0);
        }
        const wanted = addresses.filter((a) => family === 0 || a.family === family);
        const first = wanted[0];
        if (!first) return callback(Object.assign(new Error(`${hostname} has no usable address`), { code: 'ENOTFOUND' }), '', 0);
        if (options.all) callback(null, wanted);
        else callback(null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };
}
