/**
 * Onboarding as steps, in real Chromium with the built extension and a real hub: the hub checked
 * live, site access asked from Chrome, a new wallet with a password and its strength, the recovery
 * phrase shown once and checked word by word before anything is saved; import; Back on every step;
 * the whole of it with the keyboard alone. Every step is scanned with axe-core (no serious or
 * critical violation, light and dark) and saved as a screenshot in docs/screenshots/.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { HDNodeWallet, Wallet } from 'ethers';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  approveHostAccess,
  buildExtension,
  CHROMIUM,
  hasChromium,
  launchWithExtension,
  type ExtensionBrowser,
  type WorkerChrome,
} from '../helpers/extension-browser.js';
import {
  accessStep,
  answerCheck,
  askedPositions,
  hubStep,
  onboardingPage,
  PASSWORD,
  shownPhrase,
  signedIn,
  stepShown,
  storedSession,
  walletStep,
} from '../helpers/extension-onboarding.js';
import { scanAndShoot as scanBothThemes } from '../helpers/axe.js';
import { freePort, startTestHub, type TestHub } from '../helpers/hub.js';

declare const chrome: WorkerChrome;
const SHOTS = resolve(import.meta.dirname, '../../docs/screenshots');

const title = hasChromium ? 'onboarding as steps in Chromium' : `onboarding as steps in Chromium — SKIPPED: ${CHROMIUM} is missing`;

/** Scans the step with axe-core in the light and the dark theme, and saves both as docs/screenshots/onboarding-<name>-<theme>.png. */
async function scanAndShoot(page: Page, name: string): Promise<void> {
  expect(await scanBothThemes(page, SHOTS, `onboarding-${name}`), name).toEqual({ light: [], dark: [] });
}

/** The focused element, as its tag and text (what a screen reader would start from). */
const focused = (page: Page) => page.evaluate(() => `${document.activeElement?.tagName}: ${document.activeElement?.textContent ?? ''}`);

const localKeystore = (b: ExtensionBrowser) =>
  b.worker.evaluate(() => chrome.storage.local.get('tollway.keystore').then((v) => v['tollway.keystore'])) as Promise<
    { address: string } | undefined
  >;

describe.skipIf(!hasChromium)(title, () => {
  let build: Awaited<ReturnType<typeof buildExtension>>;
  let hub: TestHub;
  let notHub: Server;
  let notHubUrl: string;
  let browser: ExtensionBrowser | undefined;

  beforeAll(async () => {
    [build, hub] = await Promise.all([buildExtension(), startTestHub('sqlite')]);
    // A server that answers, but not as a hub: the check must tell it from one.
    notHub = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html', 'access-control-allow-origin': '*' });
      res.end('<h1>a shop</h1>');
    });
    await new Promise<void>((r) => notHub.listen(0, '127.0.0.1', r));
    notHubUrl = `http://127.0.0.1:${(notHub.address() as AddressInfo).port}`;
  }, 120_000);

  afterEach(async () => {
    await browser?.close();
    browser = undefined;
  });

  afterAll(async () => {
    await new Promise((r) => notHub?.close(r));
    await hub?.stop();
    await build?.cleanup();
  });

  async function start(): Promise<{ b: ExtensionBrowser; page: Page }> {
    const b = (browser = await launchWithExtension(build.dir));
    const page = await onboardingPage(b);
    await page.setViewportSize({ width: 720, height: 820 });
    // The person's "yes" to Chrome's prompt, given beforehand (headless Chromium cannot show it).
    await approveHostAccess(b, ['<all_urls>']);
    return { b, page };
  }

  it('creates a wallet step by step: the hub checked live, site access, the password strength, and the phrase checked word by word before anything is saved', async () => {
    const { b, page } = await start();

    // Step 1: the heading has the focus; the check tells a closed port and a server that is no hub from a hub.
    await stepShown(page, 'Step 1 of 4');
    await expect.poll(() => focused(page)).toBe('H2: Step 1 of 4 Which hub pays for you?');
    const closed = `http://127.0.0.1:${await freePort()}`;
    await page.getByLabel('Hub URL').fill(closed);
    await expect
      .poll(() => page.getByTestId('hub-status').textContent(), { timeout: 10_000 })
      .toBe(`Nothing answers at ${closed}. Check the address, and that the hub is running.`);
    await page.getByRole('button', { name: 'Next' }).click();
    await expect.poll(() => page.getByTestId('step-error').textContent()).toContain(`Nothing answers at ${closed}`);
    expect(await page.getByLabel('Hub URL').getAttribute('aria-invalid')).toBe('true');
    await page.getByLabel('Hub URL').fill(notHubUrl);
    await expect
      .poll(() => page.getByTestId('hub-status').textContent(), { timeout: 10_000 })
      .toBe(`${notHubUrl} answers, but it is not a Tollway hub.`);
    await page.getByRole('button', { name: 'Next' }).click();
    await expect.poll(() => page.getByTestId('step-error').textContent()).toBe(`${notHubUrl} answers, but it is not a Tollway hub.`);
    await stepShown(page, 'Step 1 of 4');
    // Typed without the scheme, as people do: this machine's address is taken as http.
    await page.getByLabel('Hub URL').fill(hub.url.replace('http://', ''));
    await expect
      .poll(() => page.getByTestId('hub-status').textContent(), { timeout: 10_000 })
      .toMatch(/^Hub found\. It pays with: your Tollway balance/);
    await scanAndShoot(page, '1-hub');
    await page.getByRole('button', { name: 'Next' }).click();

    // Step 2: all sites, asked from Chrome in the click.
    await stepShown(page, 'Step 2 of 4');
    await expect.poll(() => focused(page)).toBe('H2: Step 2 of 4 Where may Tollway work?');
    expect(await page.locator('.progress [aria-current=step]').textContent()).toBe('Site access');
    await scanAndShoot(page, '2-access');
    await accessStep(page);

    // Step 3: too short, then differing, passwords are refused; the strength is an estimate shown as typed.
    await stepShown(page, 'Step 3 of 4');
    await page.getByLabel('Password', { exact: true }).fill('pass');
    expect(await page.getByTestId('strength').getAttribute('data-level')).toBe('too-short');
    await page.getByRole('button', { name: 'Next' }).click();
    await expect.poll(() => page.getByTestId('step-error').textContent()).toBe('The password needs at least 8 characters.');
    await page.getByLabel('Password', { exact: true }).fill('password1');
    expect(await page.getByTestId('strength').getAttribute('data-level')).toBe('weak');
    expect(await page.locator('#strength-text').textContent()).toBe('Weak. It is one of the first passwords anyone tries.');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    expect(await page.getByTestId('strength').getAttribute('data-level')).toBe('good');
    await page.getByLabel('Confirm password').fill(`${PASSWORD}!`);
    await page.getByRole('button', { name: 'Next' }).click();
    await expect.poll(() => page.getByTestId('step-error').textContent()).toBe('The two passwords differ.');
    expect(await page.getByLabel('Confirm password').getAttribute('aria-invalid')).toBe('true');
    await page.getByLabel('Confirm password').fill(PASSWORD);
    await scanAndShoot(page, '3-wallet');
    await page.getByRole('button', { name: 'Next' }).click();

    // Step 4: twelve words, and nothing saved yet.
    await stepShown(page, 'Step 4 of 4');
    await expect.poll(() => focused(page)).toBe('H2: Step 4 of 4 Write down your recovery phrase');
    const phrase = await shownPhrase(page);
    expect(phrase).toHaveLength(12);
    await scanAndShoot(page, '4-phrase');
    expect(await localKeystore(b)).toBeUndefined();
    await page.getByRole('button', { name: 'I wrote them down' }).click();

    // The check: three distinct positions; a wrong word is refused and named, and still nothing is saved.
    await expect.poll(() => focused(page)).toBe('H2: Step 4 of 4 Check your recovery phrase');
    const asked = await askedPositions(page);
    expect(new Set(asked).size).toBe(3);
    expect(asked.every((p) => p >= 1 && p <= 12)).toBe(true);
    const [first, second, third] = asked as [number, number, number];
    const wrongWord = phrase.find((w) => w !== phrase[second - 1])!;
    await page.getByLabel(`Word ${first}`, { exact: true }).fill(phrase[first - 1]!);
    await page.getByLabel(`Word ${second}`, { exact: true }).fill(wrongWord);
    await page.getByLabel(`Word ${third}`, { exact: true }).fill(` ${phrase[third - 1]!.toUpperCase()} `);
    await page.getByRole('button', { name: 'Confirm and finish' }).click();
    await expect.poll(() => page.getByTestId('step-error').textContent()).toBe(`Word ${second} is not right. Check what you wrote down.`);
    expect(await page.getByLabel(`Word ${second}`, { exact: true }).getAttribute('aria-invalid')).toBe('true');
    await expect.poll(() => focused(page)).toBe('INPUT: ');
    await scanAndShoot(page, '4-check');
    expect(await localKeystore(b)).toBeUndefined();
    expect(await storedSession(b)).toBeUndefined();

    // The right words: saved, signed in, and the wallet is the one the phrase restores.
    await page.getByLabel(`Word ${second}`, { exact: true }).fill(phrase[second - 1]!);
    await page.getByRole('button', { name: 'Confirm and finish' }).click();
    await signedIn(page);
    const address = HDNodeWallet.fromPhrase(phrase.join(' ')).address;
    expect((await localKeystore(b))?.address).toBe(address);
    const session = (await storedSession(b))!;
    expect(session.url).toBe(hub.url);
    expect(session.user?.address.toLowerCase()).toBe(address.toLowerCase());
    expect(await page.getByRole('heading', { name: 'Tollway is ready' }).isVisible()).toBe(true);
    await expect.poll(() => focused(page)).toBe('H2: Tollway is ready');
    // Shown once: the phrase is nowhere on the page any more.
    expect(await page.getByTestId('phrase').count()).toBe(0);
    expect(await page.content()).not.toContain(phrase.join(' '));
    await scanAndShoot(page, '5-ready');

    // Locked later, the same page asks for the password.
    await page.getByRole('button', { name: 'Lock' }).click();
    await page
      .getByTestId('state')
      .filter({ hasText: /^Locked: / })
      .waitFor();
    await expect.poll(() => focused(page)).toBe('H2: Unlock your wallet');
    await scanAndShoot(page, '6-locked');
  });

  it('imports a wallet from a recovery phrase in three steps, after refusing a secret that is neither key nor phrase', async () => {
    const { b, page } = await start();
    const known = Wallet.createRandom();
    await hubStep(page, hub.url);
    await stepShown(page, 'Step 2 of 4');
    await accessStep(page);
    await stepShown(page, 'Step 3 of 4');
    await page.getByLabel('Import a private key or recovery phrase').check();
    // Choosing import leaves out the phrase step.
    await stepShown(page, 'Step 3 of 3');
    await walletStep(page, PASSWORD, 'these are not twelve words of any wallet at all');
    await expect
      .poll(() => page.getByTestId('step-error').textContent())
      .toBe('That is neither a private key nor a valid recovery phrase.');
    expect(await page.getByLabel('Private key or recovery phrase', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    expect(await localKeystore(b)).toBeUndefined();
    await page.getByLabel('Private key or recovery phrase', { exact: true }).fill(`  ${known.mnemonic!.phrase.toUpperCase()}  `);
    await scanAndShoot(page, '3-import');
    await page.getByRole('button', { name: 'Import wallet' }).click();
    await signedIn(page);
    expect((await localKeystore(b))?.address).toBe(known.address);
    expect((await storedSession(b))?.user?.address.toLowerCase()).toBe(known.address.toLowerCase());
    // An imported wallet's phrase is the person's already: it is never shown.
    expect(await page.getByTestId('phrase').count()).toBe(0);
  });

  it('goes Back from every step, keeping what was typed and the same new wallet', async () => {
    const { b, page } = await start();
    await hubStep(page, hub.url);
    await stepShown(page, 'Step 2 of 4');
    await page.getByRole('button', { name: 'Back' }).click();
    await stepShown(page, 'Step 1 of 4');
    expect(await page.getByLabel('Hub URL').inputValue()).toBe(hub.url);
    await page.getByRole('button', { name: 'Next' }).click();

    await stepShown(page, 'Step 2 of 4');
    await page.getByLabel('Only sites I choose').check();
    await page.getByLabel('Sites, one per line').fill('https://shop.example\nftp://files.example');
    await page.getByRole('button', { name: 'Next' }).click();
    await expect
      .poll(() => page.getByTestId('step-error').textContent())
      .toBe('“ftp://files.example” is not a site address (like https://shop.example).');
    await page.getByLabel('Sites, one per line').fill('https://shop.example');
    await page.getByRole('button', { name: 'Next' }).click();
    await stepShown(page, 'Step 3 of 4');
    await page.getByRole('button', { name: 'Back' }).click();
    await stepShown(page, 'Step 2 of 4');
    expect(await page.getByLabel('Only sites I choose').isChecked()).toBe(true);
    expect(await page.getByLabel('Sites, one per line').inputValue()).toBe('https://shop.example');
    await page.getByLabel('All sites').check();
    await accessStep(page);

    await stepShown(page, 'Step 3 of 4');
    await walletStep(page, PASSWORD);
    const phrase = await shownPhrase(page);
    await page.getByRole('button', { name: 'Back' }).click();
    await stepShown(page, 'Step 3 of 4');
    expect(await page.getByLabel('Password', { exact: true }).inputValue()).toBe(PASSWORD);
    await page.getByRole('button', { name: 'Next' }).click();
    // The same wallet: the phrase written down stays the one that restores it.
    expect(await shownPhrase(page)).toEqual(phrase);
    await page.getByRole('button', { name: 'I wrote them down' }).click();
    await askedPositions(page);
    await page.getByRole('button', { name: 'Back' }).click();
    expect(await shownPhrase(page)).toEqual(phrase);
    await page.getByRole('button', { name: 'I wrote them down' }).click();
    await answerCheck(page, phrase);
    await signedIn(page);
    expect((await localKeystore(b))?.address).toBe(HDNodeWallet.fromPhrase(phrase.join(' ')).address);
  });

  it('can be done with the keyboard alone', async () => {
    const { b, page } = await start();
    const press = (key: string) => page.keyboard.press(key);
    /** Tabs forward until the focused element's text is `text`; fails after 15 stops. */
    const tabTo = async (text: string) => {
      for (let i = 0; i < 15; i++) {
        await press('Tab');
        if ((await focused(page)).endsWith(`: ${text}`)) return;
      }
      throw new Error(`never reached ${text}; focus is on ${await focused(page)}`);
    };

    await stepShown(page, 'Step 1 of 4');
    await press('Tab');
    await expect.poll(() => focused(page)).toBe('INPUT: ');
    await press('ControlOrMeta+A');
    await page.keyboard.type(hub.url);
    await page
      .getByTestId('hub-status')
      .filter({ hasText: /^Hub found/ })
      .waitFor({ timeout: 10_000 });
    await press('Enter');

    await stepShown(page, 'Step 2 of 4');
    await expect.poll(() => focused(page)).toBe('H2: Step 2 of 4 Where may Tollway work?');
    // Back by keyboard, and on again.
    await tabTo('Back');
    await press('Enter');
    await stepShown(page, 'Step 1 of 4');
    await tabTo('Next');
    await press('Enter');
    await stepShown(page, 'Step 2 of 4');
    await tabTo('Next');
    await press('Enter');

    await stepShown(page, 'Step 3 of 4');
    // The page moves focus to the step's heading after it renders: wait for that before tabbing on.
    await expect.poll(() => focused(page)).toMatch(/^H2: Step 3 of 4/);
    await press('Tab'); // the wallet choice: "Create a new wallet" is selected
    expect(await page.evaluate(() => (document.activeElement as HTMLInputElement).type)).toBe('radio');
    await press('Tab');
    await page.keyboard.type(PASSWORD);
    await press('Tab');
    await page.keyboard.type(PASSWORD);
    await press('Enter');

    await stepShown(page, 'Step 4 of 4');
    await expect.poll(() => focused(page)).toMatch(/^H2: Step 4 of 4/);
    const phrase = await page.getByTestId('phrase-word').allTextContents();
    await tabTo('I wrote them down');
    await press('Enter');
    const asked = await askedPositions(page);
    for (const at of asked) {
      await press('Tab');
      await page.keyboard.type(phrase[at - 1]!);
    }
    await press('Enter');
    await signedIn(page);
    expect((await localKeystore(b))?.address).toBe(HDNodeWallet.fromPhrase(phrase.join(' ')).address);
  });
});
