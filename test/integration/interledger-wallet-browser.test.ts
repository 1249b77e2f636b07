/**
 * The local Interledger wallet's consent page in real Chromium: a person reads it, presses Approve
 * (or Reject), and the browser lands on the client's finish URI with the hash and interact_ref (or
 * result=grant_rejected), which is what the hub's /ilp/finish will receive.
 */
import { createHash, generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { generateJwk } from '@interledger/http-signature-utils';
import { type AuthenticatedClient, createAuthenticatedClient, isPendingGrant, type PendingGrant } from '@interledger/open-payments';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalInterledger, startLocalInterledger } from '../../devnet/interledger/index.js';
import { CHROMIUM } from '../helpers/extension-browser.js';

const USD = { assetCode: 'USD', assetScale: 2 } as const;
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
declare const axe: { run(context: unknown, options: unknown): Promise<{ violations: { id: string; impact: string | null }[] }> };

let ilp: LocalInterledger;
let client: AuthenticatedClient;
let browser: Browser;
/** Stands for the hub's /ilp/finish: records the query each redirect brought. */
let finish: Server;
let finishUri: string;
const arrivals: URLSearchParams[] = [];
let payer: string;

async function pendingGrant(nonce: string): Promise<PendingGrant> {
  const g = await client.grant.request(
    { url: ilp.authServer },
    {
      access_token: {
        access: [
          {
            type: 'outgoing-payment',
            actions: ['create', 'read'],
            identifier: payer,
            limits: { debitAmount: { value: '2500', ...USD }, interval: 'R/2026-01-01T00:00:00Z/P1M' },
          },
        ],
      },
      interact: { start: ['redirect'], finish: { method: 'redirect', uri: finishUri, nonce } },
    },
  );
  if (!isPendingGrant(g)) throw new Error('expected a pending grant');
  return g;
}

beforeAll(async () => {
  ilp = await startLocalInterledger();
  payer = (await ilp.createWallet('alice', { ...USD, balance: 10_000n, publicName: 'Alice' })).url;
  const hub = (await ilp.createWallet('hub', { ...USD, balance: 0n, publicName: 'Tollway' })).url;
  const privateKey = generateKeyPairSync('ed25519').privateKey;
  ilp.addClientKey(hub, generateJwk({ privateKey, keyId: 'k' }));
  client = await createAuthenticatedClient({ walletAddressUrl: hub, privateKey, keyId: 'k', validateResponses: true, logLevel: 'silent' });
  finish = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://finish');
    // The browser also asks for /favicon.ico; only the finish redirect counts.
    if (url.pathname === '/ilp/finish') arrivals.push(url.searchParams);
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Back at the hub</title><p>Back at the hub</p>');
  });
  await new Promise<void>((r) => finish.listen(0, '127.0.0.1', () => r()));
  finishUri = `http://127.0.0.1:${(finish.address() as AddressInfo).port}/ilp/finish?payment=pay_1`;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
});

afterAll(async () => {
  await browser?.close();
  finish?.close();
  await ilp?.close();
});

describe('the consent page in Chromium', () => {
  it('shows the request to a person, and Approve brings the browser back to the finish URI with a checkable hash', async () => {
    const nonce = randomUUID();
    const pending = await pendingGrant(nonce);
    const page = await browser.newPage();
    await page.goto(pending.interact.redirect);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Approve a payment?');
    await expect(page.locator('#amount').textContent()).resolves.toBe('25.00 USD');
    await expect(page.locator('#limit').textContent()).resolves.toMatch(/^up to 25\.00 USD per period of P1M/);
    await expect(page.getByText(/Requested by/).isVisible()).resolves.toBe(true);
    await expect(page.locator('dd').first().textContent()).resolves.toMatch(/^Tollway \(http/);
    // axe-core in the page (through the DevTools protocol, which the page's CSP does not govern).
    await page.evaluate(AXE_SOURCE);
    const found = await page.evaluate(() => axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations));
    expect(found.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id)).toEqual([]);
    await Promise.all([page.waitForURL(/\/ilp\/finish\?/), page.getByRole('button', { name: 'Approve' }).click()]);
    const landed = new URL(page.url());
    expect(landed.searchParams.get('payment')).toBe('pay_1');
    const ref = landed.searchParams.get('interact_ref')!;
    const hash = createHash('sha256').update(`${nonce}\n${pending.interact.finish}\n${ref}\n${ilp.authServer}`).digest('base64');
    expect(landed.searchParams.get('hash')).toBe(hash);
    expect(arrivals.at(-1)?.get('hash')).toBe(hash);
    const granted = await client.grant.continue(
      { url: pending.continue.uri, accessToken: pending.continue.access_token.value },
      { interact_ref: ref },
    );
    expect('access_token' in granted && granted.access_token?.access[0]?.type).toBe('outgoing-payment');
    await page.close();
  });

  it('Reject brings the browser back with result=grant_rejected', async () => {
    const pending = await pendingGrant(randomUUID());
    const page = await browser.newPage();
    await page.goto(pending.interact.redirect);
    await Promise.all([page.waitForURL(/\/ilp\/finish\?/), page.getByRole('button', { name: 'Reject' }).click()]);
    const landed = new URL(page.url());
    expect(landed.searchParams.get('result')).toBe('grant_rejected');
    expect(landed.searchParams.has('interact_ref')).toBe(false);
    await page.close();
  });
});
