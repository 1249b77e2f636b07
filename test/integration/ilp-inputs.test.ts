/**
 * The ilp routes with the rail on, hit with generated hostile input over real HTTP: never a 5xx,
 * every refusal application/problem+json, and a refused request changes no row anywhere (a
 * fingerprint of the whole database before and after). A consent is in progress throughout, and
 * redirects that do not carry its reference must leave it in progress.
 */
import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalInterledger, startLocalInterledger } from '../../devnet/interledger/index.js';
import { ADMIN_TOKEN, pay, type Session, signIn, startTestHub, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { badId, dbFingerprint, fuzzParams, jsonBody } from '../fuzz/kit.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 150);

describe('ilp routes under hostile input', () => {
  let wallet: LocalInterledger;
  let t: TestHub;
  let me: Session;
  let pendingId: string;

  beforeAll(async () => {
    wallet = await startLocalInterledger();
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const client = (await wallet.createWallet('hub-inputs', { assetCode: 'BTC', assetScale: 9, balance: 0n })).url;
    const x = (publicKey.export({ format: 'jwk' }) as { x: string }).x;
    wallet.addClientKey(client, { kid: 'k', alg: 'EdDSA', kty: 'OKP', crv: 'Ed25519', x });
    t = await startTestHub('sqlite', {
      env: {
        TOLLWAY_ILP_WALLET_ADDRESS: client,
        TOLLWAY_ILP_PRIVATE_KEY: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
        TOLLWAY_ILP_KEY_ID: 'k',
      },
    });
    const alice = (await wallet.createWallet('alice-inputs', { assetCode: 'BTC', assetScale: 9, balance: 10_000n })).url;
    const shop = (await wallet.createWallet('shop-inputs', { assetCode: 'BTC', assetScale: 9, balance: 0n })).url;
    const m = await fetch(`${t.url}/merchants`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({ name: 'Shop', walletAddress: shop }),
    });
    const merchantId = ((await m.json()) as { merchant: { id: string } }).merchant.id;
    me = await signIn(t.url);
    await fetch(`${t.url}/ilp/wallet`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${me.accessToken}` },
      body: JSON.stringify({ walletAddress: alice }),
    });
    const p = (await (await pay(t.url, me, 'inputs-1', { rail: 'ilp', payTo: merchantId, amount: '100000', asset: 'BTC' })).json()) as {
      transactionId: string;
      status: string;
    };
    expect(p.status).toBe('pending');
    pendingId = p.transactionId;
  });
  afterAll(async () => {
    await t?.stop();
    await wallet?.close();
  });

  const queryPart = fc.oneof(fc.constantFrom('ref', 'hash', 'interact_ref', 'result', 'extra'), fc.string({ maxLength: 20 }));
  const queryValue = fc.oneof(
    fc.constantFrom('grant_rejected', 'AAAAAAAAAAAAAAAAAAAAAAAA', '', '=', 'x'.repeat(300), '__pending__'),
    fc.string({ unit: 'binary', maxLength: 80 }),
  );

  const request = fc.oneof(
    fc.record({
      kind: fc.constant('finish' as const),
      query: fc.array(fc.tuple(queryPart, queryValue), { maxLength: 5 }),
    }),
    fc.record({
      kind: fc.constant('wallet' as const),
      body: fc.oneof(
        jsonBody,
        // URLs that parse reach only the local wallet (a 404 there): nothing slow, nothing outside.
        fc.record({ walletAddress: fc.oneof(fc.string(), fc.constantFrom('__nobody__', 'ftp://x/y', 'not a url', '')) }),
      ),
    }),
    fc.record({ kind: fc.constant('grant' as const), id: fc.oneof(badId, fc.constantFrom('igr_AAAAAAAAAAAAAAAA')) }),
    fc.record({ kind: fc.constant('payment' as const), id: fc.oneof(badId, fc.constant('__pending__')), auth: fc.boolean() }),
  );

  it('never answers 5xx, refuses with problem+json, and a refusal writes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const auth = { authorization: `Bearer ${me.accessToken}` };
        const before = await dbFingerprint(t.store.db);
        let res: Response;
        if (r.kind === 'finish') {
          const q = new URLSearchParams();
          for (const [k, v] of r.query) q.append(k, v === '__pending__' ? pendingId : v);
          res = await fetch(`${t.url}/ilp/finish?${q}`);
        } else if (r.kind === 'wallet') {
          const body = JSON.stringify(r.body, (_k, v) => (v === '__nobody__' ? `${wallet.origin}/nobody` : v)) ?? 'null';
          res = await fetch(`${t.url}/ilp/wallet`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body });
        } else if (r.kind === 'grant') {
          res = await fetch(`${t.url}/ilp/grants/${encodeURIComponent(r.id)}`, { method: 'DELETE', headers: auth });
        } else {
          const id = r.id === '__pending__' ? pendingId : r.id;
          res = await fetch(`${t.url}/ilp/payments/${encodeURIComponent(id)}`, { headers: r.auth ? auth : {} });
        }
        const text = await res.text();
        const after = await dbFingerprint(t.store.db);
        expect(res.status, text.slice(0, 300)).toBeLessThan(500);
        if (res.status >= 400) expect(res.headers.get('content-type') ?? '').toMatch(/^application\/problem\+json/);
        if (res.status >= 400) expect(after).toBe(before);
      }),
      fuzzParams(RUNS),
    );
    // The consent in progress was never answered by any of it.
    const state = (await (
      await fetch(`${t.url}/ilp/payments/${pendingId}`, { headers: { authorization: `Bearer ${me.accessToken}` } })
    ).json()) as {
      state: string;
    };
    expect(state.state).toBe('awaiting-consent');
    await expectLedgerBalanced(t.store.db);
  });
});
