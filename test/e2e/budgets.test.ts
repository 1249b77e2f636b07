/**
 * Budgets in real Chromium against a real hub. The person sets a budget in the approval window
 * ("Pay automatically on this site up to … per …"), bound to the site and the payee; a 402 the
 * budget covers is paid with no window, charged to the site's allowance at the hub, and announced
 * by a notification; a 402 beyond it opens the window, and so does a script on the same site asking
 * to pay another merchant, however much budget is left. When the extension's picture of the budget is stale (changed at the
 * hub behind its back), the hub refuses the auto-payment as over budget and the window opens
 * instead, with nothing paid. The popup lists, edits and deletes budgets.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  available,
  buildExtension,
  CHROMIUM,
  clickLast,
  faucet,
  hasChromium,
  hubPayments,
  launchWithExtension,
  type ExtensionBrowser,
  type WorkerChrome,
} from '../helpers/extension-browser.js';
import { onboard, type StoredHubSession } from '../helpers/extension-onboarding.js';
import { PRICE, startShop, type Shop } from '../helpers/extension-shop.js';
import { createMerchant, startTestHub, type TestHub } from '../helpers/hub.js';

declare const chrome: WorkerChrome;

const title = hasChromium ? 'budgets in Chromium' : `budgets in Chromium — SKIPPED: ${CHROMIUM} is missing`;

interface AllowanceJson {
  site: string;
  payee: string | null;
  asset: string;
  amount: string;
  period: string;
  spent: string;
  remaining: string;
}

describe.skipIf(!hasChromium)(title, () => {
  let build: Awaited<ReturnType<typeof buildExtension>>;
  let hub: TestHub;
  let shop: Shop;
  let b: ExtensionBrowser;
  let session: StoredHubSession;
  let merchantId: string;
  let otherMerchantId: string;

  beforeAll(async () => {
    [build, hub] = await Promise.all([buildExtension(), startTestHub('sqlite')]);
    const { merchant } = await createMerchant(hub.url);
    merchantId = merchant.id;
    otherMerchantId = (await createMerchant(hub.url, 'Someone else')).merchant.id;
    shop = await startShop(hub.url, merchant.id);
    b = await launchWithExtension(build.dir);
    ({ session } = await onboard(b, hub.url));
    await faucet(hub.url, session, '1000000');
  }, 120_000);

  afterAll(async () => {
    await b?.close();
    await shop?.close();
    await hub?.stop();
    await build?.cleanup();
  });

  const auth = () => ({ authorization: `Bearer ${session.accessToken}` });
  const allowances = async () =>
    ((await (await fetch(`${hub.url}/allowances`, { headers: auth() })).json()) as { data: AllowanceJson[] }).data;
  const history = () =>
    b.worker.evaluate(() => chrome.storage.local.get('tollway.history').then((v) => v['tollway.history'])) as Promise<
      { requests: { url: string; status: string; auto?: boolean }[] } | undefined
    >;

  async function oneWindow(): Promise<Page> {
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
  }

  /** Opens a paid page and waits until it shows the article (the worker paid and retried). */
  async function paidWithoutWindow(path: string): Promise<Page> {
    const tab = await b.context.newPage();
    // Not awaited: the worker may reload the tab with the proof before this navigation has loaded.
    void tab.goto(`${shop.url}${path}`).catch(() => undefined);
    await expect
      .poll(
        () =>
          tab
            .locator('#paid')
            .textContent()
            .catch(() => null),
        { timeout: 15_000 },
      )
      .toBe(`Paid article ${path}`);
    // Paid and shown, and no window was ever needed for it.
    expect(b.approvalPages()).toHaveLength(0);
    return tab;
  }

  it('sets a budget while approving; inside it pays with no window and a notification; beyond it asks', async () => {
    // 1. The first 402 asks; the person approves and sets a budget of two payments a day.
    const first = await b.context.newPage();
    await first.goto(`${shop.url}/paid/b-1`).catch(() => undefined);
    let win = await oneWindow();
    // The budget offered is for this payee only, and says so.
    expect(await win.getByTestId('payee').textContent()).toBe(`Hub merchant ${merchantId}`);
    expect(await win.getByTestId('budget-payee').textContent()).toContain(merchantId);
    await win.getByLabel('Pay automatically on this site up to').check();
    await win.getByLabel('Budget amount in SOVR').fill('0.000000000000003');
    await win.getByLabel('Budget period').selectOption('day');
    await clickLast(win, 'Approve');
    await expect
      .poll(
        () =>
          first
            .locator('#paid')
            .textContent()
            .catch(() => null),
        { timeout: 15_000 },
      )
      .toBe('Paid article /paid/b-1');
    // The budget is at the hub; the approved payment itself is not charged to it.
    expect(await allowances()).toEqual([
      expect.objectContaining({
        site: shop.url,
        payee: merchantId,
        asset: 'SOVR',
        amount: '3000',
        period: 'day',
        spent: '0',
        remaining: '3000',
      }),
    ]);

    // 2. Inside the budget: paid at once, charged to the allowance, and a notification says so.
    const before = await b.worker.evaluate(() => chrome.notifications.getAll());
    expect(Object.keys(before)).toHaveLength(0);
    await paidWithoutWindow('/paid/b-2');
    expect(await allowances()).toEqual([expect.objectContaining({ spent: PRICE, remaining: '1500' })]);
    await expect
      .poll(async () => Object.keys(await b.worker.evaluate(() => chrome.notifications.getAll())).length, { timeout: 5000 })
      .toBe(1);
    const auto = (await history())!.requests.find((r) => r.url.endsWith('/paid/b-2'))!;
    expect(auto).toMatchObject({ status: 'completed', auto: true });
    const payments = await hubPayments(hub.url, session);
    expect(payments).toHaveLength(2);
    expect(shop.proofs.filter((p) => p.path === '/paid/b-2')).toEqual([{ path: '/paid/b-2', ok: true, sub: payments[0]!.transactionId }]);

    // 2b. A script on the same site asks to pay another merchant, inside what is left: the window
    // opens (the budget is not for that payee); rejected, nothing is paid or charged.
    const page = await b.context.newPage();
    await page.goto(`${shop.url}/page`);
    await page.waitForFunction(() => typeof (window as unknown as { tollway?: { pay?: unknown } }).tollway?.pay === 'function', undefined, {
      timeout: 10_000,
    });
    const elsewhere = {
      x402Version: 2,
      resource: { url: `${shop.url}/paid/other`, description: 'Something else' },
      accepts: [
        {
          scheme: 'tollway',
          network: `tollway:${hub.url}`,
          amount: PRICE,
          asset: 'SOVR',
          payTo: otherMerchantId,
          maxTimeoutSeconds: 300,
          extra: { hub: hub.url, challengeId: 'ch_other' },
        },
      ],
    };
    const outcome = page.evaluate(
      (c) =>
        (window as unknown as { tollway: { pay(c: unknown): Promise<unknown> } }).tollway.pay(c).then(
          () => 'paid',
          (e: Error) => `rejected: ${e.message}`,
        ),
      elsewhere,
    );
    win = await oneWindow();
    expect(await win.getByTestId('payee').textContent()).toBe(`Hub merchant ${otherMerchantId}`);
    expect(await win.getByTestId('site').textContent()).toBe(shop.url);
    await clickLast(win, 'Reject');
    expect(await outcome).toMatch(/^rejected/);
    expect(await hubPayments(hub.url, session)).toHaveLength(2);
    expect(await allowances()).toEqual([expect.objectContaining({ payee: merchantId, spent: PRICE, remaining: '1500' })]);
    await page.close();

    // 3. The last of the budget, then beyond it: the window opens, showing what is left.
    await paidWithoutWindow('/paid/b-3');
    expect(await allowances()).toEqual([expect.objectContaining({ spent: '3000', remaining: '0' })]);
    const beyond = await b.context.newPage();
    await beyond.goto(`${shop.url}/paid/b-4`).catch(() => undefined);
    win = await oneWindow();
    await expect
      .poll(
        () =>
          win
            .getByTestId('budget-remaining')
            .textContent()
            .catch(() => null),
        { timeout: 10_000 },
      )
      .toMatch(/^0 of 0\.000000000000003 SOVR left this day/);
    await clickLast(win, 'Reject');
    expect(await hubPayments(hub.url, session)).toHaveLength(3);
    expect(await available(hub.url, session)).toBe(String(1_000_000n - 3n * BigInt(PRICE)));
  });

  it('falls back to the window when the hub refuses the auto-payment as over budget', async () => {
    // The budget raised in the extension's picture, lowered at the hub behind its back.
    const raise = await b.context.newPage();
    await raise.goto(`chrome-extension://${b.extensionId}/extension/popup/index.html`);
    await raise.getByRole('button', { name: 'Budgets' }).click();
    const row = raise.locator(`[data-testid=budget][data-site="${shop.url}"]`);
    // The popup names the payee the budget is for.
    expect(await row.getByTestId('budget-payee').getAttribute('title')).toBe(merchantId);
    await row.getByRole('button', { name: `Edit the budget for ${shop.url}` }).click();
    await raise.getByLabel('Limit (SOVR)').fill('0.000000000000006');
    await raise.getByLabel('Per').selectOption('week');
    await raise.getByRole('button', { name: 'Save budget' }).click();
    await expect
      .poll(() => row.getByTestId('budget-left').textContent(), { timeout: 10_000 })
      .toBe('0.000000000000006 of 0.000000000000006 SOVR left this week');
    expect(await allowances()).toEqual([expect.objectContaining({ amount: '6000', period: 'week', spent: '0' })]);
    await raise.close();
    const lowered = await fetch(`${hub.url}/allowances`, {
      method: 'PUT',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ site: shop.url, payee: merchantId, asset: 'SOVR', amount: '1000', period: 'week' }),
    });
    expect(lowered.status).toBe(200);

    const paidBefore = (await hubPayments(hub.url, session)).length;
    const tab = await b.context.newPage();
    await tab.goto(`${shop.url}/paid/b-5`).catch(() => undefined);
    const win = await oneWindow();
    await expect
      .poll(
        () =>
          win
            .getByTestId('note')
            .textContent()
            .catch(() => null),
        { timeout: 10_000 },
      )
      .toMatch(/^Over this site's budget/);
    // Refused by the hub: nothing paid, nothing charged.
    expect(await hubPayments(hub.url, session)).toHaveLength(paidBefore);
    expect(await allowances()).toEqual([expect.objectContaining({ amount: '1000', spent: '0' })]);
    // Approved by hand, it is paid normally (not charged to the budget).
    await clickLast(win, 'Approve');
    await expect
      .poll(
        () =>
          tab
            .locator('#paid')
            .textContent()
            .catch(() => null),
        { timeout: 15_000 },
      )
      .toBe('Paid article /paid/b-5');
    expect(await hubPayments(hub.url, session)).toHaveLength(paidBefore + 1);
    expect(await allowances()).toEqual([expect.objectContaining({ spent: '0' })]);
  });

  it('lists the budget in the popup and deletes it there', async () => {
    const popup = await b.context.newPage();
    await popup.goto(`chrome-extension://${b.extensionId}/extension/popup/index.html`);
    await popup.getByRole('button', { name: 'Budgets' }).click();
    const row = popup.locator(`[data-testid=budget][data-site="${shop.url}"]`);
    await expect
      .poll(
        () =>
          row
            .getByTestId('budget-left')
            .textContent()
            .catch(() => null),
        { timeout: 10_000 },
      )
      .toBe('0.000000000000001 of 0.000000000000001 SOVR left this week');
    await row.getByRole('button', { name: `Delete the budget for ${shop.url}` }).click();
    await expect.poll(() => popup.getByTestId('budgets-none').count(), { timeout: 10_000 }).toBe(1);
    expect(await allowances()).toEqual([]);
    // Without a budget, the next 402 asks again.
    const tab = await b.context.newPage();
    await tab.goto(`${shop.url}/paid/b-6`).catch(() => undefined);
    const win = await oneWindow();
    await clickLast(win, 'Reject');
  });
});
