/**
 * The approval window and the popup with the keyboard alone, in real Chromium with the built
 * extension, a real hub and shop: move through a queue of three with Tab and Enter, approve one,
 * reject one with Escape, reject the rest with "Reject all", then open the receipt in the popup and
 * come back. Every outcome is checked at the hub, not only on screen.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildExtension,
  CHROMIUM,
  grantHostAccess,
  hasChromium,
  hubPayments,
  launchWithExtension,
  type ExtensionBrowser,
  type WorkerChrome,
} from '../helpers/extension-browser.js';
import { startShop, type Shop } from '../helpers/extension-shop.js';
import { createMerchant, fund, type Session, signIn, startTestHub, type TestHub } from '../helpers/hub.js';

declare const chrome: WorkerChrome;

const title = hasChromium ? 'the extension with the keyboard alone, in Chromium' : `keyboard — SKIPPED: ${CHROMIUM} is missing`;

/** What has focus, as a person would hear it: its accessible label, else its text. */
const focusedName = (page: Page) =>
  page.evaluate(() => {
    const el = document.activeElement;
    return (el?.getAttribute('aria-label') ?? el?.textContent ?? '').trim();
  });

/** Presses Tab until `name` has focus (at most 40 times): the way a keyboard user gets there. */
async function tabTo(page: Page, name: string | RegExp): Promise<void> {
  for (let i = 0; i < 40; i++) {
    const now = await focusedName(page);
    if (typeof name === 'string' ? now === name : name.test(now)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${String(name)}`);
}

/** A key that may end the queue: the worker closes the window, maybe before the press returns. */
async function pressLast(win: Page, key: string): Promise<void> {
  const closed = win.waitForEvent('close');
  await win.keyboard.press(key).catch((e: Error) => {
    if (!win.isClosed() && !/closed/.test(e.message)) throw e;
  });
  await closed;
}

describe.skipIf(!hasChromium)(title, () => {
  let build: Awaited<ReturnType<typeof buildExtension>>;
  let hub: TestHub;
  let shop: Shop;
  let b: ExtensionBrowser;
  let session: Session;

  beforeAll(async () => {
    [build, hub] = await Promise.all([buildExtension(), startTestHub('sqlite')]);
    session = await signIn(hub.url);
    await fund(hub.url, session, '1000000');
    const { merchant } = await createMerchant(hub.url);
    shop = await startShop(hub.url, merchant.id);
    b = await launchWithExtension(build.dir);
    await grantHostAccess(b, ['<all_urls>']);
    await b.worker.evaluate(({ url, token, user }) => chrome.storage.session.set({ 'tollway.hub': { url, accessToken: token, user } }), {
      url: hub.url,
      token: session.accessToken,
      user: session.user,
    });
  }, 120_000);

  afterAll(async () => {
    await b?.close();
    await shop?.close();
    await hub?.stop();
    await build?.cleanup();
  });

  const badge = () =>
    b.worker.evaluate(() =>
      (chrome as unknown as { action: { getBadgeText(d: object): Promise<string> } }).action.getBadgeText({}),
    ) as Promise<string>;

  async function position(win: Page, expected: string): Promise<void> {
    await expect
      .poll(
        () =>
          win
            .getByTestId('position')
            .textContent()
            .catch(() => null),
        { timeout: 10_000 },
      )
      .toBe(expected);
  }

  it('moves through the queue, approves, rejects and rejects all, keys only', async () => {
    const tabs: Page[] = [];
    for (const n of [1, 2, 3]) {
      const tab = await b.context.newPage();
      tabs.push(tab);
      await tab.goto(`${shop.url}/paid/key-${n}`).catch(() => undefined);
      await expect.poll(() => b.approvalPages().length, { timeout: 10_000 }).toBe(1);
      await position(b.approvalPages()[0]!, `1 of ${n}`);
    }
    const win = b.approvalPages()[0]!;
    await win.bringToFront();
    // The toolbar badge counts what waits.
    expect(await badge()).toBe('3');

    // Next and previous, by Tab and Enter.
    await tabTo(win, 'Next request');
    await win.keyboard.press('Enter');
    await position(win, '2 of 3');
    expect(await win.getByTestId('resource').textContent()).toBe(`GET ${shop.url}/paid/key-2`);
    await tabTo(win, 'Previous request');
    await win.keyboard.press('Enter');
    await position(win, '1 of 3');

    // Approve the first from its button.
    await tabTo(win, 'Approve');
    await win.keyboard.press('Enter');
    await position(win, '1 of 2');
    await expect.poll(() => hubPayments(hub.url, session), { timeout: 15_000 }).toEqual([expect.objectContaining({ status: 'completed' })]);
    await tabs[0]!.locator('#paid').waitFor({ timeout: 15_000 });

    // Escape rejects the one shown, wherever focus is.
    expect(await win.getByTestId('resource').textContent()).toBe(`GET ${shop.url}/paid/key-2`);
    await win.keyboard.press('Escape');
    await position(win, '1 of 1');
    expect(await win.getByTestId('resource').textContent()).toBe(`GET ${shop.url}/paid/key-3`);

    // One more, then "Reject all" from the keyboard: the window closes, nothing else is paid.
    await tabs[0]!.goto(`${shop.url}/paid/key-4`).catch(() => undefined);
    await position(win, '1 of 2');
    expect(await badge()).toBe('2');
    await tabTo(win, 'Reject all (2)');
    await pressLast(win, 'Enter');
    await expect.poll(badge).toBe('');
    expect(await hubPayments(hub.url, session)).toHaveLength(1);
    const history = (await b.worker.evaluate(() => chrome.storage.local.get('tollway.history').then((v) => v['tollway.history']))) as {
      requests: { status: string; url: string }[];
    };
    expect(history.requests.map((r) => [new URL(r.url).pathname, r.status]).sort()).toEqual([
      ['/paid/key-1', 'completed'],
      ['/paid/key-2', 'rejected'],
      ['/paid/key-3', 'rejected'],
      ['/paid/key-4', 'rejected'],
    ]);
    for (const tab of tabs) await tab.close();
  });

  it('opens a receipt in the popup and comes back, keys only', async () => {
    const [paid] = await hubPayments(hub.url, session);
    const popup = await b.context.newPage();
    await popup.goto(`chrome-extension://${b.extensionId}/extension/popup/index.html`);
    await popup.locator(`[data-testid=payment][data-id="${paid!.transactionId}"]`).waitFor({ timeout: 10_000 });
    await tabTo(popup, /^127\.0\.0\.1:\d+/);
    await popup.keyboard.press('Enter');
    expect(await popup.getByTestId('detail-id').textContent()).toBe(paid!.transactionId);
    await tabTo(popup, 'Back');
    await popup.keyboard.press('Enter');
    await popup.locator(`[data-testid=payment][data-id="${paid!.transactionId}"]`).waitFor();
    await popup.close();
  });
});
