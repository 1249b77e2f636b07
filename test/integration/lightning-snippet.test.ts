/**
 * The phone-wallet flow in a real Chromium without the extension: a page behind
 * paywall({lightning: true}) with the pay button shows the challenge's invoice as a QR code and an
 * "Open in wallet" link; the "outside wallet" (a stand-in node on the same simulated network as
 * the hub's) pays it; the page hears it on the hub's /challenges socket (or, with the socket
 * blocked, by polling the hub), fetches the receipt and retries the page with it.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeQr, qrPath } from '../../shared/qr.js';
import { walletUri } from '../../merchant/snippet/lightning.js';
import { createMerchant, startTestHub, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { LIGHTNING_PRICE, lightningWorld, startLightningShop, type LightningWorld } from '../helpers/lightning-merchant.js';

const CHROMIUM = '/usr/bin/chromium';

describe.skipIf(!existsSync(CHROMIUM))('the pay button with a Lightning invoice, without the extension', () => {
  let w: LightningWorld;
  let t: TestHub;
  let shop: Awaited<ReturnType<typeof startLightningShop>>;
  let merchantId: string;
  let browser: Browser;

  beforeAll(async () => {
    w = await lightningWorld();
    t = await startTestHub('sqlite', { rails: w.rails });
    const m = await createMerchant(t.url, 'Phone shop');
    merchantId = m.merchant.id;
    const button = `<script src="${t.url}/tollway.js" data-merchant="${merchantId}" data-price="${LIGHTNING_PRICE}" data-asset="BTC"></script>`;
    shop = await startLightningShop(t.url, merchantId, m.apiKey, button);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  });
  afterAll(async () => {
    await browser?.close();
    await shop?.close();
    await t?.stop();
    await w?.close();
  });

  const merchantBtc = async () =>
    BigInt(
      (
        await t.store.db.get<{ c: string | number }>('SELECT credits_posted AS c FROM ledger_accounts WHERE id = ?', [
          `merchant:${merchantId}:BTC`,
        ])
      )?.c ?? 0,
    );

  for (const socket of [true, false]) {
    it(`shows the QR code, and once an outside wallet paid opens the page with the receipt (${socket ? 'socket' : 'polling'})`, async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      let socketRequests = 0;
      const websockets: string[] = [];
      page.on('websocket', (ws) => websockets.push(ws.url()));
      if (!socket) {
        await page.route('**/socket.io/**', (route) => {
          socketRequests++;
          return route.abort();
        });
      }
      const before = await merchantBtc();
      const nav = await page.goto(`${shop.url}/article`);
      expect(nav!.status()).toBe(402);

      const link = page.locator('.tollway-pay__wallet');
      await link.waitFor({ timeout: 10_000 });
      expect(await link.textContent()).toBe('Open in wallet');
      const href = (await link.getAttribute('href'))!;
      expect(href).toMatch(/^lightning:ln/);
      const invoice = href.slice('lightning:'.length);
      // The QR code is that invoice's lightning: URI.
      expect(await page.locator('.tollway-pay__qr path').getAttribute('d')).toBe(qrPath(encodeQr(walletUri(invoice))));

      const paid = await w.outside.pay({ bolt11: invoice, feeLimitMsat: 1000n, timeoutSeconds: 10 });
      expect(paid.state).toBe('succeeded');
      await page.locator('#paid-article').waitFor({ timeout: 20_000 });
      expect(await page.textContent('#paid-article')).toBe('The whole article');
      expect((await merchantBtc()) - before).toBe(BigInt(LIGHTNING_PRICE));
      if (socket) expect(websockets.some((u) => u.startsWith(`${t.url.replace(/^http/, 'ws')}/socket.io/`))).toBe(true);
      else expect(socketRequests).toBeGreaterThan(0);
      expect(errors).toEqual([]);
      await expectLedgerBalanced(t.store.db);
      await context.close();
    });
  }
});
