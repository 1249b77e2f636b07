import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportSPKI, SignJWT, jwtVerify, createLocalJWKSet } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clientKey } from '../../server/auth/client-key.js';
import { generateSigningKeys, loadSigningKeys, parsePreviousKeys, SIGNING_KEY_FILE, type SigningKeys } from '../../server/auth/keys.js';
import { createAccessTokens } from '../../server/auth/tokens.js';
import { manualClock } from '../../server/clock.js';
import { ProblemError } from '../../shared/problem.js';

const ISSUER = 'https://hub.example';
const USER = { id: 'u_test', address: '0x000000000000000000000000000000000000dEaD' };
const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

async function expectInvalidToken(p: Promise<unknown>, detail?: RegExp) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProblemError);
  expect((err as ProblemError).code).toBe('invalid-token');
  if (detail) expect((err as ProblemError).message).toMatch(detail);
}

describe('access tokens', () => {
  let keys: SigningKeys;
  let clock: ReturnType<typeof manualClock>;
  let tokens: ReturnType<typeof createAccessTokens>;
  const claims = () => {
    const iat = Math.floor(clock.now() / 1000);
    return { iss: ISSUER, aud: ISSUER, sub: USER.id, addr: USER.address, iat, exp: iat + 900, jti: 'x' };
  };

  beforeEach(async () => {
    keys = await generateSigningKeys();
    clock = manualClock();
    tokens = createAccessTokens({ keys, issuer: ISSUER, clock });
  });

  it('issues a token that verifies, with the expected header and claims', async () => {
    const { token, expiresIn } = await tokens.issue(USER);
    expect(expiresIn).toBe(900);
    expect(await tokens.verify(token)).toEqual({ userId: USER.id, address: USER.address });

    const [h, p] = token.split('.');
    const header = JSON.parse(Buffer.from(h!, 'base64url').toString());
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
    expect(header).toEqual({ alg: 'ES256', kid: keys.kid, typ: 'at+jwt' });
    expect(payload).toMatchObject({ iss: ISSUER, aud: ISSUER, sub: USER.id, addr: USER.address });
    expect(payload.exp - payload.iat).toBe(900);
    expect(payload.iat).toBe(Math.floor(clock.now() / 1000));
    expect(typeof payload.jti).toBe('string');

    // Anyone can check it offline with the published JWKS (what merchants do for receipts).
    const jwks = createLocalJWKSet(keys.jwks());
    await expect(jwtVerify(token, jwks, { currentDate: new Date(clock.now()) })).resolves.toBeTruthy();
  });

  it('refuses an expired token, also after it was cached', async () => {
    const { token } = await tokens.issue(USER);
    await tokens.verify(token); // now cached
    clock.advance(15 * 60 * 1000 - 1000);
    await expect(tokens.verify(token)).resolves.toEqual({ userId: USER.id, address: USER.address });
    clock.advance(1000);
    await expectInvalidToken(tokens.verify(token), /expired/);
    clock.advance(60_000);
    await expectInvalidToken(tokens.verify(token), /expired/);
  });

  it('refuses alg none', async () => {
    const token = `${b64url({ alg: 'none', typ: 'at+jwt', kid: keys.kid })}.${b64url(claims())}.`;
    await expectInvalidToken(tokens.verify(token));
  });

  it('refuses HS256 signed with the public key as the secret', async () => {
    const pem = await exportSPKI(keys.publicKey);
    for (const secret of [new TextEncoder().encode(pem), new TextEncoder().encode(JSON.stringify(keys.publicJwk))]) {
      const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: keys.kid }).sign(secret);
      await expectInvalidToken(tokens.verify(token), /algorithm/);
    }
  });

  it('refuses a token signed by another ES256 key, even under our kid', async () => {
    const other = await generateSigningKeys();
    const foreign = await other.sign(
      { addr: USER.address, jti: 'y' },
      { typ: 'at+jwt', issuer: ISSUER, audience: ISSUER, subject: USER.id, expiresInSeconds: 900, now: clock.now() },
    );
    await expectInvalidToken(tokens.verify(foreign), /key id/);

    const forged = await new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: keys.kid }).sign(other.privateKey);
    await expectInvalidToken(tokens.verify(forged), /signature/);
  });

  it('refuses the wrong typ, a missing typ, and typ spelled differently', async () => {
    for (const typ of ['JWT', 'receipt+jwt', 'application/at+jwt', 'AT+JWT', undefined]) {
      const header = typ === undefined ? { alg: 'ES256', kid: keys.kid } : { alg: 'ES256', kid: keys.kid, typ };
      const token = await new SignJWT(claims()).setProtectedHeader(header).sign(keys.privateKey);
      await expectInvalidToken(tokens.verify(token));
    }
  });

  it('refuses the wrong issuer or audience, and missing claims', async () => {
    const sign = (c: Record<string, unknown>) =>
      new SignJWT(c).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: keys.kid }).sign(keys.privateKey);
    await expectInvalidToken(tokens.verify(await sign({ ...claims(), iss: 'https://evil.example' })), /iss/);
    await expectInvalidToken(tokens.verify(await sign({ ...claims(), aud: 'merchant_1' })), /aud/);
    const { exp: _exp, ...noExp } = claims();
    await expectInvalidToken(tokens.verify(await sign(noExp)), /exp/);
    const { jti: _jti, ...noJti } = claims();
    await expectInvalidToken(tokens.verify(await sign(noJti)), /jti/);
  });

  it('refuses garbage and tampered tokens', async () => {
    await expectInvalidToken(tokens.verify(''));
    await expectInvalidToken(tokens.verify('not.a.jwt'));
    await expectInvalidToken(tokens.verify('x'.repeat(10_000)));
    const { token } = await tokens.issue(USER);
    const [h, , s] = token.split('.');
    const tampered = `${h}.${b64url({ ...claims(), sub: 'u_admin' })}.${s}`;
    await expectInvalidToken(tokens.verify(tampered), /signature/);
  });

  it('keeps the verification cache bounded', async () => {
    const small = createAccessTokens({ keys, issuer: ISSUER, clock, cacheSize: 2 });
    const issued = await Promise.all([1, 2, 3].map((i) => small.issue({ id: `u_${i}`, address: USER.address })));
    for (const { token } of issued) await small.verify(token);
    // Evicted or not, every token still verifies (an evicted one just costs a signature check).
    for (const [i, { token }] of issued.entries()) expect((await small.verify(token)).userId).toBe(`u_${i + 1}`);
  });
});

describe('signing keys', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tollway-keys-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('generates a key file on first start (mode 0600, creating the dir) and reuses it', async () => {
    const dataDir = join(dir, 'nested', 'data');
    const first = await loadSigningKeys({ dataDir });
    const file = join(dataDir, SIGNING_KEY_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(file, 'utf8'));
    expect(stored).toMatchObject({ kty: 'EC', crv: 'P-256', kid: first.kid });
    expect(typeof stored.d).toBe('string');

    const second = await loadSigningKeys({ dataDir });
    expect(second.kid).toBe(first.kid);
    // A token from the first instance verifies under the second (a restart keeps sessions alive).
    const clock = manualClock();
    const { token } = await createAccessTokens({ keys: first, issuer: ISSUER, clock }).issue(USER);
    await expect(createAccessTokens({ keys: second, issuer: ISSUER, clock }).verify(token)).resolves.toBeTruthy();
  });

  it('uses an RFC 7638 thumbprint as kid and publishes only the public part', async () => {
    const keys = await generateSigningKeys();
    const { keys: list } = keys.jwks();
    expect(list).toHaveLength(1);
    expect(list[0]).toEqual({
      kty: 'EC',
      crv: 'P-256',
      x: expect.any(String),
      y: expect.any(String),
      kid: keys.kid,
      alg: 'ES256',
      use: 'sig',
    });
    expect(list[0]).not.toHaveProperty('d');
    expect(keys.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The private key can't be exported from the object, so it can't leak through it either.
    expect(keys.privateKey.extractable).toBe(false);
  });

  it('accepts a PKCS#8 PEM and a private JWK from TOLLWAY_SIGNING_KEY, with the same kid', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const jwk = JSON.stringify(privateKey.export({ format: 'jwk' }));
    const fromPem = await loadSigningKeys({ dataDir: dir, envKey: pem });
    const fromJwk = await loadSigningKeys({ dataDir: dir, envKey: jwk });
    expect(fromPem.kid).toBe(fromJwk.kid);
    // The env key wins; nothing is written to the data dir.
    expect(() => statSync(join(dir, SIGNING_KEY_FILE))).toThrow();

    const clock = manualClock();
    const { token } = await createAccessTokens({ keys: fromPem, issuer: ISSUER, clock }).issue(USER);
    await expect(createAccessTokens({ keys: fromJwk, issuer: ISSUER, clock }).verify(token)).resolves.toBeTruthy();
  });

  it('refuses a bad TOLLWAY_SIGNING_KEY with a message naming it and not quoting it', async () => {
    const { privateKey: rsa } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const { privateKey: p384 } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    const { privateKey: a } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const { publicKey: b } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const mismatched = { ...a.export({ format: 'jwk' }), x: b.export({ format: 'jwk' }).x };
    const bad = [
      'hunter2-secret-value',
      '{"kty":"EC","crv":"P-256", secret-broken',
      JSON.stringify(b.export({ format: 'jwk' })), // public only
      JSON.stringify(mismatched),
      rsa.export({ format: 'pem', type: 'pkcs8' }).toString(),
      p384.export({ format: 'pem', type: 'pkcs8' }).toString(),
      '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----',
    ];
    for (const envKey of bad) {
      const err = await loadSigningKeys({ dataDir: dir, envKey }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/TOLLWAY_SIGNING_KEY/);
      expect((err as Error).message).not.toContain('secret');
    }
  });

  describe('rotation (TOLLWAY_PREVIOUS_SIGNING_KEYS)', () => {
    const newKey = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const pem = (k: ReturnType<typeof newKey>) => k.export({ format: 'pem', type: 'pkcs8' }).toString();

    it('publishes the retired keys after the current one, verifies with them, signs only with the current one', async () => {
      const a = newKey();
      const b = newKey();
      const clock = manualClock();
      const oldKeys = await loadSigningKeys({ dataDir: dir, envKey: pem(a) });
      const oldToken = (await createAccessTokens({ keys: oldKeys, issuer: ISSUER, clock }).issue(USER, 'rtf_1')).token;

      const rotated = await loadSigningKeys({ dataDir: dir, envKey: pem(b), previousKeys: pem(a) });
      expect(rotated.kid).not.toBe(oldKeys.kid);
      expect(rotated.previousKids).toEqual([oldKeys.kid]);
      expect(rotated.jwks().keys.map((k) => k.kid)).toEqual([rotated.kid, oldKeys.kid]);
      for (const k of rotated.jwks().keys) expect(k).not.toHaveProperty('d');
      expect(rotated.jwks().keys[1]).toEqual(oldKeys.publicJwk);

      // An access token from before the rotation lives out its time; new ones carry the new kid.
      const tokens = createAccessTokens({ keys: rotated, issuer: ISSUER, clock });
      await expect(tokens.verifySession(oldToken)).resolves.toMatchObject({ userId: USER.id, sessionId: 'rtf_1' });
      const fresh = (await tokens.issue(USER)).token;
      expect(JSON.parse(Buffer.from(fresh.split('.')[0]!, 'base64url').toString()).kid).toBe(rotated.kid);
      clock.advance(15 * 60 * 1000);
      await expectInvalidToken(tokens.verify(oldToken), /expired/);

      // Once the retired key is dropped, what it signed no longer verifies.
      const after = await loadSigningKeys({ dataDir: dir, envKey: pem(b) });
      expect(after.jwks().keys.map((k) => k.kid)).toEqual([after.kid]);
      clock.advance(-15 * 60 * 1000);
      await expectInvalidToken(createAccessTokens({ keys: after, issuer: ISSUER, clock }).verify(oldToken), /key id/);
    });

    it('reads PEM lists, JWKs, JWK lists and JWKS documents, private or public, and keeps only public parts', async () => {
      const [a, b] = [newKey(), newKey()];
      const pubPem = (k: ReturnType<typeof newKey>) => createPublicKey(k).export({ format: 'pem', type: 'spki' }).toString();
      const jwk = (k: ReturnType<typeof newKey>) => k.export({ format: 'jwk' });
      const { d: _d, ...pubJwk } = jwk(b);
      const want = parsePreviousKeys(`${pem(a)},${pem(b)}`);
      expect(want).toHaveLength(2);
      for (const k of want) expect(Object.keys(k).sort()).toEqual(['crv', 'kty', 'x', 'y']);
      for (const text of [
        `${pubPem(a)} , ${pubPem(b)}`,
        JSON.stringify([jwk(a), pubJwk]),
        JSON.stringify({ keys: [jwk(a), { ...pubJwk, kid: 'whatever', use: 'sig', alg: 'ES256' }] }),
        JSON.stringify([pem(a), JSON.stringify(jwk(b))]),
      ]) {
        expect(parsePreviousKeys(text)).toEqual(want);
      }
      expect(parsePreviousKeys(JSON.stringify(jwk(a)))).toEqual([want[0]]);
      expect(parsePreviousKeys(undefined)).toEqual([]);
      expect(parsePreviousKeys('  ')).toEqual([]);

      // The current key given again as a previous one is listed once.
      const keys = await loadSigningKeys({ dataDir: dir, envKey: pem(a), previousKeys: `${pem(a)},${pem(b)}` });
      expect(keys.jwks().keys).toHaveLength(2);
    });

    it('refuses unusable retired keys with a message naming the variable and the entry, never the value', async () => {
      const { privateKey: rsa } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const { privateKey: p384 } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
      const good = pem(newKey());
      const mismatched = { ...newKey().export({ format: 'jwk' }), x: newKey().export({ format: 'jwk' }).x };
      for (const [text, entry] of [
        [`${good},hunter2-secret-value`, 2],
        ['[{"kty":"EC","crv":"P-256","x":"secret","y":"secret"}]', 1],
        ['{"kty":"EC","crv":"P-256", secret-broken', 0],
        [JSON.stringify([mismatched]), 1],
        [rsa.export({ format: 'pem', type: 'pkcs8' }).toString(), 1],
        [p384.export({ format: 'pem', type: 'pkcs8' }).toString(), 1],
      ] as const) {
        const err = await loadSigningKeys({ dataDir: dir, envKey: good, previousKeys: text }).catch((e: Error) => e);
        expect(err).toBeInstanceOf(Error);
        expect((err as Error).message).toMatch(/TOLLWAY_PREVIOUS_SIGNING_KEYS/);
        if (entry) expect((err as Error).message).toMatch(new RegExp(`entry ${entry}\\b`));
        expect((err as Error).message).not.toContain('secret');
        expect((err as Error).message).not.toContain('BEGIN');
      }
    });
  });

  it('refuses a corrupt key file instead of silently replacing it', async () => {
    writeFileSync(join(dir, SIGNING_KEY_FILE), '{"kty":"EC"}', { mode: 0o600 });
    await expect(loadSigningKeys({ dataDir: dir })).rejects.toThrow(/signing-key\.json/);
  });
});

describe('client keys (what per-client limits count under)', () => {
  it('is the IPv4 address, also when a dual-stack socket reports it as IPv6', () => {
    expect(clientKey('198.51.100.7')).toBe('198.51.100.7');
    expect(clientKey('::ffff:198.51.100.7')).toBe('198.51.100.7');
  });
  it('is the /64 for IPv6: one machine gets a whole /64 and may pick any address in it', () => {
    expect(clientKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(clientKey('2001:db8:1:3::1')).not.toBe(clientKey('2001:db8:1:2::1'));
  });
  it('is one shared key when the address is unknown', () => {
    expect(clientKey(undefined)).toBe('unknown');
    expect(clientKey('not an address')).toBe('unknown');
  });
});
