/**
 * The local Interledger wallet (devnet/interledger) driven by the official Open Payments client, with
 * response validation on: whatever it answers must pass the client's own spec checks, and the
 * stand-in checks its own answers too (`close()` fails on any it refused to send). Raw HTTP where the
 * client would not send what is being tested (unsigned, badly signed, or spec-forbidden requests).
 */
import { createHash, generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHeaders, generateJwk } from '@interledger/http-signature-utils';
import {
  type AuthenticatedClient,
  createAuthenticatedClient,
  getResourceServerOpenAPI,
  type GrantWithAccessToken,
  isPendingGrant,
  OpenPaymentsClientError,
  type PendingGrant,
  type Quote,
} from '@interledger/open-payments';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoInterledger } from '../../devnet/interledger/demo.js';
import { openPaymentsHandler } from '../../devnet/interledger/http.js';
import { type LocalInterledger, startLocalInterledger } from '../../devnet/interledger/index.js';
import { loadSpecs } from '../../devnet/interledger/specs.js';

const USD = { assetCode: 'USD', assetScale: 2 } as const;
const usd = (value: bigint | number) => ({ value: String(value), ...USD });
const FINISH = 'http://127.0.0.1:9/ilp/finish';

let nowMs = Date.parse('2026-03-01T12:00:00Z');
const clock = {
  now: () => new Date(nowMs),
  advance(ms: number) {
    nowMs += ms;
  },
};

let ilp: LocalInterledger;
let hubWallet: string;
let hubKey: KeyObject;
let client: AuthenticatedClient;
let walletNo = 0;

async function wallet(balance: bigint, publicName?: string): Promise<string> {
  walletNo += 1;
  return (await ilp.createWallet(`w${walletNo}`, { ...USD, balance, ...(publicName ? { publicName } : {}) })).url;
}

/** The thing a test of money must keep: nothing appears or vanishes between the wallets. */
function total(wallets: string[]): bigint {
  return wallets.reduce((sum, w) => sum + ilp.balanceOf(w), 0n);
}

async function expectRefusal(p: Promise<unknown>, status: number, code?: string): Promise<OpenPaymentsClientError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OpenPaymentsClientError);
  const e = err as OpenPaymentsClientError;
  expect(e.status).toBe(status);
  if (code) expect(e.code).toBe(code);
  return e;
}

async function incomingGrantToken(): Promise<string> {
  const g = granted(
    await client.grant.request(
      { url: ilp.authServer },
      { access_token: { access: [{ type: 'incoming-payment', actions: ['create', 'read', 'complete', 'list'] }] } },
    ),
  );
  return g.access_token.value;
}

async function incomingPayment(payee: string, amount?: bigint) {
  return client.incomingPayment.create(
    { url: ilp.resourceServer, accessToken: await incomingGrantToken() },
    { walletAddress: payee, ...(amount !== undefined ? { incomingAmount: usd(amount) } : {}) },
  );
}

async function quote(payer: string, receiver: string): Promise<Quote> {
  const g = granted(
    await client.grant.request({ url: ilp.authServer }, { access_token: { access: [{ type: 'quote', actions: ['create', 'read'] }] } }),
  );
  const created = await client.quote.create(
    { url: ilp.resourceServer, accessToken: g.access_token.value },
    { walletAddress: payer, receiver, method: 'ilp' },
  );
  // A read of it answers what was created.
  expect(await client.quote.get({ url: created.id, accessToken: g.access_token.value })).toEqual(created);
  return created;
}

async function outgoingGrant(
  payer: string,
  limits: Record<string, unknown>,
  nonce = randomUUID(),
): Promise<{ pending: PendingGrant; nonce: string }> {
  const g = await client.grant.request(
    { url: ilp.authServer },
    {
      access_token: { access: [{ type: 'outgoing-payment', actions: ['create', 'read', 'list'], identifier: payer, limits }] },
      interact: { start: ['redirect'], finish: { method: 'redirect', uri: FINISH, nonce } },
    },
  );
  if (!isPendingGrant(g)) throw new Error('an outgoing-payment grant must wait for consent');
  return { pending: g, nonce };
}

/** Consent on the wallet's page, then the continuation: the grant with its access token. */
async function approvedGrant(payer: string, limits: Record<string, unknown>): Promise<GrantWithAccessToken> {
  const { pending } = await outgoingGrant(payer, limits);
  const back = new URL(await ilp.approve(pending.interact.redirect));
  return granted(
    await client.grant.continue(
      { url: pending.continue.uri, accessToken: pending.continue.access_token.value },
      { interact_ref: back.searchParams.get('interact_ref')! },
    ),
  );
}

async function approvedToken(payer: string, limits: Record<string, unknown>): Promise<string> {
  return (await approvedGrant(payer, limits)).access_token.value;
}

/** A request signed by the hub's key as the official client signs it, for what the client would not send. */
async function signedFetch(url: string, init: { method: string; body?: unknown; token?: string; key?: KeyObject }) {
  const body = init.body === undefined ? undefined : JSON.stringify(init.body);
  const headers: Record<string, string> = { accept: 'application/json', ...(init.token ? { authorization: `GNAP ${init.token}` } : {}) };
  if (body) headers['content-type'] = 'application/json';
  const signed = await createHeaders({
    request: { method: init.method, url, headers, body },
    privateKey: init.key ?? hubKey,
    keyId: 'hub-key',
  });
  return fetch(url, { method: init.method, headers: withSignature(headers, signed), body });
}

/** The request's headers plus the signature's (which createHeaders names in capitals), each once. */
function withSignature(headers: Record<string, string>, signed: object): Record<string, string> {
  const out = { ...headers };
  for (const [name, value] of Object.entries(signed)) if (typeof value === 'string') out[name.toLowerCase()] = value;
  return out;
}

/** A grant that came with its access token (non-interactive, or continued after consent). */
function granted(g: object): GrantWithAccessToken {
  if (!('access_token' in g) || !g.access_token) throw new Error(`no access token in ${JSON.stringify(g)}`);
  return g as GrantWithAccessToken;
}

beforeAll(async () => {
  ilp = await startLocalInterledger({ now: clock.now });
  hubWallet = (await ilp.createWallet('hub', { ...USD, balance: 0n, publicName: 'Tollway hub' })).url;
  hubKey = generateKeyPairSync('ed25519').privateKey;
  ilp.addClientKey(hubWallet, generateJwk({ privateKey: hubKey, keyId: 'hub-key' }));
  client = await createAuthenticatedClient({
    walletAddressUrl: hubWallet,
    privateKey: hubKey,
    keyId: 'hub-key',
    validateResponses: true,
    logLevel: 'silent',
  });
});

afterAll(async () => {
  // Rejects if the stand-in refused to send any answer that broke its spec during the suite.
  await ilp?.close();
});

describe('wallet addresses', () => {
  it('serves the wallet address document and its JWKS', async () => {
    const alice = await wallet(500n, 'Alice');
    const doc = await client.walletAddress.get({ url: alice });
    expect(doc).toEqual({ id: alice, publicName: 'Alice', ...USD, authServer: ilp.authServer, resourceServer: ilp.resourceServer });
    const keys = await client.walletAddress.getKeys({ url: hubWallet });
    expect(keys.keys).toEqual([expect.objectContaining({ kid: 'hub-key', kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' })]);
    expect((await fetch(`${ilp.origin}/nobody`)).status).toBe(404);
  });
});

describe('incoming payments and quotes', () => {
  it('creates, reads, lists and completes an incoming payment; the public view shows only what was received', async () => {
    const shop = await wallet(0n, 'Shop');
    const token = await incomingGrantToken();
    const ip = await client.incomingPayment.create(
      { url: ilp.resourceServer, accessToken: token },
      { walletAddress: shop, incomingAmount: usd(1250), metadata: { order: 'A-1' } },
    );
    expect(ip).toMatchObject({
      walletAddress: shop,
      completed: false,
      incomingAmount: usd(1250),
      receivedAmount: usd(0),
      metadata: { order: 'A-1' },
    });
    expect(ip.methods[0]).toMatchObject({ type: 'ilp' });
    expect(await client.incomingPayment.get({ url: ip.id, accessToken: token })).toMatchObject({ id: ip.id, receivedAmount: usd(0) });
    expect(await client.incomingPayment.getPublic({ url: ip.id })).toEqual({ receivedAmount: usd(0), authServer: ilp.authServer });
    const list = await client.incomingPayment.list(
      { url: ilp.resourceServer, walletAddress: shop, accessToken: token },
      { first: 10, 'wallet-address': shop },
    );
    expect(list.result.map((p) => p.id)).toEqual([ip.id]);
    expect(list.pagination).toMatchObject({ hasNextPage: false, hasPreviousPage: false });
    const done = await client.incomingPayment.complete({ url: ip.id, accessToken: token });
    expect(done.completed).toBe(true);
  });

  it('quotes the rest of an incoming payment 1:1 on the payer wallet', async () => {
    const alice = await wallet(5_000n);
    const ip = await incomingPayment(await wallet(0n), 1250n);
    const q = await quote(alice, ip.id);
    expect(q).toMatchObject({ walletAddress: alice, receiver: ip.id, debitAmount: usd(1250), receiveAmount: usd(1250), method: 'ilp' });
    expect(Date.parse(q.expiresAt!)).toBeGreaterThan(nowMs);
  });

  it('refuses to quote across assets (the exchange is same-asset only) and a receiver that is not an incoming payment here', async () => {
    const alice = await wallet(5_000n);
    const euroShop = (await ilp.createWallet('euro-shop', { assetCode: 'EUR', assetScale: 2, balance: 0n })).url;
    const ip = await client.incomingPayment.create(
      { url: ilp.resourceServer, accessToken: await incomingGrantToken() },
      { walletAddress: euroShop, incomingAmount: { value: '100', assetCode: 'EUR', assetScale: 2 } },
    );
    const crossAsset = await expectRefusal(quote(alice, ip.id), 400);
    expect(crossAsset.description).toMatch(/no exchange from USD\/2 to EUR\/2/);
    await expectRefusal(quote(alice, `${ilp.resourceServer}/incoming-payments/${randomUUID()}`), 400);
  });

  it('charges the documented fee on top: fixed plus basis points of the received amount, rounded up', async () => {
    const feeing = await startLocalInterledger({ quoteFee: { fixed: 5n, basisPoints: 100 } });
    try {
      const key = generateKeyPairSync('ed25519').privateKey;
      const me = (await feeing.createWallet('client', { ...USD, balance: 0n })).url;
      feeing.addClientKey(me, generateJwk({ privateKey: key, keyId: 'k' }));
      const c = await createAuthenticatedClient({
        walletAddressUrl: me,
        privateKey: key,
        keyId: 'k',
        validateResponses: true,
        logLevel: 'silent',
      });
      const payer = (await feeing.createWallet('payer', { ...USD, balance: 10_000n })).url;
      const payee = (await feeing.createWallet('payee', { ...USD, balance: 0n })).url;
      const ig = granted(
        await c.grant.request(
          { url: feeing.authServer },
          { access_token: { access: [{ type: 'incoming-payment', actions: ['create'] }] } },
        ),
      );
      const qg = granted(
        await c.grant.request({ url: feeing.authServer }, { access_token: { access: [{ type: 'quote', actions: ['create'] }] } }),
      );
      const ip = await c.incomingPayment.create(
        { url: feeing.resourceServer, accessToken: ig.access_token.value },
        { walletAddress: payee },
      );
      const q = (body: object) =>
        c.quote.create(
          { url: feeing.resourceServer, accessToken: qg.access_token.value },
          { walletAddress: payer, receiver: ip.id, method: 'ilp', ...body },
        );
      // 1250 received: 5 + ceil(12.5) = 18 fee.
      expect(await q({ receiveAmount: usd(1250) })).toMatchObject({ receiveAmount: usd(1250), debitAmount: usd(1268) });
      // 1268 debited delivers the most it covers: 1250 (1251 would need 1269).
      expect(await q({ debitAmount: usd(1268) })).toMatchObject({ receiveAmount: usd(1250), debitAmount: usd(1268) });
      expect(await q({ debitAmount: usd(1267) })).toMatchObject({ receiveAmount: usd(1249), debitAmount: usd(1267) });
      await expectRefusal(q({ debitAmount: usd(5) }), 400);
    } finally {
      await feeing.close();
    }
  });

  it('issues incoming-payment grants to a directed-identity client (a bare JWK), never outgoing ones', async () => {
    const key = generateKeyPairSync('ed25519').privateKey;
    const jwk = generateJwk({ privateKey: key, keyId: 'anon' });
    // The client's own wallet address is not asked: the key travels in the request.
    const anon = await createAuthenticatedClient({
      walletAddressUrl: hubWallet,
      privateKey: key,
      keyId: 'anon',
      validateResponses: true,
      logLevel: 'silent',
    });
    const g = granted(
      await anon.grant.request(
        { url: ilp.authServer },
        { access_token: { access: [{ type: 'incoming-payment', actions: ['create'] }] } },
        { jwk },
      ),
    );
    const ip = await anon.incomingPayment.create(
      { url: ilp.resourceServer, accessToken: g.access_token.value },
      { walletAddress: await wallet(0n) },
    );
    expect(ip.completed).toBe(false);
    const alice = await wallet(100n);
    await expectRefusal(
      anon.grant.request(
        { url: ilp.authServer },
        {
          access_token: { access: [{ type: 'outgoing-payment', actions: ['create'], identifier: alice, limits: { debitAmount: usd(5) } }] },
          interact: { start: ['redirect'], finish: { method: 'redirect', uri: FINISH, nonce: randomUUID() } },
        },
        { jwk },
      ),
      400,
    );
  });
});

describe('an interactive outgoing-payment grant', () => {
  it('shows the consent page, redirects back with a hash the client can check, continues, and pays exactly', async () => {
    const alice = await wallet(10_000n, 'Alice');
    const shop = await wallet(0n, 'Corner Shop');
    const ip = await incomingPayment(shop, 1250n);
    const q = await quote(alice, ip.id);
    const { pending, nonce } = await outgoingGrant(alice, { debitAmount: q.debitAmount, receiver: ip.id });

    // The page a person sees: payee, amount and limit, and two real forms.
    const page = await fetch(pending.interact.redirect);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('<html lang="en">');
    expect(html).toContain('Corner Shop');
    expect(html).toMatch(/<dd id="amount">12\.50 USD<\/dd>/);
    expect(html).toMatch(/<dd id="limit">up to 12\.50 USD in total, once<\/dd>/);
    const forms = [...html.matchAll(/<form method="post" action="([^"]+)"><button type="submit"[^>]*>(\w+)<\/button><\/form>/g)];
    expect(forms.map((f) => f[2])).toEqual(['Approve', 'Reject']);

    // Submit the Approve form as a browser does.
    const submitted = await fetch(forms[0]![1]!, { method: 'POST', body: new URLSearchParams({ choice: 'approve' }), redirect: 'manual' });
    expect(submitted.status).toBe(303);
    const back = new URL(submitted.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe(FINISH);
    const interactRef = back.searchParams.get('interact_ref')!;
    const expected = createHash('sha256')
      .update(`${nonce}\n${pending.interact.finish}\n${interactRef}\n${ilp.authServer}`)
      .digest('base64');
    expect(back.searchParams.get('hash')).toBe(expected);

    const approved = granted(
      await client.grant.continue(
        { url: pending.continue.uri, accessToken: pending.continue.access_token.value },
        { interact_ref: interactRef },
      ),
    );
    expect(approved.access_token.access[0]).toMatchObject({
      type: 'outgoing-payment',
      identifier: alice,
      limits: { debitAmount: usd(1250) },
    });

    const everyone = [alice, shop];
    const before = total(everyone);
    const paid = await client.outgoingPayment.create(
      { url: ilp.resourceServer, accessToken: approved.access_token.value },
      { walletAddress: alice, quoteId: q.id, metadata: { article: 'a-1' } },
    );
    expect(paid).toMatchObject({
      failed: false,
      debitAmount: usd(1250),
      receiveAmount: usd(1250),
      sentAmount: usd(1250),
      grantSpentDebitAmount: usd(1250),
    });
    expect(ilp.balanceOf(alice)).toBe(8_750n);
    expect(ilp.balanceOf(shop)).toBe(1_250n);
    expect(total(everyone)).toBe(before);
    const read = await client.outgoingPayment.get({ url: paid.id, accessToken: approved.access_token.value });
    expect(read).toMatchObject({ id: paid.id, sentAmount: usd(1250), failed: false });
    const listed = await client.outgoingPayment.list(
      { url: ilp.resourceServer, walletAddress: alice, accessToken: approved.access_token.value },
      { first: 10, 'wallet-address': alice },
    );
    expect(listed.result.map((p) => p.id)).toEqual([paid.id]);
    const incoming = await client.incomingPayment.get({ url: ip.id, accessToken: await incomingGrantToken() });
    expect(incoming).toMatchObject({ completed: true, receivedAmount: usd(1250) });
    // The quote was used: a second payment from it is refused and moves nothing.
    await expectRefusal(
      client.outgoingPayment.create(
        { url: ilp.resourceServer, accessToken: approved.access_token.value },
        { walletAddress: alice, quoteId: q.id },
      ),
      400,
    );
    expect(ilp.balanceOf(alice)).toBe(8_750n);
  });

  it('redirects with result=grant_rejected on Reject, and the grant cannot be continued', async () => {
    const alice = await wallet(1_000n);
    const { pending } = await outgoingGrant(alice, { debitAmount: usd(100) });
    const back = new URL(await ilp.reject(pending.interact.redirect));
    expect(back.searchParams.get('result')).toBe('grant_rejected');
    expect(back.searchParams.has('hash')).toBe(false);
    await expectRefusal(
      client.grant.continue(
        { url: pending.continue.uri, accessToken: pending.continue.access_token.value },
        { interact_ref: randomUUID() },
      ),
      401,
    );
    // The page is answered: no second decision.
    expect((await fetch(pending.interact.redirect)).status).toBe(409);
  });

  it('expires an interaction that is not approved within the TTL (injectable clock)', async () => {
    const alice = await wallet(1_000n);
    const { pending } = await outgoingGrant(alice, { debitAmount: usd(100) });
    clock.advance(10 * 60_000 + 1);
    const page = await fetch(pending.interact.redirect);
    expect(page.status).toBe(410);
    expect(await page.text()).toContain('expired');
    await expect(ilp.approve(pending.interact.redirect)).rejects.toThrow(/410/);
    await expectRefusal(
      client.grant.continue(
        { url: pending.continue.uri, accessToken: pending.continue.access_token.value },
        { interact_ref: randomUUID() },
      ),
      401,
    );
  });

  it('refuses a second continuation with the same interact_ref', async () => {
    const alice = await wallet(1_000n);
    const { pending } = await outgoingGrant(alice, { debitAmount: usd(100) });
    const ref = new URL(await ilp.approve(pending.interact.redirect)).searchParams.get('interact_ref')!;
    const args = { url: pending.continue.uri, accessToken: pending.continue.access_token.value };
    await client.grant.continue(args, { interact_ref: ref });
    const replay = await expectRefusal(client.grant.continue(args, { interact_ref: ref }), 401);
    expect(replay.description).toBeTruthy();
  });

  it('issues one access token when the same interact_ref is sent twice at once', async () => {
    const alice = await wallet(1_000n);
    const { pending } = await outgoingGrant(alice, { debitAmount: usd(100) });
    const ref = new URL(await ilp.approve(pending.interact.redirect)).searchParams.get('interact_ref')!;
    const args = { url: pending.continue.uri, accessToken: pending.continue.access_token.value };
    const outcomes = await Promise.allSettled([1, 2, 3].map(() => client.grant.continue(args, { interact_ref: ref })));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const o of outcomes) if (o.status === 'rejected') expect((o.reason as OpenPaymentsClientError).status).toBe(401);
  });

  it('refuses a continuation with a wrong continuation token or an interact_ref never issued', async () => {
    const alice = await wallet(1_000n);
    const { pending } = await outgoingGrant(alice, { debitAmount: usd(100) });
    const ref = new URL(await ilp.approve(pending.interact.redirect)).searchParams.get('interact_ref')!;
    await expectRefusal(client.grant.continue({ url: pending.continue.uri, accessToken: 'WRONG' }, { interact_ref: ref }), 401);
    await expectRefusal(
      client.grant.continue(
        { url: pending.continue.uri, accessToken: pending.continue.access_token.value },
        { interact_ref: randomUUID() },
      ),
      401,
    );
    // The real one still works once.
    const g = await client.grant.continue(
      { url: pending.continue.uri, accessToken: pending.continue.access_token.value },
      { interact_ref: ref },
    );
    expect('access_token' in g).toBe(true);
  });

  it('revokes: DELETE of the continuation ends the grant, and its token no longer pays', async () => {
    const alice = await wallet(1_000n);
    const shop = await wallet(0n);
    const { pending } = await outgoingGrant(alice, { debitAmount: usd(500) });
    const ref = new URL(await ilp.approve(pending.interact.redirect)).searchParams.get('interact_ref')!;
    const cont = { url: pending.continue.uri, accessToken: pending.continue.access_token.value };
    const g = granted(await client.grant.continue(cont, { interact_ref: ref }));
    await client.grant.cancel(cont);
    const ip = await incomingPayment(shop, 100n);
    await expectRefusal(
      client.outgoingPayment.create(
        { url: ilp.resourceServer, accessToken: g.access_token.value },
        { walletAddress: alice, incomingPayment: ip.id, debitAmount: usd(100) },
      ),
      401,
    );
    expect(ilp.balanceOf(alice)).toBe(1_000n);
  });

  it('rotates and revokes access tokens through their management URL', async () => {
    const shop = await wallet(0n);
    const g = granted(
      await client.grant.request(
        { url: ilp.authServer },
        { access_token: { access: [{ type: 'incoming-payment', actions: ['create', 'read'] }] } },
      ),
    );
    const rotated = await client.token.rotate({ url: g.access_token.manage, accessToken: g.access_token.value });
    expect(rotated.access_token.value).not.toBe(g.access_token.value);
    const create = (token: string) =>
      client.incomingPayment.create({ url: ilp.resourceServer, accessToken: token }, { walletAddress: shop });
    await expectRefusal(create(g.access_token.value), 401);
    await create(rotated.access_token.value);
    await client.token.revoke({ url: rotated.access_token.manage, accessToken: rotated.access_token.value });
    await expectRefusal(create(rotated.access_token.value), 401);
  });
});

describe('limits and balances', () => {
  it('refuses a payment over the grant limit, and counts what the grant already spent', async () => {
    const alice = await wallet(10_000n);
    const shop = await wallet(0n);
    const token = await approvedToken(alice, { debitAmount: usd(1_000) });
    const pay = async (amount: bigint) => {
      const ip = await incomingPayment(shop);
      return client.outgoingPayment.create(
        { url: ilp.resourceServer, accessToken: token },
        { walletAddress: alice, incomingPayment: ip.id, debitAmount: usd(amount) },
      );
    };
    const over = await expectRefusal(pay(1_001n), 403, 'insufficient_grant');
    expect(over.description).toMatch(/1000 left/);
    const first = await pay(600n);
    expect(first.grantSpentDebitAmount).toEqual(usd(600));
    await expectRefusal(pay(401n), 403, 'insufficient_grant');
    const second = await pay(400n);
    expect(second.grantSpentDebitAmount).toEqual(usd(1_000));
    expect(ilp.balanceOf(alice)).toBe(9_000n);
    expect(ilp.balanceOf(shop)).toBe(1_000n);
  });

  it('never lets concurrent payments under one grant exceed its limit', async () => {
    const alice = await wallet(100_000n);
    const shop = await wallet(0n);
    const token = await approvedToken(alice, { debitAmount: usd(1_000) });
    const receivers = await Promise.all(Array.from({ length: 12 }, () => incomingPayment(shop)));
    const outcomes = await Promise.allSettled(
      receivers.map((ip) =>
        client.outgoingPayment.create(
          { url: ilp.resourceServer, accessToken: token },
          { walletAddress: alice, incomingPayment: ip.id, debitAmount: usd(300) },
        ),
      ),
    );
    const paid = outcomes.filter((o) => o.status === 'fulfilled');
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(paid).toHaveLength(3);
    for (const r of refused) expect((r.reason as OpenPaymentsClientError).code).toBe('insufficient_grant');
    expect(ilp.balanceOf(alice)).toBe(100_000n - 900n);
    expect(ilp.balanceOf(shop)).toBe(900n);
  });

  it('never lets concurrent payments under several grants overdraw the balance', async () => {
    const alice = await wallet(1_000n);
    const shop = await wallet(0n);
    const tokens = [await approvedToken(alice, { debitAmount: usd(1_000) }), await approvedToken(alice, { debitAmount: usd(1_000) })];
    const receivers = await Promise.all(Array.from({ length: 8 }, () => incomingPayment(shop)));
    const outcomes = await Promise.allSettled(
      receivers.map((ip, i) =>
        client.outgoingPayment.create(
          { url: ilp.resourceServer, accessToken: tokens[i % 2]! },
          { walletAddress: alice, incomingPayment: ip.id, debitAmount: usd(300) },
        ),
      ),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(3);
    for (const o of outcomes) if (o.status === 'rejected') expect((o.reason as OpenPaymentsClientError).code).toBe('insufficient_balance');
    expect(ilp.balanceOf(alice)).toBe(100n);
    expect(ilp.balanceOf(shop)).toBe(900n);
  });

  it('renews a limit with an interval: the next period has the whole budget again', async () => {
    const alice = await wallet(10_000n);
    const shop = await wallet(0n);
    const start = new Date(nowMs - 1_000).toISOString();
    const grant = await approvedGrant(alice, { debitAmount: usd(500), interval: `R/${start}/P1D` });
    const pay = async (token: string, amount: bigint) =>
      client.outgoingPayment.create(
        { url: ilp.resourceServer, accessToken: token },
        { walletAddress: alice, incomingPayment: (await incomingPayment(shop)).id, debitAmount: usd(amount) },
      );
    await pay(grant.access_token.value, 500n);
    await expectRefusal(pay(grant.access_token.value, 1n), 403, 'insufficient_grant');
    expect(await client.outgoingPayment.getGrantSpentAmounts({ url: ilp.resourceServer, accessToken: grant.access_token.value })).toEqual({
      spentDebitAmount: usd(500),
      spentReceiveAmount: usd(500),
    });
    clock.advance(24 * 3_600_000);
    // The token expired meanwhile (600 s): a rotated one carries on under the same grant.
    await expectRefusal(pay(grant.access_token.value, 1n), 401);
    const rotated = await client.token.rotate({ url: grant.access_token.manage, accessToken: grant.access_token.value });
    const second = await pay(rotated.access_token.value, 500n);
    expect(second.grantSpentDebitAmount).toEqual(usd(500));
    expect(ilp.balanceOf(alice)).toBe(9_000n);
  });

  it('refuses a payment the balance does not cover with insufficient_balance, and moves nothing', async () => {
    const alice = await wallet(100n);
    const shop = await wallet(0n);
    const token = await approvedToken(alice, { debitAmount: usd(1_000) });
    const ip = await incomingPayment(shop);
    await expectRefusal(
      client.outgoingPayment.create(
        { url: ilp.resourceServer, accessToken: token },
        { walletAddress: alice, incomingPayment: ip.id, debitAmount: usd(101) },
      ),
      403,
      'insufficient_balance',
    );
    expect(ilp.balanceOf(alice)).toBe(100n);
    expect(ilp.balanceOf(shop)).toBe(0n);
  });

  it('fails the next outgoing payment on request: failed moves nothing, partial moves half', async () => {
    const alice = await wallet(1_000n);
    const shop = await wallet(0n);
    const token = await approvedToken(alice, { debitAmount: usd(1_000) });
    const pay = async () =>
      client.outgoingPayment.create(
        { url: ilp.resourceServer, accessToken: token },
        { walletAddress: alice, incomingPayment: (await incomingPayment(shop)).id, debitAmount: usd(200) },
      );
    ilp.failNextOutgoingPayment('failed');
    expect(await pay()).toMatchObject({ failed: true, sentAmount: usd(0) });
    expect(ilp.balanceOf(alice)).toBe(1_000n);
    ilp.failNextOutgoingPayment('partial');
    expect(await pay()).toMatchObject({ failed: true, sentAmount: usd(100) });
    expect(ilp.balanceOf(alice)).toBe(900n);
    expect(ilp.balanceOf(shop)).toBe(100n);
    expect(await pay()).toMatchObject({ failed: false, sentAmount: usd(200) });
  });
});

describe('signatures and the spec', () => {
  it('refuses an unsigned grant request and an unsigned resource request with 401 invalid_client', async () => {
    const grant = await fetch(ilp.authServer, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ client: hubWallet, access_token: { access: [{ type: 'quote', actions: ['create'] }] } }),
    });
    expect(grant.status).toBe(401);
    expect((await grant.json()).error.code).toBe('invalid_client');
    const token = await incomingGrantToken();
    const rs = await fetch(`${ilp.resourceServer}/incoming-payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `GNAP ${token}` },
      body: JSON.stringify({ walletAddress: hubWallet }),
    });
    expect(rs.status).toBe(401);
    expect((await rs.json()).error.code).toBe('invalid_client');
  });

  it('refuses requests signed with a key the client wallet address does not publish', async () => {
    const impostor = await createAuthenticatedClient({
      walletAddressUrl: hubWallet,
      privateKey: generateKeyPairSync('ed25519').privateKey,
      keyId: 'hub-key',
      validateResponses: true,
      logLevel: 'silent',
    });
    await expectRefusal(
      impostor.grant.request({ url: ilp.authServer }, { access_token: { access: [{ type: 'quote', actions: ['create'] }] } }),
      401,
      'invalid_client',
    );
    // A good token does not help a request signed by someone else.
    const token = await incomingGrantToken();
    await expectRefusal(
      impostor.incomingPayment.create({ url: ilp.resourceServer, accessToken: token }, { walletAddress: hubWallet }),
      401,
      'invalid_client',
    );
    // Nor does changing the body after signing (same length, so only Content-Digest gives it away).
    const url = `${ilp.resourceServer}/incoming-payments`;
    const body = JSON.stringify({ walletAddress: hubWallet });
    const headers = { 'content-type': 'application/json', authorization: `GNAP ${token}` };
    const signed = await createHeaders({ request: { method: 'POST', url, headers, body }, privateKey: hubKey, keyId: 'hub-key' });
    const tampered = await fetch(url, {
      method: 'POST',
      headers: withSignature(headers, signed),
      body: JSON.stringify({ walletAddress: hubWallet.replace(/hub$/, 'hug') }),
    });
    expect(tampered.status).toBe(401);
    expect((await tampered.json()).error.code).toBe('invalid_client');
  });

  it("fetches a client's JWKS over HTTP when its wallet address lives elsewhere", async () => {
    const elsewhere = await startLocalInterledger();
    try {
      const clientWallet = (await elsewhere.createWallet('client', { ...USD, balance: 0n })).url;
      const key = generateKeyPairSync('ed25519').privateKey;
      elsewhere.addClientKey(clientWallet, generateJwk({ privateKey: key, keyId: 'k-elsewhere' }));
      const other = await createAuthenticatedClient({
        walletAddressUrl: clientWallet,
        privateKey: key,
        keyId: 'k-elsewhere',
        logLevel: 'silent',
      });
      const g = await other.grant.request({ url: ilp.authServer }, { access_token: { access: [{ type: 'quote', actions: ['create'] }] } });
      expect('access_token' in g).toBe(true);
      const wrongKid = await createAuthenticatedClient({
        walletAddressUrl: clientWallet,
        privateKey: key,
        keyId: 'k-unknown',
        logLevel: 'silent',
      });
      await expectRefusal(
        wrongKid.grant.request({ url: ilp.authServer }, { access_token: { access: [{ type: 'quote', actions: ['create'] }] } }),
        401,
      );
    } finally {
      await elsewhere.close();
    }
  });

  it("answers a request the spec forbids with 400 and the spec's error shape, and changes nothing", async () => {
    const shop = await wallet(0n);
    const token = await incomingGrantToken();
    const errorShape = (await getResourceServerOpenAPI()).createResponseValidator({ path: '/quotes', method: 'post' as never });
    const cases: [unknown, RegExp][] = [
      [{ walletAddress: shop, incomingAmount: { value: '-5', ...USD } }, /incomingAmount\.value must match format "uint64"/],
      [{ walletAddress: shop, unknownField: true }, /must NOT have additional properties: unknownField/],
      [{ incomingAmount: usd(5) }, /must have required property 'walletAddress'/],
    ];
    for (const [body, why] of cases) {
      const res = await signedFetch(`${ilp.resourceServer}/incoming-payments`, { method: 'POST', body, token });
      expect(res.status).toBe(400);
      const answer = await res.json();
      expect(answer.error).toMatchObject({ code: 'invalid_request', description: expect.stringMatching(why) });
      expect(errorShape({ status: 400, body: answer })).toBe(true);
    }
    const list = await client.incomingPayment.list({ url: ilp.resourceServer, walletAddress: shop, accessToken: token });
    expect(list.result).toEqual([]);
    // The auth server likewise: an outgoing-payment access item without its identifier.
    const grant = await signedFetch(ilp.authServer, {
      method: 'POST',
      body: { client: hubWallet, access_token: { access: [{ type: 'outgoing-payment', actions: ['create'] }] } },
    });
    expect(grant.status).toBe(400);
    expect((await grant.json()).error).toMatchObject({
      code: 'invalid_request',
      description: expect.stringMatching(/required property 'identifier'/),
    });
  });

  it('records an answer of its own that breaks the spec (a bug) and sends a 500 instead', async () => {
    const specs = await loadSpecs();
    const handler = openPaymentsHandler({
      origin: 'http://127.0.0.1',
      specs,
      routes: [
        {
          method: 'GET',
          pattern: /^\/quotes\/(?<id>[^/]+)$/,
          op: { spec: 'resource', path: '/quotes/{id}', method: 'get' },
          // A quote without its amounts: what a bug in the stand-in would send.
          handle: () => ({ status: 200, json: { id: 'http://127.0.0.1/quotes/1', walletAddress: 'http://127.0.0.1/a' } }),
        },
      ],
    });
    const server = createServer(handler.listener);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/quotes/1`, {
        headers: { signature: 'sig1=::', 'signature-input': 'sig1=();keyid="k"' },
      });
      expect(res.status).toBe(500);
      expect(handler.violations).toEqual([
        expect.stringMatching(/GET \/quotes\/\{id\} \(resource server\) answering 200: .*required property 'receiver'/),
      ]);
    } finally {
      server.close();
    }
  });

  it('refuses an outgoing-payment grant without interaction, and access the token does not carry', async () => {
    const alice = await wallet(1_000n);
    await expectRefusal(
      client.grant.request(
        { url: ilp.authServer },
        {
          access_token: { access: [{ type: 'outgoing-payment', actions: ['create'], identifier: alice, limits: { debitAmount: usd(5) } }] },
        },
      ),
      400,
    );
    await expectRefusal(
      client.grant.request(
        { url: ilp.authServer },
        {
          access_token: { access: [{ type: 'outgoing-payment', actions: ['create'], identifier: alice, limits: { debitAmount: usd(5) } }] },
          interact: { start: ['redirect'], finish: { method: 'redirect', uri: 'javascript:alert(1)', nonce: randomUUID() } },
        },
      ),
      400,
    );
    const token = await incomingGrantToken();
    await expectRefusal(
      client.quote.create(
        { url: ilp.resourceServer, accessToken: token },
        { walletAddress: alice, receiver: (await incomingPayment(alice)).id, method: 'ilp' },
      ),
      403,
    );
  });
});

describe('the local run (startDemoInterledger)', () => {
  it("gives the person's and the shop's wallets, and hub variables the official client signs with", async () => {
    const demo = await startDemoInterledger({ port: 0 });
    try {
      const env = demo.hubEnv;
      const hub = await createAuthenticatedClient({
        walletAddressUrl: env.TOLLWAY_ILP_WALLET_ADDRESS,
        privateKey: env.TOLLWAY_ILP_PRIVATE_KEY,
        keyId: env.TOLLWAY_ILP_KEY_ID,
        validateResponses: true,
        logLevel: 'silent',
      });
      const person = await hub.walletAddress.get({ url: demo.personWallet });
      expect(person).toMatchObject({ publicName: 'You (local wallet)', assetCode: 'USD', assetScale: 2 });
      expect(demo.ilp.balanceOf(demo.personWallet)).toBe(10_000n);
      const g = await hub.grant.request({ url: person.authServer }, { access_token: { access: [{ type: 'quote', actions: ['create'] }] } });
      expect('access_token' in g).toBe(true);
      expect((await hub.walletAddress.get({ url: demo.shopWallet })).publicName).toBe('Tollway demo shop');
    } finally {
      await demo.ilp.close();
    }
  });
});
