/** Onboarding driven as a person would, in the page the extension opens on install. */
import type { Page } from 'playwright-core';
import { approveHostAccess, type ExtensionBrowser, type WorkerChrome } from './extension-browser.js';

declare const chrome: WorkerChrome;

export const PASSWORD = 'correct horse battery';

/** The onboarding tab the worker opened on install (runtime.onInstalled → openOptionsPage). */
export async function onboardingPage(b: ExtensionBrowser, timeoutMs = 20_000): Promise<Page> {
  const isOnboarding = (p: Page) => p.url().startsWith(`chrome-extension://${b.extensionId}/extension/onboarding/`);
  // Polled: a new tab's URL is about:blank when its `page` event fires.
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = b.context.pages().find(isOnboarding);
    if (found) {
      await found.waitForLoadState('domcontentloaded');
      return found;
    }
    if (Date.now() > deadline) throw new Error('the onboarding page did not open on install');
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface StoredHubSession {
  url: string;
  accessToken: string;
  refreshToken?: string;
  accessTokenExpiresAt?: number;
  user?: { id: string; address: string };
}

export const storedSession = (b: ExtensionBrowser) =>
  b.worker.evaluate(() => chrome.storage.session.get('tollway.hub').then((v) => v['tollway.hub'])) as Promise<StoredHubSession | undefined>;

/**
 * Creates a wallet with a password and signs in to `hubUrl`; returns the session the extension
 * stored. Site access: all sites (the default), or only `sites` (origins) when given; the person's
 * "yes" to Chrome's prompt is given beforehand in chrome://extensions (see approveHostAccess).
 */
export async function onboard(
  b: ExtensionBrowser,
  hubUrl: string,
  opts: { sites?: string[] } = {},
): Promise<{ page: Page; session: StoredHubSession }> {
  const page = await onboardingPage(b);
  await approveHostAccess(b, opts.sites ? opts.sites.map((s) => `${s}/*`) : ['<all_urls>']);
  await page.getByLabel('Hub URL').fill(hubUrl);
  if (opts.sites) {
    await page.getByLabel('Only sites I choose').check();
    await page.getByLabel(/^Sites, one per line/).fill(opts.sites.join('\n'));
  }
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('Confirm password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create wallet' }).click();
  // ethers' default scrypt cost (N = 2^17) takes a moment on purpose.
  await page
    .getByTestId('state')
    .filter({ hasText: /^Signed in$/ })
    .waitFor({ timeout: 30_000 });
  const session = await storedSession(b);
  if (!session) throw new Error('no hub session stored after sign-in');
  // The worker follows the grant (listener and in-page provider) on permissions.onAdded.
  const want = opts.sites ? opts.sites.map((s) => `${s}/*`) : ['<all_urls>'];
  for (let i = 0; ; i++) {
    const origins = ((await b.worker.evaluate(() => chrome.permissions.getAll())) as { origins?: string[] }).origins ?? [];
    if (want.every((w) => origins.includes(w))) break;
    if (i > 200) throw new Error(`host access not granted: ${origins.join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { page, session };
}
