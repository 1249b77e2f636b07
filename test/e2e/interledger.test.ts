/**
 * Paying from an Interledger wallet in real Chromium with the built extension, against a real hub
 * whose ilp rail is an Open Payments client of the local wallet provider (devnet/interledger, every
 * request checked against the Open Payments specifications), and a shop whose paywall names the
 * ilp rail and its wallet address:
 *
 * - the settings page links the person's wallet (a USD wallet is refused in the hub's words first);
 * - approve → "Pay from: Your Interledger wallet" → the wallet's own consent page opens in a window
 *   of its own → Approve there → the wallet sends that window to the hub, the hub pays, the worker
 *   hears it on the live socket and the article opens with the receipt; history says completed;
 * - Reject on the consent page: failed with the reason, nothing paid, no receipt;
 * - no answer on the consent page: the hub's (short) consent time lapses, failed, nothing paid;
 * - a limit per day approved once on the consent page pays the next article with no consent page;
 *   the popup's wallet limits show what is left, and Revoke removes it at the wallet.
 *
 * The ledger invariant holds after each, and the wallets' balances say what moved.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalInterledger, startLocalInterledger } from '../../devnet/interledger/index.js';
import { paywall } from '../../merchant/index.js';
import { ilpConfig } from '../../server/rails/ilp/config.js';
import { createIlpRail } from '../../server/rails/ilp/index.js';
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
import { ADMIN_TOKEN, startTestHub, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';

declare const chrome: WorkerChrome;

const title = hasChromium ? 'Interledger wallet payments in Chromium' : `Interledger in Chromium — SKIPPED: ${CHROMIUM} is missing`;
/** 0.002 SOVR: 2 × 10^15 hub base units (18 decimals), 2,000,000 units of a wallet at scale 9. */
const PRICE = '2000000000000000';
const PRICE_WALLET = 2_000_000n;
const START = 100_000_000_000n; // 100 SOVR at scale 9
/** The person has this long to answer on the wallet's page: short, so that a lapse can be awaited. */
const CONSENT_SECONDS = 15;

interface HistoryEntry {
  url: string;
  status: string;
  error: string | null;
  paidFrom?: string;
  result: { rail: string; status: string; receipt: Record<string, unknown> } | null;
}

describe.skipIf(!hasChromium)(title, () => {
  let build: Awaited<ReturnType<typeof buildExtension>>;
  let wallet: LocalInterledger;
  let hub: TestHub;
  let b: ExtensionBrowser;
  let session: StoredHubSession;
  let settings: Page;
  let person: string;
  let shopWallet: string;
  let shop: { url: string; server: Server };

  beforeAll(async () => {
    wallet = await startLocalInterledger();
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const clientWallet = (await wallet.createWallet('tollway-hub', { assetCode: 'SOVR', assetScale: 9, balance: 0n })).url;
    wallet.addClientKey(clientWallet, {
      kid: 'hub-key',
      alg: 'EdDSA',
      kty: 'OKP',
      crv: 'Ed25519',
      x: (publicKey.export({ format: 'jwk' }) as { x: string }).x,
    });
    const configured = ilpConfig({
      TOLLWAY_ILP_WALLET_ADDRESS: clientWallet,
      TOLLWAY_ILP_PRIVATE_KEY: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      TOLLWAY_ILP_KEY_ID: 'hub-key',
      TOLLWAY_ILP_ALLOW_PRIVATE: true,
      TOLLWAY_ILP_CONSENT_TIMEOUT: 600,
      TOLLWAY_ILP_SETTLE_WAIT: 10,
    })!;
    // Shorter than the environment allows (30 s at least): the lapse is awaited in real time.
    // (Set in place: the settings keep the key out of sight, where a spread would not copy it.)
    const ilp = Object.assign(configured, { consentSeconds: CONSENT_SECONDS });
    person = (await wallet.createWallet('person', { assetCode: 'SOVR', assetScale: 9, balance: START, publicName: 'Person' })).url;
    shopWallet = (await wallet.createWallet('shop', { assetCode: 'SOVR', assetScale: 9, balance: 0n })).url;
    await wallet.createWallet('dollars', { assetCode: 'USD', assetScale: 2, balance: 10_000n });
    [build, hub] = await Promise.all([
      buildExtension(),
      startTestHub('sqlite', { rails: (parts) => ({ ilp: createIlpRail(parts, ilp, { pollMs: 50, expiryCheckMs: 500 }) }) }),
    ]);
    const m = await fetch(`${hub.url}/merchants`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({ name: 'Interledger shop', walletAddress: shopWallet }),
    });
    expect(m.status).toBe(201);
    const merchantId = ((await m.json()) as { merchant: { id: string } }).merchant.id;
    const app = express();
    app.get(
      '/articles/:slug',
      paywall({
        hub: hub.url,
        merchantId,
        price: PRICE,
        asset: 'SOVR',
        description: 'An article',
        interledger: { walletAddress: shopWallet },
      }),
      (req, res) => void res.type('html').send(`<!doctype html><title>paid</title><h1 id="paid">Article ${req.params.slug}</h1>`),
    );
    const server = await new Promise<Server>((r) => {
      const s = app.listen(0, '127.0.0.1', () => r(s));
    });
    shop = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
    b = await launchWithExtension(build.dir);
    ({ session, page: settings } = await onboard(b, hub.url));
  }, 180_000);

  afterAll(async () => {
    await b?.close();
    await new Promise<void>((r) => (shop?.server ? shop.server.close(() => r()) : r()));
    await hub?.stop();
    await wallet?.close();
    await build?.cleanup();
  });

  const history = async (): Promise<HistoryEntry[]> =>
    ((await b.worker.evaluate(() => chrome.storage.local.get('tollway.history'))) as { 'tollway.history'?: { requests: HistoryEntry[] } })[
      'tollway.history'
    ]?.requests ?? [];
  const entryFor = async (path: string) => (await history()).find((r) => r.url.endsWith(path));
  const hubPayments = async () =>
    (
      (await (await fetch(`${hub.url}/payments`, { headers: { authorization: `Bearer ${session.accessToken}` } })).json()) as {
        data: { rail: string; status: string; failureReason: string | null; receipt: { token?: string } }[];
      }
    ).data;
  const consentPages = () => b.context.pages().filter((p) => p.url().startsWith(`${wallet.origin}/auth/interact/`));

  /** Opens the article, approves it in the window from the Interledger wallet (with a daily limit when given). */
  async function payFromWallet(path: string, limit?: string): Promise<Page> {
    const tab = await b.context.newPage();
    await tab.goto(`${shop.url}${path}`).catch(() => undefined);
    await expect.poll(() => b.approvalPages().length, { timeout: 15_000 }).toBe(1);
    const win = b.approvalPages()[0]!;
    const fromWallet = win.getByTestId('pay-from-ilp');
    await fromWallet.waitFor({ timeout: 15_000 });
    expect(await win.getByTestId('pay-from').textContent()).toContain(`Your Interledger wallet (${person})`);
    await fromWallet.check();
    if (limit) {
      await win.getByTestId('budget-on').check();
      await win.getByTestId('budget-amount').fill(limit);
      expect(await win.getByTestId('budget-payee').textContent()).toContain(person);
    }
    await clickLast(win, 'Approve');
    return tab;
  }

  async function consentPage(): Promise<Page> {
    await expect.poll(() => consentPages().length, { timeout: 15_000 }).toBe(1);
    const page = consentPages()[0]!;
    await page.getByRole('heading', { name: 'Approve a payment?' }).waitFor({ timeout: 15_000 });
    return page;
  }

  const paidText = (tab: Page) =>
    tab
      .locator('#paid')
      .textContent()
      .catch(() => null);

  it('links the wallet in settings, refusing one the hub cannot pay from in its own words', async () => {
    const section = settings.getByTestId('ilp-wallet');
    await section.waitFor({ timeout: 15_000 });
    const input = section.getByLabel('Wallet address');
    await input.fill(`${wallet.origin}/dollars`);
    await section.getByRole('button', { name: 'Link wallet' }).click();
    await expect.poll(() => section.getByRole('alert').textContent(), { timeout: 15_000 }).toMatch(/USD at scale 2/);
    await input.fill(person);
    await section.getByRole('button', { name: 'Link wallet' }).click();
    await expect.poll(() => section.getByTestId('ilp-wallet-address').textContent({ timeout: 15_000 })).toBe(person);
    expect(await section.getByTestId('ilp-wallet-asset').textContent()).toBe('SOVR, 9 decimal places');
    const linked = await fetch(`${hub.url}/ilp/wallet`, { headers: { authorization: `Bearer ${session.accessToken}` } });
    expect(((await linked.json()) as { walletAddress: string }).walletAddress).toBe(person);
  });

  it("approve on the wallet's own consent page: the article opens with the receipt, and history has it", async () => {
    const tab = await payFromWallet('/articles/approved');
    const consent = await consentPage();
    // The wallet's real page, at its own origin, naming the person's wallet.
    expect(new URL(consent.url()).origin).toBe(wallet.origin);
    expect(await consent.locator('body').textContent()).toContain(person);
    await consent.getByRole('button', { name: 'Approve' }).click({ noWaitAfter: true });

    await expect.poll(() => paidText(tab), { timeout: 30_000 }).toBe('Article approved');
    await expect.poll(async () => (await entryFor('/articles/approved'))?.status, { timeout: 15_000 }).toBe('completed');
    const done = (await entryFor('/articles/approved'))!;
    expect(done).toMatchObject({ paidFrom: 'ilp', error: null, result: { rail: 'ilp', status: 'completed' } });
    // The receipt went to the page's retry only, never into local storage.
    expect(done.result!.receipt.token).toBeUndefined();
    // Its payment is final: the worker closed the consent window.
    await expect.poll(() => consentPages().length, { timeout: 15_000 }).toBe(0);
    expect(wallet.balanceOf(person)).toBe(START - PRICE_WALLET);
    expect(wallet.balanceOf(shopWallet)).toBe(PRICE_WALLET);
    const [paid] = await hubPayments();
    expect(paid).toMatchObject({ rail: 'ilp', status: 'completed' });
    expect(paid!.receipt.token).toBeTruthy();

    // The popup lists it among the payments.
    const popup = await b.context.newPage();
    await popup.goto(`chrome-extension://${b.extensionId}/extension/popup/index.html`);
    await expect.poll(() => popup.locator('body').textContent(), { timeout: 15_000 }).toContain('0.002 SOVR');
    await popup.close();
    await expectLedgerBalanced(hub.store.db);
  });

  it('reject on the consent page: failed with the reason, nothing paid, no receipt', async () => {
    const tab = await payFromWallet('/articles/rejected');
    const consent = await consentPage();
    await consent.getByRole('button', { name: 'Reject' }).click({ noWaitAfter: true });
    await expect.poll(async () => (await entryFor('/articles/rejected'))?.status, { timeout: 20_000 }).toBe('failed');
    const failed = (await entryFor('/articles/rejected'))!;
    expect(failed.error).toMatch(/reject/i);
    expect(failed.result).toMatchObject({ rail: 'ilp', status: 'failed' });
    expect(await tab.locator('#paid').count()).toBe(0);
    expect(wallet.balanceOf(person)).toBe(START - PRICE_WALLET);
    expect(wallet.balanceOf(shopWallet)).toBe(PRICE_WALLET);
    const [last] = await hubPayments();
    expect(last).toMatchObject({ rail: 'ilp', status: 'failed' });
    expect(last!.receipt.token).toBeUndefined();
    await expect.poll(() => consentPages().length, { timeout: 15_000 }).toBe(0);
    await expectLedgerBalanced(hub.store.db);
  });

  it('no answer within the consent time: failed, the consent page is gone, nothing paid; a closed page opens again from the popup meanwhile', async () => {
    const tab = await payFromWallet('/articles/lapsed');
    // Closed without an answer: the popup says the payment waits, and opens the wallet's page again.
    await (await consentPage()).close();
    const popup = await b.context.newPage();
    await popup.goto(`chrome-extension://${b.extensionId}/extension/popup/index.html`);
    const waiting = popup.getByTestId('ilp-waiting');
    await waiting.getByRole('button', { name: "Open the wallet's page" }).click({ timeout: 15_000 });
    await consentPage();
    await expect
      .poll(async () => (await entryFor('/articles/lapsed'))?.status, { timeout: (CONSENT_SECONDS + 20) * 1000, interval: 500 })
      .toBe('failed');
    const failed = (await entryFor('/articles/lapsed'))!;
    expect(failed.error).toMatch(/within/);
    await expect.poll(() => consentPages().length, { timeout: 15_000 }).toBe(0);
    await expect.poll(() => waiting.count(), { timeout: 15_000 }).toBe(0);
    await popup.close();
    expect(await tab.locator('#paid').count()).toBe(0);
    expect(wallet.balanceOf(person)).toBe(START - PRICE_WALLET);
    const [last] = await hubPayments();
    expect(last).toMatchObject({ rail: 'ilp', status: 'failed' });
    await expectLedgerBalanced(hub.store.db);
  }, 60_000);

  it('a daily limit approved once pays the next article without a consent page; the popup shows what is left and revokes it', async () => {
    const first = await payFromWallet('/articles/limit-1', '0.01');
    const consent = await consentPage();
    // The wallet is asked for the limit, not for this one payment.
    expect(await consent.locator('body').textContent()).toMatch(/0\.01|10000000/);
    await consent.getByRole('button', { name: 'Approve' }).click({ noWaitAfter: true });
    await expect.poll(() => paidText(first), { timeout: 30_000 }).toBe('Article limit-1');

    const second = await payFromWallet('/articles/limit-2');
    await expect.poll(() => paidText(second), { timeout: 30_000 }).toBe('Article limit-2');
    expect(consentPages()).toHaveLength(0);
    expect(await entryFor('/articles/limit-2')).toMatchObject({ status: 'completed', paidFrom: 'ilp' });
    expect(wallet.balanceOf(person)).toBe(START - 3n * PRICE_WALLET);
    expect(wallet.balanceOf(shopWallet)).toBe(3n * PRICE_WALLET);

    const popup = await b.context.newPage();
    await popup.goto(`chrome-extension://${b.extensionId}/extension/popup/index.html`);
    await popup.getByRole('button', { name: 'Wallet limits' }).click({ timeout: 15_000 });
    const grant = popup.getByTestId('grant');
    await expect.poll(() => grant.getByTestId('grant-left').textContent({ timeout: 15_000 })).toBe('0.006 SOVR left of 0.01 SOVR per day');
    await grant.getByRole('button', { name: 'Revoke' }).click();
    await popup.getByTestId('grants-none').waitFor({ timeout: 15_000 });
    const grants = await fetch(`${hub.url}/ilp/grants`, { headers: { authorization: `Bearer ${session.accessToken}` } });
    expect(((await grants.json()) as { data: unknown[] }).data).toEqual([]);
    await popup.close();

    // Revoked: the next payment from the wallet asks on its page again.
    await payFromWallet('/articles/limit-3');
    const again = await consentPage();
    await again.getByRole('button', { name: 'Reject' }).click({ noWaitAfter: true });
    await expect.poll(async () => (await entryFor('/articles/limit-3'))?.status, { timeout: 20_000 }).toBe('failed');
    await expectLedgerBalanced(hub.store.db);
  }, 90_000);
});
