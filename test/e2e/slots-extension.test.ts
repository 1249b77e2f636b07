/**
 * The join dialog with the extension, in real Chromium: with `window.tollway` present the dialog
 * offers "Pay with Tollway" instead of an invoice; the token is bought with `tollway.fetch` on
 * `/slots/token/buy/:value` (a tollway 402 in BTC), approved once in the approval window and paid
 * from the person's hub balance; the dialog then spends it on a new slot and shows its details.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
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
const title = hasChromium ? 'the join dialog with the extension' : `the join dialog with the extension — SKIPPED: ${CHROMIUM} is missing`;

describe.skipIf(!hasChromium)(title, () => {
  let build: Awaited<ReturnType<typeof buildExtension>>;
  let hub: TestHub;
  let w: SlotsWorld;
  let s: FreshSlotStore;
  let shop: SlotsShop;
  let browser: ExtensionBrowser | undefined;

  beforeAll(async () => {
    [build, hub, w, s] = await Promise.all([buildExtension(), startTestHub('sqlite'), slotsWorld(), freshSlotStore('sqlite')]);
    const { merchant } = await createMerchant(hub.url, 'Slot shop');
    shop = await startSlotsShop({
      node: w.node,
      store: s.store,
      feeRatePerMonthMsat: FEE,
      hub: { url: hub.url, merchantId: merchant.id },
      rateLimit: false,
      page: '<h1>Slots</h1><script src="/tollway.js" data-slots="/slots"></script>',
      snippet: await buildSnippet(),
    });
  }, 180_000);
  afterEach(async () => {
    await browser?.close();
    browser = undefined;
  });
  afterAll(async () => {
    await shop?.close();
    await hub?.stop();
    await s?.cleanup();
    await w?.close();
    await build?.cleanup();
  });

  it('Join → Pay with Tollway → one approval → the slot details; paid from the hub balance, no invoice', async () => {
    const b = (browser = await launchWithExtension(build.dir));
    const { session } = await onboard(b, hub.url);
    const funded = await fetch(`${hub.url}/dev/faucet`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${session.accessToken}` },
      body: JSON.stringify({ asset: 'BTC', amount: String(10n * FEE) }),
    });
    expect(funded.status).toBe(200);
    const tab = await b.context.newPage();
    tab.setDefaultTimeout(20_000);
    const errors: string[] = [];
    tab.on('pageerror', (e) => errors.push(e.message));
    await tab.goto(`${shop.url}/join`);
    await tab.waitForFunction(() => typeof (window as { tollway?: { fetch?: unknown } }).tollway?.fetch === 'function');

    await tab.getByRole('button', { name: 'Join' }).click();
    const dialog = tab.getByRole('dialog', { name: 'Create slot' });
    await dialog.waitFor();
    await expect.poll(() => dialog.textContent()).toContain('300 sats a month');
    await tab.getByLabel('Period').selectOption('2');
    await dialog.getByRole('button', { name: 'Pay with Tollway' }).click();

    await expect.poll(() => b.approvalPages().length, { timeout: 20_000 }).toBe(1);
    await clickLast(b.approvalPages()[0]!, 'Approve');

    const details = tab.getByRole('dialog', { name: 'Slot details' });
    await details.waitFor();
    expect(await details.locator('dd[data-field="Slot id"]').textContent()).toBe('1');
    const tokenId = await details.locator('dd[data-field="Token id"]').textContent();
    // No invoice was shown: the token was bought through the hub.
    expect(await tab.locator('.tollway-slots__invoice').count()).toBe(0);
    const rows = await s.query<{ token_id: string; hub_transaction: string | null; spent_at: number | null }>(
      'SELECT token_id, hub_transaction, spent_at FROM tollway_slot_tokens',
    );
    expect(rows).toEqual([{ token_id: tokenId, hub_transaction: expect.any(String), spent_at: expect.any(Number) }]);
    expect(await hubPayments(hub.url, session)).toEqual([
      expect.objectContaining({ transactionId: rows[0]!.hub_transaction, status: 'completed', amount: String(2n * FEE) }),
    ]);
    expect(errors).toEqual([]);
    await expectLedgerBalanced(hub.store.db);
  }, 120_000);
});
