/**
 * The merchant kit's "Payment" HTTP authentication scheme (merchant/payment-scheme.ts) and one 402
 * offering x402, L402 and Payment together (merchant/offer.ts), on real Express shops, with
 * invoices from the stand-in LND paid by a real hub on its Lightning rail (SQLite). Alby's
 * `@getalby/lightning-tools` pays the same routes as an outside client, its wallet paying through
 * the hub's POST /payments.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fetch402, fetchWithMpp } from '@getalby/lightning-tools/402';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLnd, type FakeLnd } from '../../devnet/lnd.js';
import { createLndNode } from '../../lightning/index.js';
import { l402 } from '../../merchant/l402.js';
import { offer, paymentScheme, paywall, type PaymentSchemePaid } from '../../merchant/index.js';
import {
  bolt11AmountMsat,
  encodePaymentCredential,
  encodePaymentSignature,
  lightningCredential,
  parsePaymentRequired,
  parsePaymentScheme,
  readChallenge,
  type PaymentSchemeChallenge,
} from '../../shared/challenge.js';
import { createMerchant, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';

const SECRET = 'THE-PAID-CONTENT';
const KEY = 'payment-scheme-secret-of-32-bytes-at-least';
const PRICE = 2000n; // msat: 2 sat

let lnd: FakeLnd;
let hub: TestHub;
let session: Session;
let shop: string;
let server: Server;
let clock = Date.now();
const ran: string[] = [];

beforeAll(async () => {
  lnd = await startFakeLnd();
  hub = await startTestHub('sqlite', { env: { TOLLWAY_LND_REST_URL: lnd.url, TOLLWAY_LND_MACAROON: lnd.macaroonHex } });
  const merchantId = (await createMerchant(hub.url, 'Payment shop')).merchant.id;
  session = await signIn(hub.url);
  await fund(hub.url, session, '100000000', 'BTC');
  const node = createLndNode({ url: lnd.url, macaroonHex: lnd.macaroonHex });
  const scheme = () => paymentScheme({ node, price: PRICE, secret: KEY, rateLimit: false, now: () => clock, expiresSeconds: 300 });

  const app = express();
  const route =
    (name: string): express.RequestHandler =>
    (_req, res) => {
      ran.push(name);
      res.json({ secret: `${SECRET} ${name}`, paid: res.locals.payment as PaymentSchemePaid | undefined });
    };
  app.get('/pay', scheme(), route('pay'));
  app.get('/other', scheme(), route('other'));
  app.get(
    '/all',
    offer({
      x402: paywall({ hub: hub.url, merchantId, price: PRICE, asset: 'BTC' }),
      l402: l402({ node, price: PRICE, service: 'all', validSeconds: 60, rootKeySecret: 'c3'.repeat(32), rateLimit: false }),
      payment: scheme(),
    }),
    route('all'),
  );
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  shop = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await hub?.stop();
  await lnd?.close();
});

/** Pays an invoice through the hub's Lightning rail; the preimage the payment revealed. */
async function payInvoice(invoice: string, amountMsat: string): Promise<string> {
  const res = await pay(hub.url, session, randomUUID(), { rail: 'lightning', payTo: invoice, amount: amountMsat, asset: 'BTC' });
  const p = (await res.json()) as { status: string; receipt: { preimage?: string } };
  expect(p.status).toBe('completed');
  return p.receipt.preimage!;
}

async function challengeOf(url: string): Promise<PaymentSchemeChallenge> {
  const res = await fetch(url);
  expect(res.status).toBe(402);
  const c = parsePaymentScheme([res.headers.get('www-authenticate') ?? '']);
  if (!c.ok) throw new Error(c.error.message);
  return c.value;
}

async function bought(url: string): Promise<{ challenge: PaymentSchemeChallenge; preimage: string; credential: string }> {
  const challenge = await challengeOf(url);
  const preimage = await payInvoice(challenge.invoice, challenge.amountMsat);
  const cred = lightningCredential(challenge.params, preimage);
  if (!cred.ok) throw new Error(cred.error.message);
  return { challenge, preimage, credential: cred.value };
}

/** A refusal: 402, a fresh Payment challenge, the draft's problem type, the route not run. */
async function expectRefused(url: string, authorization: string, code: string): Promise<void> {
  const before = ran.length;
  const res = await fetch(url, { headers: { authorization } });
  const text = await res.text();
  expect(res.status, text).toBe(402);
  expect(text).not.toContain(SECRET);
  expect(ran.length).toBe(before);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect((JSON.parse(text) as { type: string }).type).toBe(`https://paymentauth.org/problems/${code}`);
  expect(parsePaymentScheme([res.headers.get('www-authenticate') ?? '']).ok).toBe(true);
}

describe('paymentScheme()', () => {
  it('answers an unpaid request with 402 and a Lightning charge challenge for the route price', async () => {
    const res = await fetch(`${shop}/pay`);
    expect(res.status).toBe(402);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect((JSON.parse(await res.text()) as { type: string }).type).toBe('https://paymentauth.org/problems/payment-required');
    const c = parsePaymentScheme([res.headers.get('www-authenticate') ?? '']);
    expect(c.ok).toBe(true);
    if (!c.ok) return;
    expect(c.value.amountMsat).toBe(PRICE.toString());
    expect(c.value.params).toMatchObject({ method: 'lightning', intent: 'charge', realm: new URL(shop).host });
    expect(Date.parse(c.value.params.expires!)).toBeGreaterThan(Date.now());
    const request = JSON.parse(Buffer.from(c.value.params.request, 'base64url').toString()) as Record<string, unknown>;
    expect(request).toMatchObject({ amount: '2', currency: 'sat', methodDetails: { network: 'regtest' } });
  });

  it('runs the route for a paid credential, with a Payment-Receipt naming the payment hash', async () => {
    const b = await bought(`${shop}/pay`);
    const res = await fetch(`${shop}/pay`, { headers: { authorization: b.credential } });
    const body = (await res.json()) as { secret: string; paid: PaymentSchemePaid };
    expect(res.status).toBe(200);
    expect(body.secret).toBe(`${SECRET} pay`);
    const hash = createHash('sha256').update(Buffer.from(b.preimage, 'hex')).digest('hex');
    expect(body.paid).toEqual({ challengeId: b.challenge.params.id, paymentHash: hash, amountMsat: '2000' });
    expect(res.headers.get('cache-control')).toBe('private');
    const receipt = JSON.parse(Buffer.from(res.headers.get('payment-receipt')!, 'base64url').toString()) as Record<string, unknown>;
    expect(receipt).toMatchObject({ status: 'success', method: 'lightning', reference: hash, challengeId: b.challenge.params.id });
    // The same credential again: the challenge is spent.
    await expectRefused(`${shop}/pay`, b.credential, 'invalid-challenge');
  });

  it('refuses a credential carried to another route', async () => {
    const b = await bought(`${shop}/pay`);
    await expectRefused(`${shop}/other`, b.credential, 'invalid-challenge');
    // It was not spent by the refusal: the route it is for still takes it.
    expect((await fetch(`${shop}/pay`, { headers: { authorization: b.credential } })).status).toBe(200);
  });

  it('refuses a forged binding: an edited amount, expiry or realm, or another challenge id', async () => {
    const b = await bought(`${shop}/pay`);
    const p = b.challenge.params;
    const cheaper = Buffer.from(
      Buffer.from(p.request, 'base64url').toString().replace('"amount":"2"', '"amount":"1"').replace('lnbcrt20n', 'lnbcrt10n'),
    ).toString('base64url');
    const other = await challengeOf(`${shop}/pay`);
    for (const forged of [
      { ...p, request: cheaper },
      { ...p, expires: '2099-01-01T00:00:00Z' },
      { ...p, realm: 'elsewhere.example' },
      { ...p, id: other.params.id },
      { ...p, id: randomBytes(32).toString('base64url') },
    ]) {
      await expectRefused(
        `${shop}/pay`,
        encodePaymentCredential({ challenge: forged, payload: { preimage: b.preimage } }),
        'invalid-challenge',
      );
    }
    // A challenge the shop never issued at all, with the real invoice and preimage.
    const made = { ...p, id: 'bWFkZS11cA' };
    await expectRefused(
      `${shop}/pay`,
      encodePaymentCredential({ challenge: made, payload: { preimage: b.preimage } }),
      'invalid-challenge',
    );
  });

  it('refuses a wrong preimage without spending the challenge', async () => {
    const b = await bought(`${shop}/pay`);
    const wrong = lightningCredential(b.challenge.params, randomBytes(32).toString('hex'));
    await expectRefused(`${shop}/pay`, wrong.ok ? wrong.value : '', 'verification-failed');
    // Another invoice's preimage (paid, real) is wrong here too.
    const c = await bought(`${shop}/pay`);
    const swapped = lightningCredential(b.challenge.params, c.preimage);
    await expectRefused(`${shop}/pay`, swapped.ok ? swapped.value : '', 'verification-failed');
    expect((await fetch(`${shop}/pay`, { headers: { authorization: b.credential } })).status).toBe(200);
  });

  it('refuses an expired challenge and unreadable credentials', async () => {
    const b = await bought(`${shop}/pay`);
    clock = Date.now() + 301_000;
    try {
      await expectRefused(`${shop}/pay`, b.credential, 'payment-expired');
    } finally {
      clock = Date.now();
    }
    for (const bad of ['Payment', 'Payment !!!', `Payment ${Buffer.from('[]').toString('base64url')}`]) {
      await expectRefused(`${shop}/pay`, bad, 'malformed-credential');
    }
    const noPreimage = encodePaymentCredential({ challenge: b.challenge.params, payload: {} });
    await expectRefused(`${shop}/pay`, noPreimage, 'malformed-credential');
  });
});

describe('offer(): x402, L402 and Payment in one 402', () => {
  it('sends every challenge, Payment first in WWW-Authenticate, and x402 in PAYMENT-REQUIRED', async () => {
    const res = await fetch(`${shop}/all`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(402);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('www-authenticate')).toMatch(/^Payment .*, L402 /);
    const headers = [...res.headers].map(([name, value]) => ({ name, value }));
    const c = readChallenge({ headers, body: await res.text() });
    expect(c.ok).toBe(true);
    if (!c.ok) return;
    expect(c.value.x402?.accepts[0]?.scheme).toBe('tollway');
    expect(c.value.l402?.amountMsat).toBe('2000');
    expect(c.value.payment?.amountMsat).toBe('2000');
    expect(ran.filter((r) => r === 'all')).toEqual([]);
  });

  it('takes a Payment credential and an L402 credential, each by its own middleware', async () => {
    const b = await bought(`${shop}/all`);
    const res = await fetch(`${shop}/all`, { headers: { authorization: b.credential } });
    expect(res.status).toBe(200);
    expect(res.headers.get('payment-receipt')).toBeTruthy();

    const first = await fetch(`${shop}/all`);
    const l = readChallenge({ headers: [{ name: 'www-authenticate', value: first.headers.get('www-authenticate')! }] });
    if (!l.ok || !l.value.l402) throw new Error('no L402 challenge');
    const preimage = await payInvoice(l.value.l402.invoice, l.value.l402.amountMsat!);
    const paid = await fetch(`${shop}/all`, { headers: { authorization: `L402 ${l.value.l402.macaroon}:${preimage}` } });
    expect(paid.status).toBe(200);
    expect(((await paid.json()) as { secret: string }).secret).toBe(`${SECRET} all`);
  });
});

describe('offer(): x402 and browsers', () => {
  it('takes an x402 proof (a hub receipt) through the paywall, and a second use is refused by the paywall', async () => {
    const first = await fetch(`${shop}/all`, { headers: { accept: 'application/json' } });
    const doc = parsePaymentRequired(first.headers.get('payment-required')!);
    if (!doc.ok) throw new Error(doc.error.message);
    const entry = doc.value.accepts.find((o) => o.scheme === 'tollway')!;
    const res = await pay(hub.url, session, randomUUID(), {
      rail: 'internal',
      payTo: entry.payTo,
      amount: entry.amount,
      asset: entry.asset,
      requirement: entry,
      resource: { url: doc.value.resource!.url, method: 'GET' },
    });
    const { receipt } = (await res.json()) as { receipt: { token: string } };
    const proof = encodePaymentSignature({ accepted: entry, payload: { receipt: receipt.token } });
    const paid = await fetch(`${shop}/all`, { headers: { accept: 'application/json', 'payment-signature': proof } });
    expect(paid.status).toBe(200);
    expect(paid.headers.get('payment-response')).toBeTruthy();
    const again = await fetch(`${shop}/all`, { headers: { accept: 'application/json', 'payment-signature': proof } });
    expect(again.status).toBe(402);
    expect(((await again.json()) as { error: string }).error).toBe('replayed');
  });

  it('a browser gets the paywall page with every challenge in the headers', async () => {
    const res = await fetch(`${shop}/all`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(402);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('<html');
    expect(Number(res.headers.get('content-length'))).toBe(Buffer.byteLength(html));
    expect(res.headers.get('payment-required')).toBeTruthy();
    const c = readChallenge({ headers: [{ name: 'www-authenticate', value: res.headers.get('www-authenticate')! }] });
    expect(c.ok && c.value.l402 !== null && c.value.payment !== null).toBe(true);
  });
});

describe("Alby's @getalby/lightning-tools pays the Payment scheme through the hub", () => {
  const paidInvoices: string[] = [];
  const wallet = {
    async payInvoice({ invoice }: { invoice: string }): Promise<{ preimage: string }> {
      paidInvoices.push(invoice);
      // The amount is the invoice's own (whole sats here); the hub refuses any other.
      const msat = bolt11AmountMsat(invoice.toLowerCase());
      if (!msat) throw new Error('invoice without an amount');
      return { preimage: await payInvoice(invoice, msat.toString()) };
    },
  };

  it('fetchWithMpp pays a paymentScheme() route and gets the content', async () => {
    const before = paidInvoices.length;
    const res = await fetchWithMpp(`${shop}/pay`, {}, { wallet });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { secret: string }).secret).toBe(`${SECRET} pay`);
    expect(paidInvoices.length).toBe(before + 1);
    expect(res.payment?.paid).toBe(true);
  });

  it('fetchWithMpp and fetch402 pay the route that offers x402, L402 and Payment together', async () => {
    for (const f of [fetchWithMpp, fetch402]) {
      const res = await f(`${shop}/all`, {}, { wallet });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { secret: string }).secret).toBe(`${SECRET} all`);
      // Paid with the Payment scheme: its receipt header is there.
      expect(res.headers.get('payment-receipt')).toBeTruthy();
    }
  });
});
