/**
 * The paywall's Hono adapter against a real hub (SQLite) and a real Hono server on 127.0.0.1
 * (@hono/node-server): the same core as the Express paywall, so the same challenge, the same
 * receipts, the same refusals; plus the x402 `exact` flow's held answer, with a scripted facilitator.
 */
import { createHash, randomUUID } from 'node:crypto';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePaymentSignature, parsePaymentRequired, parsePaymentResponse, type PaymentOption } from '../../shared/challenge.js';
import { problemType } from '../../shared/problem.js';
import type { Facilitator, PaywallReason, SettleAnswer, VerifyAnswer } from '../../merchant/index.js';
import { paywallHono } from '../../merchant/hono.js';
import { createMerchant, freePort, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';

let th: TestHub;
let server: ServerType;
let shop: string;
let merchantId: string;
let otherMerchantId: string;
let session: Session;
const settleCalls: string[] = [];
let settleResult: 'ok' | 'refused' = 'ok';

const SECRET = 'THE-PAID-CONTENT';
const PAYOUT = '0x1111111111111111111111111111111111111111';
const TOKEN = '0x2222222222222222222222222222222222222222';

/** Verifies anything, settles as the test says: the adapter's part is what it does with the answers. */
const facilitator: Facilitator = {
  url: 'http://facilitator.invalid',
  verify: async () => ({ isValid: true, payer: '0x3333333333333333333333333333333333333333' }) as VerifyAnswer,
  settle: async (doc) => {
    const nonce = (doc.payload as { authorization: { nonce: string } }).authorization.nonce;
    settleCalls.push(nonce);
    return (
      settleResult === 'ok'
        ? { success: true, transaction: `0xsettled${nonce}`, network: 'eip155:31337' }
        : { success: false, errorReason: 'insufficient_funds', errorMessage: 'no funds', transaction: '', network: 'eip155:31337' }
    ) as SettleAnswer;
  },
  supported: async () => ({ kinds: [], extensions: [], signers: {} }),
};

beforeAll(async () => {
  th = await startTestHub('sqlite');
  merchantId = (await createMerchant(th.url, 'Hono shop')).merchant.id;
  otherMerchantId = (await createMerchant(th.url, 'Other shop')).merchant.id;
  session = await signIn(th.url);
  await fund(th.url, session, '100000000');

  const common = { hub: th.url, merchantId, asset: 'SOVR' };
  const app = new Hono();
  app.get(
    '/article/:id',
    paywallHono({ ...common, price: '1500', description: 'An article', teaser: (c) => `<p>teaser for ${c.req.param('id')}</p>` }),
    (c) => c.text(`${SECRET} article ${c.req.param('id')} paid by ${c.get('tollway').transaction}`),
  );
  app.post('/api/echo', paywallHono({ ...common, price: '1000', bind: ['method', 'path', 'query', 'body'] }), async (c) =>
    c.json({ secret: SECRET, got: await c.req.json(), paid: c.get('tollway') }),
  );
  app.post('/api/small', paywallHono({ ...common, price: '1000', bind: ['method', 'path', 'body'], bodyLimit: 16 }), (c) => c.text(SECRET));
  const deadHub = `http://127.0.0.1:${await freePort()}`;
  app.get('/dead-hub', paywallHono({ hub: deadHub, merchantId, asset: 'SOVR', price: '1500' }), (c) => c.text(SECRET));
  const exact = paywallHono({
    ...common,
    price: '1000',
    payoutAddress: PAYOUT,
    chain: { chainId: 31337, tokenAddress: TOKEN },
    facilitator,
  });
  app.get('/exact', exact, (c) => {
    c.header('Set-Cookie', 'session=route');
    return c.text(`${SECRET} exact, transaction so far: "${c.get('tollway').transaction}"`);
  });
  app.get('/exact-broken', exact, (c) => c.text('the route failed', 500));

  await new Promise<void>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
      shop = `http://127.0.0.1:${info.port}`;
      resolve();
    });
  });
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await th?.stop();
});

async function challengeAt(path: string, init: RequestInit = {}) {
  const res = await fetch(`${shop}${path}`, {
    ...init,
    headers: { accept: 'application/json', ...(init.headers as Record<string, string>) },
  });
  expect(res.status).toBe(402);
  const parsed = parsePaymentRequired(res.headers.get('payment-required')!);
  if (!parsed.ok) throw new Error(parsed.error.message);
  return {
    res,
    doc: parsed.value,
    entry: parsed.value.accepts.find((a) => a.scheme === 'tollway')!,
    body: (await res.json()) as Record<string, unknown>,
  };
}

const sha256Hex = (s: string) => createHash('sha256').update(s).digest('hex');

async function buy(path: string, opts: { method?: string; body?: string; override?: Partial<PaymentOption> } = {}) {
  const method = opts.method ?? 'GET';
  const c = await challengeAt(path, {
    method,
    ...(opts.body !== undefined ? { body: opts.body, headers: { 'content-type': 'application/json' } } : {}),
  });
  const requirement = { ...c.entry, ...opts.override };
  const res = await pay(th.url, session, randomUUID(), {
    rail: 'internal',
    payTo: requirement.payTo,
    amount: requirement.amount,
    asset: requirement.asset,
    requirement,
    resource: { url: c.doc.resource!.url, method, ...(opts.body !== undefined ? { bodyHash: sha256Hex(opts.body) } : {}) },
  });
  expect(res.status).toBe(200);
  const payment = (await res.json()) as { transactionId: string; receipt: { token: string } };
  return {
    proof: encodePaymentSignature({ accepted: c.entry, payload: { receipt: payment.receipt.token } }),
    transactionId: payment.transactionId,
  };
}

async function retry(path: string, proof: string, init: { method?: string; body?: string } = {}) {
  const res = await fetch(`${shop}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      accept: 'application/json',
      'payment-signature': proof,
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  return { res, text: await res.text() };
}

async function expectRefused(r: { res: Response; text: string }, reason: PaywallReason | (string & {})) {
  expect(r.res.status).toBe(402);
  expect(r.text).not.toContain(SECRET);
  expect(r.res.headers.get('payment-response')).toBeNull();
  expect((JSON.parse(r.text) as { error: string }).error).toBe(reason);
  const decoded = parsePaymentRequired(r.res.headers.get('payment-required')!);
  expect(decoded.ok && decoded.value.serverError).toBe(reason);
}

describe('paywallHono: the challenge', () => {
  it('answers 402 with PAYMENT-REQUIRED and the JSON document', async () => {
    const c = await challengeAt('/article/1');
    expect(c.doc.resource).toMatchObject({ url: `${shop}/article/1`, description: 'An article' });
    expect(c.doc.serverError).toBe('payment_required');
    expect(c.entry).toMatchObject({
      scheme: 'tollway',
      amount: '1500',
      asset: 'SOVR',
      payTo: merchantId,
      extra: { challengeId: expect.stringMatching(/^ch_/) },
    });
    expect(c.body).toMatchObject({ x402Version: 2, error: 'payment_required' });
    expect(c.res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(c.res.headers.get('cache-control')).toBe('no-store');
    expect(c.res.headers.get('access-control-expose-headers')).toBe('PAYMENT-REQUIRED');
  });

  it('answers browsers with the HTML page and the teaser the context gave', async () => {
    const res = await fetch(`${shop}/article/2`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(res.status).toBe(402);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('payment-required')).toBeTruthy();
    const html = await res.text();
    expect(html).toContain('<p>teaser for 2</p>');
    expect(html).not.toContain(SECRET);
  });
});

describe('paywallHono: a paid retry', () => {
  it('serves the route with a valid receipt, PAYMENT-RESPONSE and c.get("tollway")', async () => {
    const { proof, transactionId } = await buy('/article/3');
    const r = await retry('/article/3', proof);
    expect(r.res.status).toBe(200);
    expect(r.text).toBe(`${SECRET} article 3 paid by ${transactionId}`);
    const answer = parsePaymentResponse(r.res.headers.get('payment-response')!);
    expect(answer.ok && answer.value).toMatchObject({ success: true, transaction: transactionId, amount: '1500' });
    expect(r.res.headers.get('cache-control')).toBe('private');
    expect(r.res.headers.get('vary')).toMatch(/PAYMENT-SIGNATURE/i);
  });

  it('binds the body and query, and the route still reads the body', async () => {
    const body = JSON.stringify({ q: 'hello' });
    const { proof } = await buy('/api/echo?x=1', { method: 'POST', body });
    await expectRefused(await retry('/api/echo?x=1', proof, { method: 'POST', body: '{"q":"other"}' }), 'binding_mismatch');
    const r = await retry('/api/echo?x=1', proof, { method: 'POST', body });
    expect(r.res.status).toBe(200);
    expect(JSON.parse(r.text)).toMatchObject({ secret: SECRET, got: { q: 'hello' }, paid: { amount: '1000', reuse: 'single' } });
  });

  it('refuses a single-use receipt the second time', async () => {
    const { proof } = await buy('/article/4');
    expect((await retry('/article/4', proof)).res.status).toBe(200);
    await expectRefused(await retry('/article/4', proof), 'replayed');
  });

  it('refuses a receipt for another merchant', async () => {
    const { proof } = await buy('/article/5', { override: { payTo: otherMerchantId } });
    await expectRefused(await retry('/article/5', proof), 'wrong_merchant');
  });

  it('answers 413 (catalogue problem) to a bound body over the limit', async () => {
    const body = JSON.stringify({ pad: 'x'.repeat(64) });
    const { proof } = await buy('/api/small', { method: 'POST', body });
    const r = await retry('/api/small', proof, { method: 'POST', body });
    expect(r.res.status).toBe(413);
    expect(r.res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(r.text)).toMatchObject({ type: problemType('payload-too-large'), status: 413 });
  });

  it('answers 503 (catalogue problem) when the hub keys cannot be fetched', async () => {
    const { proof } = await buy('/article/6');
    const r = await retry('/dead-hub', proof);
    expect(r.res.status).toBe(503);
    expect(r.res.headers.get('retry-after')).toBe('5');
    expect(JSON.parse(r.text)).toMatchObject({ type: problemType('hub-unavailable'), status: 503 });
  });
});

describe('paywallHono: x402 exact, the route answer held until settled', () => {
  async function exactProof(path: string, nonce: string) {
    const c = await challengeAt(path);
    const entry = c.doc.accepts.find((a) => a.scheme === 'exact')!;
    expect(entry).toMatchObject({ network: 'eip155:31337', payTo: PAYOUT, amount: '1000' });
    const authorization = {
      from: '0x3333333333333333333333333333333333333333',
      to: PAYOUT,
      value: '1000',
      validAfter: '0',
      validBefore: String(Math.floor(Date.now() / 1000) + 300),
      nonce,
    };
    return encodePaymentSignature({ accepted: entry, payload: { signature: '0xsig', authorization } });
  }

  it('settles after the route answered and sends its answer with PAYMENT-RESPONSE', async () => {
    settleResult = 'ok';
    const nonce = `0x${'a1'.repeat(32)}`;
    const r = await retry('/exact', await exactProof('/exact', nonce));
    expect(r.res.status).toBe(200);
    expect(r.text).toBe(`${SECRET} exact, transaction so far: ""`);
    expect(r.res.headers.get('set-cookie')).toBe('session=route');
    const answer = parsePaymentResponse(r.res.headers.get('payment-response')!);
    expect(answer.ok && answer.value).toMatchObject({ success: true, transaction: `0xsettled${nonce}` });
    // the same payment again
    await expectRefused(await retry('/exact', await exactProof('/exact', nonce)), 'replayed');
  });

  it('replaces the held answer with a 402, without the route cookies, when settlement fails', async () => {
    settleResult = 'refused';
    const r = await retry('/exact', await exactProof('/exact', `0x${'b2'.repeat(32)}`));
    await expectRefused(r, 'insufficient_funds');
    expect(r.res.headers.get('set-cookie')).toBeNull();
    settleResult = 'ok';
  });

  it('settles nothing when the route fails', async () => {
    const nonce = `0x${'c3'.repeat(32)}`;
    const r = await retry('/exact-broken', await exactProof('/exact-broken', nonce));
    expect(r.res.status).toBe(500);
    expect(r.res.headers.get('payment-response')).toBeNull();
    expect(settleCalls).not.toContain(nonce);
  });
});
