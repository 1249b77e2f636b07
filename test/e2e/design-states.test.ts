/**
 * The popup and the approval window in every state a person meets, in real Chromium with the built
 * extension against a real hub and shop: each state is scanned with axe-core (no serious or
 * critical violation, light and dark theme) and saved as docs/screenshots/<page>-<state>-<theme>.png.
 *
 * Popup: nothing set up → locked (unlocked in place with the password) → signed in with nothing
 * paid → activity by day with every status chip → a receipt → the hub unreachable, with Retry.
 * Approval window: one request (details open), three in a queue, and a request that cannot be paid.
 */
import { resolve } from 'node:path';
import { encryptKeystoreJson, Wallet } from 'ethers';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Payment } from '../../shared/api.js';
import { scanAndShoot } from '../helpers/axe.js';
import {
  buildExtension,
  CHROMIUM,
  clickLast,
  grantHostAccess,
  hasChromium,
  hubPayments,
  launchWithExtension,
  type ExtensionBrowser,
  type WorkerChrome,
} from '../helpers/extension-browser.js';
import { PRICE, startShop, type Shop } from '../helpers/extension-shop.js';
import { createMerchant, fund, startTestHub, type TestHub } from '../helpers/hub.js';

declare const chrome: WorkerChrome;

const SHOTS = resolve(import.meta.dirname, '../../docs/screenshots');
const PASSWORD = 'correct horse battery staple';
/** Each step scans and shoots its states twice (light, dark); on a busy machine that takes a while. */
const STEP_MS = 120_000;
const title = hasChromium ? 'the design of the popup and approval window in Chromium' : `design states — SKIPPED: ${CHROMIUM} is missing`;

describe.skipIf(!hasChromium)(title, () => {
  let build: Awaited<ReturnType<typeof buildExtension>>;
  let hub: TestHub;
  let hubStopped = false;
  let shop: Shop;
  let b: ExtensionBrowser;
  let popup: Page;
  let session: { accessToken: string; user: { id: string; address: string } };

  beforeAll(async () => {
    [build, hub] = await Promise.all([buildExtension(), startTestHub('sqlite')]);
    const { merchant } = await createMerchant(hub.url, 'Toll Road Times');
    shop = await startShop(hub.url, merchant.id);
    b = await launchWithExtension(build.dir);
    // Installing opens onboarding in a tab; close it, so nothing navigates under the grant.
    // (As bench/extension.ts does: it opens within a moment of the worker starting.)
    await new Promise((r) => setTimeout(r, 1000));
    for (const p of b.context.pages()) await p.close();
    await grantHostAccess(b, ['<all_urls>']);
    popup = await b.context.newPage();
    await popup.setViewportSize({ width: 392, height: 600 });
  }, 120_000);

  afterAll(async () => {
    await b?.close();
    await shop?.close();
    if (!hubStopped) await hub?.stop();
    await build?.cleanup();
  });

  const openPopup = () => popup.goto(`chrome-extension://${b.extensionId}/extension/popup/index.html`);
  const shoot = async (page: Page, name: string) => expect(await scanAndShoot(page, SHOTS, name)).toEqual({ light: [], dark: [] });

  it(
    'popup: nothing set up says how to start',
    async () => {
      await openPopup();
      await popup.getByTestId('signed-out').waitFor();
      expect(await popup.getByRole('button', { name: 'Set up Tollway' }).isVisible()).toBe(true);
      await shoot(popup, 'popup-setup');
    },
    STEP_MS,
  );

  it(
    'popup: locked, it unlocks in place with the password and signs in',
    async () => {
      const wallet = Wallet.createRandom();
      // A light scrypt cost (the keystore names its own): the test is about the popup, not scrypt's speed.
      const json = await encryptKeystoreJson({ address: wallet.address, privateKey: wallet.privateKey }, PASSWORD, {
        scrypt: { N: 1 << 12 },
      });
      await b.worker.evaluate(
        ({ address, json, hubUrl }) => chrome.storage.local.set({ 'tollway.keystore': { address, json }, 'tollway.settings': { hubUrl } }),
        { address: wallet.address, json, hubUrl: hub.url },
      );
      await openPopup();
      await popup.getByTestId('locked').waitFor();
      const frame = popup.frameLocator('iframe.unlock-frame');
      await frame.getByLabel('Password').waitFor();
      await shoot(popup, 'popup-locked');

      // A wrong password is refused in place; nothing is unlocked.
      await frame.getByLabel('Password').fill('not the password');
      await frame.getByLabel('Password').press('Enter');
      expect(await frame.getByRole('alert').textContent()).toBe('Wrong password');
      expect(await popup.getByTestId('locked').count()).toBe(1);

      await frame.getByLabel('Password').fill(PASSWORD);
      await frame.getByLabel('Password').press('Enter');
      await popup.getByTestId('empty').waitFor({ timeout: 20_000 });
      session = (await b.worker.evaluate(() => chrome.storage.session.get('tollway.hub').then((v) => v['tollway.hub']))) as typeof session;
      expect(session.user.address).toBe(wallet.address);
      expect(await popup.getByTestId('account-address').getAttribute('title')).toBe(wallet.address);
    },
    STEP_MS,
  );

  it(
    'popup: signed in with nothing paid says what to do first',
    async () => {
      await expect.poll(() => popup.getByTestId('live').textContent(), { timeout: 10_000 }).toBe('live');
      await shoot(popup, 'popup-empty');
    },
    STEP_MS,
  );

  it(
    'approval window: one request, its details, and Enter approves it',
    async () => {
      await fund(hub.url, { accessToken: session.accessToken } as never, '10000000000000000000');
      // The popup, opening, has the worker read the new balance (the window shows what is left after).
      await openPopup();
      await expect.poll(() => popup.getByTestId('balance-SOVR').textContent(), { timeout: 10_000 }).toBe('10 SOVR');
      const tab = await b.context.newPage();
      await tab.goto(`${shop.url}/paid/toll-roads`).catch(() => undefined);
      const win = await approvalWindow('1 of 1');
      expect(await win.getByTestId('amount').textContent()).toBe('0.0000000000000015 SOVR');
      await expect
        .poll(() =>
          win
            .getByTestId('balance-after')
            .textContent()
            .catch(() => null),
        )
        .toBe('9.9999999999999985 SOVR');
      expect(await win.getByTestId('expires').textContent()).toMatch(/^Expires in [45]:\d\d$/);
      await shoot(win, 'approval-one');
      await win.getByText('Details').click();
      expect(await win.getByTestId('rail').textContent()).toBe('Tollway balance, inside the hub');
      await shoot(win, 'approval-details');

      // Enter, with no control focused (as when the window opens), approves.
      await win.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      const closed = win.waitForEvent('close');
      await win.keyboard.press('Enter').catch((e: Error) => {
        if (!win.isClosed() && !/closed/.test(e.message)) throw e;
      });
      await closed;
      await expect
        .poll(() => hubPayments(hub.url, session), { timeout: 15_000 })
        .toEqual([expect.objectContaining({ status: 'completed' })]);
      await tab.locator('#paid').waitFor({ timeout: 15_000 });
      await tab.close();
    },
    STEP_MS,
  );

  it(
    'approval window: three in a queue, one that cannot be paid; Reject all',
    async () => {
      const tabs = await Promise.all([1, 2, 3].map(() => b.context.newPage()));
      await tabs[0]!.goto(`${shop.url}/paid/queue-1`).catch(() => undefined);
      await approvalWindow('1 of 1');
      for (const [i, tab] of tabs.slice(1).entries()) {
        await tab.goto(`${shop.url}/paid/queue-${i + 2}`).catch(() => undefined);
        await approvalWindow(`1 of ${i + 2}`);
      }
      const win = b.approvalPages()[0]!;
      await shoot(win, 'approval-queue');
      await win.getByRole('button', { name: 'Next request' }).click();
      expect(await win.getByTestId('position').textContent()).toBe('2 of 3');
      expect(await win.getByTestId('resource').textContent()).toBe(`GET ${shop.url}/paid/queue-2`);
      await clickLast(win, 'Reject all (3)');
      expect(await hubPayments(hub.url, session)).toHaveLength(1);

      // Signed out, the request is shown but cannot be paid: only rejecting is offered.
      const hubSession = await b.worker.evaluate(() => chrome.storage.session.get('tollway.hub').then((v) => v['tollway.hub']));
      await b.worker.evaluate(() => (chrome.storage.session as unknown as { remove(k: string): Promise<void> }).remove('tollway.hub'));
      await tabs[0]!.goto(`${shop.url}/paid/signed-out`).catch(() => undefined);
      const out = await approvalWindow('1 of 1');
      await out.getByTestId('unpayable').waitFor();
      expect(await out.getByRole('button', { name: 'Approve', exact: true }).isDisabled()).toBe(true);
      await shoot(out, 'approval-cannot-pay');
      await clickLast(out, 'Reject');
      await b.worker.evaluate((s) => chrome.storage.session.set({ 'tollway.hub': s }), hubSession);
      for (const tab of tabs) await tab.close();
    },
    STEP_MS,
  );

  it(
    'popup: activity by day with every status, and a receipt',
    async () => {
      // The hub's real payment, plus one of each other status kept beside it in the popup's view.
      await openPopup();
      const [paid] = await hubPayments(hub.url, session);
      await popup.locator(`[data-testid=payment][data-id="${paid!.transactionId}"]`).waitFor({ timeout: 10_000 });
      // The worker may still be refreshing this view from the hub after the last payment, and a
      // refresh replaces the list: add them again until the popup shows them all.
      const shown = async () => {
        for (const status of ['pending', 'submitted', 'failed', 'refunded'])
          if (!(await popup.locator(`[data-testid=payment][data-id="tx_${status}"]`).isVisible())) return false;
        return true;
      };
      for (let attempt = 0; attempt < 10 && !(await shown()); attempt++) {
        await b.worker.evaluate(
          (extra) =>
            chrome.storage.session.get('tollway.account').then((v) => {
              const view = v['tollway.account'] as { payments: { transactionId: string }[] };
              const kept = view.payments.filter((p) => !extra.some((x) => x.transactionId === p.transactionId));
              return chrome.storage.session.set({ 'tollway.account': { ...view, payments: [...kept, ...extra] } });
            }),
          otherPayments(shop.url),
        );
        await popup
          .locator('[data-testid=payment][data-id="tx_refunded"]')
          .waitFor({ timeout: 3_000 })
          .catch(() => undefined);
      }
      for (const status of ['pending', 'submitted', 'failed', 'refunded'])
        await popup.locator(`[data-testid=payment][data-id="tx_${status}"]`).waitFor({ timeout: 1_000 });
      expect(await popup.getByTestId('failure').textContent()).toBe('insufficient-funds: the balance is short');
      expect(await popup.getByRole('heading', { name: 'Yesterday' }).count()).toBe(1);
      await shoot(popup, 'popup-activity');

      await popup.locator(`[data-testid=payment][data-id="${paid!.transactionId}"] button`).click();
      expect(await popup.getByTestId('detail-id').textContent()).toBe(paid!.transactionId);
      expect(await popup.getByTestId('detail-status').textContent()).toBe('completed');
      expect(await popup.getByTestId('refund').textContent()).toBe('Not refunded');
      expect(await popup.getByRole('button', { name: 'Copy Receipt token' }).count()).toBe(1);
      await shoot(popup, 'popup-receipt');
      await popup.getByRole('button', { name: 'Back' }).click();
      await popup
        .getByTestId('empty')
        .or(popup.getByRole('heading', { name: 'Activity' }))
        .waitFor();
    },
    STEP_MS,
  );

  it(
    'popup: the hub unreachable says so, with Retry',
    async () => {
      await hub.stop();
      hubStopped = true;
      await openPopup();
      await popup.getByTestId('unreachable').waitFor({ timeout: 15_000 });
      expect(await popup.getByRole('button', { name: 'Retry' }).isVisible()).toBe(true);
      await shoot(popup, 'popup-unreachable');
    },
    STEP_MS,
  );

  async function approvalWindow(position: string): Promise<Page> {
    await expect.poll(() => b.approvalPages().length, { timeout: 10_000 }).toBe(1);
    const win = b.approvalPages()[0]!;
    // The size the worker opens the window at (the context's default viewport would be wider).
    await win.setViewportSize({ width: 400, height: 600 });
    await expect
      .poll(
        () =>
          win
            .getByTestId('position')
            .textContent()
            .catch(() => null),
        { timeout: 10_000 },
      )
      .toBe(position);
    return win;
  }
});

/** One payment of each status the hub does not reach on its own here, for the activity list. */
function otherPayments(shopUrl: string): Payment[] {
  const now = Date.now();
  const at = (msAgo: number) => new Date(now - msAgo).toISOString();
  const base = (status: Payment['status'], msAgo: number, over: Partial<Payment> = {}): Payment => ({
    transactionId: `tx_${status}`,
    status,
    rail: 'internal',
    payTo: 'm_other',
    amount: PRICE,
    asset: 'SOVR',
    resource: { url: `${shopUrl}/paid/${status}`, method: 'GET' },
    description: null,
    failureReason: null,
    receipt: {},
    createdAt: at(msAgo),
    updatedAt: at(msAgo),
    ...over,
  });
  return [
    base('pending', 1_000),
    base('submitted', 2_000, { rail: 'lightning', asset: 'BTC', amount: '21000', payTo: 'lnbcrt210n1…' }),
    base('failed', 86_400_000, { failureReason: 'insufficient-funds: the balance is short' }),
    base('refunded', 86_500_000, { refundedAmount: PRICE }),
  ];
}
