/**
 * The join dialog in a real Chromium, without the extension: a page with the snippet in slots mode
 * (`data-slots="/slots"`, the bundle built from the current sources) on a shop whose slots() issues
 * invoices from the stand-in LND; the outside wallet on the same simulated network pays them.
 * "Join" → "Create slot" → a period → the invoice as a QR code with its text to copy → "Verify"
 * says "Payment not received", then, once paid, shows the token id, slot id and expiry. When the
 * slot has expired, the page's own request is refused (requireSlot()), the renewal dialog opens with
 * the document's message, and a payment for the slot extends it.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPIRED_TEXT, MONTH_MS } from '../../merchant/index.js';
import { EXPIRED_TEXT as DIALOG_EXPIRED_TEXT } from '../../merchant/snippet/slots.js';
import { walletUri } from '../../merchant/snippet/lightning.js';
import { buildSnippet } from '../../scripts/build-snippet.js';
import { encodeQr, qrPath } from '../../shared/qr.js';
import { type FreshSlotStore, freshSlotStore, type SlotsShop, slotsWorld, type SlotsWorld, startSlotsShop } from '../helpers/slots-shop.js';

const CHROMIUM = '/usr/bin/chromium';
const FEE = 300_000n;
const MONTH = Number(MONTH_MS);
const START = Date.UTC(2026, 2, 1, 9, 30, 0);

/** The merchant's page: the join dialog, and a "Publish" that needs a live slot and asks for renewal when it has expired. */
const PAGE = `<h1>Proof of publication</h1>
<script src="/tollway.js" data-slots="/slots"></script>
<label for="slot">Your slot id</label> <input id="slot"> <button id="publish" type="button">Publish</button>
<p id="published"></p>
<script>
window.slotEvents = [];
document.addEventListener('tollway:slot', (e) => window.slotEvents.push(e.detail));
document.getElementById('publish').addEventListener('click', async () => {
  const r = await fetch('/publish', { method: 'POST', headers: { 'slot-id': document.getElementById('slot').value } });
  const out = document.getElementById('published');
  if (r.status !== 402) { out.textContent = 'Published'; return; }
  const p = await r.json();
  out.textContent = p.detail;
  if (p.type.endsWith('/slot-expired')) document.dispatchEvent(new CustomEvent('tollway:slot-expired', { detail: { slotId: p.slot_id } }));
});
</script>`;

const shown = (iso: number) => `${new Date(iso).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

describe.skipIf(!existsSync(CHROMIUM))('the join dialog without the extension', () => {
  let w: SlotsWorld;
  let s: FreshSlotStore;
  let shop: SlotsShop;
  let browser: Browser;
  let now = START;

  beforeAll(async () => {
    w = await slotsWorld();
    s = await freshSlotStore('sqlite');
    shop = await startSlotsShop({
      node: w.node,
      store: s.store,
      feeRatePerMonthMsat: FEE,
      clock: () => now,
      rateLimit: false,
      page: PAGE,
      snippet: await buildSnippet(),
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  });
  afterAll(async () => {
    await browser?.close();
    await shop?.close();
    await s?.cleanup();
    await w?.close();
  });

  async function openPage(): Promise<{ page: Page; errors: string[] }> {
    const context = await browser.newContext();
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: shop.url });
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${shop.url}/join`);
    return { page, errors };
  }

  /** Reads the invoice, checks its QR code, and pays it from the outside wallet. */
  async function payShownInvoice(page: Page): Promise<string> {
    const invoice = await page.getByLabel('Invoice', { exact: true }).inputValue();
    expect(await page.locator('dialog .tollway-pay__qr path').getAttribute('d')).toBe(qrPath(encodeQr(walletUri(invoice))));
    expect(await page.locator('dialog .tollway-pay__wallet').getAttribute('href')).toBe(`lightning:${invoice}`);
    const paid = await w.outside.pay({ bolt11: invoice, feeLimitMsat: 1000n, timeoutSeconds: 10 });
    expect(paid.state).toBe('succeeded');
    return invoice;
  }

  it('Join → Create slot → 2 months → invoice → "Payment not received" → paid → the slot details to save', async () => {
    const { page, errors } = await openPage();
    const join = page.getByRole('button', { name: 'Join' });
    await join.click();
    const dialog = page.getByRole('dialog', { name: 'Create slot' });
    await dialog.waitFor();
    await expect
      .poll(() => dialog.textContent())
      .toContain('Pay with lightning to reserve a unique proof-of-publication slot for 300 sats a month');
    // Focus starts in the dialog, on its first control.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe(await page.getByLabel('Period').getAttribute('id'));

    const value = dialog.locator('.tollway-slots__value');
    expect(await value.textContent()).toBe('Value: 300 sats (1 × 300 sats)');
    await page.getByLabel('Period').selectOption('custom');
    await page.getByLabel('Number of months').fill('5');
    expect(await value.textContent()).toBe('Value: 1500 sats (5 × 300 sats)');
    await page.getByLabel('Number of months').fill('0');
    expect(await value.textContent()).toBe('Choose a whole number of months.');
    await page.getByLabel('Period').selectOption('2');
    expect(await value.textContent()).toBe('Value: 600 sats (2 × 300 sats)');

    await dialog.getByRole('button', { name: 'Get invoice' }).click();
    await page.getByLabel('Invoice', { exact: true }).waitFor();
    const invoice = await page.getByLabel('Invoice', { exact: true }).inputValue();
    expect(invoice).toMatch(/^lnbcrt6u/); // 600,000 msat
    await dialog.getByRole('button', { name: 'Copy' }).click();
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(invoice);

    const status = dialog.getByRole('status');
    await dialog.getByRole('button', { name: 'Verify' }).click();
    await expect.poll(() => status.textContent()).toBe('Payment not received');
    expect(await s.query('SELECT slot_id FROM tollway_slots')).toEqual([]);

    await payShownInvoice(page);
    await dialog.getByRole('button', { name: 'Verify' }).click();
    const details = page.getByRole('dialog', { name: 'Slot details' });
    await details.waitFor();
    const field = (name: string) => details.locator(`dd[data-field="${name}"]`).textContent();
    const tokenId = await field('Token id');
    expect(tokenId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await field('Slot id')).toBe('1');
    expect(await field('Expiry date')).toBe(shown(now + 2 * MONTH));
    expect(await details.textContent()).toContain('Save these details to commit data and generate proofs');
    expect(await page.evaluate(() => (window as unknown as { slotEvents: unknown[] }).slotEvents)).toEqual([
      { tokenId, slotId: 1, expiry: new Date(now + 2 * MONTH).toISOString() },
    ]);

    await details.getByRole('button', { name: 'Close' }).click();
    expect(await page.getByRole('dialog').count()).toBe(0);
    // Focus goes back to where it was.
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Join');
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('an expired slot: the page is refused, "Pay for existing slot" opens with the document\'s message, and paying extends the slot', async () => {
    expect(DIALOG_EXPIRED_TEXT).toBe(EXPIRED_TEXT);
    const { page, errors } = await openPage();
    await page.getByLabel('Your slot id').fill('1');
    await page.getByRole('button', { name: 'Publish' }).click();
    await expect.poll(() => page.textContent('#published')).toBe('Published');

    now = START + 2 * MONTH + 3 * 86_400_000; // three days past its expiry
    await page.getByRole('button', { name: 'Publish' }).click();
    const dialog = page.getByRole('dialog', { name: 'Pay for existing slot' });
    await dialog.waitFor();
    expect(await dialog.getByRole('alert').textContent()).toBe(EXPIRED_TEXT);
    expect(await page.textContent('#published')).toBe(EXPIRED_TEXT);
    expect(await page.getByLabel('Slot id', { exact: true }).inputValue()).toBe('1');
    await expect.poll(() => dialog.textContent()).toContain('at 300 sats a month');

    await dialog.getByRole('button', { name: 'Get invoice' }).click();
    await page.getByLabel('Invoice', { exact: true }).waitFor();
    expect(await page.getByLabel('Invoice', { exact: true }).inputValue()).toMatch(/^lnbcrt3u/);
    await payShownInvoice(page);
    await dialog.getByRole('button', { name: 'Verify' }).click();
    const details = page.getByRole('dialog', { name: 'Slot details' });
    await details.waitFor();
    expect(await details.locator('dd[data-field="Slot id"]').textContent()).toBe('1');
    // An expired slot runs again from now.
    expect(await details.locator('dd[data-field="Expiry date"]').textContent()).toBe(shown(now + MONTH));
    await details.getByRole('button', { name: 'Close' }).click();

    await page.getByRole('button', { name: 'Publish' }).click();
    await expect.poll(() => page.textContent('#published')).toBe('Published');
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('"Pay for existing slot" renews a live slot from its expiry, and refuses a slot that does not exist', async () => {
    const { page, errors } = await openPage();
    const before = Date.parse(((await (await fetch(`${shop.url}/slots/slotexpiry/1`)).json()) as { expiry_date: string }).expiry_date);
    await page.getByRole('button', { name: 'Pay for existing slot' }).click();
    const dialog = page.getByRole('dialog', { name: 'Pay for existing slot' });
    await dialog.waitFor();
    expect(await dialog.getByRole('alert').count()).toBe(0);
    await page.getByLabel('Slot id', { exact: true }).fill('99');
    await expect.poll(() => dialog.textContent()).toContain('300 sats a month');
    await dialog.getByRole('button', { name: 'Get invoice' }).click();
    await expect.poll(() => dialog.getByRole('status').textContent()).toBe('no such slot');

    await page.getByLabel('Slot id', { exact: true }).fill('1');
    await page.getByLabel('Period').selectOption('3');
    await dialog.getByRole('button', { name: 'Get invoice' }).click();
    await page.getByLabel('Invoice', { exact: true }).waitFor();
    await payShownInvoice(page);
    await dialog.getByRole('button', { name: 'Verify' }).click();
    const details = page.getByRole('dialog', { name: 'Slot details' });
    await details.waitFor();
    expect(await details.locator('dd[data-field="Expiry date"]').textContent()).toBe(shown(before + 3 * MONTH));
    expect(errors).toEqual([]);
    await page.context().close();
  });
});
