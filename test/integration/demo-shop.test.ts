/**
 * The demo shop against a real hub (SQLite): the article's 402 page for browsers, real payments
 * through POST /payments the way the extension makes them, the article after payment and again
 * within the pass window, the JSON API at its own price with its automatic refund, price discovery,
 * and the hub's signed webhooks reaching the shop.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePaymentSignature, parsePaymentRequired, parsePaymentResponse, type PaymentOption } from '../../shared/challenge.js';
import { API_PRICE, ARTICLE_PRICE, startDemoShop, type RunningShop, type WebhookEvent } from '../../merchant/demo/shop.js';
import { balances, createMerchant, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';

let th: TestHub;
let shop: RunningShop;
let session: Session;
let merchant: { merchant: { id: string }; apiKey: string; webhookSecret: string };
const webhooks: WebhookEvent[] = [];

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

beforeAll(async () => {
  th = await startTestHub('sqlite');
  merchant = await createMerchant(th.url, 'Demo shop');
  session = await signIn(th.url);
  await fund(th.url, session, '1000000000000000000');
  shop = await startDemoShop({
    hub: th.url,
    merchantId: merchant.merchant.id,
    apiKey: merchant.apiKey,
    webhookSecret: merchant.webhookSecret,
    port: 0,
    onWebhook: (e) => webhooks.push(e),
  });
  const set = await fetch(`${th.url}/merchants/${merchant.merchant.id}/webhook`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${merchant.apiKey}` },
    body: JSON.stringify({ url: `${shop.url}/webhooks/tollway` }),
  });
  expect(set.status).toBe(200);
});

afterAll(async () => {
  await shop?.close();
  await th?.stop();
});

async function challengeAt(path: string): Promise<{ entry: PaymentOption; resourceUrl: string }> {
  const res = await fetch(`${shop.url}${path}`, { headers: { accept: 'application/json' } });
  expect(res.status).toBe(402);
  const parsed = parsePaymentRequired(res.headers.get('payment-required')!);
  if (!parsed.ok) throw new Error(parsed.error.message);
  await res.arrayBuffer();
  return { entry: parsed.value.accepts.find((a) => a.scheme === 'tollway')!, resourceUrl: parsed.value.resource!.url };
}

/** Pays the way the extension does: the approved tollway entry as `requirement`, the request as `resource`. */
async function buy(path: string): Promise<{ proof: string; transactionId: string; entry: PaymentOption }> {
  const c = await challengeAt(path);
  const res = await pay(th.url, session, randomUUID(), {
    rail: 'internal',
    payTo: c.entry.payTo,
    amount: c.entry.amount,
    asset: c.entry.asset,
    requirement: c.entry,
    resource: { url: c.resourceUrl, method: 'GET' },
  });
  expect(res.status).toBe(200);
  const payment = (await res.json()) as { transactionId: string; status: string; receipt: { token: string } };
  expect(payment.status).toBe('completed');
  return {
    proof: encodePaymentSignature({ accepted: c.entry, payload: { receipt: payment.receipt.token } }),
    transactionId: payment.transactionId,
    entry: c.entry,
  };
}

const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${shop.url}${path}`, { headers: { accept: BROWSER_ACCEPT, ...headers } });

async function until<T>(f: () => Promise<T | undefined> | T | undefined, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the article', () => {
  it('is readable before payment: the teaser, the price, the pay button, the challenge in the header', async () => {
    const res = await get('/articles/toll-roads');
    expect(res.status).toBe(402);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const header = parsePaymentRequired(res.headers.get('payment-required')!);
    expect(header.ok && header.value.accepts[0]).toMatchObject({
      scheme: 'tollway',
      amount: ARTICLE_PRICE,
      asset: 'SOVR',
      payTo: merchant.merchant.id,
      extra: { hub: th.url },
    });
    const html = await res.text();
    expect(html).toContain('A short history of toll roads');
    expect(html).toContain('a coin at a bridge');
    expect(html).toContain('0.002 SOVR');
    expect(html).toContain(
      `<script src="${th.url}/tollway.js" data-merchant="${merchant.merchant.id}" data-price="${ARTICLE_PRICE}" data-asset="SOVR"`,
    );
    expect(html).toContain('id="tollway-payment-required"');
    expect(html).not.toContain('Turnpike trusts');
  });

  it('answers API clients with JSON, and an unknown article with a plain 404', async () => {
    const res = await fetch(`${shop.url}/articles/http-402`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(402);
    expect(((await res.json()) as { x402Version: number }).x402Version).toBe(2);
    const missing = await get('/articles/nope');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('payment-required')).toBeNull();
  });

  it('shows the whole article after payment, and again with the same proof within the pass window', async () => {
    const before = (await balances(th.url, session)).SOVR!.available;
    const { proof, transactionId } = await buy('/articles/toll-roads');
    const res = await get('/articles/toll-roads', { 'payment-signature': proof });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('Turnpike trusts');
    expect(html).toContain(transactionId);
    expect(html).toContain('id="tollway-paid"');
    const answer = parsePaymentResponse(res.headers.get('payment-response')!);
    expect(answer.ok && answer.value).toMatchObject({ success: true, transaction: transactionId, amount: ARTICLE_PRICE });

    // A second visit within the pass pays nothing.
    const again = await get('/articles/toll-roads', { 'payment-signature': proof });
    expect(again.status).toBe(200);
    expect(await again.text()).toContain('Turnpike trusts');
    const after = (await balances(th.url, session)).SOVR!.available;
    expect(BigInt(before) - BigInt(after)).toBe(BigInt(ARTICLE_PRICE));

    // The pass is for that article only.
    const other = await get('/articles/http-402', { 'payment-signature': proof });
    expect(other.status).toBe(402);
  });

  it('reaches the shop as a verified payment.completed webhook, shown on the home page', async () => {
    const { transactionId } = await buy('/articles/http-402');
    const event = await until(() => webhooks.find((e) => e.type === 'payment.completed' && e.data.transactionId === transactionId));
    expect(event.data).toMatchObject({ status: 'completed', amount: ARTICLE_PRICE, asset: 'SOVR' });
    const home = await (await get('/')).text();
    expect(home).toContain(transactionId);
    // A forged delivery is refused.
    const forged = await fetch(`${shop.url}/webhooks/tollway`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': 'msg_x',
        'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
        'webhook-signature': 'v1,AAAA',
      },
      body: JSON.stringify({ type: 'payment.completed', timestamp: new Date().toISOString(), data: {} }),
    });
    expect(forged.status).toBe(400);
  });
});

describe('the JSON API', () => {
  it('charges its own price, once per receipt, bound to the query', async () => {
    const c = await challengeAt('/api/quote?id=2');
    expect(c.entry.amount).toBe(API_PRICE);
    expect(API_PRICE).not.toBe(ARTICLE_PRICE);
    expect(c.entry.extra?.bind).toEqual(['method', 'path', 'query']);

    const { proof, transactionId } = await buy('/api/quote?id=2');
    const res = await fetch(`${shop.url}/api/quote?id=2`, { headers: { 'payment-signature': proof } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      id: '2',
      text: 'Simplicity is prerequisite for reliability.',
      author: 'Edsger W. Dijkstra',
      paid: { transaction: transactionId, amount: API_PRICE, asset: 'SOVR' },
    });
    const replay = await fetch(`${shop.url}/api/quote?id=2`, { headers: { 'payment-signature': proof, accept: 'application/json' } });
    expect(replay.status).toBe(402);
    expect(((await replay.json()) as { error: string }).error).toBe('replayed');
    const otherQuery = await fetch(`${shop.url}/api/quote?id=3`, { headers: { 'payment-signature': proof, accept: 'application/json' } });
    expect(((await otherQuery.json()) as { error: string }).error).toBe('binding_mismatch');
  });

  it('refunds a call that fails after payment', async () => {
    const before = (await balances(th.url, session)).SOVR!.available;
    const { proof, transactionId } = await buy('/api/quote?id=999');
    const res = await fetch(`${shop.url}/api/quote?id=999`, { headers: { 'payment-signature': proof } });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ transaction: transactionId });
    const status = await until(async () => {
      const r = await fetch(`${th.url}/payments/${transactionId}`, { headers: { authorization: `Bearer ${session.accessToken}` } });
      const p = (await r.json()) as { status: string };
      return p.status === 'refunded' ? p.status : undefined;
    });
    expect(status).toBe('refunded');
    expect((await balances(th.url, session)).SOVR!.available).toBe(before);
  });
});

describe('price discovery', () => {
  it('lists both routes at their prices', async () => {
    const res = await fetch(`${shop.url}/.well-known/tollway.json`);
    expect(res.status).toBe(200);
    const list = (await res.json()) as { routes: { method: string; path: string; price: { amount: string }; reuse: unknown }[] };
    expect(list.routes).toEqual([
      expect.objectContaining({
        method: 'GET',
        path: '/articles/:slug',
        price: { amount: ARTICLE_PRICE, asset: 'SOVR' },
        reuse: { windowSeconds: 600 },
      }),
      expect.objectContaining({ method: 'GET', path: '/api/quote', price: { amount: API_PRICE, asset: 'SOVR' }, reuse: 'single' }),
    ]);
  });
});
