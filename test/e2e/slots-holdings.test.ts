/**
 * The slots a person holds, in real Chromium with the built extension: a slot bought through the
 * join dialog with "Pay with Tollway" appears in the popup's "Slots and passes" with its expiry as
 * the site's API has it; Renew goes through the approval window and moves the expiry by the month
 * bought; a budget ticked there pays the next renewal without the window; and a slot within a day of
 * expiry gets one reminder notification, not a second one when the reminder alarm fires again.
 */
import Database from 'better-sqlite3';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSnippet } from '../../scripts/build-snippet.js';
import {
  buildExtension,
  CHROMIUM,
  clickLast,
  hasChromium,
  hubPayments,
  launchWithExtension,
  type ExtensionBrowser,
} from '../helpers/extension-browser.js';
import { onboard } from '../helpers/extension-onboarding.js';
import { createMerchant, startTestHub, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { type FreshSlotStore, freshSlotStore, type SlotsShop, slotsWorld, type SlotsWorld, startSlotsShop } from '../helpers/slots-shop.js';

const FEE = 300_000n;
const DAY_MS = 86_400_000;
const MONTH_MS = 30 * DAY_MS;
const title = hasChromium ? 'slots and passes held, Renew and the reminder' : `slots held — SKIPPED: ${CHROMIUM} is missing`;

/** The worker's `chrome`, as far as this test uses it. */
declare const chrome: {
  storage: {
    local: { get(k: string): Promise<Record<string, unknown>> };
    session: { set(v: Record<string, unknown>): Promise<void>; remove(k: string): Promise<void> };
  };
  notifications: { getAll(): Promise<Record<string, boolean>>; clear(id: string): Promise<boolean> };
  alarms: {
    get(name: string): Promise<{ scheduledTime: number } | undefined>;
    create(name: string, info: { when: number }): Promise<void>;
  };
};

type HeldJson = { slotId: number; expiresAt: number; remindedFor?: number; renewal?: unknown };

describe.skipIf(!hasChromium)(title, () => {
  let build: Awaited<ReturnType<typeof buildExtension>>;
  let hub: TestHub;
  let w: SlotsWorld;
  let s: FreshSlotStore;
  let shop: SlotsShop;
  let b: ExtensionBrowser;
  let session: { accessToken: string };
  let popup: Page;

  const expiryInStore = async (slot: number) =>
    (await s.query<{ expires_at: number }>(`SELECT expires_at FROM tollway_slots WHERE slot_id = ${slot}`))[0]!.expires_at;
  const held = async (): Promise<HeldJson[]> =>
    b.worker.evaluate(async () => ((await chrome.storage.local.get('tollway.holdings'))['tollway.holdings'] ?? []) as HeldJson[]);
  const row = (slot: number) => popup.locator(`[data-testid=holding][data-slot="${slot}"]`);
  const shownExpiry = (slot: number) => row(slot).getByTestId('holding-expiry').first().getAttribute('datetime');
  const openHoldings = async () => {
    popup = await b.context.newPage();
    popup.setDefaultTimeout(20_000);
    await popup.goto(`chrome-extension://${b.extensionId}/extension/popup/index.html`);
    await popup.getByRole('button', { name: 'Slots and passes' }).click();
    await popup.getByRole('heading', { name: 'Slots and passes you hold' }).waitFor();
  };

  beforeAll(async () => {
    [build, hub, w, s] = await Promise.all([buildExtension(), startTestHub('sqlite'), slotsWorld(), freshSlotStore('sqlite')]);
    const { merchant } = await createMerchant(hub.url, 'Slot shop');
    shop = await startSlotsShop({
      node: w.node,
      store: s.store,
      feeRatePerMonthMsat: FEE,
      hub: { url: hub.url, merchantId: merchant.id },
      rateLimit: false,
      page: '<h1>Publication</h1><script src="/tollway.js" data-slots="/slots"></script>',
      snippet: await buildSnippet(),
    });
    b = await launchWithExtension(build.dir);
    ({ session } = await onboard(b, hub.url));
    const funded = await fetch(`${hub.url}/dev/faucet`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${session.accessToken}` },
      body: JSON.stringify({ asset: 'BTC', amount: String(10n * FEE) }),
    });
    expect(funded.status).toBe(200);
  }, 180_000);
  afterAll(async () => {
    await b?.close();
    await shop?.close();
    await hub?.stop();
    await s?.cleanup();
    await w?.close();
    await build?.cleanup();
  });

  it('a slot bought with Pay with Tollway appears in the holdings view with the expiry the site has', async () => {
    const tab = await b.context.newPage();
    tab.setDefaultTimeout(20_000);
    await tab.goto(`${shop.url}/join`);
    await tab.waitForFunction(() => typeof (window as { tollway?: { fetch?: unknown } }).tollway?.fetch === 'function');
    await tab.getByRole('button', { name: 'Join' }).click();
    const dialog = tab.getByRole('dialog', { name: 'Create slot' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Pay with Tollway' }).click();
    await expect.poll(() => b.approvalPages().length, { timeout: 20_000 }).toBe(1);
    await clickLast(b.approvalPages()[0]!, 'Approve');
    await tab.getByRole('dialog', { name: 'Slot details' }).waitFor();

    // The worker kept it, with the expiry from the site's API (not the page's word).
    await expect.poll(async () => (await held()).map((h) => h.slotId), { timeout: 10_000 }).toEqual([1]);
    const expiry = await expiryInStore(1);
    expect((await held())[0]!.expiresAt).toBe(expiry);
    // The token id stayed out of `local`.
    const tokenId = (await s.query<{ token_id: string }>('SELECT token_id FROM tollway_slot_tokens'))[0]!.token_id;
    const local = await b.worker.evaluate(async () => JSON.stringify(await chrome.storage.local.get('tollway.holdings')));
    expect(local).not.toContain(tokenId);

    await openHoldings();
    await expect.poll(() => shownExpiry(1)).toBe(new Date(expiry).toISOString());
    const text = await row(1).textContent();
    expect(text).toContain('Slot 1');
    // What it is for: the page it was bought on, by its title and address.
    expect(text).toContain(`Join · ${new URL(shop.url).host}/join`);
    expect(text).toMatch(/Expires in (29|30) days/);
    expect(text).toContain('300 sats');
    expect(await row(1).getByTestId('holding-state').getAttribute('data-state')).toBe('active');
    // One reminder is set, for a day before expiry.
    const alarm = await b.worker.evaluate(() => chrome.alarms.get('tollway.slotReminder'));
    expect(alarm?.scheduledTime).toBe(expiry - DAY_MS);
  }, 120_000);

  it('Renew → approval (ticking a budget) → the expiry moves by the month bought; the next Renew is paid from the budget, without the window', async () => {
    const before = await expiryInStore(1);
    await row(1)
      .getByRole('button', { name: /^Renew slot 1/ })
      .click();
    await expect.poll(() => b.approvalPages().length, { timeout: 20_000 }).toBe(1);
    const win = b.approvalPages()[0]!;
    await win.getByLabel('Pay automatically on this site up to').check();
    await win.getByLabel('Budget amount in BTC').fill('0.00001');
    await win.getByLabel('Budget period').selectOption('day');
    await clickLast(win, 'Approve');

    await expect.poll(() => shownExpiry(1), { timeout: 20_000 }).toBe(new Date(before + MONTH_MS).toISOString());
    expect(await expiryInStore(1)).toBe(before + MONTH_MS);
    await expect.poll(() => row(1).getByTestId('holding-renewed').count()).toBe(1);

    // Within the budget for this site and payee: no window, and the expiry moves again.
    await row(1)
      .getByRole('button', { name: /^Renew slot 1/ })
      .click();
    await expect.poll(() => shownExpiry(1), { timeout: 20_000 }).toBe(new Date(before + 2 * MONTH_MS).toISOString());
    expect(b.approvalPages()).toHaveLength(0);
    expect(await expiryInStore(1)).toBe(before + 2 * MONTH_MS);

    const payments = await hubPayments(hub.url, session);
    expect(payments.filter((p) => p.status === 'completed' && p.amount === String(FEE))).toHaveLength(3);
    // Three tokens bought, each spent once, all on slot 1.
    const tokens = await s.query<{ slot_id: number; spent_at: number | null }>('SELECT slot_id, spent_at FROM tollway_slot_tokens');
    expect(tokens).toHaveLength(3);
    expect(tokens.every((t) => t.slot_id === 1 && t.spent_at !== null)).toBe(true);
    await expectLedgerBalanced(hub.store.db);
  }, 120_000);

  it('the reminder alarm fires a day before expiry: one notification, "Expires soon", and nothing again when the alarm fires again', async () => {
    // The site's slot now ends a day and 4 seconds from now (as if the months had passed); opening
    // the view reads it afresh, and the reminder alarm is set for 4 seconds from now.
    const expiry = Date.now() + DAY_MS + 4000;
    const db = new Database(s.target);
    db.prepare('UPDATE tollway_slots SET expires_at = ? WHERE slot_id = 1').run(expiry);
    db.close();
    await popup.close();
    await openHoldings();
    await expect.poll(() => shownExpiry(1)).toBe(new Date(expiry).toISOString());
    await expect
      .poll(async () => (await b.worker.evaluate(() => chrome.alarms.get('tollway.slotReminder')))?.scheduledTime)
      .toBe(expiry - DAY_MS);

    // The alarm fires and the worker shows the reminder.
    const id = `tollway.slot.${shop.url}/slots#1`;
    await expect.poll(() => b.worker.evaluate(() => chrome.notifications.getAll()), { timeout: 20_000 }).toHaveProperty([id]);
    expect((await held())[0]!.remindedFor).toBe(expiry);
    await popup.close();
    await openHoldings();
    expect(await row(1).getByTestId('holding-state').getAttribute('data-state')).toBe('soon');
    expect(await row(1).getByTestId('holding-state').textContent()).toBe('Expires soon');

    // The alarm fires again (a wake-up): this expiry was reminded already, so nothing is shown.
    await b.worker.evaluate((n) => chrome.notifications.clear(n), id);
    await b.worker.evaluate(() => chrome.alarms.create('tollway.slotReminder', { when: Date.now() }));
    await new Promise((r) => setTimeout(r, 2000));
    expect(await b.worker.evaluate(() => chrome.notifications.getAll())).not.toHaveProperty([id]);
    expect((await held())[0]!.remindedFor).toBe(expiry);
  }, 120_000);

  it('a pass whose window has ended reads expired and Renew opens its page, where the site asks again', async () => {
    // A pass paid 11 minutes ago with a 10-minute window; its receipt would last another hour.
    const now = Date.now();
    const url = `${shop.url}/publication`;
    const pass = {
      transactionId: 'tx_pass_ended',
      payTo: 'm_pass',
      url,
      method: 'GET',
      createdAt: now - 660_000,
      exp: Math.floor(now / 1000) + 3600,
      windowSeconds: 600,
      header: { name: 'Authorization', value: 'Tollway x' },
      spent: false,
    };
    await b.worker.evaluate((p) => chrome.storage.session.set({ 'tollway.passes': [p] }), pass);
    await popup?.close();
    await openHoldings();
    const item = popup.getByTestId('pass');
    expect(await item.getByTestId('holding-state').getAttribute('data-state')).toBe('expired');
    expect(await item.getByTestId('holding-expiry').getAttribute('datetime')).toBe(new Date(now - 60_000).toISOString());
    const opened = b.context.waitForEvent('page');
    await item.getByRole('button', { name: 'Renew' }).click();
    expect((await opened).url()).toBe(url);
    await b.worker.evaluate(() => chrome.storage.session.remove('tollway.passes'));
  }, 60_000);
});
