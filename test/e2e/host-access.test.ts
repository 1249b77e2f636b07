/**
 * "Only sites I choose" in real Chromium. Two shops on two origins; the person gives Tollway only
 * the first at onboarding. A 402 on the second is not noticed (no window, nothing queued) and its
 * pages get no `window.tollway`; on the first it is, and paying works — with no host permission for
 * the hub at all (the hub answers CORS for the extension). Adding the second site in the settings
 * makes it noticed; removing the first makes it unnoticed again, and the in-page provider follows.
 *
 * Chrome's permission prompt cannot be shown or clicked in headless Chromium: the person's "yes"
 * is given beforehand in chrome://extensions (Site access), after which the extension's own
 * chrome.permissions.request — made by clicking its onboarding and settings buttons — is granted
 * without a prompt. What is verified is the extension's side: what it asks for, and what it does
 * with what it was granted.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  approveHostAccess,
  buildExtension,
  CHROMIUM,
  clickLast,
  faucet,
  hasChromium,
  hubPayments,
  launchWithExtension,
  type ExtensionBrowser,
  type WorkerChrome,
} from '../helpers/extension-browser.js';
import { onboard } from '../helpers/extension-onboarding.js';
import { startShop, type Shop } from '../helpers/extension-shop.js';
import { createMerchant, startTestHub, type TestHub } from '../helpers/hub.js';

declare const chrome: WorkerChrome;

const title = hasChromium ? 'host access in Chromium' : `host access in Chromium — SKIPPED: ${CHROMIUM} is missing`;

describe.skipIf(!hasChromium)(title, () => {
  let build: Awaited<ReturnType<typeof buildExtension>>;
  let hub: TestHub;
  let chosen: Shop;
  let other: Shop;
  let b: ExtensionBrowser;

  beforeAll(async () => {
    [build, hub] = await Promise.all([buildExtension(), startTestHub('sqlite')]);
    const { merchant } = await createMerchant(hub.url);
    [chosen, other] = await Promise.all([startShop(hub.url, merchant.id), startShop(hub.url, merchant.id)]);
    b = await launchWithExtension(build.dir);
  }, 120_000);

  afterAll(async () => {
    await b?.close();
    await chosen?.close();
    await other?.close();
    await hub?.stop();
    await build?.cleanup();
  });

  const granted = async () => ((await b.worker.evaluate(() => chrome.permissions.getAll())).origins ?? []).sort();
  const providerMatches = async () =>
    (await b.worker.evaluate(() => chrome.scripting.getRegisteredContentScripts())).map((s) => [s.id, s.matches]);
  const queued = () =>
    b.worker.evaluate(() => chrome.storage.local.get('tollway.approvals').then((v) => v['tollway.approvals'])) as Promise<
      { requests: { url: string; status: string }[] } | undefined
    >;
  const hasProvider = (tab: Page) => tab.evaluate(() => typeof (window as unknown as { tollway?: unknown }).tollway === 'object');

  /** Opens `noticed` after `ignored` and waits for the one window; `ignored` must not have been queued. */
  async function onlyNoticed(ignored: string, noticed: string): Promise<Page> {
    const tabIgnored = await b.context.newPage();
    await tabIgnored.goto(ignored);
    expect(await tabIgnored.evaluate(() => document.body.textContent)).toBe('{}');
    const tab = await b.context.newPage();
    await tab.goto(noticed).catch(() => undefined);
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
    expect(await win.getByTestId('resource').textContent()).toBe(`GET ${noticed}`);
    expect((await queued())!.requests.map((r) => r.url)).toEqual([noticed]);
    return win;
  }

  it('onboarding with chosen sites: noticed there, not elsewhere; paying needs no access to the hub', async () => {
    const { session, page: settings } = await onboard(b, hub.url, { sites: [chosen.url] });
    await faucet(hub.url, session, '100000');
    // Exactly the chosen site: not every site, and not the hub.
    expect(await granted()).toEqual([`${chosen.url}/*`]);
    expect(await providerMatches()).toEqual([
      ['tollway-bridge', [`${chosen.url}/*`]],
      ['tollway-provider', [`${chosen.url}/*`]],
    ]);

    const win = await onlyNoticed(`${other.url}/paid/x`, `${chosen.url}/paid/y`);
    await clickLast(win, 'Approve');
    const tab = b.context.pages().find((p) => p.url() === `${chosen.url}/paid/y`)!;
    await expect
      .poll(
        () =>
          tab
            .locator('#paid')
            .textContent()
            .catch(() => null),
        { timeout: 15_000 },
      )
      .toBe('Paid article /paid/y');
    expect(await hubPayments(hub.url, session)).toEqual([expect.objectContaining({ status: 'completed' })]);
    expect(other.proofs).toEqual([]);

    // window.tollway exists only where Tollway has access.
    const pageChosen = await b.context.newPage();
    await pageChosen.goto(`${chosen.url}/page`);
    const pageOther = await b.context.newPage();
    await pageOther.goto(`${other.url}/page`);
    await expect.poll(() => hasProvider(pageChosen), { timeout: 10_000 }).toBe(true);
    expect(await hasProvider(pageOther)).toBe(false);

    // The settings list the site; the person adds the other one there and removes the first.
    await settings.bringToFront();
    await expect.poll(() => settings.getByTestId('access-sites').textContent(), { timeout: 10_000 }).toContain(chosen.url);
    await approveHostAccess(b, [`${other.url}/*`]);
    await settings.getByLabel('Site address to add').fill(other.url);
    await settings.getByRole('button', { name: 'Add site' }).click();
    await expect.poll(granted, { timeout: 10_000 }).toEqual([`${chosen.url}/*`, `${other.url}/*`].sort());
    await settings.getByRole('button', { name: `Remove access to ${chosen.url}` }).click();
    await expect.poll(granted, { timeout: 10_000 }).toEqual([`${other.url}/*`]);
    await expect.poll(providerMatches, { timeout: 10_000 }).toEqual([
      ['tollway-bridge', [`${other.url}/*`]],
      ['tollway-provider', [`${other.url}/*`]],
    ]);

    for (const p of b.context.pages()) if (p !== settings) await p.close();
    const win2 = await onlyNoticed(`${chosen.url}/paid/z`, `${other.url}/paid/w`);
    await clickLast(win2, 'Reject');
    const again = await b.context.newPage();
    await again.goto(`${other.url}/page`);
    await expect.poll(() => hasProvider(again), { timeout: 10_000 }).toBe(true);
  });
});
