/**
 * The Interledger rail's pieces that decide on their own: the finish hash in every encoding wallets
 * send, interval windows, the forms the hub's key comes in, the configuration's refusals, and a hub
 * started from the environment that never logs the key, with the whole consent flow logged at
 * trace level (tokens and nonces never in a line either).
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalInterledger, startLocalInterledger } from '../../devnet/interledger/index.js';
import { ConfigError, loadConfig } from '../../server/config.js';
import { createLogger } from '../../server/logger.js';
import { ilpConfig } from '../../server/rails/ilp/config.js';
import { checkClientWallet } from '../../server/rails/ilp/doctor.js';
import { finishHash, finishHashMatches } from '../../server/rails/ilp/finish-hash.js';
import { parseInterval, windowAt } from '../../server/rails/ilp/interval.js';
import { loadSigningKey } from '../../server/rails/ilp/keys.js';
import { ADMIN_TOKEN, pay, signIn, startTestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';

describe('the finish hash', () => {
  const input = { clientNonce: 'cn', asNonce: 'an', interactRef: 'ref', grantEndpoints: ['https://auth.example/'] };
  const std = createHash('sha256').update('cn\nan\nref\nhttps://auth.example/').digest('base64');

  it('is SHA-256 over the four lines without a trailing newline', () => {
    expect(finishHash('cn', 'an', 'ref', 'https://auth.example/')).toBe(std);
  });

  it('matches in standard base64 with and without padding, and in base64url', () => {
    expect(std.endsWith('=')).toBe(true);
    for (const form of [
      std,
      std.replace(/=+$/, ''),
      std.replaceAll('+', '-').replaceAll('/', '_'),
      std.replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, ''),
    ])
      expect(finishHashMatches(form, input)).toBe(true);
  });

  it('does not match another nonce, another interact_ref, another endpoint, or garbage', () => {
    expect(finishHashMatches(finishHash('other', 'an', 'ref', 'https://auth.example/'), input)).toBe(false);
    expect(finishHashMatches(finishHash('cn', 'an', 'other', 'https://auth.example/'), input)).toBe(false);
    expect(finishHashMatches(finishHash('cn', 'an', 'ref', 'https://evil.example/'), input)).toBe(false);
    expect(finishHashMatches('', input)).toBe(false);
    expect(finishHashMatches('AAAA', input)).toBe(false);
  });
});

describe('interval windows', () => {
  const at = (s: string) => Date.parse(s);

  it('steps by fixed durations', () => {
    const iv = parseInterval('R/2026-01-01T00:00:00Z/P1D');
    expect(windowAt(iv, at('2026-01-03T12:00:00Z'))).toEqual({ start: at('2026-01-03T00:00:00Z'), end: at('2026-01-04T00:00:00Z') });
    expect(windowAt(parseInterval('R/2026-01-01T00:00:00Z/PT6H'), at('2026-01-01T13:00:00Z'))?.start).toBe(at('2026-01-01T12:00:00Z'));
  });

  it('steps by calendar months', () => {
    const iv = parseInterval('R/2026-01-15T00:00:00Z/P1M');
    expect(windowAt(iv, at('2026-03-20T00:00:00Z'))).toEqual({ start: at('2026-03-15T00:00:00Z'), end: at('2026-04-15T00:00:00Z') });
    expect(windowAt(iv, at('2027-01-14T23:59:59Z'))?.start).toBe(at('2026-12-15T00:00:00Z'));
  });

  it('does not apply before its start or after its last repetition', () => {
    expect(windowAt(parseInterval('R/2026-01-01T00:00:00Z/P1D'), at('2025-12-31T00:00:00Z'))).toBeUndefined();
    const twice = parseInterval('R2/2026-01-01T00:00:00Z/P1D');
    expect(windowAt(twice, at('2026-01-02T01:00:00Z'))).toBeDefined();
    expect(windowAt(twice, at('2026-01-03T01:00:00Z'))).toBeUndefined();
  });

  it('refuses what is not a repeating interval', () => {
    for (const bad of ['P1D', 'R/nonsense/P1D', 'R/2026-01-01T00:00:00Z/P', 'R/2026-01-01T00:00:00Z/PT0S'])
      expect(() => parseInterval(bad)).toThrow(RangeError);
  });
});

describe("the hub's key", () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  const x = (privateKey.export({ format: 'jwk' }) as { x: string }).x;

  it('is read from PEM, base64 of PEM, base64 of DER and base64 of the seed, to the same public key', () => {
    for (const form of [pem, Buffer.from(pem).toString('base64'), der.toString('base64'), der.subarray(16).toString('base64')])
      expect(loadSigningKey(form).publicJwk).toEqual({ kty: 'OKP', crv: 'Ed25519', x });
  });

  it('refuses another kind of key, and never quotes it', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(() => loadSigningKey(ec)).toThrow(/Ed25519/);
    try {
      loadSigningKey('bm90IGEga2V5');
    } catch (err) {
      expect((err as Error).message).not.toContain('bm90IGEga2V5');
    }
  });

  it('a half-given configuration names the missing variable; a bad key is refused without being echoed', () => {
    const base = { TOLLWAY_ILP_CONSENT_TIMEOUT: 600, TOLLWAY_ILP_SETTLE_WAIT: 20 };
    expect(ilpConfig(base)).toBeUndefined();
    expect(() => ilpConfig({ ...base, TOLLWAY_ILP_WALLET_ADDRESS: 'https://w.example/hub' })).toThrow(/TOLLWAY_ILP_PRIVATE_KEY/);
    expect(() => ilpConfig({ ...base, TOLLWAY_ILP_WALLET_ADDRESS: 'https://w.example/hub', TOLLWAY_ILP_PRIVATE_KEY: pem })).toThrow(
      /TOLLWAY_ILP_KEY_ID/,
    );
    let message = '';
    try {
      loadConfig({
        TOLLWAY_ILP_WALLET_ADDRESS: 'https://w.example/hub',
        TOLLWAY_ILP_PRIVATE_KEY: 'c2VjcmV0LWJ1dC13cm9uZw==',
        TOLLWAY_ILP_KEY_ID: 'k',
      });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message).toMatch(/TOLLWAY_ILP_PRIVATE_KEY/);
    expect(message).not.toContain('c2VjcmV0LWJ1dC13cm9uZw==');
    const settings = ilpConfig({
      ...base,
      TOLLWAY_ILP_WALLET_ADDRESS: 'https://w.example/hub',
      TOLLWAY_ILP_PRIVATE_KEY: pem,
      TOLLWAY_ILP_KEY_ID: 'k',
    })!;
    expect(JSON.stringify(settings)).not.toContain('PRIVATE');
    expect(settings.key.publicJwk.x).toBe(x);
  });
});

describe('a hub with the rail from the environment', () => {
  let wallet: LocalInterledger;
  beforeAll(async () => {
    wallet = await startLocalInterledger();
  });
  afterAll(async () => {
    await wallet.close();
  });

  it('hub doctor: the client wallet address must list the public half of the key under its key id', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const client = (await wallet.createWallet('hub-doctor', { assetCode: 'BTC', assetScale: 9, balance: 0n })).url;
    const settings = (keyId: string, key = privateKey) =>
      ilpConfig({
        TOLLWAY_ILP_WALLET_ADDRESS: client,
        TOLLWAY_ILP_PRIVATE_KEY: key.export({ format: 'pem', type: 'pkcs8' }).toString(),
        TOLLWAY_ILP_KEY_ID: keyId,
        TOLLWAY_ILP_CONSENT_TIMEOUT: 600,
        TOLLWAY_ILP_SETTLE_WAIT: 20,
      })!;
    const run = async (s: ReturnType<typeof settings>) => {
      let text = '';
      const out = new Writable({
        write(c, _e, cb) {
          text += c.toString();
          cb();
        },
      });
      return { ok: await checkClientWallet(s, out), text };
    };
    expect((await run(settings('doctor-key'))).text).toMatch(/lists no key with kid doctor-key/);
    wallet.addClientKey(client, {
      kid: 'doctor-key',
      alg: 'EdDSA',
      kty: 'OKP',
      crv: 'Ed25519',
      x: (publicKey.export({ format: 'jwk' }) as { x: string }).x,
    });
    expect(await run(settings('doctor-key'))).toMatchObject({ ok: true });
    const other = generateKeyPairSync('ed25519').privateKey;
    expect((await run(settings('doctor-key', other))).text).toMatch(/not the public half/);
  });

  it('refuses wallet addresses on private networks unless allowed: people name the addresses the hub fetches', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const t = await startTestHub('sqlite', {
      env: {
        TOLLWAY_ILP_WALLET_ADDRESS: 'https://wallet.example/hub',
        TOLLWAY_ILP_PRIVATE_KEY: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
        TOLLWAY_ILP_KEY_ID: 'k',
        TOLLWAY_ILP_ALLOW_PRIVATE: '0',
      },
    });
    try {
      const person = await signIn(t.url);
      const alice = (await wallet.createWallet('alice-private', { assetCode: 'BTC', assetScale: 9, balance: 1n })).url;
      for (const walletAddress of [alice, 'http://10.0.0.7/alice', 'http://localhost:9/alice']) {
        const res = await fetch(`${t.url}/ilp/wallet`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${person.accessToken}` },
          body: JSON.stringify({ walletAddress }),
        });
        expect(res.status).toBe(422);
        const p = (await res.json()) as { type: string; detail: string };
        expect(p.type).toMatch(/ilp-wallet-unusable$/);
        expect(p.detail).toMatch(/wallet address cannot be used/);
      }
      expect(await t.store.db.get('SELECT user_id FROM ilp_wallets')).toBeUndefined();
    } finally {
      await t.stop();
    }
  });

  it('lists the rail with its public key, pays through it, and no log line carries the key, a token or a nonce', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const encoded = Buffer.from(pem).toString('base64');
    const client = (await wallet.createWallet('hub-env', { assetCode: 'BTC', assetScale: 9, balance: 0n })).url;
    const x = (publicKey.export({ format: 'jwk' }) as { x: string }).x;
    wallet.addClientKey(client, { kid: 'env-key', alg: 'EdDSA', kty: 'OKP', crv: 'Ed25519', x });
    const alice = (await wallet.createWallet('alice-env', { assetCode: 'BTC', assetScale: 9, balance: 10_000n })).url;
    const shop = (await wallet.createWallet('shop-env', { assetCode: 'BTC', assetScale: 9, balance: 0n })).url;

    let logs = '';
    const sink = new Writable({
      write(chunk, _enc, cb) {
        logs += chunk.toString();
        cb();
      },
    });
    const t = await startTestHub('sqlite', {
      env: { TOLLWAY_ILP_WALLET_ADDRESS: client, TOLLWAY_ILP_PRIVATE_KEY: encoded, TOLLWAY_ILP_KEY_ID: 'env-key' },
      logger: createLogger('trace', sink),
    });
    try {
      const rails = (await (await fetch(`${t.url}/rails`)).json()) as { rails: { name: string; publicKey?: { x: string; kid: string } }[] };
      const ilp = rails.rails.find((r) => r.name === 'ilp');
      expect(ilp?.publicKey).toMatchObject({ x, kid: 'env-key' });

      const m = await fetch(`${t.url}/merchants`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
        body: JSON.stringify({ name: 'Shop', walletAddress: shop }),
      });
      const merchantId = ((await m.json()) as { merchant: { id: string } }).merchant.id;
      const person = await signIn(t.url);
      const link = await fetch(`${t.url}/ilp/wallet`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${person.accessToken}` },
        body: JSON.stringify({ walletAddress: alice }),
      });
      expect(link.status).toBe(200);
      const res = await pay(t.url, person, 'env-1', { rail: 'ilp', payTo: merchantId, amount: '100000', asset: 'BTC' });
      const p = (await res.json()) as { transactionId: string; interact: { redirect: string } };
      const location = await wallet.approve(p.interact.redirect);
      expect((await fetch(location)).status).toBe(200);
      expect(wallet.balanceOf(shop)).toBe(1000n);

      const row = await t.store.db.get<{ continue_token: string; client_nonce: string; access_token: string }>(
        `SELECT p.continue_token, p.client_nonce, g.access_token FROM ilp_payments p JOIN ilp_grants g ON g.id = p.grant_id WHERE p.payment_id = ?`,
        [p.transactionId],
      );
      expect(logs.length).toBeGreaterThan(0);
      for (const secret of [encoded, pem.split('\n')[1]!, row!.continue_token, row!.client_nonce, row!.access_token])
        expect(logs).not.toContain(secret);
      await expectLedgerBalanced(t.store.db);
    } finally {
      await t.stop();
    }
  });
});
