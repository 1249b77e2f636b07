import { Wallet, type HDNodeWallet } from 'ethers';
import { SiweMessage } from 'siwe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateSigningKeys, type SigningKeys } from '../../server/auth/keys.js';
import { hashRefreshToken } from '../../server/auth/refresh.js';
import { createAuthService, type AuthService } from '../../server/auth/service.js';
import { manualClock } from '../../server/clock.js';
import { migrate } from '../../server/store/migrate.js';
import { MIGRATIONS } from '../../server/store/migrations/index.js';
import { TokenResponse } from '../../shared/api.js';
import { ProblemError, type ProblemCode } from '../../shared/problem.js';
import { ENGINES, freshStore, type TestStore } from '../helpers/stores.js';

const PUBLIC_URL = 'http://127.0.0.1:8402';
const DOMAIN = '127.0.0.1:8402';
const MIN = 60_000;

async function expectProblem(p: Promise<unknown>, code: ProblemCode, detail?: RegExp) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeInstanceOf(ProblemError);
  expect((err as ProblemError).code).toBe(code);
  if (detail) expect((err as ProblemError).message).toMatch(detail);
}

describe.each(ENGINES)('auth on %s', (engine) => {
  let store: TestStore;
  let keys: SigningKeys;
  let clock: ReturnType<typeof manualClock>;
  let auth: AuthService;

  beforeAll(async () => {
    store = await freshStore(engine);
    await migrate(store.db, MIGRATIONS);
    keys = await generateSigningKeys();
  });
  afterAll(async () => {
    await store?.cleanup();
  });
  beforeEach(() => {
    clock = manualClock();
    auth = createAuthService({ db: store.db, keys, clock, publicUrl: PUBLIC_URL });
  });

  const message = (wallet: { address: string }, nonce: string, over: Partial<SiweMessage> = {}) =>
    new SiweMessage({
      domain: DOMAIN,
      address: wallet.address,
      statement: 'Sign in to Tollway',
      uri: PUBLIC_URL,
      version: '1',
      // What the extension signs (SIWE_CHAIN_ID); the hub refuses any other chain id.
      chainId: 1,
      nonce,
      issuedAt: new Date(clock.now()).toISOString(),
      ...over,
    }).prepareMessage();

  const login = async (wallet: HDNodeWallet = Wallet.createRandom()) => {
    const { nonce } = await auth.nonce();
    const msg = message(wallet, nonce);
    return auth.loginWithSiwe(msg, await wallet.signMessage(msg));
  };

  describe('SIWE login', () => {
    it('logs in, creates the user once, and the access token verifies', async () => {
      const wallet = Wallet.createRandom();
      const res = await login(wallet);
      expect(TokenResponse.parse(res)).toEqual(res);
      expect(res.tokenType).toBe('Bearer');
      expect(res.expiresIn).toBe(900);
      expect(res.user.address).toBe(wallet.address);
      expect(res.user.id).toMatch(/^u_[0-9a-f]+$/);
      expect(res.refreshToken).toMatch(/^rt_[A-Za-z0-9_-]{43}$/);
      expect(await auth.verifyAccessToken(res.accessToken)).toEqual({ userId: res.user.id, address: wallet.address });

      // Only the hash of the refresh token is stored.
      const row = await store.db.get<{ token_hash: string }>('SELECT token_hash FROM refresh_tokens WHERE user_id = ?', [res.user.id]);
      expect(row?.token_hash).toBe(hashRefreshToken(res.refreshToken));
      expect(JSON.stringify(await store.db.all('SELECT * FROM refresh_tokens'))).not.toContain(res.refreshToken);

      const again = await login(wallet);
      expect(again.user).toEqual(res.user);
      const users = await store.db.all('SELECT id FROM users WHERE address = ?', [wallet.address]);
      expect(users).toHaveLength(1);
    });

    it('access tokens expire after 15 minutes', async () => {
      const res = await login();
      clock.advance(15 * MIN - 1000);
      await expect(auth.verifyAccessToken(res.accessToken)).resolves.toBeTruthy();
      clock.advance(1000);
      await expectProblem(auth.verifyAccessToken(res.accessToken), 'invalid-token', /expired/);
    });

    it('refuses a reused nonce (replayed login)', async () => {
      const wallet = Wallet.createRandom();
      const { nonce } = await auth.nonce();
      const msg = message(wallet, nonce);
      const sig = await wallet.signMessage(msg);
      await auth.loginWithSiwe(msg, sig);
      await expectProblem(auth.loginWithSiwe(msg, sig), 'invalid-siwe', /nonce/);
    });

    it('lets only one of two simultaneous logins with one nonce through', async () => {
      const wallet = Wallet.createRandom();
      const { nonce } = await auth.nonce();
      const msg = message(wallet, nonce);
      const sig = await wallet.signMessage(msg);
      const results = await Promise.allSettled([1, 2, 3, 4].map(() => auth.loginWithSiwe(msg, sig)));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    });

    it('refuses a nonce the hub never issued', async () => {
      const wallet = Wallet.createRandom();
      const msg = message(wallet, 'abcdef0123456789abcdef0123456789');
      await expectProblem(auth.loginWithSiwe(msg, await wallet.signMessage(msg)), 'invalid-siwe', /nonce/);
    });

    it('refuses an expired nonce', async () => {
      const wallet = Wallet.createRandom();
      const { nonce } = await auth.nonce();
      clock.advance(5 * MIN);
      const msg = message(wallet, nonce);
      await expectProblem(auth.loginWithSiwe(msg, await wallet.signMessage(msg)), 'invalid-siwe', /nonce/);
    });

    it('refuses another domain', async () => {
      const wallet = Wallet.createRandom();
      const { nonce } = await auth.nonce();
      for (const domain of ['evil.example', '127.0.0.1:8403', '127.0.0.1']) {
        const msg = message(wallet, nonce, { domain });
        await expectProblem(auth.loginWithSiwe(msg, await wallet.signMessage(msg)), 'invalid-siwe', /domain/);
      }
      // A refused attempt doesn't burn the nonce: the genuine message still works.
      const msg = message(wallet, nonce);
      await expect(auth.loginWithSiwe(msg, await wallet.signMessage(msg))).resolves.toBeTruthy();
    });

    it('refuses a message signed by another wallet', async () => {
      const wallet = Wallet.createRandom();
      const other = Wallet.createRandom();
      const { nonce } = await auth.nonce();
      const msg = message(wallet, nonce);
      await expectProblem(auth.loginWithSiwe(msg, await other.signMessage(msg)), 'invalid-siwe', /signature/);
    });

    it('refuses a signature over a different message', async () => {
      const wallet = Wallet.createRandom();
      const { nonce } = await auth.nonce();
      const msg = message(wallet, nonce);
      const sig = await wallet.signMessage(msg);
      const altered = msg.replace('Sign in to Tollway', 'Sign in to Tollway!');
      await expectProblem(auth.loginWithSiwe(altered, sig), 'invalid-siwe', /signature/);
    });

    it('checks expirationTime and notBefore against the clock', async () => {
      const wallet = Wallet.createRandom();
      const { nonce } = await auth.nonce();
      const expired = message(wallet, nonce, { expirationTime: new Date(clock.now() - 1000).toISOString() });
      await expectProblem(auth.loginWithSiwe(expired, await wallet.signMessage(expired)), 'invalid-siwe', /xpired/);
      const early = message(wallet, nonce, { notBefore: new Date(clock.now() + MIN).toISOString() });
      await expectProblem(auth.loginWithSiwe(early, await wallet.signMessage(early)), 'invalid-siwe', /not valid yet/);
      const ok = message(wallet, nonce, { expirationTime: new Date(clock.now() + MIN).toISOString() });
      await expect(auth.loginWithSiwe(ok, await wallet.signMessage(ok))).resolves.toBeTruthy();
    });

    it('refuses malformed input', async () => {
      const wallet = Wallet.createRandom();
      await expectProblem(auth.loginWithSiwe('hello', await wallet.signMessage('hello')), 'invalid-siwe');
      const { nonce } = await auth.nonce();
      const msg = message(wallet, nonce);
      await expectProblem(auth.loginWithSiwe(msg, '0x1234'), 'invalid-siwe', /signature/);
      await expectProblem(auth.loginWithSiwe(msg, '0x' + 'ff'.repeat(65)), 'invalid-siwe', /signature/);
    });

    it('refuses a message for another chain id, without burning the nonce', async () => {
      const wallet = Wallet.createRandom();
      const { nonce } = await auth.nonce();
      for (const chainId of [31337, 5, 137]) {
        const msg = message(wallet, nonce, { chainId });
        await expectProblem(auth.loginWithSiwe(msg, await wallet.signMessage(msg)), 'invalid-siwe', /chain id must be 1/);
      }
      const msg = message(wallet, nonce);
      await expect(auth.loginWithSiwe(msg, await wallet.signMessage(msg))).resolves.toBeTruthy();
    });

    it('refuses a uri on another origin than the hub', async () => {
      const wallet = Wallet.createRandom();
      const { nonce } = await auth.nonce();
      // Same host and port but https, another port, another host: each is another site.
      for (const uri of ['https://127.0.0.1:8402', 'http://127.0.0.1:8403', 'http://evil.example/login', 'did:key:z6Mk']) {
        const msg = message(wallet, nonce, { uri });
        await expectProblem(
          auth.loginWithSiwe(msg, await wallet.signMessage(msg)),
          'invalid-siwe',
          /uri must be on http:\/\/127\.0\.0\.1:8402/,
        );
      }
      // A path on the hub's origin is the hub.
      const msg = message(wallet, nonce, { uri: `${PUBLIC_URL}/login` });
      await expect(auth.loginWithSiwe(msg, await wallet.signMessage(msg))).resolves.toBeTruthy();
    });

    it('refuses an issuedAt older than a nonce lives, or ahead of the clock by more than a minute', async () => {
      const wallet = Wallet.createRandom();
      const { nonce } = await auth.nonce();
      const at = (ms: number) => ({ issuedAt: new Date(clock.now() + ms).toISOString() });
      const stale = [message(wallet, nonce, at(-6 * MIN - 1000)), message(wallet, nonce, at(-24 * 60 * MIN))];
      for (const msg of stale)
        await expectProblem(auth.loginWithSiwe(msg, await wallet.signMessage(msg)), 'invalid-siwe', /issuedAt is too old/);
      const ahead = [message(wallet, nonce, at(MIN + 1000)), message(wallet, nonce, at(365 * 24 * 60 * MIN))];
      for (const msg of ahead)
        await expectProblem(auth.loginWithSiwe(msg, await wallet.signMessage(msg)), 'invalid-siwe', /issuedAt is in the future/);
      // A signer whose clock runs a little fast is fine.
      const skewed = message(wallet, nonce, at(50_000));
      await expect(auth.loginWithSiwe(skewed, await wallet.signMessage(skewed))).resolves.toBeTruthy();
    });

    it('caps the unused nonces one client holds, and all clients together', async () => {
      // Far from the other tests' nonces, which are all expired by then.
      clock.set(Date.UTC(2030, 0, 1));
      const capped = createAuthService({ db: store.db, keys, clock, publicUrl: PUBLIC_URL, noncesPerClient: 3, noncesTotal: 5 });
      const a = `198.51.100.${engine === 'sqlite' ? 1 : 2}`;
      const b = `203.0.113.${engine === 'sqlite' ? 1 : 2}`;
      const mine = [];
      for (let i = 0; i < 3; i++) mine.push((await capped.nonce(a)).nonce);
      clock.advance(MIN);
      const err = await capped.nonce(a).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProblemError);
      expect((err as ProblemError).code).toBe('rate-limited');
      expect((err as ProblemError).status).toBe(429);
      // Back when the oldest one lapses: issued a minute ago, it has four minutes left.
      expect((err as ProblemError).extra.retryAfter).toBe(240);

      // Another client is not held up by the first, up to the overall cap.
      await capped.nonce(b);
      await capped.nonce(b);
      await expectProblem(capped.nonce(`192.0.2.${engine === 'sqlite' ? 1 : 2}`), 'rate-limited', /too many unused/);

      // A nonce spent on a login frees its place.
      const wallet = Wallet.createRandom();
      const msg = message(wallet, mine[0]!);
      await capped.loginWithSiwe(msg, await wallet.signMessage(msg));
      await expect(capped.nonce(a)).resolves.toHaveProperty('nonce');
      await expectProblem(capped.nonce(a), 'rate-limited');

      // And so does time.
      clock.advance(5 * MIN);
      for (let i = 0; i < 3; i++) await capped.nonce(a);
      const rows = await store.db.all<{ client: string }>(
        'SELECT client FROM siwe_nonces WHERE client = ? AND used_at IS NULL AND expires_at > ?',
        [a, clock.now()],
      );
      expect(rows).toHaveLength(3);
    });

    it('issues distinct random nonces', async () => {
      const nonces = await Promise.all([1, 2, 3, 4, 5].map(() => auth.nonce()));
      expect(new Set(nonces.map((n) => n.nonce)).size).toBe(5);
      for (const { nonce } of nonces) expect(nonce).toMatch(/^[0-9a-f]{32}$/);
    });
  });

  describe('refresh tokens', () => {
    it('rotates: the new pair works, and the user stays the same', async () => {
      const first = await login();
      clock.advance(MIN);
      const second = await auth.refresh(first.refreshToken);
      expect(second.user).toEqual(first.user);
      expect(second.refreshToken).not.toBe(first.refreshToken);
      expect(second.accessToken).not.toBe(first.accessToken);
      expect(await auth.verifyAccessToken(second.accessToken)).toEqual({ userId: first.user.id, address: first.user.address });
      const third = await auth.refresh(second.refreshToken);
      expect(third.user).toEqual(first.user);
    });

    it('reuse of a rotated token revokes the whole family', async () => {
      const first = await login();
      const second = await auth.refresh(first.refreshToken);
      await expectProblem(auth.refresh(first.refreshToken), 'invalid-token', /reused/);
      // The thief's replay took the legitimate client's newer token down with it.
      await expectProblem(auth.refresh(second.refreshToken), 'invalid-token', /revoked/);
      await expectProblem(auth.refresh(first.refreshToken), 'invalid-token', /revoked/);
    });

    it('a family revoked by reuse does not touch other sessions of the same user', async () => {
      const wallet = Wallet.createRandom();
      const a = await login(wallet);
      const b = await login(wallet);
      await auth.refresh(a.refreshToken);
      await expectProblem(auth.refresh(a.refreshToken), 'invalid-token');
      await expect(auth.refresh(b.refreshToken)).resolves.toBeTruthy();
    });

    it('only one of two simultaneous rotations of one token wins', async () => {
      const first = await login();
      const results = await Promise.allSettled([auth.refresh(first.refreshToken), auth.refresh(first.refreshToken)]);
      // The loser looks like a reuse, so the family ends up revoked either way.
      const winners = results.filter((r) => r.status === 'fulfilled');
      expect(winners).toHaveLength(1);
      await expectProblem(auth.refresh(winners[0]!.value.refreshToken), 'invalid-token', /revoked/);
    });

    it('logout revokes the family and is idempotent', async () => {
      const first = await login();
      const second = await auth.refresh(first.refreshToken);
      await auth.logout(second.refreshToken);
      await expectProblem(auth.refresh(second.refreshToken), 'invalid-token', /revoked/);
      await auth.logout(second.refreshToken);
      await auth.logout(first.refreshToken);
      await auth.logout('rt_unknown');
      await auth.logout('not even a token');
    });

    it('access tokens name their session; logout and a reuse revoke it and say so', async () => {
      const revoked: string[] = [];
      auth = createAuthService({ db: store.db, keys, clock, publicUrl: PUBLIC_URL, onSessionRevoked: (sid) => void revoked.push(sid) });
      const wallet = Wallet.createRandom();
      const first = await login(wallet);
      const other = await login(wallet);
      const s1 = (await auth.verifyAccessTokenSession(first.accessToken)).sessionId!;
      const s2 = (await auth.verifyAccessTokenSession(other.accessToken)).sessionId!;
      expect(s1).toMatch(/^rtf_/);
      expect(s2).not.toBe(s1);
      expect((await auth.verifyAccessTokenSession(first.accessToken)).expiresAt).toBe(Math.floor(clock.now() / 1000) * 1000 + 15 * MIN);

      // A refresh stays in the session.
      const second = await auth.refresh(first.refreshToken);
      expect((await auth.verifyAccessTokenSession(second.accessToken)).sessionId).toBe(s1);
      expect(await auth.isSessionActive(s1)).toBe(true);

      await auth.logout(second.refreshToken);
      expect(revoked).toEqual([s1]);
      expect(await auth.isSessionActive(s1)).toBe(false);
      expect(await auth.isSessionActive(s2)).toBe(true);
      expect(await auth.isSessionActive('rtf_unknown')).toBe(false);

      // Reuse of a rotated token revokes the session too, and says so.
      const third = await auth.refresh(other.refreshToken);
      await expectProblem(auth.refresh(other.refreshToken), 'invalid-token', /reused/);
      expect(revoked).toEqual([s1, s2]);
      expect(await auth.isSessionActive(s2)).toBe(false);
      expect(third.user.id).toBe(first.user.id);
    });

    it('an expired refresh token is refused', async () => {
      const first = await login();
      clock.advance(30 * 24 * 60 * MIN - 1);
      const second = await auth.refresh(first.refreshToken);
      clock.advance(30 * 24 * 60 * MIN);
      await expectProblem(auth.refresh(second.refreshToken), 'invalid-token', /expired/);
    });

    it('refuses unknown and malformed refresh tokens', async () => {
      await expectProblem(auth.refresh('rt_' + 'A'.repeat(43)), 'invalid-token', /unknown/);
      await expectProblem(auth.refresh(''), 'invalid-token');
      await expectProblem(auth.refresh('x'.repeat(10_000)), 'invalid-token');
    });
  });

  it('publishes the signing key as JWKS', () => {
    expect(auth.jwks()).toEqual(keys.jwks());
    expect(auth.jwks().keys[0]).not.toHaveProperty('d');
  });
});
