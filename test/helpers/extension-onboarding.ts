/** Onboarding driven as a person would, step by step, in the page the extension opens on install. */
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

/** The step on screen, as its progress line says it ("Step 2 of 4"), once the heading has the focus. */
export async function stepShown(page: Page, progress: string, timeout = 10_000): Promise<void> {
  await page
    .getByTestId('progress')
    .filter({ hasText: new RegExp(`^${progress}$`) })
    .waitFor({ timeout });
}

/** Step 1: type the hub's address and go on once the live check found it. */
export async function hubStep(page: Page, hubUrl: string): Promise<void> {
  await page.getByLabel('Hub URL').fill(hubUrl);
  await page
    .getByTestId('hub-status')
    .filter({ hasText: /^Hub found/ })
    .waitFor({ timeout: 10_000 });
  await page.getByRole('button', { name: 'Next' }).click();
}

/** Step 2: all sites, or only `sites` (origins); Next asks Chrome. */
export async function accessStep(page: Page, sites?: string[]): Promise<void> {
  if (sites) {
    await page.getByLabel('Only sites I choose').check();
    await page.getByLabel('Sites, one per line').fill(sites.join('\n'));
  }
  await page.getByRole('button', { name: 'Next' }).click();
}

/** Step 3: a new wallet (or `secret` imported) with `password`. */
export async function walletStep(page: Page, password: string, secret?: string): Promise<void> {
  if (secret !== undefined) {
    await page.getByLabel('Import a private key or recovery phrase').check();
    await page.getByLabel('Private key or recovery phrase', { exact: true }).fill(secret);
  }
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByLabel('Confirm password').fill(password);
  await page.getByRole('button', { name: secret === undefined ? 'Next' : 'Import wallet' }).click();
}

/** Step 4, first half: the recovery phrase as shown, word by word. */
export async function shownPhrase(page: Page): Promise<string[]> {
  await page.getByTestId('phrase').waitFor();
  return page.getByTestId('phrase-word').allTextContents();
}

/** The positions (1-based) the check asks for, from its labels ("Word 7"). */
export async function askedPositions(page: Page): Promise<number[]> {
  await page.locator('.words label').first().waitFor();
  return (await page.locator('.words label').allTextContents()).map((l) => Number(/^Word (\d+)$/.exec(l)![1]));
}

/** Step 4, second half: types the words asked for, from `words`, and confirms. */
export async function answerCheck(page: Page, words: readonly string[]): Promise<void> {
  for (const at of await askedPositions(page)) await page.getByLabel(`Word ${at}`, { exact: true }).fill(words[at - 1]!);
  await page.getByRole('button', { name: 'Confirm and finish' }).click();
}

/** Waits for the end of onboarding: the wallet saved and signed in (scrypt takes a moment on purpose). */
export async function signedIn(page: Page): Promise<void> {
  await page
    .getByTestId('state')
    .filter({ hasText: /^Signed in$/ })
    .waitFor({ timeout: 30_000 });
}

/**
 * Creates a wallet with a password through every step (the recovery phrase written down and
 * checked) and signs in to `hubUrl`; returns the session the extension stored and the phrase.
 * Site access: all sites (the default), or only `sites` (origins) when given; the person's "yes" to
 * Chrome's prompt is given beforehand in chrome://extensions (see approveHostAccess).
 */
export async function onboard(
  b: ExtensionBrowser,
  hubUrl: string,
  opts: { sites?: string[] } = {},
): Promise<{ page: Page; session: StoredHubSession; phrase: string[] }> {
  const page = await onboardingPage(b);
  const want = opts.sites ? opts.sites.map((s) => `${s}/*`) : ['<all_urls>'];
  await approveHostAccess(b, want);
  await hubStep(page, hubUrl);
  await stepShown(page, 'Step 2 of 4');
  await accessStep(page, opts.sites);
  await stepShown(page, 'Step 3 of 4');
  await walletStep(page, PASSWORD);
  const phrase = await shownPhrase(page);
  await page.getByRole('button', { name: 'I wrote them down' }).click();
  await answerCheck(page, phrase);
  await signedIn(page);
  const session = await storedSession(b);
  if (!session) throw new Error('no hub session stored after sign-in');
  // The worker follows the grant (listener and in-page provider) on permissions.onAdded.
  for (let i = 0; ; i++) {
    const origins = ((await b.worker.evaluate(() => chrome.permissions.getAll())) as { origins?: string[] }).origins ?? [];
    if (want.every((w) => origins.includes(w))) break;
    if (i > 200) throw new Error(`host access not granted: ${origins.join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { page, session, phrase };
}
