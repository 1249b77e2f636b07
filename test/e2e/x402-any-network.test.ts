/**
 * x402 `exact` on another EVM network, paid from the extension's own wallet in real Chromium with
 * the built extension: a local chain of its own (31338) with a USDC-like token (6 decimals,
 * EIP-3009, "USD Coin" version "2"), an `@x402/express` shop with the reference facilitator, and a
 * real hub whose `wallet` rail keeps the books. Nothing of Tollway's runs on the shop's side.
 *
 * - Listed but off: the 402 is not paid and the window says so; enabled with the window's "Enable"
 *   (asked first), the waiting request is planned again and becomes payable,
 *   one approval pays it, the page gets the article, and the hub's history and the CSV export show
 *   the payment with the settlement transaction.
 * - A shop whose entry names another EIP-712 name: refused, nothing signed.
 * - A budget pays without asking; a hub that refuses the budget sends it to the window.
 * - The daily limit stops a payment (even one the person would approve) until it is raised.
 * - The worker stopped after signing, before the hub heard: the next worker sends the same bytes,
 *   and the chain settles that authorization once.
 */
import type { Page, Worker } from 'playwright-core';
import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenAsset } from '../../shared/wallet-payments.js';
import {
  buildExtension,
  CHROMIUM,
  hasChromium,
  launchWithExtension,
  type ExtensionBrowser,
  type WorkerChrome,
} from '../helpers/extension-browser.js';
import { onboard, type StoredHubSession } from '../helpers/extension-onboarding.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { startUsdcChain, type UsdcChain } from '../helpers/usdc-chain.js';
import { referenceFacilitator, startReferenceShop, type ReferenceShop } from '../helpers/x402-reference-shop.js';

declare const chrome: WorkerChrome;

const title = hasChromium
  ? 'x402 exact on any EVM network, in Chromium'
  : `x402 exact on any EVM network — SKIPPED: ${CHROMIUM} is missing`;
const PRICE = 10_000n; // 0.01 USDC
const EXPLORER = 'https://explorer.example';

interface HubPayment {
  transactionId: string;
  status: string;
  rail: string;
  payTo: string;
  amount: string;
  asset: string;
  resource: { url: string } | null;
  receipt: { transactionHash?: string; blockExplorerUrl?: string };
}
interface Stored {
  id: string;
  url: string;
  status: string;
  note?: string;
  unpayable: string | null;
  payment: { rail: string; authorization?: { nonce: string } } | null;
  evm?: { state: string; dailyLimit?: { limit: string; spentToday: string } };
  result: { transactionId: string; receipt: { transactionHash?: string } } | null;
}
type Marked = { stoppedWorker?: boolean; postHeld?: boolean };

describe.skipIf(!hasChromium)(title, () => {
  let build: Awaited<ReturnType<typeof buildExtension>>;
  let bed: UsdcChain;
  let hub: TestHub;
  let shop: ReferenceShop;
  let fakeShop: ReferenceShop;
  let b: ExtensionBrowser;
  let session: StoredHubSession;
  let asset: string;
  const payTo = Wallet.createRandom().address;

  /** The networks list as settings keep it: the test chain with its USDC, on or off, with a daily limit. */
  const networks = (enabled: boolean, dailyLimit?: bigint) => [
    {
      chainId: bed.chain.chainId,
      name: 'Test chain',
      aliases: [],
      explorer: EXPLORER,
      enabled,
      tokens: [
        {
          address: bed.usdc.address,
          symbol: 'USDC',
          decimals: 6,
          eip712: { name: 'USD Coin', version: '2' },
          enabled,
          ...(dailyLimit !== undefined ? { dailyLimit: dailyLimit.toString() } : {}),
        },
      ],
    },
  ];

  /**
   * Whether `w` runs an instance the test never stopped (Playwright's Worker can outlive a stop; its
   * evaluate then waits for a new one): the marker, and a time limit.
   */
  const fresh = (w: Worker) =>
    Promise.race([
      w.evaluate(() => !(globalThis as Marked).stoppedWorker).catch(() => false),
      new Promise<false>((r) => setTimeout(() => r(false), 2000)),
    ]);
  async function worker(): Promise<Worker> {
    for (let i = 0; ; i++) {
      for (const w of b.context
        .serviceWorkers()
        .filter((x) => x.url().includes(b.extensionId))
        .reverse())
        if (await fresh(w)) return w;
      if (i > 20) throw new Error('no service worker started');
      const wake = await b.context.newPage();
      await wake.goto(`${shop.url}/wake`).catch(() => undefined);
      await wake.close();
    }
  }
  const setNetworks = async (list: unknown) => (await worker()).evaluate((v) => chrome.storage.local.set({ 'tollway.networks': v }), list);
  const stored = async (key: 'tollway.approvals' | 'tollway.history') =>
    (((await (await worker()).evaluate((k) => chrome.storage.local.get(k).then((v) => v[k]), key)) as { requests: Stored[] } | undefined)
      ?.requests ?? []) as Stored[];
  const spentEntries = async () =>
    ((
      (await (await worker()).evaluate(() => chrome.storage.local.get('tollway.evmSpent').then((v) => v['tollway.evmSpent']))) as
        | { entries: unknown[] }
        | undefined
    )?.entries ?? []) as { amount: string }[];
  const payments = async () =>
    (
      (await (await fetch(`${hub.url}/payments`, { headers: { authorization: `Bearer ${session.accessToken}` } })).json()) as {
        data: HubPayment[];
      }
    ).data;
  /** Every authorization of the extension's wallet the token executed, on chain. */
  const usedOnChain = async () =>
    (await bed.usdc.contract.queryFilter(bed.usdc.contract.filters.AuthorizationUsed!(session.user!.address), 0)).map(
      (l) => (l as unknown as { args: { nonce: string } }).args.nonce,
    );
  const articleText = (tab: Page) => () =>
    tab
      .locator('body')
      .textContent({ timeout: 500 })
      .catch(() => null);
  async function oneWindow(): Promise<Page> {
    await expect.poll(() => b.approvalPages().length, { timeout: 15_000 }).toBe(1);
    return b.approvalPages()[0]!;
  }
  /** Clicks a button of the window; the worker may close the window before the click returns. */
  const press = (win: Page, name: string) =>
    win
      .getByRole('button', { name, exact: true })
      .click({ noWaitAfter: true, timeout: 10_000 })
      .catch((e: Error) => {
        if (!win.isClosed() && !/closed/.test(e.message)) throw e;
      });
  /** The window offers no approval: no Approve button, or one that is disabled. */
  const cannotApprove = async (win: Page) => {
    const button = win.getByRole('button', { name: 'Approve', exact: true });
    return (await button.count()) === 0 || (await button.isDisabled());
  };
  const pendingOne = async () => {
    const pending = (await stored('tollway.approvals')).filter((r) => r.status === 'pending');
    return pending.length === 1 ? pending[0]! : null;
  };
  /** One completed wallet-rail payment at the hub for the article, with the chain's transaction. */
  async function expectSettled(before: number): Promise<HubPayment> {
    await expect.poll(async () => (await payments()).length, { timeout: 15_000 }).toBe(before + 1);
    await expect.poll(async () => (await payments())[0]!.status, { timeout: 15_000 }).toBe('completed');
    const [p] = await payments();
    expect(p).toMatchObject({ rail: 'wallet', payTo, amount: PRICE.toString(), asset, resource: { url: shop.articleUrl } });
    const hash = p!.receipt.transactionHash!;
    expect(hash).toMatch(/^0x[0-9a-f]{64}$/);
    expect(p!.receipt.blockExplorerUrl).toBe(`${EXPLORER}/tx/${hash}`);
    expect((await bed.chain.provider.getTransactionReceipt(hash))?.status).toBe(1);
    return p!;
  }

  beforeAll(async () => {
    bed = await startUsdcChain();
    asset = tokenAsset(bed.chain.chainId, bed.usdc.address);
    const facilitator = referenceFacilitator({
      rpcUrl: bed.chain.rpcUrl,
      chainId: bed.chain.chainId,
      relayerKey: bed.chain.accounts[2]!.privateKey,
    });
    shop = await startReferenceShop({ facilitator, token: bed.token, payTo, price: PRICE });
    // The same token, but the shop's entry names another EIP-712 name than the token has.
    fakeShop = await startReferenceShop({ facilitator, token: { ...bed.token, name: 'USD Coin (fake)' }, payTo, price: PRICE });
    [build, hub] = await Promise.all([buildExtension(), startTestHub('sqlite')]);
    b = await launchWithExtension(build.dir);
    ({ session } = await onboard(b, hub.url));
    await bed.fund(session.user!.address, 1_000_000n);
  }, 240_000);

  afterAll(async () => {
    await b?.close();
    await fakeShop?.close();
    await shop?.close();
    await hub?.stop();
    await bed?.stop();
    await build?.cleanup();
  });

  it('does not pay a token that is listed but off; enabled, one approval pays it, settled on chain, in the history and the CSV', {
    timeout: 120_000,
  }, async () => {
    await setNetworks(networks(false));
    const tab = await b.context.newPage();
    await tab.goto(shop.articleUrl).catch(() => undefined);
    const win = await oneWindow();
    await expect.poll(pendingOne, { timeout: 10_000 }).toMatchObject({
      evm: { state: 'disabled' },
      payment: null,
      unpayable: '0.01 USDC on Test chain is not enabled: nothing is paid until you enable it',
    });
    await win.getByTestId('evm-disabled').waitFor({ timeout: 10_000 });
    expect(await cannotApprove(win)).toBe(true);
    expect(await payments()).toEqual([]);
    expect(await spentEntries()).toEqual([]);

    // "Enable USDC on Test chain" in the window, asked first: the list is switched on, and the
    // waiting request is planned again.
    await win.getByTestId('evm-enable').click();
    await win
      .getByTestId('evm-confirm')
      .getByRole('button', { name: /^Yes, enable / })
      .click();
    await expect
      .poll(
        async () =>
          (await (
            await worker()
          ).evaluate(() => chrome.storage.local.get('tollway.networks').then((v) => v['tollway.networks']))) as unknown,
        {
          timeout: 10_000,
        },
      )
      .toEqual(networks(true));
    await expect
      .poll(pendingOne, { timeout: 10_000 })
      .toMatchObject({ evm: { state: 'enabled' }, payment: { rail: 'wallet' }, unpayable: null });
    await win.getByTestId('evm-signing').waitFor({ timeout: 10_000 });
    expect(await win.getByTestId('evm-amount').textContent()).toContain('0.01');
    await press(win, 'Approve');

    await expect.poll(articleText(tab), { timeout: 30_000 }).toContain('Paid in USDC');
    const paid = await expectSettled(0);
    expect(await bed.usdc.contract.balanceOf(payTo)).toBe(PRICE);
    expect(await bed.usdc.contract.balanceOf(session.user!.address)).toBe(1_000_000n - PRICE);
    expect(await usedOnChain()).toHaveLength(1);
    await expect
      .poll(async () => (await stored('tollway.history')).map((r) => [r.status, r.result?.receipt.transactionHash]), { timeout: 10_000 })
      .toEqual([['completed', paid.receipt.transactionHash]]);
    expect((await spentEntries()).map((e) => e.amount)).toEqual([PRICE.toString()]);

    // The popup's receipt shows the transaction, linked to the explorer from the networks list.
    const popup = await b.context.newPage();
    await popup.goto(`chrome-extension://${b.extensionId}/extension/popup/index.html`);
    await popup.locator(`[data-testid="payment"][data-id="${paid.transactionId}"] button`).click();
    const link = popup.getByRole('link', { name: paid.receipt.transactionHash! });
    expect(await link.getAttribute('href')).toBe(`${EXPLORER}/tx/${paid.receipt.transactionHash}`);
    // … and its CSV export has the payment with its transaction and explorer link.
    const reply = (await popup.evaluate(() =>
      (globalThis as unknown as { chrome: { runtime: { sendMessage(m: unknown): Promise<unknown> } } }).chrome.runtime.sendMessage({
        type: 'payments.export',
      }),
    )) as { ok: boolean; csv: string };
    const row = reply.csv.split('\r\n').find((l) => l.startsWith(paid.transactionId));
    expect(row).toContain(`,${asset},wallet,${payTo},`);
    expect(row).toContain(`,${paid.receipt.transactionHash},${EXPLORER}/tx/${paid.receipt.transactionHash},`);
    await popup.close();
    await tab.close();
    await expectLedgerBalanced(hub.store.db);
  });

  it("refuses an entry whose EIP-712 name is not the listed token's: nothing signed, nothing recorded", { timeout: 120_000 }, async () => {
    const before = await payments();
    const tab = await b.context.newPage();
    await tab.goto(fakeShop.articleUrl).catch(() => undefined);
    const win = await oneWindow();
    await expect.poll(pendingOne, { timeout: 10_000 }).toMatchObject({ evm: { state: 'mismatch' }, payment: null });
    await win.getByTestId('evm-mismatch').waitFor({ timeout: 10_000 });
    expect(await cannotApprove(win)).toBe(true);
    await press(win, 'Reject');
    await expect.poll(async () => (await stored('tollway.history'))[0]?.status, { timeout: 10_000 }).toBe('rejected');
    expect(await payments()).toEqual(before);
    expect(await spentEntries()).toHaveLength(1);
    expect(await usedOnChain()).toHaveLength(1);
    await tab.close();
  });

  it('pays within a budget without asking; the hub refusing the budget sends it to the window with a note', {
    timeout: 120_000,
  }, async () => {
    const auth = { authorization: `Bearer ${session.accessToken}`, 'content-type': 'application/json' };
    const budget = (amount: bigint) =>
      fetch(`${hub.url}/allowances`, {
        method: 'PUT',
        headers: auth,
        body: JSON.stringify({ site: shop.url, payee: payTo.toLowerCase(), asset, amount: amount.toString(), period: 'day' }),
      });
    expect((await budget(3n * PRICE)).status).toBe(200);
    const popup = await b.context.newPage();
    await popup.goto(`chrome-extension://${b.extensionId}/extension/popup/index.html`);
    const sync = () =>
      popup.evaluate(() =>
        (globalThis as unknown as { chrome: { runtime: { sendMessage(m: unknown): Promise<unknown> } } }).chrome.runtime.sendMessage({
          type: 'budget.sync',
        }),
      );
    expect(await sync()).toEqual({ ok: true });

    const auto = await b.context.newPage();
    await auto.goto(shop.articleUrl).catch(() => undefined);
    await expect.poll(articleText(auto), { timeout: 30_000 }).toContain('Paid in USDC');
    expect(b.approvalPages()).toHaveLength(0);
    await expectSettled(1);
    const charged = (await (await fetch(`${hub.url}/allowances`, { headers: auth })).json()) as { data: { spent: string }[] };
    expect(charged.data).toEqual([expect.objectContaining({ spent: PRICE.toString() })]);
    await auto.close();

    // Lowered at the hub below the price, while the extension still believes the old budget: the
    // auto-payment is signed, refused by the hub, and the person is asked.
    expect((await budget(PRICE / 2n)).status).toBe(200);
    const asked = await b.context.newPage();
    await asked.goto(shop.articleUrl).catch(() => undefined);
    const win = await oneWindow();
    await expect
      .poll(
        () =>
          win
            .getByTestId('note')
            .textContent()
            .catch(() => null),
        { timeout: 10_000 },
      )
      .toMatch(/^Over this site's budget/);
    // The refused authorization went nowhere: not counted, not on chain, not at the hub.
    expect(await spentEntries()).toHaveLength(2);
    expect(await usedOnChain()).toHaveLength(2);
    expect(await payments()).toHaveLength(2);
    expect((await pendingOne())?.payment?.authorization).toBeUndefined();
    await press(win, 'Approve');
    await expect.poll(articleText(asked), { timeout: 30_000 }).toContain('Paid in USDC');
    await expectSettled(2);
    expect(await usedOnChain()).toHaveLength(3);
    await asked.close();
    await popup.close();
  });

  it('stops at the daily limit, even for an approval, until the person raises it', { timeout: 120_000 }, async () => {
    // Three paid today: a limit of three and a half payments leaves no room for a fourth.
    await setNetworks(networks(true, 3n * PRICE + PRICE / 2n));
    const tab = await b.context.newPage();
    await tab.goto(shop.articleUrl).catch(() => undefined);
    const win = await oneWindow();
    await expect.poll(pendingOne, { timeout: 10_000 }).toMatchObject({
      payment: null,
      evm: { state: 'enabled', dailyLimit: { limit: '35000', spentToday: '30000' } },
      unpayable: expect.stringMatching(/^0\.01 USDC on Test chain would go past today's limit for this token \(0\.03 USDC/),
    });
    await expect.poll(() => win.locator('body').textContent(), { timeout: 10_000 }).toContain("would go past today's limit");
    expect(await cannotApprove(win)).toBe(true);
    expect(await payments()).toHaveLength(3);

    await setNetworks(networks(true, 10n * PRICE));
    await expect.poll(pendingOne, { timeout: 10_000 }).toMatchObject({ payment: { rail: 'wallet' }, unpayable: null });
    await press(win, 'Approve');
    await expect.poll(articleText(tab), { timeout: 30_000 }).toContain('Paid in USDC');
    await expectSettled(3);
    await tab.close();
  });

  it('a worker stopped after signing, before the hub heard: the next one sends the same bytes, settled once', {
    timeout: 120_000,
  }, async () => {
    const w = await worker();
    // The worker's POST /payments never leaves, as if Chrome stopped it just before sending.
    await w.evaluate(() => {
      const real = globalThis.fetch;
      globalThis.fetch = (input, init) => {
        if (init?.method === 'POST' && String(input).endsWith('/payments')) {
          (globalThis as Marked).postHeld = true;
          return new Promise<Response>(() => undefined);
        }
        return real(input, init);
      };
    });
    const before = await payments();
    const tab = await b.context.newPage();
    await tab.goto(shop.articleUrl).catch(() => undefined);
    const win = await oneWindow();
    await expect.poll(pendingOne, { timeout: 10_000 }).toMatchObject({ payment: { rail: 'wallet' } });
    await press(win, 'Approve');
    await expect.poll(() => w.evaluate(() => (globalThis as Marked).postHeld ?? false), { timeout: 10_000 }).toBe(true);
    // Signed and stored before anything was sent.
    const [signed] = (await stored('tollway.approvals')).filter((r) => r.status === 'paying');
    const nonce = signed!.payment!.authorization!.nonce;
    expect(nonce).toMatch(/^0x[0-9a-f]{64}$/);
    expect(await payments()).toEqual(before);

    // Stopped as Chrome stops an idle worker (CDP Target.closeTarget).
    await w.evaluate(() => void ((globalThis as Marked).stoppedWorker = true));
    const probe = await b.context.newPage();
    await probe.goto('about:blank');
    const cdp = await b.context.newCDPSession(probe);
    const workers = async () =>
      ((await cdp.send('Target.getTargets')) as { targetInfos: { targetId: string; type: string; url: string }[] }).targetInfos.filter(
        (t) => t.type === 'service_worker' && t.url.includes(b.extensionId),
      );
    const [sw] = await workers();
    await cdp.send('Target.closeTarget', { targetId: sw!.targetId });
    await expect.poll(async () => (await workers()).map((t) => t.targetId), { timeout: 10_000 }).not.toContain(sw!.targetId);
    await cdp.detach();
    await probe.close();

    // The next worker (woken by a page load) replays the stored request: same key, same signed bytes.
    await worker();
    await expect.poll(articleText(tab), { timeout: 40_000 }).toContain('Paid in USDC');
    const paid = await expectSettled(before.length);
    const used = await usedOnChain();
    expect(used).toHaveLength(5);
    expect(used.at(-1)).toBe(nonce);
    await expect
      .poll(
        async () =>
          (await stored('tollway.history'))
            .filter((r) => r.id === signed!.id)
            .map((r) => [r.status, r.payment?.authorization?.nonce, r.result?.transactionId]),
        { timeout: 10_000 },
      )
      .toEqual([['completed', nonce, paid.transactionId]]);
    await tab.close();
    await expectLedgerBalanced(hub.store.db);
  });
});
