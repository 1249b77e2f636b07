/**
 * Paying SOVR on chain from the extension's own wallet, in real Chromium with the built extension,
 * against a real hub whose SOVR rail is turned on from TOLLWAY_SOVR_* (as an operator does) on a
 * real local chain with the real contract. The wallet holds SOVR on chain only (minted to the
 * address the extension created at onboarding); its hub balance is empty.
 *
 * - A hub merchant's 402 (`tollway` entry): the window offers "Pay from" with the wallet chosen by
 *   default (the hub balance does not cover it) and shows what will be signed; one approval (by
 *   keyboard); the hub answers submitted, confirms on chain, and the page reloads with the content.
 *   Exactly one transfer on chain, to the hub's treasury; the popup shows the transaction hash with
 *   its explorer link.
 * - A plain x402 merchant (one `exact` entry, no hub of its own): one approval; the hub reserves;
 *   the page is retried with the signed authorization; the merchant verifies and settles it itself
 *   with the x402 reference facilitator; the hub completes the payment once it sees it used.
 */
import { Interface, type Log } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploySovr, startChain, type SovrDeployment, type TestChain } from '../helpers/chain.js';
import {
  buildExtension,
  CHROMIUM,
  hasChromium,
  launchWithExtension,
  type ExtensionBrowser,
  type WorkerChrome,
} from '../helpers/extension-browser.js';
import { startExactShop, type ExactShop } from '../helpers/extension-exact-shop.js';
import { onboard, type StoredHubSession } from '../helpers/extension-onboarding.js';
import { PRICE, startShop, type Shop } from '../helpers/extension-shop.js';
import { createMerchant, startTestHub, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';

declare const chrome: WorkerChrome;

const title = hasChromium ? 'SOVR on chain from the wallet, in Chromium' : `SOVR on chain in Chromium — SKIPPED: ${CHROMIUM} is missing`;
const EXACT_PRICE = 25n * 10n ** 14n; // 0.0025 SOVR

interface HubPayment {
  transactionId: string;
  status: string;
  rail: string;
  payTo: string;
  amount: string;
  receipt: { token?: string; transactionHash?: string; blockExplorerUrl?: string };
}

describe.skipIf(!hasChromium)(title, () => {
  let build: Awaited<ReturnType<typeof buildExtension>>;
  let chain: TestChain;
  let sovr: SovrDeployment;
  let hub: TestHub;
  let shop: Shop;
  let exactShop: ExactShop;
  let b: ExtensionBrowser;
  let session: StoredHubSession;
  let merchantId: string;
  let treasury: string;
  const transfer = new Interface(['event Transfer(address indexed from, address indexed to, uint256 value)']);

  const payments = async () =>
    (
      (await (await fetch(`${hub.url}/payments`, { headers: { authorization: `Bearer ${session.accessToken}` } })).json()) as {
        data: HubPayment[];
      }
    ).data;
  const historyOf = async () =>
    (
      (await b.worker.evaluate(() => chrome.storage.local.get('tollway.history').then((v) => v['tollway.history']))) as {
        requests: { url: string; status: string; paidFrom?: string }[];
      }
    ).requests;
  /** Every SOVR transfer out of the extension's wallet, on chain. */
  const transfersFromWallet = async () => {
    const logs: Log[] = await chain.provider.getLogs({
      address: sovr.address,
      fromBlock: 0,
      topics: [transfer.getEvent('Transfer')!.topicHash, `0x${session.user!.address.slice(2).toLowerCase().padStart(64, '0')}`],
    });
    return logs.map((l) => {
      const e = transfer.parseLog(l)!;
      return { to: e.args.to as string, value: e.args.value as bigint, hash: l.transactionHash };
    });
  };

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
          TOLLWAY_SOVR_EXPLORER_TX_URL: 'https://explorer.example/tx/{hash}',
        },
      }),
    ]);
    merchantId = (await createMerchant(hub.url, 'Chain shop')).merchant.id;
    shop = await startShop(hub.url, merchantId);
    exactShop = await startExactShop({
      rpcUrl: chain.rpcUrl,
      chainId: chain.chainId,
      token: sovr.address,
      payout: chain.accounts[6]!.address,
      relayerKey: chain.accounts[7]!.privateKey,
      price: EXACT_PRICE.toString(),
    });
    b = await launchWithExtension(build.dir);
    ({ session } = await onboard(b, hub.url));
    // SOVR in the wallet the extension created, on chain only.
    await sovr.mint(session.user!.address, 10n ** 18n);
  }, 180_000);

  afterAll(async () => {
    await b?.close();
    await exactShop?.close();
    await shop?.close();
    await hub?.stop();
    await chain?.stop();
    await build?.cleanup();
  });

  it('pays a hub merchant from the wallet: one approval, submitted, confirmed, the page reloads; one transfer to the treasury', async () => {
    const tab = await b.context.newPage();
    await tab.goto(`${shop.url}/paid/on-chain`).catch(() => undefined);
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

    // The hub balance is empty: the wallet is the default, and both are offered by name.
    const wallet = win.getByRole('radio', { name: /My wallet \(on chain\)/ });
    const hubBalance = win.getByRole('radio', { name: /Tollway balance/ });
    await expect.poll(() => wallet.isChecked(), { timeout: 10_000 }).toBe(true);
    expect(await hubBalance.isChecked()).toBe(false);
    // What will be signed: amount, the hub's treasury for this merchant, the validity as times.
    expect(await win.getByTestId('sign-amount').textContent()).toBe('0.0000000000000015 SOVR');
    expect(await win.getByTestId('sign-to').textContent()).toBe(
      `${treasury} (the hub's treasury, for merchant ${merchantId} at http://127.0.0.1:${new URL(shop.url).port})`,
    );
    expect(await win.getByTestId('sign-from').textContent()).toBe(`${session.user!.address} (your wallet)`);
    expect(await win.getByTestId('sign-valid').textContent()).toMatch(/^from \d\d:\d\d:\d\d on .+ until \d\d:\d\d:\d\d on .+$/);
    expect(await win.getByTestId('sign-token').textContent()).toBe(`SOVR 1 at ${sovr.address}, chain ${chain.chainId}`);

    // The hub balance could be picked instead, and back: the choice is the person's, by keyboard too.
    await hubBalance.check();
    expect(await win.getByTestId('signing').count()).toBe(0);
    await wallet.focus();
    await win.keyboard.press('Space');
    expect(await wallet.isChecked()).toBe(true);
    await win.getByTestId('signing').waitFor();

    // One approval, from the keyboard.
    const closed = win.waitForEvent('close');
    await win.getByRole('button', { name: 'Approve', exact: true }).focus();
    // The worker closes the window as soon as the approval lands, maybe before the key press returns.
    await win.keyboard.press('Enter').catch((e: Error) => {
      if (!win.isClosed() && !/closed/.test(e.message)) throw e;
    });
    await closed;

    await expect
      .poll(
        () =>
          tab
            .locator('#paid')
            .textContent()
            .catch(() => null),
        { timeout: 30_000 },
      )
      .toBe('Paid article /paid/on-chain');
    const [paid] = await payments();
    expect(paid).toMatchObject({ rail: 'sovr', status: 'completed', payTo: merchantId, amount: PRICE });
    expect(paid!.receipt.transactionHash).toMatch(/^0x[0-9a-f]{64}$/);
    expect(shop.proofs).toEqual([{ path: '/paid/on-chain', ok: true, sub: paid!.transactionId }]);
    expect(await transfersFromWallet()).toEqual([{ to: treasury, value: BigInt(PRICE), hash: paid!.receipt.transactionHash }]);
    expect(await sovr.contract.balanceOf(treasury)).toBe(BigInt(PRICE));
    expect((await historyOf()).map((r) => [r.status, r.paidFrom])).toEqual([['completed', 'wallet']]);

    // The popup's detail view: the transaction hash, linked to the explorer.
    const popup = await b.context.newPage();
    await popup.goto(`chrome-extension://${b.extensionId}/extension/popup/index.html`);
    await popup.locator(`[data-testid="payment"][data-id="${paid!.transactionId}"] button`).click();
    const link = popup.getByRole('link', { name: paid!.receipt.transactionHash! });
    expect(await link.getAttribute('href')).toBe(`https://explorer.example/tx/${paid!.receipt.transactionHash}`);
    await popup.close();
    await tab.close();
  });

  it('pays a plain x402 exact merchant: the hub reserves, the page carries the authorization, the merchant settles it, the hub completes', async () => {
    const before = await transfersFromWallet();
    const tab = await b.context.newPage();
    await tab.goto(`${exactShop.url}/exact/plain`).catch(() => undefined);
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
    // Only the wallet can pay it: no choice, just what is signed, to the merchant's own address.
    expect(await win.getByTestId('pay-from').count()).toBe(0);
    expect(await win.getByTestId('sign-to').textContent()).toBe(
      `${exactShop.payout} (http://127.0.0.1:${new URL(exactShop.url).port}'s own payout address)`,
    );
    expect(await win.getByTestId('sign-amount').textContent()).toBe('0.0025 SOVR');
    expect(await win.getByTestId('rail').textContent()).toBe('SOVR on chain, from your wallet');
    const closed = win.waitForEvent('close');
    await win
      .getByRole('button', { name: 'Approve', exact: true })
      .click({ noWaitAfter: true })
      .catch(() => undefined);
    await closed;

    await expect
      .poll(
        () =>
          tab
            .locator('#paid')
            .textContent()
            .catch(() => null),
        { timeout: 30_000 },
      )
      .toBe('Exact article /exact/plain');
    expect(exactShop.proofs).toEqual([
      {
        path: '/exact/plain',
        ok: true,
        reason: undefined,
        transaction: expect.stringMatching(/^0x[0-9a-f]{64}$/),
        payer: session.user!.address,
      },
    ]);
    const settledBy = exactShop.proofs[0]!.transaction!;
    expect(await sovr.contract.balanceOf(exactShop.payout)).toBe(EXACT_PRICE);
    const after = await transfersFromWallet();
    expect(after.slice(before.length)).toEqual([{ to: exactShop.payout, value: EXACT_PRICE, hash: settledBy }]);
    // The hub saw the authorization used: its payment completes with the merchant's transaction.
    await expect
      .poll(async () => (await payments()).find((p) => p.payTo === exactShop.payout), { timeout: 30_000 })
      .toMatchObject({ rail: 'sovr', status: 'completed', amount: EXACT_PRICE.toString(), receipt: { transactionHash: settledBy } });
    // The completion did not retry the page again: one proof shown, one settlement.
    expect(exactShop.proofs).toHaveLength(1);
    await expect
      .poll(async () => (await historyOf()).find((r) => r.url.endsWith('/exact/plain'))?.status, { timeout: 10_000 })
      .toBe('completed');
    await expectLedgerBalanced(hub.store.db);
  });
});
