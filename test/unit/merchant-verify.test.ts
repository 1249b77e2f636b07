import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createJwksCache,
  JwksUnavailableError,
  memoryReceiptStore,
  verifyReceipt,
  type KeySource,
  type ReceiptExpectations,
} from '../../merchant/index.js';

const HUB = 'https://hub.example';
let priv: CryptoKey;
let pub: CryptoKey;
let jwk: Record<string, unknown>;
const keys: KeySource = { getKey: async (kid) => (kid === 'k1' ? pub : null) };
const now = Date.UTC(2026, 0, 1);
const expect0: ReceiptExpectations = { issuer: HUB, merchantId: 'm_1', asset: 'SOVR', price: 1500n, now };

beforeAll(async () => {
  ({ privateKey: priv, publicKey: pub } = await generateKeyPair('ES256'));
  jwk = { ...(await exportJWK(pub)), kid: 'k1', alg: 'ES256', use: 'sig' };
});

function receipt(claims: JWTPayload = {}, header: Record<string, unknown> = {}, key: CryptoKey = priv): Promise<string> {
  const iat = Math.floor(now / 1000);
  return new SignJWT({
    iss: HUB,
    sub: 'pay_1',
    aud: 'm_1',
    amt: '1500',
    asset: 'SOVR',
    rail: 'internal',
    rqh: 'h',
    iat,
    exp: iat + 3600,
    ...claims,
  })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'tollway-receipt+jwt', ...header })
    .sign(key);
}

describe('verifyReceipt', () => {
  it('accepts a good receipt and returns its claims', async () => {
    const r = await verifyReceipt(await receipt(), keys, expect0);
    expect(r).toMatchObject({ ok: true, claims: { sub: 'pay_1', aud: 'm_1', amt: '1500', asset: 'SOVR', rqh: 'h', kid: 'k1' } });
  });
  it('compares amounts as bigints, beyond 2^53', async () => {
    const big = 2n ** 200n;
    expect((await verifyReceipt(await receipt({ amt: (big + 1n).toString() }), keys, { ...expect0, price: big })).ok).toBe(true);
    const low = await verifyReceipt(await receipt({ amt: (big - 1n).toString() }), keys, { ...expect0, price: big });
    expect(low.ok || low.reason).toBe('insufficient_amount');
  });
  it.each<[string, () => Promise<string>, string]>([
    ['another merchant', () => receipt({ aud: 'm_2' }), 'wrong_merchant'],
    ['another hub', () => receipt({ iss: 'https://evil.example' }), 'wrong_issuer'],
    ['expired', () => receipt({ exp: Math.floor(now / 1000) - 60 }), 'expired'],
    ['another asset', () => receipt({ asset: 'BTC' }), 'wrong_asset'],
    ['too little', () => receipt({ amt: '1499' }), 'insufficient_amount'],
    ['a numeric amount', () => receipt({ amt: 1500 as never }), 'invalid_claims'],
    ['an amount with a sign', () => receipt({ amt: '+1500' }), 'invalid_claims'],
    ['no sub', () => receipt({ sub: undefined }), 'invalid_claims'],
    ['an access token', () => receipt({}, { typ: 'at+jwt' }), 'wrong_type'],
    ['no typ', () => receipt({}, { typ: undefined }), 'wrong_type'],
    ['an unknown kid', () => receipt({}, { kid: 'k9' }), 'unknown_kid'],
    ['no kid', () => receipt({}, { kid: undefined }), 'unknown_kid'],
    ['another key under the right kid', async () => receipt({}, {}, (await generateKeyPair('ES256')).privateKey), 'invalid_signature'],
    [
      'HS256',
      async () => new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: 'k1', typ: 'tollway-receipt+jwt' }).sign(new Uint8Array(32)),
      'invalid_algorithm',
    ],
    ['garbage', async () => 'garbage', 'malformed_receipt'],
    ['a bad header', async () => 'e30x.e30.e30', 'malformed_receipt'],
  ])('refuses %s', async (_name, make, reason) => {
    const r = await verifyReceipt(await make(), keys, expect0);
    expect(r.ok ? 'ok' : r.reason).toBe(reason);
  });
  it('tolerates a few seconds of clock skew', async () => {
    const token = await receipt({ exp: Math.floor(now / 1000) - 2 });
    expect((await verifyReceipt(token, keys, expect0)).ok).toBe(true);
    expect((await verifyReceipt(token, keys, { ...expect0, clockToleranceSeconds: 0 })).ok).toBe(false);
  });
  it('never asks for keys for alg none or HS256', async () => {
    let asked = 0;
    const counting: KeySource = { getKey: async () => (asked++, null) };
    const none = `${Buffer.from('{"alg":"none","kid":"x"}').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.x`;
    expect((await verifyReceipt(none, counting, expect0)).ok).toBe(false);
    expect(asked).toBe(0);
  });
});

describe('JWKS cache', () => {
  function fakeHub() {
    let t = 0;
    let body: unknown = { keys: [jwk] };
    let up = true;
    let calls = 0;
    const fetch = (async () => {
      calls++;
      if (!up) throw new Error('connection refused');
      return new Response(JSON.stringify(body), { status: 200 });
    }) as unknown as typeof globalThis.fetch;
    return {
      fetch,
      now: () => t,
      advance: (ms: number) => void (t += ms),
      setBody: (b: unknown) => void (body = b),
      setUp: (u: boolean) => void (up = u),
      get calls() {
        return calls;
      },
    };
  }

  it('loads once and serves from the cache', async () => {
    const h = fakeHub();
    const cache = createJwksCache({ url: 'https://hub/jwks', fetch: h.fetch, now: h.now });
    expect(await cache.getKey('k1')).toBeTruthy();
    expect(await cache.getKey('k1')).toBeTruthy();
    expect(h.calls).toBe(1);
  });

  it('shares one request between concurrent look-ups', async () => {
    const h = fakeHub();
    const cache = createJwksCache({ url: 'https://hub/jwks', fetch: h.fetch, now: h.now });
    await Promise.all([cache.getKey('k1'), cache.getKey('k1'), cache.getKey('k1')]);
    expect(h.calls).toBe(1);
  });

  it('refreshes on an unknown kid, at most once per cooldown', async () => {
    const h = fakeHub();
    const cache = createJwksCache({ url: 'https://hub/jwks', fetch: h.fetch, now: h.now, cooldownMs: 30_000 });
    await cache.getKey('k1');
    h.advance(31_000);
    for (let i = 0; i < 20; i++) expect(await cache.getKey(`garbage-${i}`)).toBeNull();
    expect(h.calls).toBe(2);
    // a rotated key appears: found after the cooldown
    const rotated = { ...jwk, kid: 'k2' };
    h.setBody({ keys: [jwk, rotated] });
    expect(await cache.getKey('k2')).toBeNull();
    h.advance(31_000);
    expect(await cache.getKey('k2')).toBeTruthy();
    expect(h.calls).toBe(3);
  });

  it('refetches after maxAge, and keeps stale keys when the hub is down', async () => {
    const h = fakeHub();
    const cache = createJwksCache({ url: 'https://hub/jwks', fetch: h.fetch, now: h.now, maxAgeMs: 60_000, cooldownMs: 1_000 });
    await cache.getKey('k1');
    h.advance(61_000);
    h.setUp(false);
    expect(await cache.getKey('k1')).toBeTruthy();
    expect(h.calls).toBe(2);
  });

  it('throws JwksUnavailableError when it never had keys, without retrying in the cooldown', async () => {
    const h = fakeHub();
    h.setUp(false);
    const cache = createJwksCache({ url: 'https://hub/jwks', fetch: h.fetch, now: h.now, cooldownMs: 10_000 });
    await expect(cache.getKey('k1')).rejects.toBeInstanceOf(JwksUnavailableError);
    await expect(cache.getKey('k1')).rejects.toBeInstanceOf(JwksUnavailableError);
    expect(h.calls).toBe(1);
    h.setUp(true);
    h.advance(10_000);
    expect(await cache.getKey('k1')).toBeTruthy();
  });

  it('takes only public P-256 ES256 signing keys', async () => {
    const h = fakeHub();
    h.setBody({
      keys: [
        { ...jwk, kid: 'rsa', kty: 'RSA' },
        { ...jwk, kid: 'enc', use: 'enc' },
        { ...jwk, kid: 'hs', alg: 'HS256' },
        { ...jwk, kid: 'priv', d: 'AAAA' },
        { kid: 'broken', kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' },
        'nonsense',
        jwk,
      ],
    });
    const cache = createJwksCache({ url: 'https://hub/jwks', fetch: h.fetch, now: h.now });
    for (const kid of ['rsa', 'enc', 'hs', 'priv', 'broken']) expect(await cache.getKey(kid)).toBeNull();
    expect(await cache.getKey('k1')).toBeTruthy();
  });

  it('a non-JWKS answer is unavailability, not an empty set', async () => {
    const h = fakeHub();
    h.setBody({ nope: true });
    const cache = createJwksCache({ url: 'https://hub/jwks', fetch: h.fetch, now: h.now });
    await expect(cache.getKey('k1')).rejects.toBeInstanceOf(JwksUnavailableError);
  });
});

describe('memory receipt store', () => {
  it('claims an id once, forgets it after it expires', () => {
    let t = 0;
    const store = memoryReceiptStore({ now: () => t, sweepIntervalMs: 1_000 });
    expect(store.claim('a', 5_000)).toBe(true);
    expect(store.claim('a', 5_000)).toBe(false);
    expect(store.claim('b', 500)).toBe(true);
    expect(store.size).toBe(2);
    t = 1_000; // the sweep drops b
    expect(store.claim('c', 9_000)).toBe(true);
    expect(store.size).toBe(2);
    t = 6_000;
    store.sweep();
    expect(store.size).toBe(1);
  });
});
