/**
 * Sign-in over HTTP: GET /auth/nonce is unauthenticated and stores a row per call, so a client
 * flooding it gets 429 problem+json; and the SIWE checks (chain id, URI, issuedAt) answer 401.
 */
import { Wallet } from 'ethers';
import { SiweMessage } from 'siwe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signIn, startTestHub, type TestHub } from '../helpers/hub.js';
import { ENGINES } from '../helpers/stores.js';

describe.each(ENGINES)('sign-in over HTTP on %s', (engine) => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub(engine, { env: { TOLLWAY_SIWE_NONCES_PER_CLIENT: '3' } });
  });
  afterAll(async () => t?.stop());

  const nonce = () => fetch(`${t.url}/auth/nonce`);
  const login = (message: string, signature: string) =>
    fetch(`${t.url}/auth/siwe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message, signature }),
    });
  const message = (wallet: { address: string }, n: string, over: Partial<SiweMessage> = {}) =>
    new SiweMessage({
      domain: new URL(t.url).host,
      address: wallet.address,
      statement: 'Sign in to Tollway',
      uri: t.url,
      version: '1',
      chainId: 1,
      nonce: n,
      issuedAt: new Date().toISOString(),
      ...over,
    }).prepareMessage();

  it('answers 429 problem+json with Retry-After to a client holding too many unused nonces', async () => {
    const held: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await nonce();
      expect(res.status).toBe(200);
      held.push(((await res.json()) as { nonce: string }).nonce);
    }
    const refused = await nonce();
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(250);
    expect(retryAfter).toBeLessThanOrEqual(300);
    expect(await refused.json()).toMatchObject({ type: 'https://tollway.dev/problems/rate-limited', status: 429, retryAfter });

    // Signing in with one of them gives its place back.
    const wallet = Wallet.createRandom();
    const msg = message(wallet, held[0]!);
    expect((await login(msg, await wallet.signMessage(msg))).status).toBe(200);
    const another = await nonce();
    expect(another.status).toBe(200);
    held.push(((await another.json()) as { nonce: string }).nonce);
    expect((await nonce()).status).toBe(429);

    // Refused messages leave their nonces unspent, so the client stays at its cap.
    const wrongChain = message(wallet, held[1]!, { chainId: 31337 });
    const res = await login(wrongChain, await wallet.signMessage(wrongChain));
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ type: 'https://tollway.dev/problems/invalid-siwe', detail: 'chain id must be 1' });
    expect((await nonce()).status).toBe(429);

    // Spent, they make room for the next test.
    for (const n of held.slice(1)) {
      const m = message(wallet, n);
      expect((await login(m, await wallet.signMessage(m))).status).toBe(200);
    }
  });

  it('refuses a message for another URI scheme, or issued long ago, with 401 invalid-siwe', async () => {
    for (const [over, detail] of [
      [{ uri: t.url.replace('http:', 'https:') }, /uri must be on/],
      [{ issuedAt: new Date(Date.now() - 3600_000).toISOString() }, /issuedAt is too old/],
      [{ issuedAt: new Date(Date.now() + 3600_000).toISOString() }, /issuedAt is in the future/],
    ] as const) {
      const wallet = Wallet.createRandom();
      // A refused message leaves the nonce unspent; the good login right after spends it.
      const n = await signInNonce();
      const bad = message(wallet, n, over);
      const res = await login(bad, await wallet.signMessage(bad));
      expect(res.status).toBe(401);
      expect(((await res.json()) as { detail: string }).detail).toMatch(detail);
      const good = message(wallet, n);
      expect((await login(good, await wallet.signMessage(good))).status).toBe(200);
    }
  });

  async function signInNonce(): Promise<string> {
    const res = await nonce();
    if (res.status !== 200) throw new Error(`nonce: ${res.status}`);
    return ((await res.json()) as { nonce: string }).nonce;
  }

  it('still signs in the way the test helper (and the extension) does', async () => {
    await expect(signIn(t.url)).resolves.toHaveProperty('accessToken');
  });
});
