/**
 * "Add funds" in real Chromium with the built extension, against a real hub whose Lightning rail
 * points at the stand-in LND: the popup asks for an invoice of 1,000 sats, shows its QR code, and
 * turns to credited, with the balance 1,000 sats higher, once the stand-in settles the invoice as
 * if it were paid from another wallet. At the hub there is exactly one top-up, credited once.
 */
import bolt11 from 'bolt11';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLnd, type FakeLnd } from '../../devnet/lnd.js';
import { buildExtension, CHROMIUM, hasChromium, launchWithExtension, type ExtensionBrowser } from '../helpers/extension-browser.js';
import { onboard, type StoredHubSession } from '../helpers/extension-onboarding.js';
import { balances, startTestHub, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';

const title = hasChromium ? 'adding funds over Lightning, in Chromium' : `top-ups in Chromium — SKIPPED: ${CHROMIUM} is missing`;

describe.skipIf(!hasChromium)(title, () => {
  let build: Awaited<ReturnType<typeof buildExtension>>;
  let lnd: FakeLnd;
  let hub: TestHub;
  let b: ExtensionBrowser;
  let session: StoredHubSession;

  beforeAll(async () => {
    lnd = await startFakeLnd();
    [build, hub] = await Promise.all([
      buildExtension(),
      startTestHub('sqlite', { env: { TOLLWAY_LND_REST_URL: lnd.url, TOLLWAY_LND_MACAROON: lnd.macaroonHex } }),
    ]);
    b = await launchWithExtension(build.dir);
    ({ session } = await onboard(b, hub.url));
  }, 180_000);

  afterAll(async () => {
    await b?.close();
    await hub?.stop();
    await lnd?.close();
    await build?.cleanup();
  });

  it('shows the invoice as a QR code and turns to credited when it is paid', async () => {
    const popup = await b.context.newPage();
    await popup.goto(`chrome-extension://${b.extensionId}/extension/popup/index.html`);
    // Offered because the hub has the Lightning rail (GET /rails, cached by the worker at sign-in).
    await popup.getByRole('button', { name: 'Add funds' }).click({ timeout: 15_000 });
    const amount = popup.getByLabel('Amount (sats)');
    await amount.fill('1e3');
    await popup.getByRole('button', { name: 'Get invoice' }).click();
    expect(await popup.getByRole('alert').textContent()).toMatch(/amount in sats/);
    await amount.fill('1000');
    await popup.getByRole('button', { name: 'Get invoice' }).click();

    await popup.getByTestId('topup-qr').waitFor({ timeout: 15_000 });
    expect(await popup.getByTestId('topup-status').textContent()).toBe('Waiting for 1,000 sats (0.00001 BTC)…');
    // The QR code is the invoice the hub's node issued, for 1,000 sats.
    const rows = await hub.store.db.all<{ payment_hash: string; bolt11: string; status: string }>(
      'SELECT payment_hash, bolt11, status FROM topups WHERE user_id = ?',
      [session.user!.id],
    );
    expect(rows).toHaveLength(1);
    expect(bolt11.decode(rows[0]!.bolt11).millisatoshis).toBe('1000000');
    expect(lnd.invoiceState(rows[0]!.payment_hash)).toBe('OPEN');
    const path = await popup.getByTestId('topup-qr').locator('path').getAttribute('d');
    expect(path).toMatch(/^M\d+ \d+h\d+v1H\d+z/);

    // Paid from another wallet: the node settles it; the worker hears the hub's socket event.
    expect(lnd.settleInvoice(rows[0]!.payment_hash)).toBe(true);
    await expect.poll(() => popup.getByTestId('topup').getAttribute('data-status'), { timeout: 15_000 }).toBe('credited');
    expect(await popup.getByTestId('topup-status').textContent()).toBe('Credited 1,000 sats (0.00001 BTC).');
    expect(await popup.getByTestId('topup-qr').count()).toBe(0);

    await popup.getByRole('button', { name: 'Back' }).click();
    await expect.poll(() => popup.getByTestId('balance-BTC').textContent(), { timeout: 15_000 }).toBe('0.00001 BTC');
    expect((await balances(hub.url, session as never)).BTC?.posted).toBe('1000000');
    const after = await hub.store.db.all<{ status: string }>('SELECT status FROM topups WHERE user_id = ?', [session.user!.id]);
    expect(after).toEqual([{ status: 'credited' }]);
    await expectLedgerBalanced(hub.store.db);
    await popup.close();
  });
});
