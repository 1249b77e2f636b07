import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  buildExtension,
  CHROMIUM,
  grantHostAccess,
  hasChromium,
  launchWithExtension,
  type ExtensionBrowser,
  type WorkerChrome,
  clickLast,
} from '../helpers/extension-browser.js';
import { PASS_SECONDS, PRICE, startShop, type Shop } from '../helpers/extension-shop.js';
import { balances, createMerchant, fund, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';

declare const chrome: WorkerChrome;

const title = hasChromium
  ? 'extension in Chromium'
  : `extension in Chromium — SKIPPED: ${CHROMIUM} is missing (apt-get install -y chromium)`;
if (!hasChromium) console.warn(`e2e: ${CHROMIUM} is missing; the real-browser tests are skipped.`);

async function hubPayments(hubUrl: string, s: Session): Promise<{ transactionId: string; status: string; amount: string }[]> {
  const res = await fetch(`${hubUrl}/payments`, { headers: { authorization: `Bearer ${s.accessToken}` } });
  return ((await res.json()) as { data: { transactionId: string; status: string; amount: string }[] }).data;
}

describe.skipIf(!hasChromium)(title, () => {
  let build: Awaited<ReturnType<typeof buildExtension>>;
  let browser: ExtensionBrowser;
  let hub: TestHub;
  let shop: Shop;
  let session: Session;

  beforeAll(async () => {
    [build, hub] = await Promise.all([buildExtension(), startTestHub('sqlite')]);
    session = await signIn(hub.url);
    await fund(hub.url, session, '1000000');
    const { merchant } = await createMerchant(hub.url);
    shop = await startShop(hub.url, merchant.id);
    browser = await launchWithExtension(build.dir);
    await grantHostAccess(browser, ['<all_urls>']);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await shop?.close();
    await hub?.stop();
    await build?.cleanup();
  });

  // Signed in without onboarding (onboarding.test.ts drives that): the hub session the worker keeps in session storage.
  const connect = () =>
    browser.worker.evaluate(({ url, token }) => chrome.storage.session.set({ 'tollway.hub': { url, accessToken: token } }), {
      url: hub.url,
      token: session.accessToken,
    });
  const stored = (key: string) =>
    browser.worker.evaluate((k) => chrome.storage.local.get(k).then((v) => v[k]), key) as Promise<
      { requests: { status: string; error: string | null }[] } | undefined
    >;

  async function oneApprovalWindow(position: string) {
    await expect.poll(() => browser.approvalPages().length, { timeout: 10_000 }).toBe(1);
    const page = browser.approvalPages()[0]!;
    await expect
      .poll(
        () =>
          page
            .getByTestId('position')
            .textContent()
            .catch(() => null),
        { timeout: 10_000 },
      )
      .toBe(position);
    return page;
  }

  afterEach(async () => {
    // Close every tab and window, then forget everything, so each test starts clean.
    for (const p of browser.context.pages()) await p.close().catch(() => undefined);
    await expect.poll(() => stored('tollway.approvals').then((v) => v?.requests.filter((r) => r.status === 'pending').length ?? 0)).toBe(0);
    await browser.worker.evaluate(() => Promise.all([chrome.storage.local.clear(), chrome.storage.session.clear()]));
  });

  it('loads: the service worker runs the built manifest', async () => {
    expect(browser.worker.url()).toMatch(/^chrome-extension:\/\/[a-p]{32}\//);
    const manifest = await browser.worker.evaluate(() => chrome.runtime.getManifest());
    // The manifest names `__MSG_app_name__`; Chrome hands back the English message in its place.
    expect(manifest).toMatchObject({ name: 'Tollway', default_locale: 'en', manifest_version: 3 });
    expect(await browser.worker.evaluate(() => chrome.i18n.getMessage('app_name'))).toBe('Tollway');
  });

  it('a 402 page load opens exactly one approval window showing 1 of 1', async () => {
    await connect();
    const tab = await browser.context.newPage();
    await tab.goto(`${shop.url}/paid/one`).catch(() => undefined);
    const win = await oneApprovalWindow('1 of 1');
    await expect.poll(() => win.getByTestId('amount').textContent()).toBe('0.0000000000000015 SOVR');
    expect(await win.getByTestId('site').textContent()).toBe(shop.url);
    // The same page reloaded is the same request: no second entry, no second window.
    await tab.reload().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    expect(browser.approvalPages()).toHaveLength(1);
    expect(await win.getByTestId('position').textContent()).toBe('1 of 1');
  });

  it('two 402s from page fetches make one window with 1 of 2; closing it rejects both', async () => {
    await connect();
    const before = await balances(hub.url, session);
    const tab = await browser.context.newPage();
    await tab.goto(`${shop.url}/page?fetch=/paid/x&fetch=/paid/y`);
    const win = await oneApprovalWindow('1 of 2');
    await win.close();
    await expect
      .poll(() => stored('tollway.history').then((h) => h?.requests.map((r) => `${r.status}:${r.error}`)))
      .toEqual(['rejected:approval window closed', 'rejected:approval window closed']);
    expect(await hubPayments(hub.url, session)).toEqual([]);
    expect(await balances(hub.url, session)).toEqual(before);
  });

  it('reject leaves nothing paid and closes the window', async () => {
    await connect();
    const before = await balances(hub.url, session);
    const tab = await browser.context.newPage();
    await tab.goto(`${shop.url}/paid/reject-me`).catch(() => undefined);
    const win = await oneApprovalWindow('1 of 1');
    await clickLast(win, 'Reject');
    expect(browser.approvalPages()).toHaveLength(0);
    expect((await stored('tollway.history'))?.requests.map((r) => r.status)).toEqual(['rejected']);
    expect(await hubPayments(hub.url, session)).toEqual([]);
    expect(await balances(hub.url, session)).toEqual(before);
  });

  it('approve pays at the hub exactly once', async () => {
    await connect();
    const before = BigInt((await balances(hub.url, session)).SOVR!.available);
    const tab = await browser.context.newPage();
    await tab.goto(`${shop.url}/paid/buy-me`).catch(() => undefined);
    const win = await oneApprovalWindow('1 of 1');
    await clickLast(win, 'Approve');
    await expect
      .poll(() => stored('tollway.history').then((h) => h?.requests.map((r) => r.status)), { timeout: 15_000 })
      .toEqual(['completed']);
    const payments = await hubPayments(hub.url, session);
    expect(payments).toHaveLength(1);
    expect(payments[0]).toMatchObject({ status: 'completed', amount: PRICE });
    expect(BigInt((await balances(hub.url, session)).SOVR!.available)).toBe(before - BigInt(PRICE));
    expect(browser.approvalPages()).toHaveLength(0);
    // The tab reloads with the proof (a session rule adds PAYMENT-SIGNATURE), and the rule is gone after.
    await expect
      .poll(
        () =>
          tab
            .locator('#paid')
            .textContent()
            .catch(() => null),
        { timeout: 10_000 },
      )
      .toBe('Paid article /paid/buy-me');
    expect(shop.proofs.filter((p) => p.path === '/paid/buy-me')).toEqual([
      { path: '/paid/buy-me', ok: true, sub: payments[0]!.transactionId },
    ]);
    await expect.poll(() => browser.worker.evaluate(() => chrome.declarativeNetRequest.getSessionRules())).toEqual([]);
  });

  it('an access pass: paid once, left and opened again, the content is shown with the same receipt and no second payment', async () => {
    await connect();
    const paidBefore = (await hubPayments(hub.url, session)).length;
    const tab = await browser.context.newPage();
    await tab.goto(`${shop.url}/pass/daily`).catch(() => undefined);
    const win = await oneApprovalWindow('1 of 1');
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
      .toBe('Paid article /pass/daily');
    const [payment] = await hubPayments(hub.url, session);
    const passes = () =>
      browser.worker.evaluate(() => chrome.storage.session.get('tollway.passes').then((v) => v['tollway.passes'])) as Promise<
        { transactionId: string; spent: boolean; createdAt: number }[]
      >;
    expect(await passes()).toEqual([expect.objectContaining({ transactionId: payment!.transactionId, spent: false })]);

    // Away and back: the pass (window 600 s, receipt exp an hour) is shown again, without asking.
    await tab.goto(`${shop.url}/page`);
    // Not awaited: the worker reloads the tab with the pass while this navigation may still be loading.
    void tab.goto(`${shop.url}/pass/daily`).catch(() => undefined);
    await expect
      .poll(
        () =>
          tab
            .locator('#paid')
            .textContent()
            .catch(() => null),
        { timeout: 15_000 },
      )
      .toBe('Paid article /pass/daily');
    expect(await tab.locator('#receipt').textContent()).toBe(payment!.transactionId);
    expect(browser.approvalPages()).toHaveLength(0);
    expect(await hubPayments(hub.url, session)).toHaveLength(paidBefore + 1);
    expect(shop.proofs.filter((p) => p.path === '/pass/daily').map((p) => [p.ok, p.sub])).toEqual([
      [true, payment!.transactionId],
      [true, payment!.transactionId],
    ]);
    // The same resource on another path is a different resource: it asks.
    await tab.goto(`${shop.url}/pass/other`).catch(() => undefined);
    await clickLast(await oneApprovalWindow('1 of 1'), 'Reject');
    expect(PASS_SECONDS).toBeGreaterThan(60);
  });

  it('a pass the merchant refuses on the retry is spent, and the person is asked (once, no loop)', async () => {
    await connect();
    const paidBefore = (await hubPayments(hub.url, session)).length;
    const tab = await browser.context.newPage();
    await tab.goto(`${shop.url}/pass-once/a`).catch(() => undefined);
    await clickLast(await oneApprovalWindow('1 of 1'), 'Approve');
    await expect
      .poll(
        () =>
          tab
            .locator('#paid')
            .textContent()
            .catch(() => null),
        { timeout: 15_000 },
      )
      .toBe('Paid article /pass-once/a');

    await tab.goto(`${shop.url}/page`);
    void tab.goto(`${shop.url}/pass-once/a`).catch(() => undefined);
    // Shown again, refused (the shop takes each receipt once), so asked: exactly one window, one request.
    const win = await oneApprovalWindow('1 of 1');
    const passes = (await browser.worker.evaluate(() => chrome.storage.session.get('tollway.passes').then((v) => v['tollway.passes']))) as {
      spent: boolean;
    }[];
    expect(passes.map((p) => p.spent)).toEqual([true]);
    expect(shop.proofs.filter((p) => p.path === '/pass-once/a').map((p) => p.ok)).toEqual([true, false]);
    await new Promise((r) => setTimeout(r, 300));
    expect(shop.proofs.filter((p) => p.path === '/pass-once/a')).toHaveLength(2);
    await clickLast(win, 'Reject');
    expect(await hubPayments(hub.url, session)).toHaveLength(paidBefore + 1);
  });
});
