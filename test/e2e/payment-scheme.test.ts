/**
 * Paying the "Payment" HTTP authentication scheme (Lightning charge) in real Chromium with the
 * built extension: a shop on the merchant kit (`paymentScheme()`, `l402()`, invoices from the
 * stand-in LND) answers 402 with `WWW-Authenticate: Payment …`; the approval window shows it like
 * L402 (sats, the node that signed the invoice); the hub pays the invoice on its Lightning rail;
 * the reload carries `Authorization: Payment <credential>`, which the kit verifies before serving.
 * A page script's `window.tollway.fetch` pays a Payment and an L402 resource the same way.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLnd, type FakeLnd } from '../../devnet/lnd.js';
import { createLndNode } from '../../lightning/index.js';
import { l402 } from '../../merchant/l402.js';
import { paymentScheme } from '../../merchant/payment-scheme.js';
import {
  buildExtension,
  CHROMIUM,
  clickLast,
  hasChromium,
  launchWithExtension,
  type ExtensionBrowser,
} from '../helpers/extension-browser.js';
import { onboard } from '../helpers/extension-onboarding.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';

const title = hasChromium ? 'The Payment scheme in Chromium' : `The Payment scheme in Chromium — SKIPPED: ${CHROMIUM} is missing`;
const PRICE_MSAT = 2000n;

interface WithTollway {
  tollway?: { fetch(input: string, init?: RequestInit): Promise<Response> };
}

describe.skipIf(!hasChromium)(title, () => {
  let build: Awaited<ReturnType<typeof buildExtension>>;
  let lnd: FakeLnd;
  let hub: TestHub;
  let b: ExtensionBrowser;
  let server: Server;
  let shop: string;
  /** Paths whose paid route ran, with the scheme that paid. */
  const served: string[] = [];

  beforeAll(async () => {
    lnd = await startFakeLnd();
    [build, hub] = await Promise.all([
      buildExtension(),
      startTestHub('sqlite', { env: { TOLLWAY_LND_REST_URL: lnd.url, TOLLWAY_LND_MACAROON: lnd.macaroonHex } }),
    ]);
    const node = createLndNode({ url: lnd.url, macaroonHex: lnd.macaroonHex });
    const app = express();
    const paid =
      (scheme: string): express.RequestHandler =>
      (req, res) => {
        served.push(`${scheme} ${req.path}`);
        res
          .set('cache-control', 'no-store')
          .type('html')
          .send(`<!doctype html><title>paid</title><h1 id="paid">${scheme} article ${req.path}</h1>`);
      };
    app.get('/page', (_req, res) => void res.type('html').send('<!doctype html><title>shop</title><p>shop</p>'));
    app.get(
      '/mpp/:slug',
      paymentScheme({ node, price: PRICE_MSAT, secret: 'e2e-payment-scheme-secret-32-bytes!!', rateLimit: false }),
      paid('Payment'),
    );
    app.get(
      '/l402/:slug',
      l402({ node, price: PRICE_MSAT, service: 'e2e', validSeconds: 600, rootKeySecret: 'd4'.repeat(32), rateLimit: false }),
      paid('L402'),
    );
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    shop = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    b = await launchWithExtension(build.dir);
  }, 120_000);

  afterAll(async () => {
    await b?.close();
    await new Promise((r) => server?.close(r));
    await hub?.stop();
    await lnd?.close();
    await build?.cleanup();
  });

  async function approvalWindow(): Promise<Page> {
    await expect.poll(() => b.approvalPages().length, { timeout: 10_000 }).toBe(1);
    const win = b.approvalPages()[0]!;
    await expect
      .poll(
        () =>
          win
            .getByTestId('amount')
            .textContent()
            .catch(() => null),
        { timeout: 10_000 },
      )
      .toBe('2 sats (0.00000002 BTC)');
    return win;
  }

  it('approves a Payment 402 in sats from the signing node, the hub pays, and the reload carries Authorization: Payment', async () => {
    const { session } = await onboard(b, hub.url);
    const funded = await fetch(`${hub.url}/dev/faucet`, {
      method: 'POST',
      headers: { authorization: `Bearer ${session.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ asset: 'BTC', amount: '100000' }),
    });
    expect(funded.status).toBe(200);
    const tab = await b.context.newPage();
    await tab.goto(`${shop}/mpp/deep-dive`).catch(() => undefined);
    const win = await approvalWindow();
    expect(await win.getByTestId('rail').textContent()).toBe('Lightning');
    expect(await win.getByTestId('payee').textContent()).toBe(`Lightning node ${lnd.nodePubkey}`);
    expect(await win.getByText('Payment scheme (Lightning charge)').count()).toBe(1);
    await clickLast(win, 'Approve');

    await expect
      .poll(
        () =>
          tab
            .locator('#paid')
            .textContent()
            .catch(() => null),
        { timeout: 20_000 },
      )
      .toBe('Payment article /mpp/deep-dive');
    expect(served).toEqual(['Payment /mpp/deep-dive']);
    const payments = (
      (await (await fetch(`${hub.url}/payments`, { headers: { authorization: `Bearer ${session.accessToken}` } })).json()) as {
        data: { rail: string; status: string; amount: string }[];
      }
    ).data;
    expect(payments).toEqual([expect.objectContaining({ rail: 'lightning', status: 'completed', amount: String(PRICE_MSAT) })]);
    await tab.close();
  }, 90_000);

  it('window.tollway.fetch pays a Payment and an L402 resource and resolves with the paid content', async () => {
    const tab = await b.context.newPage();
    await tab.goto(`${shop}/page`);
    await tab.waitForFunction(() => typeof (window as unknown as WithTollway).tollway?.fetch === 'function', undefined, {
      timeout: 10_000,
    });
    for (const [path, scheme] of [
      ['/mpp/api', 'Payment'],
      ['/l402/api', 'L402'],
    ] as const) {
      const result = tab.evaluate(async (p) => {
        const res = await (window as unknown as WithTollway).tollway!.fetch(p);
        return { status: res.status, text: await res.text() };
      }, path);
      const win = await approvalWindow();
      await clickLast(win, 'Approve');
      const { status, text } = await result;
      expect(status, text).toBe(200);
      expect(text).toContain(`${scheme} article ${path}`);
      await expect.poll(() => b.approvalPages().length, { timeout: 10_000 }).toBe(0);
    }
    expect(served.slice(-2)).toEqual(['Payment /mpp/api', 'L402 /l402/api']);
    expect(lnd.payments().map((p) => p.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
  }, 90_000);
});
