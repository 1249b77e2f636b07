/**
 * The paywall against a real hub (SQLite) and a real Express app on 127.0.0.1: real payments
 * through POST /payments, real receipts, and every way a proof can be wrong.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import express from 'express';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeBase64Text,
  encodePaymentSignature,
  parsePaymentRequired,
  parsePaymentResponse,
  type PaymentOption,
} from '../../shared/challenge.js';
import { createJwksCache, type describeRoutes, keepRawBody, paywall, priceList, type PaywallReason } from '../../merchant/index.js';
import { createMerchant, freePort, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';

let th: TestHub;
let server: Server;
let shop: string;
let merchantId: string;
let otherMerchantId: string;
let session: Session;
let passOffset = 0;
let countedJwks: ReturnType<typeof createJwksCache>;
const refunds: { transaction: string; ok: boolean; status?: number }[] = [];

const SECRET = 'THE-PAID-CONTENT';

beforeAll(async () => {
  th = await startTestHub('sqlite');
  const created = await createMerchant(th.url, 'Shop');
  merchantId = created.merchant.id;
  otherMerchantId = (await createMerchant(th.url, 'Other shop')).merchant.id;
  session = await signIn(th.url);
  await fund(th.url, session, '100000000');
  await fund(th.url, session, '100000000', 'BTC');

  const common = { hub: th.url, merchantId, asset: 'SOVR' };
  countedJwks = createJwksCache({ url: `${th.url}/.well-known/jwks.json`, cooldownMs: 60_000 });
  const app = express();
  app.get('/article/:id', paywall({ ...common, price: '1500', description: 'An article', mimeType: 'text/html' }), (req, res) => {
    res.send(`${SECRET} article ${req.params.id}`);
  });
  app.all('/any', paywall({ ...common, price: '1500' }), (req, res) => {
    res.send(`${SECRET} via ${req.method}`);
  });
  app.post('/api/echo', paywall({ ...common, price: '1000', bind: ['method', 'path', 'query', 'body'] }), (req, res) => {
    res.json({ secret: SECRET, got: req.body, paid: res.locals.tollway });
  });
  // A body parser before the paywall: the raw bytes are kept with keepRawBody.
  app.post(
    '/api/parsed',
    express.json({ verify: keepRawBody }),
    paywall({ ...common, price: '1000', bind: ['method', 'path', 'body'] }),
    (req, res) => {
      res.json({ secret: SECRET, got: req.body });
    },
  );
  // …and one without keepRawBody: a configuration error, not content.
  app.post('/api/misconfigured', express.json(), paywall({ ...common, price: '1000', bind: ['method', 'path', 'body'] }), (_req, res) => {
    res.send(SECRET);
  });
  app.get('/pass', paywall({ ...common, price: '700', reuse: { windowSeconds: 60 }, now: () => Date.now() + passOffset }), (_req, res) => {
    res.send(`${SECRET} pass`);
  });
  app.get('/late', paywall({ ...common, price: '1500', now: () => Date.now() + 2 * 3600_000 }), (_req, res) => {
    res.send(SECRET);
  });
  app.get('/counted', paywall({ ...common, price: '1500', keys: countedJwks }), (_req, res) => {
    res.send(SECRET);
  });
  app.get('/btc', paywall({ ...common, asset: 'BTC', price: '1500' }), (_req, res) => {
    res.send(SECRET);
  });
  app.get('/proxied', paywall({ ...common, price: '1500', origin: 'https://shop.example/' }), (_req, res) => {
    res.send(`${SECRET} proxied`);
  });
  app.post('/api/small', paywall({ ...common, price: '1000', bind: ['method', 'path', 'body'], bodyLimit: 16 }), (_req, res) => {
    res.send(SECRET);
  });
  const deadHub = `http://127.0.0.1:${await freePort()}`;
  app.get('/dead-hub', paywall({ hub: deadHub, merchantId, asset: 'SOVR', price: '1500' }), (_req, res) => {
    res.send(SECRET);
  });
  app.get(
    '/broken',
    paywall({ ...common, price: '1500', refundOnError: { apiKey: created.apiKey, onResult: (r) => refunds.push(r) } }),
    (_req, res) => {
      res.status(500).send('the route failed after payment');
    },
  );
  app.get('/.well-known/tollway.json', priceList(app));
  // Express 5 hands async errors to this; the misconfiguration test reads it.
  app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).json({ error: err.message });
  });

  await new Promise<void>((resolve) => {
    server = app.listen(0, '127.0.0.1', () => resolve());
  });
  shop = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await th?.stop();
});

// ---------------------------------------------------------------------------------------------

interface Challenge {
  status: number;
  entry: PaymentOption;
  resourceUrl: string;
  error?: string;
  body: unknown;
}

async function challengeAt(path: string, init: RequestInit = {}): Promise<Challenge> {
  const res = await fetch(`${shop}${path}`, {
    ...init,
    headers: { accept: 'application/json', ...(init.headers as Record<string, string>) },
  });
  const header = res.headers.get('payment-required');
  expect(res.status).toBe(402);
  expect(header).toBeTruthy();
  const parsed = parsePaymentRequired(header!);
  if (!parsed.ok) throw new Error(parsed.error.message);
  const entry = parsed.value.accepts.find((a) => a.scheme === 'tollway')!;
  return { status: res.status, entry, resourceUrl: parsed.value.resource!.url, error: parsed.value.serverError, body: await res.json() };
}

const sha256Hex = (s: string) => createHash('sha256').update(s).digest('hex');

/** Pays the way the extension does: the approved tollway entry as `requirement`, the request as `resource`. */
async function buy(
  path: string,
  opts: { method?: string; body?: string; override?: Partial<PaymentOption>; resourcePath?: string } = {},
): Promise<{ token: string; transactionId: string; entry: PaymentOption }> {
  const method = opts.method ?? 'GET';
  const c = await challengeAt(path, {
    method,
    ...(opts.body !== undefined ? { body: opts.body, headers: { 'content-type': 'application/json' } } : {}),
  });
  const requirement = { ...c.entry, ...opts.override };
  const url = opts.resourcePath ? `${shop}${opts.resourcePath}` : c.resourceUrl;
  const res = await pay(th.url, session, randomUUID(), {
    rail: 'internal',
    payTo: requirement.payTo,
    amount: requirement.amount,
    asset: requirement.asset,
    requirement,
    resource: { url, method, ...(opts.body !== undefined ? { bodyHash: sha256Hex(opts.body) } : {}) },
  });
  expect(res.status).toBe(200);
  const payment = (await res.json()) as { transactionId: string; status: string; receipt: { token: string } };
  expect(payment.status).toBe('completed');
  return { token: payment.receipt.token, transactionId: payment.transactionId, entry: c.entry };
}

const proofFor = (token: string, entry: PaymentOption) => encodePaymentSignature({ accepted: entry, payload: { receipt: token } });

async function retry(path: string, proof: string, init: { method?: string; body?: string; header?: string; accept?: string } = {}) {
  const res = await fetch(`${shop}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      accept: init.accept ?? 'application/json',
      [init.header ?? 'payment-signature']: proof,
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  return { res, text: await res.text() };
}

/** A refused proof: a fresh 402 with the reason in the JSON body and the decoded header, and no content. */
async function expectRefused(r: { res: Response; text: string }, reason: PaywallReason) {
  expect(r.res.status).toBe(402);
  expect(r.text).not.toContain(SECRET);
  expect(r.res.headers.get('payment-response')).toBeNull();
  const body = JSON.parse(r.text) as { error: string; x402Version: number; accepts: PaymentOption[] };
  expect(body.error).toBe(reason);
  expect(body.x402Version).toBe(2);
  const decoded = parsePaymentRequired(r.res.headers.get('payment-required')!);
  if (!decoded.ok) throw new Error('undecodable challenge');
  expect(decoded.value.serverError).toBe(reason);
  // Fresh: a new challenge id each time.
  return decoded.value.accepts[0]!;
}

// ---------------------------------------------------------------------------------------------

describe('the challenge', () => {
  it('answers 402 with an x402 v2 PAYMENT-REQUIRED and a JSON body for API clients', async () => {
    const c = await challengeAt('/article/1');
    expect(c.resourceUrl).toBe(`${shop}/article/1`);
    expect(c.error).toBe('payment_required');
    expect(c.entry).toEqual({
      scheme: 'tollway',
      network: `tollway:${new URL(th.url).origin}`,
      amount: '1500',
      asset: 'SOVR',
      payTo: merchantId,
      maxTimeoutSeconds: 300,
      extra: { hub: th.url, challengeId: expect.stringMatching(/^ch_/), bind: ['method', 'path'] },
    });
    expect(c.body).toMatchObject({
      x402Version: 2,
      resource: { url: `${shop}/article/1`, description: 'An article', mimeType: 'text/html' },
    });
    const again = await challengeAt('/article/1');
    expect(again.entry.extra!.challengeId).not.toBe(c.entry.extra!.challengeId);
  });

  it('answers browsers with a readable HTML page, the header present too', async () => {
    const res = await fetch(`${shop}/article/1`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(res.status).toBe(402);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('payment-required')).toBeTruthy();
    expect(res.headers.get('cache-control')).toBe('no-store');
    const html = await res.text();
    expect(html).toContain('An article');
    expect(html).toContain('0.0000000000000015 SOVR');
    expect(html).not.toContain(SECRET);
  });

  it('lists paid routes and prices without a 402', async () => {
    const res = await fetch(`${shop}/.well-known/tollway.json`);
    expect(res.status).toBe(200);
    const list = (await res.json()) as ReturnType<typeof describeRoutes>;
    expect(list.routes).toContainEqual(
      expect.objectContaining({ method: 'GET', path: '/article/:id', price: { amount: '1500', asset: 'SOVR' }, merchantId, hub: th.url }),
    );
    expect(list.routes).toContainEqual(
      expect.objectContaining({ method: 'POST', path: '/api/echo', bind: ['method', 'path', 'query', 'body'] }),
    );
    expect(list.routes).toContainEqual(expect.objectContaining({ method: 'GET', path: '/pass', reuse: { windowSeconds: 60 } }));
  });
});

describe('a good proof', () => {
  it('serves the content with PAYMENT-RESPONSE after a real payment through the hub', async () => {
    const { token, transactionId, entry } = await buy('/article/1');
    const r = await retry('/article/1', proofFor(token, entry));
    expect(r.res.status).toBe(200);
    expect(r.text).toBe(`${SECRET} article 1`);
    const answer = parsePaymentResponse(r.res.headers.get('payment-response')!);
    expect(answer.ok && answer.value).toEqual({
      success: true,
      transaction: transactionId,
      network: `tollway:${new URL(th.url).origin}`,
      amount: '1500',
    });
    // never from a shared cache to someone who did not pay
    expect(r.res.headers.get('cache-control')).toBe('private');
    expect(r.res.headers.get('vary')).toMatch(/PAYMENT-SIGNATURE/i);
  });

  it('reads x402 version 1 X-PAYMENT and answers X-PAYMENT-RESPONSE too', async () => {
    const { token, transactionId, entry } = await buy('/article/7');
    const v1 = encodeBase64Text(JSON.stringify({ x402Version: 1, scheme: 'tollway', network: entry.network, payload: { receipt: token } }));
    const r = await retry('/article/7', v1, { header: 'x-payment' });
    expect(r.res.status).toBe(200);
    const answer = parsePaymentResponse(r.res.headers.get('x-payment-response')!);
    expect(answer.ok && answer.value.transaction).toBe(transactionId);
    expect(r.res.headers.get('payment-response')).toBeTruthy();
  });

  it('binds the body and query: the same request passes and the route gets the parsed body', async () => {
    const body = JSON.stringify({ q: 'hello', n: 1 });
    const { token, entry } = await buy('/api/echo?x=1', { method: 'POST', body });
    const r = await retry('/api/echo?x=1', proofFor(token, entry), { method: 'POST', body });
    expect(r.res.status).toBe(200);
    const json = JSON.parse(r.text) as { got: unknown; paid: { amount: string; reuse: string } };
    expect(json.got).toEqual({ q: 'hello', n: 1 });
    expect(json.paid).toMatchObject({ amount: '1000', reuse: 'single' });
  });

  it('works with express.json before it when the raw bytes are kept', async () => {
    const body = '{"a": [1, 2, 3]}';
    const { token, entry } = await buy('/api/parsed', { method: 'POST', body });
    const r = await retry('/api/parsed', proofFor(token, entry), { method: 'POST', body });
    expect(r.res.status).toBe(200);
    expect(JSON.parse(r.text).got).toEqual({ a: [1, 2, 3] });
    // The same JSON with other bytes is another body.
    const { token: t2, entry: e2 } = await buy('/api/parsed', { method: 'POST', body });
    await expectRefused(await retry('/api/parsed', proofFor(t2, e2), { method: 'POST', body: '{"a":[1,2,3]}' }), 'binding_mismatch');
  });

  it('binds to the public origin behind a proxy', async () => {
    const { token, entry } = await buy('/proxied');
    expect(decodeJwt(token).res).toBe('https://shop.example/proxied');
    const r = await retry('/proxied', proofFor(token, entry));
    expect(r.res.status).toBe(200);
    expect(r.text).toBe(`${SECRET} proxied`);
  });

  it('does not read a body over the limit: 413', async () => {
    const body = JSON.stringify({ pad: 'x'.repeat(64) });
    const { token, entry } = await buy('/api/small', { method: 'POST', body });
    const r = await retry('/api/small', proofFor(token, entry), { method: 'POST', body });
    expect(r.res.status).toBe(413);
    expect(r.text).not.toContain(SECRET);
  });

  it('refuses to guess when a parser ate the body without keeping its bytes', async () => {
    const body = '{"a":1}';
    const { token, entry } = await buy('/api/misconfigured', { method: 'POST', body });
    const r = await retry('/api/misconfigured', proofFor(token, entry), { method: 'POST', body });
    expect(r.res.status).toBe(500);
    expect(r.text).not.toContain(SECRET);
    expect(r.text).toContain('keepRawBody');
  });
});

describe('every way a proof can be wrong → a fresh 402 with a reason', () => {
  it('replayed single-use receipt', async () => {
    const { token, entry } = await buy('/article/2');
    expect((await retry('/article/2', proofFor(token, entry))).res.status).toBe(200);
    const fresh = await expectRefused(await retry('/article/2', proofFor(token, entry)), 'replayed');
    expect(fresh.extra!.challengeId).not.toBe(entry.extra!.challengeId);
  });

  it('other path', async () => {
    const { token, entry } = await buy('/article/3');
    await expectRefused(await retry('/article/4', proofFor(token, entry)), 'binding_mismatch');
    // …and the refusal did not spend it
    expect((await retry('/article/3', proofFor(token, entry))).res.status).toBe(200);
  });

  it('other method', async () => {
    const { token, entry } = await buy('/any');
    await expectRefused(await retry('/any', proofFor(token, entry), { method: 'POST' }), 'binding_mismatch');
    expect((await retry('/any', proofFor(token, entry))).text).toBe(`${SECRET} via GET`);
  });

  it('other query', async () => {
    const body = '{"q":1}';
    const { token, entry } = await buy('/api/echo?x=1', { method: 'POST', body });
    await expectRefused(await retry('/api/echo?x=2', proofFor(token, entry), { method: 'POST', body }), 'binding_mismatch');
  });

  it('other body', async () => {
    const body = '{"q":1}';
    const { token, entry } = await buy('/api/echo', { method: 'POST', body });
    await expectRefused(await retry('/api/echo', proofFor(token, entry), { method: 'POST', body: '{"q":2}' }), 'binding_mismatch');
    await expectRefused(await retry('/api/echo', proofFor(token, entry), { method: 'POST' }), 'binding_mismatch');
  });

  it('a receipt bound to nothing (paid without a resource)', async () => {
    const c = await challengeAt('/article/5');
    const res = await pay(th.url, session, randomUUID(), {
      rail: 'internal',
      payTo: merchantId,
      amount: '1500',
      asset: 'SOVR',
      requirement: c.entry,
    });
    const { receipt } = (await res.json()) as { receipt: { token: string } };
    await expectRefused(await retry('/article/5', proofFor(receipt.token, c.entry)), 'binding_mismatch');
  });

  it('other merchant', async () => {
    const { token, entry } = await buy('/article/6', { override: { payTo: otherMerchantId } });
    await expectRefused(await retry('/article/6', proofFor(token, entry)), 'wrong_merchant');
  });

  it('wrong asset', async () => {
    const { token, entry } = await buy('/article/8', { override: { asset: 'BTC' } });
    expect(decodeJwt(token).asset).toBe('BTC');
    await expectRefused(await retry('/article/8', proofFor(token, entry)), 'wrong_asset');
    // and a SOVR receipt at a BTC route
    const sovr = await buy('/article/9');
    const c = await challengeAt('/btc');
    await expectRefused(await retry('/btc', proofFor(sovr.token, c.entry)), 'wrong_asset');
  });

  it('amount below the price', async () => {
    const { token, entry } = await buy('/article/10', { override: { amount: '1499' } });
    await expectRefused(await retry('/article/10', proofFor(token, entry)), 'insufficient_amount');
  });

  it('expired', async () => {
    const { token, entry } = await buy('/late');
    await expectRefused(await retry('/late', proofFor(token, entry)), 'expired');
  });

  it('forged signature: another ES256 key under the hub kid', async () => {
    const { token, entry } = await buy('/article/11');
    const jwks = (await (await fetch(`${th.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT(decodeJwt(token))
      .setProtectedHeader({ alg: 'ES256', kid: jwks.keys[0]!.kid, typ: 'tollway-receipt+jwt' })
      .sign(privateKey);
    await expectRefused(await retry('/article/11', proofFor(forged, entry)), 'invalid_signature');
    // a tampered payload under the real signature
    const [h, , s] = token.split('.');
    const claims = { ...decodeJwt(token), amt: '999999999' };
    const tampered = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
    await expectRefused(await retry('/article/11', proofFor(tampered, entry)), 'invalid_signature');
    // the genuine one still works
    expect((await retry('/article/11', proofFor(token, entry))).res.status).toBe(200);
  });

  it('unknown kid, without hammering the hub', async () => {
    const { token, entry } = await buy('/counted');
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    expect(await exportJWK(publicKey)).toBeTruthy();
    const before = countedJwks.fetches;
    for (let i = 0; i < 5; i++) {
      const forged = await new SignJWT(decodeJwt(token))
        .setProtectedHeader({ alg: 'ES256', kid: `garbage-${i}`, typ: 'tollway-receipt+jwt' })
        .sign(privateKey);
      await expectRefused(await retry('/counted', proofFor(forged, entry)), 'unknown_kid');
    }
    // the first look-up loaded the set; unknown kids within the cooldown fetch nothing more
    expect(countedJwks.fetches - before).toBeLessThanOrEqual(1);
    expect((await retry('/counted', proofFor(token, entry))).res.status).toBe(200);
  });

  it('an access token of the same hub is not a receipt', async () => {
    const c = await challengeAt('/article/12');
    await expectRefused(await retry('/article/12', proofFor(session.accessToken, c.entry)), 'wrong_type');
  });

  it('garbage: not base64, not JSON, no receipt, not a JWT, other scheme, other version', async () => {
    const c = await challengeAt('/article/13');
    await expectRefused(await retry('/article/13', '%%% not base64 %%%'), 'malformed_proof');
    await expectRefused(await retry('/article/13', encodeBase64Text('not json')), 'malformed_proof');
    await expectRefused(await retry('/article/13', encodeBase64Text('{"x402Version":2}')), 'malformed_proof');
    await expectRefused(await retry('/article/13', encodePaymentSignature({ accepted: c.entry, payload: {} })), 'malformed_proof');
    await expectRefused(await retry('/article/13', proofFor('not.a.jwt', c.entry)), 'malformed_receipt');
    await expectRefused(await retry('/article/13', proofFor('abc', c.entry)), 'malformed_receipt');
    const none = `${Buffer.from('{"alg":"none","typ":"tollway-receipt+jwt"}').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.x`;
    await expectRefused(await retry('/article/13', proofFor(none, c.entry)), 'invalid_algorithm');
    await expectRefused(
      await retry('/article/13', encodePaymentSignature({ accepted: { ...c.entry, scheme: 'exact' }, payload: { receipt: 'x' } })),
      'unsupported_scheme',
    );
    await expectRefused(await retry('/article/13', encodeBase64Text('{"x402Version":3}')), 'unsupported_version');
  });

  it('a browser retry with a bad proof gets the page again, with the reason', async () => {
    const r = await retry('/article/14', '%%%', { accept: 'text/html' });
    expect(r.res.status).toBe(402);
    expect(r.res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(r.text).toContain('not accepted');
    const decoded = parsePaymentRequired(r.res.headers.get('payment-required')!);
    expect(decoded.ok && decoded.value.serverError).toBe('malformed_proof');
  });

  it('a hub whose keys cannot be fetched is a 503, not content and not a request to pay again', async () => {
    const { token, entry } = await buy('/article/15');
    const r = await retry('/dead-hub', proofFor(token, entry));
    expect(r.res.status).toBe(503);
    expect(r.text).not.toContain(SECRET);
  });
});

describe('access window', () => {
  it('lets the same request in again within the window, and asks again after it', async () => {
    passOffset = 0;
    const { token, entry } = await buy('/pass');
    const first = await retry('/pass', proofFor(token, entry));
    expect(first.res.status).toBe(200);
    const second = await retry('/pass', proofFor(token, entry));
    expect(second.res.status).toBe(200);
    expect(second.text).toBe(`${SECRET} pass`);
    passOffset = 61_000;
    await expectRefused(await retry('/pass', proofFor(token, entry)), 'window_elapsed');
    passOffset = 0;
  });
});

describe('refund on error', () => {
  it('gives the money back when the route fails after accepting the receipt', async () => {
    const { token, transactionId, entry } = await buy('/broken');
    const r = await retry('/broken', proofFor(token, entry));
    expect(r.res.status).toBe(500);
    const deadline = Date.now() + 5000;
    while (!refunds.some((x) => x.transaction === transactionId) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    expect(refunds.find((x) => x.transaction === transactionId)).toMatchObject({ ok: true, status: 200 });
    const p = (await (
      await fetch(`${th.url}/payments/${transactionId}`, { headers: { authorization: `Bearer ${session.accessToken}` } })
    ).json()) as { status: string; refundedAmount: string };
    expect(p).toMatchObject({ status: 'refunded', refundedAmount: '1500' });
  });
});
