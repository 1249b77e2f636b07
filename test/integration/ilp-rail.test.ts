/**
 * The Interledger rail against the local Open Payments wallet provider (devnet/interledger), over
 * real HTTP: the hub uses the official client, the stand-in validates every request against the
 * Open Payments specifications and verifies every signature. Each scenario runs on SQLite and
 * PostgreSQL and ends with the ledger invariant checked and the wallets' balances compared with
 * what the hub says was paid.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { io, type Socket } from 'socket.io-client';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PaymentStatusUpdate } from '../../shared/api.js';
import { finishHash, type LocalInterledger, startLocalInterledger } from '../../devnet/interledger/index.js';
import express from 'express';
import { encodePaymentSignature, parsePaymentRequired } from '../../shared/challenge.js';
import { paywall } from '../../merchant/index.js';
import { createJwksCache } from '../../merchant/jwks.js';
import { verifyReceipt } from '../../merchant/receipt.js';
import { IlpCallError, createOpenPayments } from '../../server/rails/ilp/client.js';
import { ilpConfig } from '../../server/rails/ilp/config.js';
import { createIlpRail, type IlpRail } from '../../server/rails/ilp/index.js';
import { ADMIN_TOKEN, freePort, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { ENGINES, freshStore, type Engine, type TestStore } from '../helpers/stores.js';

type P = {
  transactionId: string;
  status: string;
  rail: string;
  amount: string;
  failureReason: string | null;
  receipt: { token?: string; transactionHash?: string };
  interact?: { redirect: string; expiresAt: string };
};
type Problem = { type: string; status: number; detail?: string };

const MINUTE = 60_000;
/** Hub BTC is msat (11 decimals); the wallets here keep BTC at scale 9, so 1 wallet unit = 100 msat. */
const UNIT = 100n;

async function until<T>(f: () => Promise<T | undefined> | T | undefined, what: string, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function nextUpdate(s: Socket, id: string, status: string, ms = 15_000): Promise<PaymentStatusUpdate> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${status} update for ${id}`)), ms);
    const on = (u: PaymentStatusUpdate) => {
      if (u.transactionId !== id || u.status !== status) return;
      clearTimeout(t);
      s.off('paymentStatusUpdate', on);
      resolve(u);
    };
    s.on('paymentStatusUpdate', on);
  });
}

async function socketFor(url: string, s: Session): Promise<Socket> {
  const sock = io(url, { auth: { token: s.accessToken }, transports: ['websocket'], reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', () => resolve());
    sock.once('connect_error', reject);
  });
  return sock;
}

/** A merchant's webhook endpoint: every verified event it received. */
async function webhookReceiver(): Promise<{
  url: string;
  events: { type: string; data: P }[];
  setSecret(s: string): void;
  close(): Promise<void>;
}> {
  const events: { type: string; data: P }[] = [];
  let secret = '';
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      try {
        events.push(new Webhook(secret).verify(body, req.headers as Record<string, string>) as { type: string; data: P });
        res.writeHead(200).end();
      } catch {
        // A test that moves the hub's clock makes its signatures look early: not a delivery.
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    events,
    setSecret: (s) => (secret = s),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe.each(ENGINES)('the ilp rail (%s)', (engine: Engine) => {
  let wallet: LocalInterledger;
  let skew = 0;
  const clock = { now: () => Date.now() + skew };
  let clientWallet: string;
  let settings: ReturnType<typeof ilpConfig> & object;
  let hubs: TestHub[] = [];
  let seq = 0;

  beforeAll(async () => {
    wallet = await startLocalInterledger({ now: () => new Date(clock.now()) });
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    clientWallet = (await wallet.createWallet('tollway-hub', { assetCode: 'BTC', assetScale: 9, balance: 0n })).url;
    const jwk = publicKey.export({ format: 'jwk' }) as { x: string };
    wallet.addClientKey(clientWallet, { kid: 'hub-key-1', alg: 'EdDSA', kty: 'OKP', crv: 'Ed25519', x: jwk.x });
    settings = ilpConfig({
      TOLLWAY_ILP_WALLET_ADDRESS: clientWallet,
      // As wallets hand keys out: base64 of the PEM.
      TOLLWAY_ILP_PRIVATE_KEY: Buffer.from(pem).toString('base64'),
      TOLLWAY_ILP_KEY_ID: 'hub-key-1',
      TOLLWAY_ILP_CONSENT_TIMEOUT: 600,
      TOLLWAY_ILP_SETTLE_WAIT: 10,
      TOLLWAY_ILP_ALLOW_PRIVATE: true,
    })!;
  });
  afterAll(async () => {
    await wallet.close();
  });
  afterEach(async () => {
    skew = 0;
    for (const h of hubs) await h.stop();
    hubs = [];
  });

  interface World {
    t: TestHub;
    rail: () => IlpRail;
    person: Session;
    alice: string;
    shop: string;
    merchantId: string;
    apiKey: string;
    hooks: Awaited<ReturnType<typeof webhookReceiver>>;
  }

  /** A hub with the rail, a person with a linked wallet, a merchant with a wallet address and a webhook. */
  async function world(opts: { store?: TestStore; port?: number; aliceBalance?: bigint } = {}): Promise<World> {
    const n = ++seq;
    let rail: IlpRail | undefined;
    const t = await startTestHub(engine, {
      clock,
      ...(opts.store ? { store: opts.store, keepStore: true } : {}),
      ...(opts.port ? { env: { PORT: String(opts.port) } } : {}),
      rails: (parts) => {
        rail = createIlpRail(parts, settings, { pollMs: 20, expiryCheckMs: 3_600_000 });
        return { ilp: rail };
      },
    });
    hubs.push(t);
    const alice = (
      await wallet.createWallet(`alice-${engine}-${n}`, { assetCode: 'BTC', assetScale: 9, balance: opts.aliceBalance ?? 1_000_000n })
    ).url;
    const shop = (await wallet.createWallet(`shop-${engine}-${n}`, { assetCode: 'BTC', assetScale: 9, balance: 0n })).url;
    const hooks = await webhookReceiver();
    const m = await fetch(`${t.url}/merchants`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({ name: 'Shop', walletAddress: shop, webhookUrl: hooks.url }),
    });
    expect(m.status).toBe(201);
    const reg = (await m.json()) as { merchant: { id: string; walletAddress: string }; apiKey: string; webhookSecret: string };
    expect(reg.merchant.walletAddress).toBe(shop);
    hooks.setSecret(reg.webhookSecret);
    const person = await signIn(t.url);
    const link = await put(t.url, person, '/ilp/wallet', { walletAddress: alice });
    expect(link.status).toBe(200);
    return { t, rail: () => rail!, person, alice, shop, merchantId: reg.merchant.id, apiKey: reg.apiKey, hooks };
  }

  const put = (url: string, s: Session, path: string, body: unknown) =>
    fetch(`${url}${path}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${s.accessToken}` },
      body: JSON.stringify(body),
    });
  const get = (url: string, s: Session, path: string) => fetch(`${url}${path}`, { headers: { authorization: `Bearer ${s.accessToken}` } });

  async function payIlp(w: World, amountMsat: bigint, extra: Record<string, unknown> = {}): Promise<P> {
    const res = await pay(w.t.url, w.person, `k-${++seq}`, {
      rail: 'ilp',
      payTo: w.merchantId,
      amount: amountMsat.toString(),
      asset: 'BTC',
      resource: { url: 'https://shop.example/article/1', method: 'GET' },
      ...extra,
    });
    const body = (await res.json()) as P;
    expect(res.status, JSON.stringify(body)).toBe(200);
    return body;
  }

  /** The finish redirect, opened as the person's browser would, on the hub it names or on `hubUrl`. */
  async function openFinish(location: string, hubUrl?: string): Promise<Response> {
    const u = new URL(location);
    return fetch(hubUrl ? `${hubUrl}${u.pathname}${u.search}` : location);
  }

  /** A ledger account's posted and pending sides, as decimal strings (0 when it does not exist). */
  async function account(w: Pick<World, 't'>, id: string) {
    const r = await w.t.store.db.get<Record<string, unknown>>(
      'SELECT debits_posted, credits_posted, debits_pending, credits_pending FROM ledger_accounts WHERE id = ?',
      [id],
    );
    const v = (k: string) => String(r?.[k] ?? '0');
    return {
      debitsPosted: v('debits_posted'),
      creditsPosted: v('credits_posted'),
      debitsPending: v('debits_pending'),
      creditsPending: v('credits_pending'),
    };
  }

  async function paymentOf(w: World, id: string): Promise<P> {
    return (await (await get(w.t.url, w.person, `/payments/${id}`)).json()) as P;
  }

  async function settled(w: World, id: string, status: string): Promise<P> {
    return until(async () => {
      const p = await paymentOf(w, id);
      return p.status === status ? p : undefined;
    }, `payment ${id} ${status}`);
  }

  it('links a wallet address it can use and refuses one it cannot, with a problem that says why', async () => {
    const w = await world();
    const linked = (await (await get(w.t.url, w.person, '/ilp/wallet')).json()) as {
      walletAddress: string;
      assetCode: string;
      assetScale: number;
    };
    expect(linked).toMatchObject({ walletAddress: w.alice, assetCode: 'BTC', assetScale: 9 });

    const usd = (await wallet.createWallet(`usd-${engine}-${seq}`, { assetCode: 'USD', assetScale: 2, balance: 100n })).url;
    const refused = await put(w.t.url, w.person, '/ilp/wallet', { walletAddress: usd });
    expect(refused.status).toBe(422);
    expect(refused.headers.get('content-type')).toMatch(/application\/problem\+json/);
    const p = (await refused.json()) as Problem;
    expect(p.type).toMatch(/ilp-wallet-unusable$/);
    expect(p.detail).toMatch(/USD at scale 2/);

    const nowhere = await put(w.t.url, w.person, '/ilp/wallet', { walletAddress: `${wallet.origin}/nobody-here` });
    expect(nowhere.status).toBe(422);
    // The refused links changed nothing.
    expect(((await (await get(w.t.url, w.person, '/ilp/wallet')).json()) as { walletAddress: string }).walletAddress).toBe(w.alice);

    const other = await signIn(w.t.url);
    expect((await get(w.t.url, other, '/ilp/wallet')).status).toBe(404);
    const unlinked = await pay(w.t.url, other, 'x', { rail: 'ilp', payTo: w.merchantId, amount: '1000', asset: 'BTC' });
    expect(unlinked.status).toBe(409);
    expect(((await unlinked.json()) as Problem).type).toMatch(/ilp-wallet-not-linked$/);
  });

  it('approve: pending with the consent URL, then on the redirect the receipt, the socket update and the webhook', async () => {
    const w = await world();
    const sock = await socketFor(w.t.url, w.person);
    try {
      const p = await payIlp(w, 2500n * UNIT);
      expect(p.status).toBe('pending');
      expect(p.interact?.redirect).toMatch(new RegExp(`^${wallet.origin}/`));
      expect(p.receipt.token).toBeUndefined();
      const state = (await (await get(w.t.url, w.person, `/ilp/payments/${p.transactionId}`)).json()) as {
        state: string;
        interact: unknown;
      };
      expect(state).toMatchObject({ state: 'awaiting-consent', interact: p.interact });
      // Nothing moves before consent.
      expect(wallet.balanceOf(w.alice)).toBe(1_000_000n);

      const completed = nextUpdate(sock, p.transactionId, 'completed');
      const location = await wallet.approve(p.interact!.redirect);
      expect(location.startsWith(`${w.t.url}/ilp/finish?`)).toBe(true);
      const page = await openFinish(location);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/text\/html/);
      expect(await page.text()).toMatch(/close this tab/);

      const update = await completed;
      expect(update.rail).toBe('ilp');
      expect(update.receipt.token).toBeTruthy();
      expect(wallet.balanceOf(w.alice)).toBe(1_000_000n - 2500n);
      expect(wallet.balanceOf(w.shop)).toBe(2500n);

      // The merchant checks the receipt offline, as for every rail.
      const check = await verifyReceipt(update.receipt.token!, createJwksCache({ url: `${w.t.url}/.well-known/jwks.json` }), {
        issuer: w.t.url,
        merchantId: w.merchantId,
        asset: 'BTC',
        price: 2500n * UNIT,
        now: Date.now(),
      });
      expect(check.ok && check.claims.rail).toBe('ilp');
      const hook = await until(
        () => w.hooks.events.find((e) => e.type === 'payment.completed' && e.data.transactionId === p.transactionId),
        'webhook',
      );
      expect(hook.data.rail).toBe('ilp');
      expect(hook.data.receipt.token).toBe(update.receipt.token);
      // The person's hub balance was never touched: the money moved wallet to wallet.
      const me = (await (await get(w.t.url, w.person, '/accounts/me')).json()) as { balances: { asset: string; posted: string }[] };
      expect(me.balances.find((b) => b.asset === 'BTC')?.posted ?? '0').toBe('0');
      // The ledger: from the mirror of the person's wallet to the payees outside the hub, posted once; the merchant's hub balance untouched.
      const amount = (2500n * UNIT).toString();
      expect(await account(w, `ilp:${w.person.user.id}:BTC`)).toMatchObject({ debitsPosted: amount, debitsPending: '0' });
      expect(await account(w, 'system:ilp-payees:BTC')).toMatchObject({ creditsPosted: amount, creditsPending: '0' });
      expect(await account(w, `merchant:${w.merchantId}:BTC`)).toMatchObject({ creditsPosted: '0' });
      // Refunds would come out of a hub balance that never held it.
      const refund = await fetch(`${w.t.url}/payments/${p.transactionId}/refund`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${w.apiKey}`, 'idempotency-key': 'r1' },
        body: '{}',
      });
      expect(refund.status).toBe(409);
      expect(((await refund.json()) as Problem).detail).toMatch(/merchant's own wallet/);
      await expectLedgerBalanced(w.t.store.db);
    } finally {
      sock.close();
      await w.hooks.close();
    }
  });

  it("a merchant's paywall names the ilp rail and its wallet address, and an ilp receipt opens the article", async () => {
    const w = await world();
    const app = express();
    const price = 4000n * UNIT;
    app.get(
      '/article',
      paywall({ hub: w.t.url, merchantId: w.merchantId, price: price.toString(), asset: 'BTC', interledger: { walletAddress: w.shop } }),
      (_req, res) => res.send('the article'),
    );
    const server = await new Promise<Server>((r) => {
      const s = app.listen(0, '127.0.0.1', () => r(s));
    });
    const shopUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const first = await fetch(`${shopUrl}/article`, { headers: { accept: 'application/json' } });
      expect(first.status).toBe(402);
      const parsed = parsePaymentRequired(first.headers.get('payment-required')!);
      if (!parsed.ok) throw new Error(parsed.error.message);
      const entry = parsed.value.accepts.find((a) => a.scheme === 'tollway')!;
      expect(entry.extra?.interledger).toEqual({ rail: 'ilp', walletAddress: w.shop });

      const res = await pay(w.t.url, w.person, 'paywall-1', {
        rail: 'ilp',
        payTo: entry.payTo,
        amount: entry.amount,
        asset: entry.asset,
        requirement: entry,
        resource: { url: parsed.value.resource!.url, method: 'GET' },
      });
      const p = (await res.json()) as P;
      expect(p.status).toBe('pending');
      expect((await openFinish(await wallet.approve(p.interact!.redirect))).status).toBe(200);
      const done = await settled(w, p.transactionId, 'completed');
      const proof = encodePaymentSignature({ accepted: entry, payload: { receipt: done.receipt.token! } });
      const open = await fetch(`${shopUrl}/article`, { headers: { 'payment-signature': proof } });
      expect(open.status).toBe(200);
      expect(await open.text()).toBe('the article');
      expect(wallet.balanceOf(w.shop)).toBe(4000n);
      await expectLedgerBalanced(w.t.store.db);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      await w.hooks.close();
    }
  });

  it('reject: failed with the reason, no receipt, nothing moved', async () => {
    const w = await world();
    const p = await payIlp(w, 1000n * UNIT);
    const location = await wallet.reject(p.interact!.redirect);
    expect(new URL(location).searchParams.get('result')).toBe('grant_rejected');
    const page = await openFinish(location);
    expect(page.status).toBe(200);
    const done = await settled(w, p.transactionId, 'failed');
    expect(done.failureReason).toMatch(/rejected/);
    expect(done.receipt.token).toBeUndefined();
    expect(wallet.balanceOf(w.alice)).toBe(1_000_000n);
    // The reservation was voided: nothing posted, nothing left pending.
    expect(await account(w, `ilp:${w.person.user.id}:BTC`)).toMatchObject({ debitsPosted: '0', debitsPending: '0' });
    // A second answer to the same consent changes nothing.
    expect((await openFinish(location)).status).toBe(400);
    await w.hooks.close();
    await expectLedgerBalanced(w.t.store.db);
  });

  it('expiry: a consent not given within ten minutes fails, by the sweep and on a late redirect, and nothing is paid', async () => {
    const w = await world();
    const late = await payIlp(w, 1000n * UNIT);
    const swept = await payIlp(w, 1000n * UNIT);
    const location = await wallet.approve(late.interact!.redirect);
    skew += 11 * MINUTE;
    // The person comes back after the consent time: refused before any continuation.
    const page = await openFinish(location);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/not made/);
    expect((await settled(w, late.transactionId, 'failed')).failureReason).toMatch(/within 10 minutes/);
    expect(await w.rail().interledger.expireConsents()).toBe(1);
    expect((await settled(w, swept.transactionId, 'failed')).failureReason).toMatch(/within 10 minutes/);
    expect(wallet.balanceOf(w.alice)).toBe(1_000_000n);
    await w.hooks.close();
    await expectLedgerBalanced(w.t.store.db);
  });

  it('forged redirects (wrong hash, wrong nonce, unknown reference, replayed interact_ref) pay nothing', async () => {
    const w = await world();
    // An unknown reference: nothing to answer.
    const unknown = await fetch(`${w.t.url}/ilp/finish?ref=AAAAAAAAAAAAAAAAAAAAAAAA&hash=abc&interact_ref=x`);
    expect(unknown.status).toBe(400);
    expect(unknown.headers.get('content-type')).toMatch(/problem\+json/);

    // A hash made with another nonce: the consent is not continued and the grant is cancelled.
    const forged = await payIlp(w, 1000n * UNIT);
    const genuine = new URL(await wallet.approve(forged.interact!.redirect));
    const ref = genuine.searchParams.get('interact_ref')!;
    const wrong = new URL(genuine);
    wrong.searchParams.set('hash', finishHash('not-our-nonce', 'not-their-nonce', ref, wallet.authServer));
    expect((await fetch(wrong)).status).toBe(200);
    expect((await settled(w, forged.transactionId, 'failed')).failureReason).toMatch(/hash mismatch/);
    // The genuine redirect, arriving after, finds the consent gone.
    expect((await fetch(genuine)).status).toBe(400);
    expect(wallet.balanceOf(w.alice)).toBe(1_000_000n);

    // A good payment, then its redirect replayed: paid once.
    const good = await payIlp(w, 1000n * UNIT);
    const location = await wallet.approve(good.interact!.redirect);
    expect((await openFinish(location)).status).toBe(200);
    await settled(w, good.transactionId, 'completed');
    const replay = await openFinish(location);
    expect(replay.status).toBe(400);
    expect(((await replay.json()) as Problem).detail).toMatch(/already used/);
    // A replay with a mangled hash on a finished consent changes nothing either.
    const mangled = new URL(location);
    mangled.searchParams.set('hash', 'AAAA');
    expect((await fetch(mangled)).status).toBe(400);
    expect((await paymentOf(w, good.transactionId)).status).toBe('completed');
    expect(wallet.balanceOf(w.alice)).toBe(1_000_000n - 1000n);
    await w.hooks.close();
    await expectLedgerBalanced(w.t.store.db);
  });

  it('the hash is accepted in the encodings wallets use (standard base64 with or without padding, base64url)', async () => {
    const w = await world();
    const forms = [(h: string) => h.replace(/=+$/, ''), (h: string) => h.replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')];
    for (const form of forms) {
      const p = await payIlp(w, 1000n * UNIT);
      const u = new URL(await wallet.approve(p.interact!.redirect));
      u.searchParams.set('hash', form(u.searchParams.get('hash')!));
      expect((await fetch(u)).status).toBe(200);
      await settled(w, p.transactionId, 'completed');
    }
    expect(wallet.balanceOf(w.alice)).toBe(1_000_000n - 2000n);
    await w.hooks.close();
    await expectLedgerBalanced(w.t.store.db);
  });

  it('a failed or partial outgoing payment fails the payment with the reason, and no receipt', async () => {
    const w = await world();
    for (const kind of ['failed', 'partial'] as const) {
      const p = await payIlp(w, 1000n * UNIT);
      const location = await wallet.approve(p.interact!.redirect);
      wallet.failNextOutgoingPayment(kind);
      expect((await openFinish(location)).status).toBe(200);
      const done = await settled(w, p.transactionId, 'failed');
      expect(done.failureReason).toMatch(kind === 'failed' ? /could not send/ : /sent only 500 of 1000/);
      expect(done.receipt.token).toBeUndefined();
    }
    expect(w.hooks.events.some((e) => e.type === 'payment.completed')).toBe(false);
    await w.hooks.close();
    await expectLedgerBalanced(w.t.store.db);
  });

  it('a hub restarted between consent and continuation resumes from the store and pays once', async () => {
    const store = await freshStore(engine);
    const port = await freePort();
    const w = await world({ store, port });
    const p = await payIlp(w, 3000n * UNIT);
    const location = await wallet.approve(p.interact!.redirect);
    await w.t.stop();
    hubs = hubs.filter((h) => h !== w.t);

    const t2 = await startTestHub(engine, {
      clock,
      store,
      keepStore: true,
      env: { PORT: String(port) },
      rails: (parts) => ({ ilp: createIlpRail(parts, settings, { pollMs: 20 }) }),
    });
    hubs.push(t2);
    // The same person (the same wallet key) signs in to the new process.
    const w2 = { ...w, t: t2, person: await signIn(t2.url, w.person.wallet) };
    // On start it resumed the payment as still awaiting consent.
    expect((await paymentOf(w2, p.transactionId)).status).toBe('pending');
    expect((await openFinish(location)).status).toBe(200);
    await settled(w2, p.transactionId, 'completed');
    expect((await openFinish(location)).status).toBe(400);
    expect(wallet.balanceOf(w.alice)).toBe(1_000_000n - 3000n);
    expect(wallet.balanceOf(w.shop)).toBe(3000n);
    await expectLedgerBalanced(store.db);
    await w.hooks.close();
    await w2.t.stop();
    hubs = hubs.filter((h) => h !== w2.t);
    await store.cleanup();
  });

  it('an outgoing payment whose answer was lost is found on the wallet after a restart, not sent again', async () => {
    const store = await freshStore(engine);
    const port = await freePort();
    const real = createOpenPayments({ clientWalletAddress: clientWallet, keyId: settings.keyId, privateKey: settings.key.privateKey });
    // The wallet takes the outgoing payment, but its answer never reaches the hub.
    const lossy = {
      ...real,
      async createOutgoingPayment(...args: Parameters<typeof real.createOutgoingPayment>) {
        await real.createOutgoingPayment(...args);
        throw new IlpCallError('outgoing payment', undefined, undefined, 'socket hang up');
      },
    };
    const n = ++seq;
    const t = await startTestHub(engine, {
      clock,
      store,
      keepStore: true,
      env: { PORT: String(port) },
      rails: (parts) => ({ ilp: createIlpRail(parts, settings, { openPayments: lossy, pollMs: 60_000 }) }),
    });
    hubs.push(t);
    const alice = (await wallet.createWallet(`alice-lost-${engine}-${n}`, { assetCode: 'BTC', assetScale: 9, balance: 10_000n })).url;
    const shop = (await wallet.createWallet(`shop-lost-${engine}-${n}`, { assetCode: 'BTC', assetScale: 9, balance: 0n })).url;
    const person = await signIn(t.url);
    expect((await put(t.url, person, '/ilp/wallet', { walletAddress: alice })).status).toBe(200);
    const res = await pay(t.url, person, 'lost-1', { rail: 'ilp', payTo: shop, amount: (1500n * UNIT).toString(), asset: 'BTC' });
    const p = (await res.json()) as P;
    const page = await openFinish(await wallet.approve(p.interact!.redirect));
    expect(await page.text()).toMatch(/on its way/);
    expect(wallet.balanceOf(alice)).toBe(10_000n - 1500n);
    await t.stop();
    hubs = hubs.filter((h) => h !== t);

    const t2 = await startTestHub(engine, {
      clock,
      store,
      keepStore: true,
      env: { PORT: String(port) },
      rails: (parts) => ({ ilp: createIlpRail(parts, settings, { pollMs: 20 }) }),
    });
    hubs.push(t2);
    const w2 = { t: t2, person: await signIn(t2.url, person.wallet) } as World;
    const done = await settled(w2, p.transactionId, 'completed');
    expect(done.receipt.token).toBeTruthy();
    // Paid to a wallet address (no hub merchant), exactly once.
    expect(wallet.balanceOf(alice)).toBe(10_000n - 1500n);
    expect(wallet.balanceOf(shop)).toBe(1500n);
    await expectLedgerBalanced(store.db);
    await t2.stop();
    hubs = hubs.filter((h) => h !== t2);
    await store.cleanup();
  });

  it('a budget grant pays later payments without consent until it runs out, never past its limit under concurrency, and can be revoked', async () => {
    const w = await world();
    const interval = `R/${new Date(clock.now() - MINUTE).toISOString()}/P1D`;
    // The budget: 10,000 wallet units a day, approved once with the first payment (1,000).
    const first = await payIlp(w, 1000n * UNIT, { authorization: { budget: { amount: (10_000n * UNIT).toString(), interval } } });
    expect(first.status).toBe('pending');
    expect((await openFinish(await wallet.approve(first.interact!.redirect))).status).toBe(200);
    await settled(w, first.transactionId, 'completed');
    const [grant] = (
      (await (await get(w.t.url, w.person, '/ilp/grants')).json()) as { data: { id: string; remaining: string; limit: string }[] }
    ).data;
    expect(grant).toMatchObject({ limit: '10000', remaining: '9000' });

    // Eight payments of 2,000 at once: four fit in what is left (8,000 of 9,000), the rest ask for consent.
    const burst = await Promise.all(Array.from({ length: 8 }, () => payIlp(w, 2000n * UNIT)));
    const paidAtOnce = burst.filter((p) => p.status === 'completed');
    const askedAgain = burst.filter((p) => p.status === 'pending');
    expect(paidAtOnce).toHaveLength(4);
    expect(askedAgain).toHaveLength(4);
    for (const p of askedAgain) expect(p.interact?.redirect).toBeTruthy();
    expect(wallet.balanceOf(w.alice)).toBe(1_000_000n - 1000n - 8000n);
    const after = ((await (await get(w.t.url, w.person, '/ilp/grants')).json()) as { data: { remaining: string }[] }).data;
    expect(after[0]!.remaining).toBe('1000');

    // Eleven minutes on, the grant's access token has expired at the wallet: it is rotated, not asked for again.
    skew += 11 * MINUTE;
    const later = await payIlp(w, 500n * UNIT);
    expect(later.status).toBe('completed');
    expect(wallet.balanceOf(w.alice)).toBe(1_000_000n - 1000n - 8000n - 500n);

    // Revoked at the wallet: the next payment that would have fit asks for consent.
    const del = await fetch(`${w.t.url}/ilp/grants/${grant!.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${w.person.accessToken}` },
    });
    expect(del.status).toBe(204);
    expect(((await (await get(w.t.url, w.person, '/ilp/grants')).json()) as { data: unknown[] }).data).toHaveLength(0);
    const next = await payIlp(w, 500n * UNIT);
    expect(next.status).toBe('pending');
    // Another person's grant id is not theirs to delete.
    const other = await signIn(w.t.url);
    expect(
      (await fetch(`${w.t.url}/ilp/grants/${grant!.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${other.accessToken}` } }))
        .status,
    ).toBe(404);
    await w.hooks.close();
    await expectLedgerBalanced(w.t.store.db);
  });
});
