import { Wallet } from 'ethers';
import { describe, expect, it } from 'vitest';
import { tEn } from '../helpers/i18n-en.js';
import { createHubApi, HubError } from '../../extension/background/hub-api.js';
import { StoredKeystore, UnlockedKey } from '../../extension/common/state.js';
import { encryptWallet, importWallet, newWallet, unlockKeystore, WrongPasswordError } from '../../extension/common/wallet.js';

describe('wallet keystore', () => {
  it('stores only ethers scrypt keystore JSON at the default cost, and unlocks with the password only', async () => {
    const w = newWallet();
    const ks = await encryptWallet(w, 'a long password', tEn);
    expect(StoredKeystore.parse(ks)).toEqual(ks);
    expect(ks.json).not.toContain(w.privateKey.slice(2));
    const doc = JSON.parse(ks.json) as { Crypto: { kdf: string; kdfparams: { n: number; r: number; p: number } } };
    expect(doc.Crypto.kdf).toBe('scrypt');
    expect(doc.Crypto.kdfparams).toMatchObject({ n: 131072, r: 8, p: 1 });
    const key = await unlockKeystore(ks, 'a long password', tEn);
    expect(UnlockedKey.parse(key)).toEqual({ address: w.address, privateKey: w.privateKey });
    // Its own class, so that onboarding tells a wrong password apart in any language.
    const wrong = await unlockKeystore(ks, 'wrong password!', tEn).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(WrongPasswordError);
    expect((wrong as Error).message).toBe('Wrong password');
    await expect(encryptWallet(w, 'short', tEn)).rejects.toThrow(/at least 8/);
  }, 20_000);

  it('imports a private key (with or without 0x) or a recovery phrase, and refuses anything else', () => {
    const w = Wallet.createRandom();
    expect(importWallet(w.privateKey, tEn).address).toBe(w.address);
    expect(importWallet(`  ${w.privateKey.slice(2)}\n`, tEn).address).toBe(w.address);
    expect(importWallet(`  ${w.mnemonic!.phrase.toUpperCase().replace(/ /g, '   ')} `, tEn).address).toBe(w.address);
    expect(() => importWallet('not a key', tEn)).toThrow(/recovery phrase/);
    expect(() => importWallet('abandon abandon abandon', tEn)).toThrow(/recovery phrase/);
  });
});

describe('hub api', () => {
  const json = (status: number, value: unknown) =>
    new Response(JSON.stringify(value), { status, headers: { 'content-type': 'application/json' } });
  it('validates answers and turns problems into HubErrors', async () => {
    const seen: string[] = [];
    const api = createHubApi({
      t: tEn,
      fetch: async (url, init) => (
        seen.push(`${init?.method} ${String(url)} ${JSON.stringify(init?.headers)}`), json(200, { nonce: 'abc123abc123' })
      ),
    });
    expect(await api.nonce('http://127.0.0.1:8402')).toBe('abc123abc123');
    expect(seen[0]).toBe('GET http://127.0.0.1:8402/auth/nonce {}');
    const refused = createHubApi({
      t: tEn,
      fetch: async () =>
        json(401, { type: 'https://tollway.dev/problems/unauthorized', title: 'Unauthorized', status: 401, detail: 'token revoked' }),
    });
    await expect(refused.refresh('http://h', 'rt')).rejects.toMatchObject({
      status: 401,
      type: 'https://tollway.dev/problems/unauthorized',
      message: 'token revoked',
    });
    const odd = createHubApi({ t: tEn, fetch: async () => json(200, { accessToken: 1 }) });
    await expect(odd.refresh('http://h', 'rt')).rejects.toBeInstanceOf(HubError);
    const down = createHubApi({ t: tEn, fetch: async () => Promise.reject(new Error('ECONNREFUSED')) });
    await expect(down.nonce('http://h')).rejects.toMatchObject({ status: 0 });
    const logout = createHubApi({ t: tEn, fetch: async () => new Response(null, { status: 204 }) });
    await expect(logout.logout('http://h', 'rt')).resolves.toBeUndefined();
  });
});
