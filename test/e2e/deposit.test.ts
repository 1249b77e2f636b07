/**
 * "Move SOVR from my wallet" in real Chromium with the built extension, against a real hub whose
 * SOVR rail is turned on from TOLLWAY_SOVR_* on a real local chain: the wallet the extension
 * created at onboarding holds SOVR on chain (minted) and 1 SOVR at the hub. In the popup the
 * person moves 2 SOVR: the confirm step shows what is signed, the worker signs and sends it, the
 * popup follows the deposit to completed and shows the hub balance 2 SOVR higher. On chain the
 * treasury holds the tokens; at the hub there is exactly one deposit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploySovr, startChain, type SovrDeployment, type TestChain } from '../helpers/chain.js';
import {
  available,
  buildExtension,
  CHROMIUM,
  faucet,
  hasChromium,
  launchWithExtension,
  type ExtensionBrowser,
} from '../helpers/extension-browser.js';
import { onboard, type StoredHubSession } from '../helpers/extension-onboarding.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';

const title = hasChromium
  ? 'moving SOVR from the wallet into the hub balance, in Chromium'
  : `deposits in Chromium — SKIPPED: ${CHROMIUM} is missing`;
const SOVR = 10n ** 18n;

describe.skipIf(!hasChromium)(title, () => {
  let build: Awaited<ReturnType<typeof buildExtension>>;
  let chain: TestChain;
  let sovr: SovrDeployment;
  let hub: TestHub;
  let b: ExtensionBrowser;
  let session: StoredHubSession;
  let treasury: string;

  beforeAll(async () => {
    chain = await startChain();
    sovr = await deploySovr(chain);
    const service = chain.accounts[3]!;
    treasury = service.address;
    [build, hub] = await Promise.all([
      buildExtension(),
      startTestHub('sqlite', {
        env: {
          TOLLWAY_SOVR_RPC_URL: chain.rpcUrl,
          TOLLWAY_SOVR_CHAIN_ID: String(chain.chainId),
          TOLLWAY_SOVR_TOKEN: sovr.address,
          TOLLWAY_SOVR_PRIVATE_KEY: service.privateKey,
          TOLLWAY_SOVR_POLL_INTERVAL: '100',
        },
      }),
    ]);
    b = await launchWithExtension(build.dir);
    ({ session } = await onboard(b, hub.url));
    await sovr.mint(session.user!.address, 5n * SOVR);
    await faucet(hub.url, session, SOVR.toString());
  }, 180_000);

  afterAll(async () => {
    await b?.close();
    await hub?.stop();
    await chain?.stop();
    await build?.cleanup();
  });

  it('moves 2 SOVR: confirm shows what is signed, the deposit completes, the hub balance is 2 SOVR higher, the treasury holds them', async () => {
    const treasuryBefore = await sovr.contract.balanceOf(treasury);
    const popup = await b.context.newPage();
    await popup.goto(`chrome-extension://${b.extensionId}/extension/popup/index.html`);
    await expect
      .poll(
        () =>
          popup
            .getByTestId('balance-SOVR')
            .textContent()
            .catch(() => null),
        { timeout: 15_000 },
      )
      .toBe('1 SOVR');

    // Offered because the hub has the SOVR rail (GET /rails, cached by the worker at sign-in).
    await popup.getByRole('button', { name: 'Move SOVR from my wallet' }).click();
    const amount = popup.getByLabel('Amount (SOVR)');
    // Garbage is refused before anything reaches the worker.
    await amount.fill('2.5e3');
    await popup.getByRole('button', { name: 'Review' }).click();
    expect(await popup.getByTestId('deposit-problem').textContent()).toMatch(/plain amount/);
    await amount.fill('2');
    await popup.getByRole('button', { name: 'Review' }).click();

    // What will be signed.
    expect(await popup.getByTestId('sign-amount').textContent()).toBe('2 SOVR');
    expect(await popup.getByTestId('sign-from').textContent()).toBe(`${session.user!.address} (your wallet)`);
    expect(await popup.getByTestId('sign-to').textContent()).toBe(`${treasury} (the hub's treasury)`);
    expect(await popup.getByTestId('sign-valid').textContent()).toMatch(/^from \d\d:\d\d:\d\d on .+ until \d\d:\d\d:\d\d on .+$/);
    expect(await popup.getByTestId('sign-token').textContent()).toBe(`SOVR 1 at ${sovr.address}, chain ${chain.chainId}`);

    await popup.getByRole('button', { name: 'Sign and move' }).click();
    await expect.poll(() => popup.getByTestId('deposit-status').first().textContent(), { timeout: 30_000 }).toBe('completed');
    expect(await popup.getByTestId('deposit').count()).toBe(1);
    expect(await popup.getByTestId('deposit-problem').count()).toBe(0);

    await popup.getByRole('button', { name: 'Back' }).click();
    // The worker refreshed the account once the deposit completed.
    await expect.poll(() => popup.getByTestId('balance-SOVR').textContent(), { timeout: 15_000 }).toBe('3 SOVR');
    expect(await popup.getByTestId('deposit-status').textContent()).toBe('completed');

    expect(await available(hub.url, session)).toBe((3n * SOVR).toString());
    expect(await sovr.contract.balanceOf(treasury)).toBe(treasuryBefore + 2n * SOVR);
    expect(await sovr.contract.balanceOf(session.user!.address)).toBe(3n * SOVR);
    const atHub = await hub.store.db.all<{ id: string; status: string; value: string }>(
      'SELECT id, status, value FROM sovr_deposits WHERE user_id = ?',
      [session.user!.id],
    );
    expect(atHub).toEqual([{ id: expect.stringMatching(/^dep_/), status: 'completed', value: (2n * SOVR).toString() }]);
    await expectLedgerBalanced(hub.store.db);
    await popup.close();
  });
});
