/**
 * The person's side of x402 `exact` on any EVM network, in real Chromium with the built extension,
 * a real hub, a local chain of its own (31338) with a USDC-like token, and `@x402/express` shops
 * with the reference facilitator:
 *
 * - Settings list Base and Base Sepolia with USDC, off; the form refuses what is wrong, saying so,
 *   and adds the test chain (with an RPC URL) and its token, off; a daily limit typed in token units
 *   is kept in base units.
 * - The approval window: a listed token that is off shows "not enabled" and only Reject works;
 *   "Enable USDC on …" asks first, and confirmed, the token is on in storage and the same request
 *   shows what is signed, with the balance read from the RPC URL; a shop naming another EIP-712
 *   name is refused; a network not in the list is "not paid", with a link to settings.
 * - Each of these states, and the settings section, passes axe (no serious or critical finding, in
 *   the light and the dark theme) and is saved as a screenshot.
 * - `window.tollway.fetch` pays the reference shop through the same window and resolves with the
 *   retried answer: the article.
 */
import { resolve } from 'node:path';
import { Wallet } from 'ethers';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanAndShoot } from '../helpers/axe.js';
import {
  buildExtension,
  CHROMIUM,
  clickLast,
  hasChromium,
  launchWithExtension,
  type ExtensionBrowser,
  type WorkerChrome,
} from '../helpers/extension-browser.js';
import { onboard, type StoredHubSession } from '../helpers/extension-onboarding.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { startUsdcChain, type UsdcChain } from '../helpers/usdc-chain.js';
import { referenceFacilitator, startReferenceShop, type ReferenceShop } from '../helpers/x402-reference-shop.js';

declare const chrome: WorkerChrome;

const SHOTS = resolve(import.meta.dirname, '../../docs/screenshots');
const title = hasChromium
  ? 'networks and tokens, in settings and the window, in Chromium'
  : `EVM settings — SKIPPED: ${CHROMIUM} is missing`;
const PRICE = 10_000n; // 0.01 USDC
const STEP_MS = 120_000;

interface StoredNetwork {
  chainId: number;
  name: string;
  enabled: boolean;
  rpcUrl?: string;
  tokens: { address: string; symbol: string; decimals: number; enabled: boolean; dailyLimit?: string; eip712: { name: string } }[];
}

describe.skipIf(!hasChromium)(title, () => {
  let build: Awaited<ReturnType<typeof buildExtension>>;
  let bed: UsdcChain;
  let hub: TestHub;
  let shop: ReferenceShop;
  let otherName: ReferenceShop;
  let b: ExtensionBrowser;
  let session: StoredHubSession;
  let settings: Page;
  const payTo = Wallet.createRandom().address;

  beforeAll(async () => {
    [bed, build, hub] = await Promise.all([startUsdcChain(), buildExtension(), startTestHub('sqlite')]);
    const facilitator = referenceFacilitator({
      rpcUrl: bed.chain.rpcUrl,
      chainId: bed.chain.chainId,
      relayerKey: bed.chain.accounts[7]!.privateKey,
    });
    shop = await startReferenceShop({ facilitator, token: bed.token, payTo, price: PRICE });
    // The same token, but the shop names another EIP-712 name: a signature for it is not for USDC.
    otherName = await startReferenceShop({ facilitator, token: { ...bed.token, name: 'USD Coin (bridged)' }, payTo, price: PRICE });
    b = await launchWithExtension(build.dir);
    ({ page: settings, session } = await onboard(b, hub.url));
    await bed.fund(session.user!.address, 2_500_000n); // 2.5 USDC
  }, 180_000);

  afterAll(async () => {
    await b?.close();
    await shop?.close();
    await otherName?.close();
    await hub?.stop();
    await bed?.stop();
    await build?.cleanup();
  });

  const storedNetworks = async () =>
    (await b.worker.evaluate(() => chrome.storage.local.get('tollway.networks').then((v) => v['tollway.networks']))) as
      | StoredNetwork[]
      | undefined;
  const shoot = async (page: Page, name: string) => expect(await scanAndShoot(page, SHOTS, name)).toEqual({ light: [], dark: [] });

  /** The approval window, once it shows one request. */
  async function approvalWindow(): Promise<Page> {
    await expect.poll(() => b.approvalPages().length, { timeout: 15_000 }).toBe(1);
    const win = b.approvalPages()[0]!;
    await expect
      .poll(
        () =>
          win
            .getByTestId('position')
            .textContent()
            .catch(() => null),
        { timeout: 15_000 },
      )
      .toBe('1 of 1');
    return win;
  }

  it(
    'settings list Base and Base Sepolia with USDC, all off',
    async () => {
      const section = settings.getByTestId('networks');
      await section.waitFor();
      for (const [chainId, name] of [
        [8453, 'Base'],
        [84532, 'Base Sepolia'],
      ] as const) {
        const item = settings.getByTestId(`network-${chainId}`);
        expect(await item.getByRole('heading').textContent()).toBe(`${name} chain id ${chainId}`);
        expect(await item.getByRole('checkbox', { name: `Pay on ${name}` }).isChecked()).toBe(false);
        expect(await item.getByRole('checkbox', { name: `Allow USDC on ${name}` }).isChecked()).toBe(false);
      }
      // Nothing stored yet: the defaults are shown, not written.
      expect(await storedNetworks()).toBeUndefined();

      // A hub with a SOVR rail: its chain is shown first, from the hub, and cannot be changed here.
      const rails = await b.worker.evaluate(() => chrome.storage.session.get('tollway.rails').then((v) => v['tollway.rails']));
      const sovr = {
        name: 'sovr',
        assets: ['SOVR'],
        network: 'eip155:31337',
        chainId: 31337,
        token: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
        treasury: null,
        eip712: { name: 'SOVR', version: '1' },
        confirmations: 1,
        minValiditySeconds: 60,
        maxValiditySeconds: 3600,
      };
      await b.worker.evaluate((v) => chrome.storage.session.set({ 'tollway.rails': v }), {
        hubUrl: hub.url,
        info: { rails: [sovr] },
        fetchedAt: Date.now(),
      });
      const fromHub = settings.getByTestId('network-hub');
      await fromHub.waitFor();
      expect(await fromHub.getByRole('heading').textContent()).toBe('SOVR on chain 31337 from your hub');
      expect(await fromHub.getByRole('button').count()).toBe(0);
      expect(await fromHub.getByRole('checkbox').count()).toBe(0);
      await shoot(settings, 'settings-networks');
      await b.worker.evaluate((v) => chrome.storage.session.set({ 'tollway.rails': v }), rails ?? null);
      await fromHub.waitFor({ state: 'detached' });
    },
    STEP_MS,
  );

  it(
    'adds the test chain and its token through the forms, which say what is wrong first',
    async () => {
      await settings.getByTestId('add-network').locator('summary').click();
      const form = settings.getByRole('form', { name: 'Add a network' });
      await form.getByLabel('Chain ID').fill('8453');
      await form.getByLabel('Name', { exact: true }).fill('Test chain');
      await form.getByLabel('RPC URL (optional)').fill('not a url');
      await form.getByRole('button', { name: 'Add network' }).click();
      expect(await form.getByText('Chain 8453 is already in your list.').isVisible()).toBe(true);
      expect(await form.getByText('Give the RPC URL as an http or https URL, or leave it empty.').isVisible()).toBe(true);
      expect(await form.getByLabel('Chain ID').getAttribute('aria-invalid')).toBe('true');
      await shoot(settings, 'settings-networks-form-errors');

      await form.getByLabel('Chain ID').fill(String(bed.chain.chainId));
      await form.getByLabel('RPC URL (optional)').fill(bed.chain.rpcUrl);
      await form.getByRole('button', { name: 'Add network' }).click();
      const item = settings.getByTestId(`network-${bed.chain.chainId}`);
      await item.waitFor();
      expect(await settings.getByTestId('networks-status').textContent()).toBe(
        'Test chain added. Add its tokens and turn them on to pay there.',
      );

      await item.getByTestId(`add-token-${bed.chain.chainId}`).locator('summary').click();
      const tokenForm = item.getByRole('form', { name: 'Add a token on Test chain' });
      await tokenForm.getByLabel('Token contract address').fill(bed.usdc.address);
      await tokenForm.getByLabel('Symbol').fill('USDC');
      await tokenForm.getByLabel('Decimals').fill('6.5');
      await tokenForm.getByLabel('EIP-712 name').fill('USD Coin');
      await tokenForm.getByLabel('EIP-712 version').fill('2');
      await tokenForm.getByRole('button', { name: 'Add token' }).click();
      expect(await tokenForm.getByText("Give the token's decimals, a whole number from 0 to 36.").isVisible()).toBe(true);
      await tokenForm.getByLabel('Decimals').fill('6');
      await tokenForm.getByRole('button', { name: 'Add token' }).click();
      const token = item.getByRole('checkbox', { name: 'Allow USDC on Test chain' });
      await token.waitFor();
      expect(await token.isChecked()).toBe(false);

      // A daily limit in USDC, kept in base units; one decimal place too many is refused.
      const limit = item.getByLabel('Daily limit in USDC');
      await limit.fill('1.0000005');
      await item.getByRole('form', { name: 'Daily limit for USDC on Test chain' }).getByRole('button', { name: 'Save' }).click();
      expect(await item.getByText("Give the limit in the token's units, with at most 6 decimal places, such as 25.5.").isVisible()).toBe(
        true,
      );
      await limit.fill('1.5');
      await item.getByRole('form', { name: 'Daily limit for USDC on Test chain' }).getByRole('button', { name: 'Save' }).click();
      await expect.poll(() => settings.getByTestId('networks-status').textContent()).toBe('Daily limit set to 1.5 USDC.');

      const list = await storedNetworks();
      expect(list?.map((n) => n.chainId)).toEqual([8453, 84532, bed.chain.chainId]);
      expect(list?.[2]).toEqual({
        chainId: bed.chain.chainId,
        name: 'Test chain',
        aliases: [],
        rpcUrl: bed.chain.rpcUrl,
        enabled: false,
        tokens: [
          {
            address: bed.usdc.address,
            symbol: 'USDC',
            decimals: 6,
            eip712: { name: 'USD Coin', version: '2' },
            enabled: false,
            dailyLimit: '1500000',
          },
        ],
      });
      await shoot(settings, 'settings-networks-added');
    },
    STEP_MS,
  );

  it(
    "a shop naming another EIP-712 name is refused: the window says the token's details do not match, only Reject",
    async () => {
      const tab = await b.context.newPage();
      await tab.goto(otherName.articleUrl).catch(() => undefined);
      const win = await approvalWindow();
      const refused = win.getByTestId('evm-mismatch');
      await refused.waitFor();
      expect(await refused.getByRole('heading').textContent()).toBe("The site's token details do not match USDC on Test chain");
      expect(await win.getByRole('button', { name: 'Approve', exact: true }).isDisabled()).toBe(true);
      await shoot(win, 'approval-evm-mismatch');
      await clickLast(win, 'Reject');
      await tab.close();
    },
    STEP_MS,
  );

  it(
    'a listed token that is off: "not enabled"; Enable asks first, then turns it on, and the window shows what is signed and the balance',
    async () => {
      const tab = await b.context.newPage();
      await tab.goto(shop.articleUrl).catch(() => undefined);
      const win = await approvalWindow();
      const off = win.getByTestId('evm-disabled');
      await off.waitFor();
      expect(await off.getByRole('heading').textContent()).toBe('USDC on Test chain is not enabled');
      expect(await win.getByTestId('amount').textContent()).toBe('0.01 USDC on Test chain');
      const approve = win.getByRole('button', { name: 'Approve', exact: true });
      expect(await approve.isDisabled()).toBe(true);
      // Enter approves nothing here.
      await win.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      await win.keyboard.press('Enter');
      expect(b.approvalPages()).toHaveLength(1);
      await shoot(win, 'approval-evm-disabled');

      // Asked first: nothing changes until the second, explicit yes.
      await win.getByRole('button', { name: 'Enable USDC on Test chain' }).click();
      const confirm = win.getByTestId('evm-confirm');
      await confirm.waitFor();
      expect(await confirm.locator('p').textContent()).toMatch(/^Enable USDC on Test chain\? Your wallet may then sign payments/);
      await expect.poll(() => win.evaluate(() => document.activeElement?.id)).toBe('evm-enable-question');
      expect((await storedNetworks())?.[2]?.tokens[0]?.enabled).toBe(false);
      await shoot(win, 'approval-evm-confirm');
      // Escape in the question takes it back (the request stays), and the focus returns to Enable.
      await win.keyboard.press('Escape');
      await confirm.waitFor({ state: 'detached' });
      expect(b.approvalPages()).toHaveLength(1);
      await expect.poll(() => win.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('evm-enable');
      await win.keyboard.press('Enter');
      await confirm.waitFor();
      await confirm.getByRole('button', { name: 'Yes, enable USDC on Test chain' }).click();

      await expect
        .poll(async () => {
          const n = (await storedNetworks())?.[2];
          return [n?.enabled, n?.tokens[0]?.enabled];
        })
        .toEqual([true, true]);
      // The worker plans the waiting request again: it is payable now.
      const signing = win.getByTestId('evm-signing');
      await signing.waitFor({ timeout: 15_000 });
      expect(await win.getByTestId('evm-amount').textContent()).toBe('0.01 USDC on Test chain');
      expect(await win.getByTestId('evm-network').textContent()).toBe(`Test chain (chain id ${bed.chain.chainId})`);
      expect(await win.getByTestId('evm-payee').locator('.mono').getAttribute('title')).toBe(payTo);
      expect(await win.getByTestId('evm-valid').textContent()).toMatch(/^from \d\d:\d\d:\d\d on .+ until \d\d:\d\d:\d\d on .+$/);
      await expect.poll(() => win.getByTestId('evm-balance').textContent(), { timeout: 15_000 }).toBe('2.5 USDC');
      await expect.poll(() => approve.isDisabled()).toBe(false);
      await shoot(win, 'approval-evm-enabled');
      await clickLast(win, 'Reject');
      await tab.close();
    },
    STEP_MS,
  );

  it(
    'window.tollway.fetch pays the reference shop through the window and resolves with the retried answer',
    async () => {
      const tab = await b.context.newPage();
      // A page of the shop's own (it has only the article): the provider is there, the fetch is same-origin.
      await tab.route(`${shop.url}/page`, (route) =>
        route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>Reference shop</title><p>Articles for USDC.</p>' }),
      );
      await tab.goto(`${shop.url}/page`);
      await tab.waitForFunction(() => 'tollway' in window, undefined, { timeout: 10_000 });
      const answer = tab
        .evaluate(async () => {
          const res = await (window as unknown as { tollway: { fetch(u: string): Promise<Response> } }).tollway.fetch('/article');
          return { status: res.status, body: (await res.json()) as unknown };
        })
        .catch((e: Error) => ({ error: e.message }));
      const win = await approvalWindow();
      await win.getByTestId('evm-signing').waitFor();
      await clickLast(win, 'Approve');
      expect(await answer).toEqual({ status: 200, body: { title: 'Paid in USDC', body: 'Thanks for reading.' } });
      expect(await bed.usdc.contract.balanceOf(payTo)).toBe(PRICE);
      // The retry's PAYMENT-RESPONSE reached the worker too: the hub's books have the settlement.
      await expect
        .poll(
          async () => {
            const res = await fetch(`${hub.url}/payments`, { headers: { authorization: `Bearer ${session.accessToken}` } });
            return ((await res.json()) as { data: { rail: string; status: string; receipt: { transactionHash?: string } }[] }).data;
          },
          { timeout: 15_000 },
        )
        .toEqual([
          expect.objectContaining({
            rail: 'wallet',
            status: 'completed',
            receipt: expect.objectContaining({ transactionHash: expect.stringMatching(/^0x[0-9a-f]{64}$/) }),
          }),
        ]);
      await tab.close();
    },
    STEP_MS,
  );

  it(
    'a network not in the list is never paid: the window says so, links to settings, and only Reject works',
    async () => {
      const item = settings.getByTestId(`network-${bed.chain.chainId}`);
      await item.getByRole('button', { name: 'Remove Test chain' }).click();
      await item.waitFor({ state: 'detached' });
      expect((await storedNetworks())?.map((n) => n.chainId)).toEqual([8453, 84532]);

      const tab = await b.context.newPage();
      await tab.goto(shop.articleUrl).catch(() => undefined);
      const win = await approvalWindow();
      const unknown = win.getByTestId('evm-unknown');
      await unknown.waitFor();
      expect(await unknown.getByRole('heading').textContent()).toBe(`This wallet does not pay on chain ${bed.chain.chainId}`);
      expect(await win.getByTestId('evm-settings').getAttribute('href')).toBe(
        `chrome-extension://${b.extensionId}/extension/onboarding/index.html`,
      );
      expect(await win.getByRole('button', { name: 'Approve', exact: true }).isDisabled()).toBe(true);
      await shoot(win, 'approval-evm-unknown');
      await clickLast(win, 'Reject');
      await tab.close();
    },
    STEP_MS,
  );

  it(
    'Reset to defaults asks first, then puts back Base and Base Sepolia, off, without limits or RPC URLs',
    async () => {
      const base = settings.getByTestId('network-8453');
      await base.getByRole('checkbox', { name: 'Allow USDC on Base' }).check();
      await base.getByRole('textbox', { name: 'RPC URL' }).fill('https://rpc.example/base');
      await base.getByRole('form', { name: 'RPC URL for Base' }).getByRole('button', { name: 'Save' }).click();
      await expect.poll(async () => (await storedNetworks())?.[0]).toMatchObject({ enabled: true, rpcUrl: 'https://rpc.example/base' });

      await settings.getByRole('button', { name: 'Reset to defaults' }).click();
      expect((await storedNetworks())?.[0]?.enabled).toBe(true);
      await settings.getByRole('button', { name: 'Reset', exact: true }).click();
      await expect
        .poll(async () => (await storedNetworks())?.map((n) => [n.chainId, n.enabled, n.rpcUrl, n.tokens.map((x) => x.enabled)]))
        .toEqual([
          [8453, false, undefined, [false]],
          [84532, false, undefined, [false]],
        ]);
      // The field shows the stored list again, not what was typed before.
      await expect.poll(() => settings.getByTestId('network-8453').getByRole('textbox', { name: 'RPC URL' }).inputValue()).toBe('');
    },
    STEP_MS,
  );
});
