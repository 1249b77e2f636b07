/**
 * A 402 that offers the hub's `tollway` entry, L402 and the "Payment" scheme at once (`offer()` on
 * Express, `offerHono()` on Hono), opened in real Chromium with the built extension: the approval
 * window shows one payment, the extension pays the option it prefers (the tollway entry, from the
 * hub balance) and the reload carries its proof, which the right dialect's middleware accepts.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import express from 'express';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLnd, type FakeLnd } from '../../devnet/lnd.js';
import { createLndNode } from '../../lightning/index.js';
import { l402Hono, offerHono, paymentSchemeHono, paywallHono } from '../../merchant/hono.js';
import { l402, offer, paymentScheme, paywall } from '../../merchant/index.js';
import {
  buildExtension,
  CHROMIUM,
  clickLast,
  hasChromium,
  launchWithExtension,
  type ExtensionBrowser,
} from '../helpers/extension-browser.js';
import { onboard } from '../helpers/extension-onboarding.js';
import { createMerchant, startTestHub, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';

const title = hasChromium
  ? 'One 402 offering tollway, L402 and Payment, in Chromium'
  : `offer() in Chromium — SKIPPED: ${CHROMIUM} is missing`;
const PRICE_MSAT = 2000n;

interface WithTollway {
  tollway?: { fetch(input: string, init?: RequestInit): Promise<Response> };
}

describe.skipIf(!hasChromium)(title, () => {
  let build: Awaited<ReturnType<typeof buildExtension>>;
  let lnd: FakeLnd;
  let hub: TestHub;
  let b: ExtensionBrowser;
  let expressServer: Server;
  let honoServer: ServerType;
  const shops = { express: '', hono: '' };
  /** `<framework> <dialect that paid> <path>` for each paid route that ran. */
  const served: string[] = [];

  beforeAll(async () => {
    lnd = await startFakeLnd();
    [build, hub] = await Promise.all([
      buildExtension(),
      startTestHub('sqlite', { env: { TOLLWAY_LND_REST_URL: lnd.url, TOLLWAY_LND_MACAROON: lnd.macaroonHex } }),
    ]);
    const merchantId = (await createMerchant(hub.url, 'Offer shop')).merchant.id;
    const node = createLndNode({ url: lnd.url, macaroonHex: lnd.macaroonHex });
    const x402Opts = { hub: hub.url, merchantId, price: PRICE_MSAT, asset: 'BTC', description: 'An article' };
    const l402Opts = {
      node,
      price: PRICE_MSAT,
      service: 'e2e',
      validSeconds: 600,
      rootKeySecret: 'a7'.repeat(32),
      rateLimit: false as const,
    };
    const schemeOpts = { node, price: PRICE_MSAT, secret: 'e2e-offer-payment-scheme-secret-32-bytes', rateLimit: false as const };
    const page = (framework: string, dialect: string, path: string) => {
      served.push(`${framework} ${dialect} ${path}`);
      return `<!doctype html><title>paid</title><h1 id="paid">${framework} ${dialect} ${path}</h1>`;
    };

    const shopPage = '<!doctype html><title>shop</title><p>shop</p>';
    const app = express();
    app.get('/page', (_req, res) => void res.type('html').send(shopPage));
    app.get('/all/:slug', offer({ x402: paywall(x402Opts), l402: l402(l402Opts), payment: paymentScheme(schemeOpts) }), (req, res) => {
      const dialect = res.locals.payment ? 'payment' : res.locals.l402 ? 'l402' : res.locals.tollway ? 'x402' : 'none';
      res
        .set('cache-control', 'no-store')
        .type('html')
        .send(page('express', dialect, req.path));
    });
    // The same offer with a tollway entry of a hub the extension does not use: it falls back to a Lightning dialect.
    app.get(
      '/elsewhere/:slug',
      offer({
        x402: paywall({ ...x402Opts, hub: 'https://other-hub.example' }),
        l402: l402(l402Opts),
        payment: paymentScheme(schemeOpts),
      }),
      (req, res) => {
        const dialect = res.locals.payment ? 'payment' : res.locals.l402 ? 'l402' : res.locals.tollway ? 'x402' : 'none';
        res
          .set('cache-control', 'no-store')
          .type('html')
          .send(page('express', dialect, req.path));
      },
    );
    expressServer = app.listen(0, '127.0.0.1');
    await new Promise((r) => expressServer.once('listening', r));
    shops.express = `http://127.0.0.1:${(expressServer.address() as AddressInfo).port}`;

    const h = new Hono();
    h.get('/page', (c) => c.html(shopPage));
    h.get(
      '/all/:slug',
      offerHono({ x402: paywallHono(x402Opts), l402: l402Hono(l402Opts), payment: paymentSchemeHono(schemeOpts) }),
      (c) => {
        const dialect = c.get('payment') ? 'payment' : c.get('l402') ? 'l402' : c.get('tollway') ? 'x402' : 'none';
        c.header('cache-control', 'no-store');
        return c.html(page('hono', dialect, c.req.path));
      },
    );
    await new Promise<void>((resolve) => {
      honoServer = serve({ fetch: h.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
        shops.hono = `http://127.0.0.1:${info.port}`;
        resolve();
      });
    });
    b = await launchWithExtension(build.dir);
  }, 120_000);

  afterAll(async () => {
    await b?.close();
    await new Promise((r) => expressServer?.close(r));
    await new Promise((r) => honoServer?.close(r));
    await hub?.stop();
    await lnd?.close();
    await build?.cleanup();
  });

  it('pays the tollway entry from the hub balance on Express and on Hono, and each reload opens the page', async () => {
    const { session } = await onboard(b, hub.url);
    const funded = await fetch(`${hub.url}/dev/faucet`, {
      method: 'POST',
      headers: { authorization: `Bearer ${session.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ asset: 'BTC', amount: '100000' }),
    });
    expect(funded.status).toBe(200);

    for (const framework of ['express', 'hono'] as const) {
      const tab = await b.context.newPage();
      await tab.goto(`${shops[framework]}/all/deep-dive`).catch(() => undefined);
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
        // The tollway entry's display (in BTC); a Lightning dialect would read "2 sats (…)".
        .toBe('0.00000002 BTC');
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
        .toBe(`${framework} x402 /all/deep-dive`);
      await expect.poll(() => b.approvalPages().length, { timeout: 10_000 }).toBe(0);
      await tab.close();
    }
    expect(served).toEqual(['express x402 /all/deep-dive', 'hono x402 /all/deep-dive']);
    const payments = (
      (await (await fetch(`${hub.url}/payments`, { headers: { authorization: `Bearer ${session.accessToken}` } })).json()) as {
        data: { rail: string; status: string; amount: string }[];
      }
    ).data;
    // Two payments, one per shop, both completed for the price; no Lightning invoice was paid.
    expect(payments.map((p) => [p.status, p.amount])).toEqual([
      ['completed', String(PRICE_MSAT)],
      ['completed', String(PRICE_MSAT)],
    ]);
    expect(lnd.payments()).toEqual([]);
    expectLedgerBalanced(hub.store.db);
  }, 120_000);

  it('window.tollway.fetch pays the same 402 from a page script on each framework', async () => {
    for (const framework of ['express', 'hono'] as const) {
      const tab = await b.context.newPage();
      await tab.goto(`${shops[framework]}/page`);
      await tab.waitForFunction(() => typeof (window as unknown as WithTollway).tollway?.fetch === 'function', undefined, {
        timeout: 10_000,
      });
      const result = tab.evaluate(async () => {
        const res = await (window as unknown as WithTollway).tollway!.fetch('/all/api');
        return { status: res.status, text: await res.text() };
      });
      await expect.poll(() => b.approvalPages().length, { timeout: 10_000 }).toBe(1);
      await clickLast(b.approvalPages()[0]!, 'Approve');
      const { status, text } = await result;
      expect(status, text).toBe(200);
      expect(text).toContain(`${framework} x402 /all/api`);
      await tab.close();
    }
    expectLedgerBalanced(hub.store.db);
  }, 120_000);

  it('with a tollway entry for another hub, pays the L402 challenge of the same 402 and the reload carries its credential', async () => {
    const tab = await b.context.newPage();
    await tab.goto(`${shops.express}/elsewhere/deep-dive`).catch(() => undefined);
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
    expect(await win.getByTestId('rail').textContent()).toBe('Lightning');
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
      .toBe('express l402 /elsewhere/deep-dive');
    expect(lnd.payments().map((p) => p.status)).toEqual(['SUCCEEDED']);
    await tab.close();
    expectLedgerBalanced(hub.store.db);
  }, 120_000);
});
