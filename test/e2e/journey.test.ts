/**
 * The whole journey a newcomer takes, in real Chromium with the built extension, against a real
 * hub and the real demo shop (the merchant kit's paywall, its snippet, its webhook receiver):
 * fresh profile → onboarding → test money from the popup → the demo article answers 402 → one
 * approval → the article → the receipt in the popup → the shop got one verified payment.completed
 * → a second visit inside the access pass pays nothing → a refused approval costs nothing.
 *
 * Screenshots of the approval window, the paid article and the popup are saved under
 * test-results/journey/ (CI keeps them as artifacts; the README shows copies from docs/).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTICLE_PRICE, startDemoShop, type RunningShop, type WebhookEvent } from '../../merchant/demo/shop.js';
import {
  available,
  buildExtension,
  CHROMIUM,
  clickLast,
  hasChromium,
  hubPayments,
  launchWithExtension,
  type ExtensionBrowser,
} from '../helpers/extension-browser.js';
import { onboard, type StoredHubSession } from '../helpers/extension-onboarding.js';
import { createMerchant, startTestHub, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';

const ARTIFACTS = join(process.cwd(), 'test-results', 'journey');
const title = hasChromium ? 'the whole journey in Chromium' : `the whole journey in Chromium — SKIPPED: ${CHROMIUM} is missing`;

describe.skipIf(!hasChromium)(title, () => {
  let build: Awaited<ReturnType<typeof buildExtension>>;
  let b: ExtensionBrowser;
  let hub: TestHub;
  let shop: RunningShop;
  let session: StoredHubSession;
  let popup: Page;
  const webhooks: WebhookEvent[] = [];

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    [build, hub] = await Promise.all([buildExtension(), startTestHub('sqlite')]);
    const m = await createMerchant(hub.url, 'Tollway demo shop');
    shop = await startDemoShop({
      hub: hub.url,
      merchantId: m.merchant.id,
      apiKey: m.apiKey,
      webhookSecret: m.webhookSecret,
      port: 0,
      onWebhook: (e) => webhooks.push(e),
    });
    const set = await fetch(`${hub.url}/merchants/${m.merchant.id}/webhook`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${m.apiKey}` },
      body: JSON.stringify({ url: `${shop.url}/webhooks/tollway` }),
    });
    expect(set.status).toBe(200);
    b = await launchWithExtension(build.dir);
  }, 120_000);

  afterAll(async () => {
    await b?.close();
    await shop?.close();
    await hub?.stop();
    await build?.cleanup();
  });

  const approvalWindow = async () => {
    await expect.poll(() => b.approvalPages().length, { timeout: 10_000 }).toBe(1);
    const win = b.approvalPages()[0]!;
    await expect
      .poll(
        () =>
          win
            .getByTestId('position')
            .textContent()
            .catch(() => null),
        { timeout: 10_000 },
      )
      .toBe('1 of 1');
    return win;
  };

  it('onboards a fresh profile and gets test money from the popup', async () => {
    ({ session } = await onboard(b, hub.url));
    popup = await b.context.newPage();
    await popup.setViewportSize({ width: 380, height: 600 });
    await popup.goto(`chrome-extension://${b.extensionId}/extension/popup/index.html`);
    await popup.getByRole('button', { name: 'Get test money' }).click();
    await expect
      .poll(
        () =>
          popup
            .getByTestId('balance-SOVR')
            .textContent()
            .catch(() => null),
        { timeout: 10_000 },
      )
      .toBe('10 SOVR');
  });

  it('opens the demo article: 402, one approval, then the article', async () => {
    const before = BigInt(await available(hub.url, session));
    const tab = await b.context.newPage();
    const first = await tab.goto(`${shop.url}/articles/toll-roads`).catch(() => null);
    expect(first?.status()).toBe(402);
    const win = await approvalWindow();
    await expect.poll(() => win.getByTestId('amount').textContent()).toBe('0.002 SOVR');
    expect(await win.getByTestId('site').textContent()).toBe(shop.url);
    await win.setViewportSize({ width: 440, height: 470 });
    await win.screenshot({ path: join(ARTIFACTS, 'approval.png') });
    await clickLast(win, 'Approve');

    await tab.locator('#tollway-paid').waitFor({ timeout: 20_000 });
    expect(await tab.textContent('article h1')).toBe('A short history of toll roads');
    await tab.setViewportSize({ width: 900, height: 700 });
    await tab.screenshot({ path: join(ARTIFACTS, 'article.png') });
    expect(b.approvalPages()).toHaveLength(0);

    const payments = await hubPayments(hub.url, session);
    expect(payments).toHaveLength(1);
    expect(payments[0]).toMatchObject({ status: 'completed', amount: ARTICLE_PRICE });
    expect(BigInt(await available(hub.url, session))).toBe(before - BigInt(ARTICLE_PRICE));
  });

  it('shows the receipt in the popup, live', async () => {
    const [payment] = await hubPayments(hub.url, session);
    const row = popup.locator(`[data-testid=payment][data-id="${payment!.transactionId}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.getByTestId('status').textContent()).toBe('completed');
    await expect.poll(() => popup.getByTestId('balance-SOVR').textContent()).toBe('9.998 SOVR');
    await popup.screenshot({ path: join(ARTIFACTS, 'popup.png') });
  });

  it("the shop's webhook receiver got exactly one verified payment.completed", async () => {
    const [payment] = await hubPayments(hub.url, session);
    await expect.poll(() => webhooks.filter((e) => e.type === 'payment.completed').length, { timeout: 15_000 }).toBe(1);
    const event = webhooks.find((e) => e.type === 'payment.completed')!;
    expect(event.data).toMatchObject({ transactionId: payment!.transactionId, status: 'completed', amount: ARTICLE_PRICE, asset: 'SOVR' });
  });

  it('a second visit inside the access pass opens the article and pays nothing', async () => {
    const before = await available(hub.url, session);
    const tab = await b.context.newPage();
    await tab.goto(`${shop.url}/`);
    await tab.goto(`${shop.url}/articles/toll-roads`).catch(() => null);
    await tab.locator('#tollway-paid').waitFor({ timeout: 20_000 });
    expect(b.approvalPages()).toHaveLength(0);
    expect(await hubPayments(hub.url, session)).toHaveLength(1);
    expect(await available(hub.url, session)).toBe(before);
  });

  it('a refused approval leaves the balance unchanged', async () => {
    const before = await available(hub.url, session);
    const tab = await b.context.newPage();
    await tab.goto(`${shop.url}/articles/http-402`).catch(() => null);
    const win = await approvalWindow();
    await clickLast(win, 'Reject');
    expect(await tab.locator('#tollway-paid').count()).toBe(0);
    expect(await available(hub.url, session)).toBe(before);
    expect(await hubPayments(hub.url, session)).toHaveLength(1);
    await expectLedgerBalanced(hub.store.db);
  });

  it("the page's own pay button joins the approval the 402 already opened: one window, one payment", async () => {
    const before = BigInt(await available(hub.url, session));
    const tab = await b.context.newPage();
    await tab.goto(`${shop.url}/articles/http-402`).catch(() => null);
    const win = await approvalWindow();
    // The snippet on the 402 page pays through window.tollway: the same site, resource and challenge.
    await tab.locator('.tollway-pay__button').click();
    await new Promise((r) => setTimeout(r, 500));
    expect(b.approvalPages()).toHaveLength(1);
    expect(await win.getByTestId('position').textContent()).toBe('1 of 1');
    await clickLast(win, 'Approve');
    await tab.locator('#tollway-paid').waitFor({ timeout: 20_000 });
    expect(await hubPayments(hub.url, session)).toHaveLength(2);
    expect(BigInt(await available(hub.url, session))).toBe(before - BigInt(ARTICLE_PRICE));
    await expectLedgerBalanced(hub.store.db);
  });
});
