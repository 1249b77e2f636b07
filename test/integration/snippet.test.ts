/**
 * The page snippet as the hub serves it (/tollway.js), and as a real Chromium runs it on the demo
 * shop's 402 page: with a `window.tollway` provider (a stand-in for the extension's, paying
 * through the real hub) the button pays and the article appears; without one it says how to get
 * the extension and waits for the hub to announce on its socket that the challenge was paid, or
 * polls the page until the 402 is gone, then reloads.
 */
import { existsSync, readFileSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTICLE_PRICE, startDemoShop, type RunningShop } from '../../merchant/demo/shop.js';
import { SNIPPET_FILE } from '../../server/http/snippet-routes.js';
import { balances, createMerchant, fund, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);

let th: TestHub;
let shop: RunningShop;
let session: Session;

beforeAll(async () => {
  th = await startTestHub('sqlite');
  const m = await createMerchant(th.url, 'Snippet shop');
  session = await signIn(th.url);
  await fund(th.url, session, '1000000000000000000');
  shop = await startDemoShop({ hub: th.url, merchantId: m.merchant.id, apiKey: m.apiKey, port: 0 });
});

afterAll(async () => {
  await shop?.close();
  await th?.stop();
});

describe('GET /tollway.js', () => {
  it('serves the snippet as cacheable JavaScript that any site may load', async () => {
    const res = await fetch(`${th.url}/tollway.js`, { headers: { origin: 'https://some-blog.example' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('cache-control')).toMatch(/^public, max-age=\d+/);
    expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const etag = res.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]+"$/);
    const body = await res.text();
    expect(body).toBe(readFileSync(SNIPPET_FILE, 'utf8'));
    expect(body).not.toMatch(/\brequire\(|^\s*import\s/m);

    const revalidated = await fetch(`${th.url}/tollway.js`, { headers: { 'if-none-match': etag! } });
    expect(revalidated.status).toBe(304);
    expect(await revalidated.text()).toBe('');
    const head = await fetch(`${th.url}/tollway.js`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
  });
});

describe.skipIf(!hasChromium)('the snippet in a real browser', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('pays through window.tollway and shows the article', async () => {
    const context = await browser.newContext();
    const errors: string[] = [];
    await context.addInitScript(
      ({ hub, token }) => {
        (window as unknown as { tollway: unknown }).tollway = {
          async pay(challenge: { resource: { url: string }; accepts: { scheme: string; payTo: string; amount: string; asset: string }[] }) {
            const entry = challenge.accepts.find((a) => a.scheme === 'tollway')!;
            const res = await fetch(`${hub}/payments`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': crypto.randomUUID() },
              body: JSON.stringify({
                rail: 'internal',
                payTo: entry.payTo,
                amount: entry.amount,
                asset: entry.asset,
                requirement: entry,
                resource: { url: challenge.resource.url, method: 'GET' },
              }),
            });
            const p = (await res.json()) as { status: string; receipt: { token: string }; title?: string };
            if (p.status !== 'completed') throw new Error(p.title ?? p.status);
            return { receipt: p.receipt };
          },
        };
      },
      { hub: th.url, token: session.accessToken },
    );
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    const before = (await balances(th.url, session)).SOVR!.available;

    const nav = await page.goto(`${shop.url}/articles/toll-roads`);
    expect(nav!.status()).toBe(402);
    const button = page.locator('.tollway-pay__button');
    await expect.poll(() => button.textContent()).toBe('Pay 0.002 SOVR with Tollway');
    await button.click();
    await page.locator('#tollway-paid').waitFor({ timeout: 15_000 });
    expect(await page.textContent('article')).toContain('Turnpike trusts');
    expect(BigInt(before) - BigInt((await balances(th.url, session)).SOVR!.available)).toBe(BigInt(ARTICLE_PRICE));
    expect(errors).toEqual([]);
    await context.close();
  });

  it('without the extension and without the hub socket: says how to get it, polls, and reloads once the 402 is gone', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    // As behind a proxy without websockets or a CSP that blocks the client: polling is the fallback.
    await page.route('**/socket.io/**', (route) => route.abort());
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const article = `${shop.url}/articles/http-402`;
    let paid = false;
    let polls = 0;
    await page.route(article, async (route) => {
      if (route.request().method() === 'HEAD') polls++;
      if (paid) await route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><p id="opened">the article</p>' });
      else await route.continue();
    });
    const nav = await page.goto(article);
    expect(nav!.status()).toBe(402);
    await expect.poll(() => page.textContent('.tollway-pay__status')).toContain('Install the Tollway browser extension');
    await expect.poll(() => polls, { timeout: 10_000 }).toBeGreaterThan(0);
    paid = true;
    await page.locator('#opened').waitFor({ timeout: 15_000 });
    expect(errors).toEqual([]);
    await context.close();
  });

  it('without the extension: hears on the hub socket that its challenge was paid, and reloads', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const article = `${shop.url}/articles/toll-roads`;
    let paid = false;
    // HEAD polls keep seeing the 402, so only the socket can be what reloads the page.
    await page.route(article, async (route) => {
      if (paid && route.request().method() === 'GET')
        await route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><p id="opened">the article</p>' });
      else await route.continue();
    });
    expect((await page.goto(article))!.status()).toBe(402);
    await expect.poll(() => page.textContent('.tollway-pay__status')).toContain('Install the Tollway browser extension');
    await expect.poll(() => page.evaluate(() => typeof (window as unknown as { io?: unknown }).io), { timeout: 10_000 }).toBe('function');
    const challenge = JSON.parse((await page.textContent('#tollway-payment-required'))!) as {
      resource: { url: string };
      accepts: { scheme: string; payTo: string; amount: string; asset: string }[];
    };
    const entry = challenge.accepts.find((a) => a.scheme === 'tollway')!;
    paid = true;
    // Paid from elsewhere (another device, a wallet on the phone): the page only holds the challenge.
    const res = await fetch(`${th.url}/payments`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${session.accessToken}`,
        'idempotency-key': crypto.randomUUID(),
      },
      body: JSON.stringify({
        rail: 'internal',
        payTo: entry.payTo,
        amount: entry.amount,
        asset: entry.asset,
        requirement: entry,
        resource: { url: challenge.resource.url, method: 'GET' },
      }),
    });
    expect(res.status).toBe(200);
    await page.locator('#opened').waitFor({ timeout: 15_000 });
    expect(errors).toEqual([]);
    await context.close();
  });
});
