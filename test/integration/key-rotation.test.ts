/**
 * Replacing the signing key: receipts (and access tokens) signed by the old key stay verifiable,
 * through the merchant kit and the JWKS, for as long as the old key is listed as a previous one.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJwksCache, verifyReceipt } from '../../merchant/index.js';
import { createMerchant, freePort, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { ENGINES, freshStore, type TestStore } from '../helpers/stores.js';

const pem = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
const kidOf = (jws: string) => (JSON.parse(Buffer.from(jws.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;

describe.each(ENGINES)('signing key rotation on %s', (engine) => {
  let store: TestStore;
  let port: number;
  let hub: TestHub | undefined;
  const A = pem();
  const B = pem();

  /** The hub on the same port (so the same issuer) and data, with these keys. */
  const restart = async (env: Record<string, string>) => {
    await hub?.stop();
    hub = await startTestHub(engine, { store, keepStore: true, env: { PORT: String(port), ...env } });
    return hub;
  };

  beforeAll(async () => {
    store = await freshStore(engine);
    port = await freePort();
  });
  afterAll(async () => {
    await hub?.stop();
    await store?.cleanup();
  });

  it('keeps old receipts and access tokens verifiable while the old key is listed, and only then', async () => {
    let t = await restart({ TOLLWAY_SIGNING_KEY: A });
    const { merchant } = await createMerchant(t.url);
    const alice: Session = await signIn(t.url);
    await fund(t.url, alice, '1000');
    let n = 0;
    const receipt = async () => {
      const res = await pay(t.url, alice, `rot-${engine}-${++n}`, { rail: 'internal', payTo: merchant.id, amount: '10', asset: 'SOVR' });
      expect(res.status).toBe(200);
      return ((await res.json()) as { receipt: { token: string } }).receipt.token;
    };
    // What a merchant's paywall does: the hub's JWKS (fresh for each hub run, as after a restart) …
    const verify = (token: string) =>
      verifyReceipt(token, createJwksCache({ url: `${t.url}/.well-known/jwks.json` }), {
        issuer: t.url,
        merchantId: merchant.id,
        asset: 'SOVR',
        price: 10n,
        now: Date.now(),
      });
    const jwksKids = async () =>
      ((await (await fetch(`${t.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string; d?: string }[] }).keys;
    const me = (token: string) => fetch(`${t.url}/accounts/me`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);

    const oldReceipt = await receipt();
    const kidA = kidOf(oldReceipt);
    expect((await jwksKids()).map((k) => k.kid)).toEqual([kidA]);
    expect(await verify(oldReceipt)).toMatchObject({ ok: true });

    // Rotated: B signs, A is still published and still verifies.
    t = await restart({ TOLLWAY_SIGNING_KEY: B, TOLLWAY_PREVIOUS_SIGNING_KEYS: A });
    const keys = await jwksKids();
    const kidB = keys[0]!.kid;
    expect(keys.map((k) => k.kid)).toEqual([kidB, kidA]);
    for (const k of keys) expect(k).not.toHaveProperty('d');
    const newReceipt = await receipt(); // alice's access token, signed by A, still works
    expect(kidOf(newReceipt)).toBe(kidB);
    expect(await verify(oldReceipt)).toMatchObject({ ok: true, claims: { kid: kidA } });
    expect(await verify(newReceipt)).toMatchObject({ ok: true, claims: { kid: kidB } });
    expect(await me(alice.accessToken)).toBe(200);

    // A retired for good: what it signed is refused; what B signed is not.
    t = await restart({ TOLLWAY_SIGNING_KEY: B });
    expect((await jwksKids()).map((k) => k.kid)).toEqual([kidB]);
    expect(await verify(oldReceipt)).toMatchObject({ ok: false, reason: 'unknown_kid' });
    expect(await verify(newReceipt)).toMatchObject({ ok: true });
    expect(await me(alice.accessToken)).toBe(401);
  });

  it('will not start with an unusable previous key, and names the variable without quoting it', async () => {
    await hub?.stop();
    hub = undefined;
    await expect(
      startTestHub(engine, {
        store,
        keepStore: true,
        env: { PORT: String(port), TOLLWAY_SIGNING_KEY: B, TOLLWAY_PREVIOUS_SIGNING_KEYS: 'secret-not-a-key' },
      }),
    ).rejects.toThrow(/TOLLWAY_PREVIOUS_SIGNING_KEYS entry 1 is not a usable ES256 key(?!.*secret)/);
  });
});
