/**
 * The in-page provider in real Chromium: the worker registers `window.tollway` (MAIN world) and its
 * bridge (ISOLATED world); a page script's `tollway.fetch` on a 402 resource opens exactly one
 * approval window (the 402 webRequest also saw collapses into the same request), pays once, and
 * resolves with the paid content; `tollway.pay(challenge)` resolves with a receipt the hub signed;
 * rejecting rejects the promise and pays nothing.
 */
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodePaymentSignature, parsePaymentRequired } from '../../shared/challenge.js';
import {
  buildExtension,
  CHROMIUM,
  clickLast,
  faucet,
  hasChromium,
  hubPayments,
  launchWithExtension,
  type ExtensionBrowser,
} from '../helpers/extension-browser.js';
import { onboard } from '../helpers/extension-onboarding.js';
import { PRICE, startShop, type Shop } from '../helpers/extension-shop.js';
import { createMerchant, startTestHub, type TestHub } from '../helpers/hub.js';

const title = hasChromium ? 'the in-page provider in Chromium' : `the in-page provider — SKIPPED: ${CHROMIUM} is missing`;

interface Tollway {
  pay(challenge: unknown): Promise<{ receipt: string; transactionId: string }>;
  fetch(url: string, init?: RequestInit): Promise<Response>;
}
type WithTollway = { tollway?: Tollway; initialized?: number };

describe.skipIf(!hasChromium)(title, () => {
  let build: Awaited<ReturnType<typeof buildExtension>>;
  let hub: TestHub;
  let shop: Shop;
  let merchantId: string;
  let browser: ExtensionBrowser | undefined;

  beforeAll(async () => {
    [build, hub] = await Promise.all([buildExtension(), startTestHub('sqlite')]);
    const { merchant } = await createMerchant(hub.url);
    merchantId = merchant.id;
    shop = await startShop(hub.url, merchant.id);
  }, 120_000);

  afterEach(async () => {
    await browser?.close();
    browser = undefined;
  });

  afterAll(async () => {
    await shop?.close();
    await hub?.stop();
    await build?.cleanup();
  });

  /** Onboarded, funded, with the shop's page open and the provider injected. */
  async function ready(funds = '1000000') {
    const b = (browser = await launchWithExtension(build.dir));
    const { session } = await onboard(b, hub.url);
    await faucet(hub.url, session, funds);
    const tab = await b.context.newPage();
    // Counts the event the snippet listens for; added before any page script runs.
    await tab.addInitScript(() =>
      window.addEventListener(
        'tollway#initialized',
        () => ((window as unknown as WithTollway).initialized = ((window as unknown as WithTollway).initialized ?? 0) + 1),
      ),
    );
    await tab.goto(`${shop.url}/page`);
    await tab.waitForFunction(() => typeof (window as unknown as WithTollway).tollway?.fetch === 'function', undefined, {
      timeout: 10_000,
    });
    return { b, session, tab };
  }

  async function oneApprovalWindow(b: ExtensionBrowser): Promise<Page> {
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
    return win;
  }

  it('tollway.fetch on a 402: one approval window, one payment, resolves with the paid content', async () => {
    const { b, session, tab } = await ready();
    expect(await tab.evaluate(() => (window as unknown as WithTollway).initialized)).toBe(1);

    const result = tab.evaluate(async () => {
      const res = await (window as unknown as WithTollway).tollway!.fetch('/paid/x');
      return { status: res.status, text: await res.text() };
    });
    const win = await oneApprovalWindow(b);
    // The 402 webRequest saw and the provider's request are one: still "1 of 1" a moment later.
    await new Promise((r) => setTimeout(r, 1000));
    expect(b.approvalPages()).toHaveLength(1);
    expect(await win.getByTestId('position').textContent()).toBe('1 of 1');
    await clickLast(win, 'Approve');

    const { status, text } = await result;
    expect(status).toBe(200);
    expect(text).toContain('Paid article /paid/x');
    const payments = await hubPayments(hub.url, session);
    expect(payments).toEqual([expect.objectContaining({ status: 'completed', amount: PRICE })]);
    expect(text).toContain(payments[0]!.transactionId);
    expect(shop.proofs.filter((p) => p.path === '/paid/x')).toEqual([expect.objectContaining({ ok: true })]);
    expect(b.approvalPages()).toHaveLength(0);
  }, 90_000);

  it('tollway.pay(challenge) resolves with a receipt the hub signed', async () => {
    const { b, session, tab } = await ready();
    const header = (await fetch(`${shop.url}/paid/y`)).headers.get('payment-required')!;
    const challenge = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as unknown;

    const paid = tab.evaluate((c) => (window as unknown as WithTollway).tollway!.pay(c), challenge);
    const win = await oneApprovalWindow(b);
    await clickLast(win, 'Approve');
    const { receipt, transactionId } = await paid;

    const jwks = createRemoteJWKSet(new URL('/.well-known/jwks.json', hub.url));
    const { payload } = await jwtVerify(receipt, jwks, { issuer: hub.url, audience: merchantId, typ: 'tollway-receipt+jwt' });
    expect(payload.amt).toBe(PRICE);
    expect(payload.res).toBe(`${shop.url}/paid/y`);
    expect(await hubPayments(hub.url, session)).toEqual([expect.objectContaining({ transactionId, status: 'completed' })]);

    // The receipt opens the resource it paid for.
    const parsed = parsePaymentRequired(header);
    if (!parsed.ok) throw new Error(parsed.error.message);
    const proof = encodePaymentSignature({
      resource: parsed.value.resource ?? undefined,
      accepted: parsed.value.accepts[0]!,
      payload: { receipt },
    });
    const res = await fetch(`${shop.url}/paid/y`, { headers: { 'PAYMENT-SIGNATURE': proof } });
    expect(res.status).toBe(200);
  }, 90_000);

  it('the window names the tab’s site and the payee, not the URL the challenge names, and shows merchant text without bidi or control characters', async () => {
    const { b, session, tab } = await ready();
    const header = (await fetch(`${shop.url}/paid/w`)).headers.get('payment-required')!;
    const challenge = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as { resource: Record<string, unknown> };
    // The page passes a challenge naming another site's address, with a description that would
    // read backwards and hide a line break.
    challenge.resource = { url: 'https://bank.example/transfer', description: 'Rent \u202Etnuocca ruoy\u202C\u200B\nnow' };
    const outcome = tab.evaluate(
      (c) =>
        (window as unknown as WithTollway).tollway!.pay(c).then(
          () => 'paid',
          (e: Error) => `rejected: ${e.message}`,
        ),
      challenge,
    );
    const win = await oneApprovalWindow(b);
    expect(await win.getByTestId('site').textContent()).toBe(shop.url);
    expect(await win.getByTestId('payee').textContent()).toBe(`Hub merchant ${merchantId}`);
    expect(await win.getByTestId('resource').textContent()).toBe('GET https://bank.example/transfer');
    expect(await win.getByTestId('resource-elsewhere').count()).toBe(1);
    expect(await win.getByTestId('description').textContent()).toBe('Rent tnuocca ruoy now');
    await clickLast(win, 'Reject');
    expect(await outcome).toMatch(/^rejected/);
    expect(await hubPayments(hub.url, session)).toEqual([]);
  }, 90_000);

  it('rejecting in the approval window rejects the promise and pays nothing', async () => {
    const { b, session, tab } = await ready('5000');
    const outcome = tab.evaluate(() =>
      (window as unknown as WithTollway).tollway!.fetch('/paid/z').then(
        (r) => `resolved ${r.status}`,
        (e: Error) => `rejected: ${e.message}`,
      ),
    );
    const win = await oneApprovalWindow(b);
    await clickLast(win, 'Reject');
    expect(await outcome).toMatch(/^rejected: Tollway: the payment was rejected/);
    expect(await hubPayments(hub.url, session)).toEqual([]);
    expect(shop.proofs.filter((p) => p.path === '/paid/z')).toEqual([]);
  }, 90_000);
});
