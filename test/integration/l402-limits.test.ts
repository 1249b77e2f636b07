/**
 * L402 under unauthenticated load: a route behind l402() over real HTTP, issuing invoices at the
 * stand-in LND. Requests without a credential cost the merchant an invoice each, so they are
 * rate limited per client and in total, the limiter tracks a bounded number of clients, and the
 * root keys are derived from one secret, so nothing is kept per challenge (a token minted before
 * a restart verifies after it).
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import express, { type Request } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseL402 } from '../../shared/challenge.js';
import { problemType } from '../../shared/problem.js';
import { l402, l402ClientKey, l402RateLimiter, memoryRootKeyStore, type L402Options } from '../../merchant/l402.js';
import { lndInvoices } from '../../merchant/lnd.js';
import { createLndNode } from '../../lightning/index.js';
import { startFakeLnd, type FakeLnd } from '../../devnet/lnd.js';

/** A real collector when V8 lets the flag be set at run time; undefined otherwise. */
function exposeGc(): (() => void) | undefined {
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

async function listen(app: express.Express): Promise<{ server: Server; url: string }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

interface Tally {
  status: Record<number, number>;
  retryAfter: Set<string>;
  problemTypes: Set<string>;
}

/** `n` requests, `concurrency` at a time; request i carries the client key `clientOf(i)`. */
async function hammer(url: string, n: number, clientOf: (i: number) => string, concurrency = 64): Promise<Tally> {
  const t: Tally = { status: {}, retryAfter: new Set(), problemTypes: new Set() };
  let next = 0;
  async function worker() {
    for (let i = next++; i < n; i = next++) {
      const r = await fetch(url, { headers: { 'x-client': clientOf(i) } });
      t.status[r.status] = (t.status[r.status] ?? 0) + 1;
      if (r.status === 429) {
        t.retryAfter.add(r.headers.get('retry-after') ?? '');
        t.problemTypes.add(`${r.headers.get('content-type')?.split(';')[0]} ${((await r.json()) as { type: string }).type}`);
      } else await r.arrayBuffer();
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return t;
}

describe('l402() under 10,000 unauthenticated requests', () => {
  let lnd: FakeLnd;
  const servers: Server[] = [];
  const secret = randomBytes(32);
  const base = (): Pick<L402Options, 'invoices' | 'price' | 'service' | 'validSeconds'> => ({
    invoices: lndInvoices({ url: lnd.url, macaroonHex: lnd.macaroonHex }),
    price: 2000n,
    service: 'premium',
    validSeconds: 3600,
  });
  const invoicesAtNode = () => lnd.requests().filter((r) => r === 'POST /v1/invoices').length;
  async function serve(mw: ReturnType<typeof l402>): Promise<string> {
    const app = express();
    app.get('/premium', mw, (_req, res) => res.json({ secret: 42 }));
    const { server, url } = await listen(app);
    servers.push(server);
    return url + '/premium';
  }

  beforeAll(async () => {
    lnd = await startFakeLnd();
  });
  afterAll(async () => {
    for (const s of servers) s.close();
    await lnd?.close();
  });

  it('invoices stay within the rate limit, tracked clients within the cap, and memory flat', { timeout: 240_000 }, async () => {
    const gc = exposeGc();
    let clock = Date.UTC(2030, 0, 1);
    const perClient = { perMinute: 6, burst: 3 };
    const total = { perMinute: 60, burst: 30 };
    const limiter = l402RateLimiter({
      ...perClient,
      total,
      maxClients: 100,
      key: (req: Request) => req.get('x-client') ?? l402ClientKey(req),
    });
    const url = await serve(l402({ ...base(), rootKeySecret: secret, rateLimit: limiter, now: () => clock }));
    const before = invoicesAtNode();

    /** 10,000 requests: 5,000 from four clients, then a minute later 5,000 from 5,000 clients. */
    async function round(tag: string) {
      const atNode = invoicesAtNode();
      // Each of the four gets its burst, then 429s.
      clock += 60_000;
      const few = await hammer(url, 5_000, (i) => `${tag}-client-${i % 4}`);
      expect(few.status).toEqual({ 402: 4 * perClient.burst, 429: 5_000 - 4 * perClient.burst });
      expect(few.retryAfter).toEqual(new Set(['10'])); // one token per 10 s at 6 a minute
      expect(few.problemTypes).toEqual(new Set([`application/problem+json ${problemType('rate-limited')}`]));
      expect(limiter.size).toBeLessThanOrEqual(limiter.maxClients);
      // Every one of the 5,000 has a token of its own; the total bucket runs out first.
      clock += 60_000;
      const many = await hammer(url, 5_000, (i) => `${tag}-ip-${i}`);
      expect(many.status).toEqual({ 402: total.burst, 429: 5_000 - total.burst });
      expect(limiter.size).toBe(limiter.maxClients);
      // Two simulated minutes: the node issued what the limits allow and no more.
      const issued = invoicesAtNode() - atNode;
      expect(issued).toBe(4 * perClient.burst + total.burst);
      expect(issued).toBeLessThanOrEqual(total.burst + total.perMinute * 2);
    }

    // The first 10,000 also warm up what a process grows once (JIT, sockets, the limiter to its cap).
    await round('first');
    gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    await round('second');
    expect(invoicesAtNode() - before).toBe(2 * (4 * perClient.burst + total.burst));

    // Nothing per challenge is kept in this process: the limiter's buckets are the only state, and
    // those are capped. With a collector at hand, the heap says the same: a map of 10,000 root keys
    // (what keeping one per request would hold) measures about 3.3 MB; the second 10,000 requests
    // leave far less, mostly noise.
    if (gc) {
      gc();
      expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(1024 * 1024);
    }
  });

  it('the default limit: by req.ip, 20 at once, then 429 with Retry-After 1', async () => {
    const url = await serve(l402({ ...base(), rootKeySecret: secret, now: () => Date.UTC(2030, 0, 1) }));
    const t = await hammer(url, 25, () => 'ignored by the default key', 5);
    expect(t.status).toEqual({ 402: 20, 429: 5 });
    expect(t.retryAfter).toEqual(new Set(['1']));
  });

  it('a token from before a restart verifies after it (same secret); a paid token is never rate limited', async () => {
    // The first process: a challenge, paid at the node.
    const before = await serve(l402({ ...base(), rootKeySecret: secret.toString('hex') }));
    const r = await fetch(before);
    expect(r.status).toBe(402);
    const ch = parseL402([r.headers.get('www-authenticate') ?? '']);
    if (!ch.ok) throw new Error(ch.error.message);
    const paid = await createLndNode({ url: lnd.url, macaroonHex: lnd.macaroonHex }).pay({
      bolt11: ch.value.invoice,
      timeoutSeconds: 10,
      feeLimitMsat: 0n,
    });
    const preimage = paid.state === 'succeeded' ? paid.preimage : null;
    expect(preimage).toMatch(/^[0-9a-f]{64}$/);
    const cred = `L402 ${ch.value.macaroon}:${preimage}`;
    servers.pop()!.close();

    // The second process: a new middleware, nothing carried over but the secret (here in base64),
    // with a limit of one invoice that an unauthenticated request uses up.
    const after = await serve(l402({ ...base(), rootKeySecret: secret.toString('base64'), rateLimit: { perMinute: 1, burst: 1 } }));
    expect((await fetch(after)).status).toBe(402);
    expect((await fetch(after)).status).toBe(429);
    const ok = await fetch(after, { headers: { authorization: cred } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ secret: 42 });

    // Another secret: the signature does not verify.
    const other = await serve(l402({ ...base(), rootKeySecret: randomBytes(32), rateLimit: false }));
    const refused = await fetch(other, { headers: { authorization: cred } });
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { detail: string }).detail).toMatch(/signature/);
  });

  it('refuses a short secret, a missing one in production, and a secret with a store', () => {
    expect(() => l402({ ...base(), rootKeySecret: randomBytes(16) })).toThrow(/32 bytes/);
    expect(() => l402({ ...base(), rootKeySecret: 'hunter2' })).toThrow(/32\+ bytes/);
    expect(() => l402({ ...base(), rootKeySecret: secret, rootKeys: memoryRootKeyStore() })).toThrow(/not both/);
    const env = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      expect(() => l402(base())).toThrow(/rootKeySecret/);
      expect(() => l402({ ...base(), rootKeySecret: secret })).not.toThrow();
    } finally {
      process.env.NODE_ENV = env;
    }
    expect(() => l402(base())).not.toThrow(); // tests and development: a secret per process
    expect(() => l402RateLimiter({ perMinute: 0 })).toThrow(RangeError);
    expect(() => l402RateLimiter({ perMinute: 1, maxClients: 0 })).toThrow(RangeError);
  });

  it('keys clients by IPv4 address and by IPv6 /64', () => {
    const key = (ip: string) => l402ClientKey({ ip } as Request);
    expect(key('203.0.113.7')).toBe('203.0.113.7');
    expect(key('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(key('2001:db8:0:1:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:0:1::/64');
    expect(key('2001:db8:0:1::2')).toBe('2001:db8:0:1::/64');
    expect(key('2001:0db8:0000:0001:0:0:0:1')).toBe('2001:db8:0:1::/64');
    expect(key('2001:db8::')).toBe('2001:db8:0:0::/64');
    expect(key('::1')).toBe('0:0:0:0::/64');
    expect(key('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(key('::203.0.113.7')).toBe('0:0:0:0::/64');
  });

  it('forgets the least recently seen client past maxClients', () => {
    const lim = l402RateLimiter({ perMinute: 1, burst: 1, maxClients: 3, total: false });
    const t0 = 0;
    for (const c of ['a', 'b', 'c']) expect(lim.take(c, t0).ok).toBe(true);
    expect(lim.take('a', t0)).toEqual({ ok: false, retryAfterSeconds: 60, scope: 'client' }); // a is now the most recent
    expect(lim.take('d', t0).ok).toBe(true); // b goes
    expect(lim.size).toBe(3);
    expect(lim.take('a', t0).ok).toBe(false);
    expect(lim.take('c', t0).ok).toBe(false);
    expect(lim.take('b', t0).ok).toBe(true); // forgotten, so a fresh bucket
    expect(lim.take('a', t0 + 60_000).ok).toBe(true);
  });
});
