/**
 * L402, the "Payment" scheme and offer() on Express and on Hono, over the same cores: one shop per
 * framework on 127.0.0.1 with the same routes, invoices from the stand-in LND paid by a real hub
 * on its Lightning rail (SQLite). Each framework answers the challenge, lets a paid credential
 * through, refuses a tampered one, and lists every route in price discovery with its price,
 * asset, dialects and path.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fetch402 } from '@getalby/lightning-tools/402';
import { serve, type ServerType } from '@hono/node-server';
import express from 'express';
import { Hono } from 'hono';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLnd, type FakeLnd } from '../../devnet/lnd.js';
import { createLndNode } from '../../lightning/index.js';
import { l402Hono, offerHono, paymentSchemeHono, paywallHono, priceListHono } from '../../merchant/hono.js';
import {
  l402,
  offer,
  openApiPaths,
  type L402Paid,
  type PaymentSchemePaid,
  paymentScheme,
  paywall,
  type PriceList,
  priceList,
} from '../../merchant/index.js';
import { exportMacaroonV2, importMacaroonV2 } from '../../merchant/macaroon-v2.js';
import {
  bolt11AmountMsat,
  encodePaymentCredential,
  lightningCredential,
  parseL402,
  parsePaymentScheme,
  readChallenge,
} from '../../shared/challenge.js';
import { createMerchant, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';

const SECRET = 'THE-PAID-CONTENT';
const PRICE = 2000n; // msat: 2 sat
const ROOT_KEY_SECRET = 'f1'.repeat(32);
const SCHEME_SECRET = 'payment-scheme-secret-of-32-bytes-at-least';

let lnd: FakeLnd;
let hub: TestHub;
let session: Session;
let merchantId: string;
let expressServer: Server;
let honoServer: ServerType;
const shops: Record<'express' | 'hono', string> = { express: '', hono: '' };
/** Which route bodies ran, per framework: a refused credential must run none. */
const ran: string[] = [];

beforeAll(async () => {
  lnd = await startFakeLnd();
  hub = await startTestHub('sqlite', { env: { TOLLWAY_LND_REST_URL: lnd.url, TOLLWAY_LND_MACAROON: lnd.macaroonHex } });
  merchantId = (await createMerchant(hub.url, 'Two-framework shop')).merchant.id;
  session = await signIn(hub.url);
  await fund(hub.url, session, '100000000', 'BTC');
  const node = createLndNode({ url: lnd.url, macaroonHex: lnd.macaroonHex });
  const l402Opts = { node, price: PRICE, service: 'quotes', validSeconds: 600, rootKeySecret: ROOT_KEY_SECRET, rateLimit: false as const };
  const schemeOpts = { node, price: PRICE, secret: SCHEME_SECRET, rateLimit: false as const, description: 'A quote' };
  const x402Opts = { hub: hub.url, merchantId, price: PRICE, asset: 'BTC', description: 'A quote' };

  const app = express();
  const route =
    (name: string): express.RequestHandler =>
    (_req, res) => {
      ran.push(`express ${name}`);
      res.json({ secret: `${SECRET} ${name}`, l402: res.locals.l402, payment: res.locals.payment });
    };
  app.get('/l402', l402(l402Opts), route('l402'));
  app.get('/pay', paymentScheme(schemeOpts), route('pay'));
  app.get('/all', offer({ x402: paywall(x402Opts), l402: l402(l402Opts), payment: paymentScheme(schemeOpts) }), route('all'));
  app.get('/.well-known/tollway.json', priceList(app));
  expressServer = app.listen(0, '127.0.0.1');
  await new Promise((r) => expressServer.once('listening', r));
  shops.express = `http://127.0.0.1:${(expressServer.address() as AddressInfo).port}`;

  const h = new Hono();
  h.get('/l402', l402Hono(l402Opts), (c) => {
    ran.push('hono l402');
    return c.json({ secret: `${SECRET} l402`, l402: c.get('l402') });
  });
  h.get('/pay', paymentSchemeHono(schemeOpts), (c) => {
    ran.push('hono pay');
    return c.json({ secret: `${SECRET} pay`, payment: c.get('payment') });
  });
  h.get('/all', offerHono({ x402: paywallHono(x402Opts), l402: l402Hono(l402Opts), payment: paymentSchemeHono(schemeOpts) }), (c) => {
    ran.push('hono all');
    return c.json({ secret: `${SECRET} all`, l402: c.get('l402'), payment: c.get('payment') });
  });
  h.get('/.well-known/tollway.json', priceListHono(h));
  await new Promise<void>((resolve) => {
    honoServer = serve({ fetch: h.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
      shops.hono = `http://127.0.0.1:${info.port}`;
      resolve();
    });
  });
});
afterEach(() => expectLedgerBalanced(hub.store.db));
afterAll(async () => {
  await new Promise((r) => expressServer?.close(r));
  await new Promise((r) => honoServer?.close(r));
  await hub?.stop();
  await lnd?.close();
});

/** Pays an invoice through the hub's Lightning rail; the preimage the payment revealed. */
async function payInvoice(invoice: string): Promise<string> {
  const amount = bolt11AmountMsat(invoice.toLowerCase())!.toString();
  const res = await pay(hub.url, session, randomUUID(), { rail: 'lightning', payTo: invoice, amount, asset: 'BTC' });
  const p = (await res.json()) as { status: string; receipt: { preimage?: string } };
  expect(p.status).toBe('completed');
  return p.receipt.preimage!;
}

async function buyL402(url: string) {
  const res = await fetch(url);
  expect(res.status).toBe(402);
  // An offer's 402 has x402's JSON body; l402()'s own is a problem.
  if (!url.endsWith('/all')) expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const c = parseL402([res.headers.get('www-authenticate') ?? '']);
  if (!c.ok) throw new Error(c.error.message);
  expect(c.value.amountMsat).toBe(PRICE.toString());
  return { macaroon: c.value.macaroon, preimage: await payInvoice(c.value.invoice) };
}

async function buyPayment(url: string) {
  const res = await fetch(url);
  expect(res.status).toBe(402);
  const c = parsePaymentScheme([res.headers.get('www-authenticate') ?? '']);
  if (!c.ok) throw new Error(c.error.message);
  expect(c.value.amountMsat).toBe(PRICE.toString());
  const preimage = await payInvoice(c.value.invoice);
  const credential = lightningCredential(c.value.params, preimage);
  if (!credential.ok) throw new Error(credential.error.message);
  return { params: c.value.params, preimage, credential: credential.value };
}

/** The same macaroon with one caveat rewritten and its signature kept: what a holder cannot do. */
function tamperedMacaroon(macaroon: string, from: RegExp, to: string): string {
  const m = importMacaroonV2(Buffer.from(macaroon, 'base64'))!;
  const caveats = m.caveats.map((c) => ({ ...c, identifier: Buffer.from(c.identifier.toString().replace(from, to)) }));
  expect(caveats.map((c) => c.identifier.toString())).not.toEqual(m.caveats.map((c) => c.identifier.toString()));
  return exportMacaroonV2({ ...m, caveats }).toString('base64');
}

const get = (url: string, authorization?: string) => fetch(url, authorization ? { headers: { authorization } } : {});

describe.each(['express', 'hono'] as const)('%s', (framework) => {
  const at = (path: string) => `${shops[framework]}${path}`;

  it('l402: 402 with a macaroon and invoice; a paid credential opens the route with the payment hash', async () => {
    const b = await buyL402(at('/l402'));
    const res = await get(at('/l402'), `L402 ${b.macaroon}:${b.preimage}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('private');
    const body = (await res.json()) as { secret: string; l402: L402Paid };
    expect(body.secret).toBe(`${SECRET} l402`);
    const hash = importMacaroonV2(Buffer.from(b.macaroon, 'base64'))!.identifier.subarray(2, 34).toString('hex');
    expect(body.l402.paymentHash).toBe(hash);
  });

  it('l402: a tampered macaroon, a wrong preimage and an unreadable header are refused, the route not run', async () => {
    const b = await buyL402(at('/l402'));
    const before = ran.length;
    const widened = tamperedMacaroon(b.macaroon, /_amount_msat=\d+/, '_amount_msat=1');
    for (const [auth, status, detail] of [
      [`L402 ${widened}:${b.preimage}`, 401, /signature/],
      [`L402 ${b.macaroon}:${'00'.repeat(32)}`, 401, /preimage/],
      [`L402 ${b.macaroon}`, 402, /cannot be read/],
    ] as const) {
      const res = await get(at('/l402'), auth);
      const text = await res.text();
      expect(res.status, text).toBe(status);
      expect(text).not.toContain(SECRET);
      expect((JSON.parse(text) as { detail: string }).detail).toMatch(detail);
      // A fresh challenge comes with every refusal.
      expect(parseL402([res.headers.get('www-authenticate') ?? '']).ok).toBe(true);
    }
    expect(ran.length).toBe(before);
  });

  it('payment: 402 with a Lightning charge; a paid credential opens the route once, with Payment-Receipt', async () => {
    const b = await buyPayment(at('/pay'));
    expect(b.params).toMatchObject({ method: 'lightning', intent: 'charge', realm: new URL(shops[framework]).host });
    const res = await get(at('/pay'), b.credential);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { secret: string; payment: PaymentSchemePaid };
    expect(body.secret).toBe(`${SECRET} pay`);
    expect(body.payment).toMatchObject({ challengeId: b.params.id, amountMsat: '2000' });
    const receipt = JSON.parse(Buffer.from(res.headers.get('payment-receipt')!, 'base64url').toString()) as Record<string, unknown>;
    expect(receipt).toMatchObject({ status: 'success', method: 'lightning', reference: body.payment.paymentHash });
    expect(res.headers.get('access-control-expose-headers')).toMatch(/Payment-Receipt/);
    const again = await get(at('/pay'), b.credential);
    expect(again.status).toBe(402);
    expect(((await again.json()) as { type: string }).type).toBe('https://paymentauth.org/problems/invalid-challenge');
  });

  it('payment: a tampered challenge or a wrong preimage is refused with the draft problem, the route not run', async () => {
    const b = await buyPayment(at('/pay'));
    const before = ran.length;
    const cheaper = Buffer.from(Buffer.from(b.params.request, 'base64url').toString().replace('"amount":"2"', '"amount":"1"')).toString(
      'base64url',
    );
    for (const [credential, code] of [
      [encodePaymentCredential({ challenge: { ...b.params, request: cheaper }, payload: { preimage: b.preimage } }), 'invalid-challenge'],
      [
        encodePaymentCredential({ challenge: { ...b.params, realm: 'elsewhere.example' }, payload: { preimage: b.preimage } }),
        'invalid-challenge',
      ],
      [encodePaymentCredential({ challenge: b.params, payload: { preimage: 'ab'.repeat(32) } }), 'verification-failed'],
    ] as const) {
      const res = await get(at('/pay'), credential);
      const text = await res.text();
      expect(res.status, text).toBe(402);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect((JSON.parse(text) as { type: string }).type).toBe(`https://paymentauth.org/problems/${code}`);
      expect(parsePaymentScheme([res.headers.get('www-authenticate') ?? '']).ok).toBe(true);
    }
    expect(ran.length).toBe(before);
    // None of the refusals spent the challenge.
    expect((await get(at('/pay'), b.credential)).status).toBe(200);
  });

  it('offer: one 402 with Payment, L402 and x402; each credential goes to its own dialect', async () => {
    const res = await fetch(at('/all'), { headers: { accept: 'application/json' } });
    expect(res.status).toBe(402);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('www-authenticate')).toMatch(/^Payment .*, L402 /);
    const c = readChallenge({ headers: [...res.headers].map(([name, value]) => ({ name, value })), body: await res.text() });
    if (!c.ok) throw new Error(c.error.message);
    expect(c.value.x402?.accepts[0]).toMatchObject({ scheme: 'tollway', amount: '2000', asset: 'BTC', payTo: merchantId });
    expect(c.value.l402?.amountMsat).toBe('2000');
    expect(c.value.payment?.amountMsat).toBe('2000');

    const p = await buyPayment(at('/all'));
    const paid = await get(at('/all'), p.credential);
    expect(paid.status).toBe(200);
    expect(((await paid.json()) as { payment: PaymentSchemePaid }).payment.challengeId).toBe(p.params.id);

    const l = await buyL402(at('/all'));
    const opened = await get(at('/all'), `L402 ${l.macaroon}:${l.preimage}`);
    expect(opened.status).toBe(200);
    expect(((await opened.json()) as { l402: L402Paid }).l402.tokenId).toMatch(/^[0-9a-f]{64}$/);
    const forged = await get(at('/all'), `L402 ${tamperedMacaroon(l.macaroon, /_method=GET/, '_method=GET,POST')}:${l.preimage}`);
    expect(forged.status).toBe(401);
  });

  it("offer: Alby's fetch402 pays it through the hub", async () => {
    const wallet = { payInvoice: async ({ invoice }: { invoice: string }) => ({ preimage: await payInvoice(invoice) }) };
    const res = await fetch402(at('/all'), {}, { wallet });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { secret: string }).secret).toBe(`${SECRET} all`);
  });

  it('price discovery lists the L402, Payment and combined routes with price, asset, dialects, path and method', async () => {
    const res = await fetch(at('/.well-known/tollway.json'));
    expect(res.status).toBe(200);
    const list = (await res.json()) as PriceList;
    const l402Route = {
      protocol: 'l402',
      method: 'GET',
      path: '/l402',
      price: { amount: '2000', asset: 'BTC' },
      description: '',
      service: 'quotes',
      tier: 0,
      validSeconds: 600,
      capabilities: [],
      bind: [],
      reuse: { windowSeconds: 600 },
    };
    const paymentRoute = {
      protocol: 'payment',
      method: 'GET',
      path: '/pay',
      price: { amount: '2000', asset: 'BTC' },
      description: 'A quote',
      paymentMethod: 'lightning',
      intent: 'charge',
      expiresSeconds: 600,
    };
    expect(list).toEqual({
      tollway: 1,
      routes: [
        l402Route,
        paymentRoute,
        {
          protocol: 'offer',
          method: 'GET',
          path: '/all',
          price: { amount: '2000', asset: 'BTC' },
          description: 'A quote',
          dialects: ['payment', 'l402', 'x402'],
          offers: {
            payment: { ...paymentRoute, path: '/all' },
            l402: { ...l402Route, path: '/all' },
            x402: {
              method: 'GET',
              path: '/all',
              price: { amount: '2000', asset: 'BTC' },
              description: 'A quote',
              mimeType: '',
              hub: hub.url,
              merchantId,
              network: `tollway:${hub.url}`,
              schemes: ['tollway'],
              bind: ['method', 'path'],
              reuse: 'single',
            },
          },
        },
      ],
    });
  });
});

describe('OpenAPI x-payment', () => {
  it('documents Payment and combined operations beside L402 ones', () => {
    const h = new Hono();
    const node = { createInvoice: async () => ({ bolt11: 'lnbcrt20n1x', paymentHash: '00'.repeat(32), expiresAt: 0 }) };
    const l = l402Hono({ node, price: PRICE, service: 'quotes', validSeconds: 60, rootKeySecret: ROOT_KEY_SECRET });
    const p = paymentSchemeHono({ node, price: PRICE, secret: SCHEME_SECRET, expiresSeconds: 120 });
    h.post('/pay', p, (c) => c.text('ok'));
    h.get('/both', offerHono({ l402: l, payment: p }), (c) => c.text('ok'));
    const paths = openApiPaths(h);
    expect((paths['/pay']!.post as { 'x-payment': unknown })['x-payment']).toEqual({
      protocol: 'payment',
      amount: '2000',
      asset: 'BTC',
      unit: 'msat',
      method: 'lightning',
      intent: 'charge',
      expiresSeconds: 120,
    });
    const both = paths['/both']!.get as {
      'x-payment': { protocol: string; dialects: string[]; offers: Record<string, { protocol: string }> };
      responses: Record<string, { headers?: Record<string, unknown> }>;
    };
    expect(both['x-payment'].protocol).toBe('offer');
    expect(both['x-payment'].dialects).toEqual(['payment', 'l402']);
    expect(Object.values(both['x-payment'].offers).map((o) => o.protocol)).toEqual(['payment', 'l402']);
    expect(Object.keys(both.responses).sort()).toEqual(['401', '402']);
    expect(both.responses['402']!.headers!['WWW-Authenticate']).toBeTruthy();
  });
});
