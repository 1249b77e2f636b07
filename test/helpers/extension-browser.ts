/**
 * Real Chromium with the built extension loaded, for the e2e tests. Chromium comes from the system
 * (`apt-get install -y chromium`), never from `npx playwright install`.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type BrowserContext, type Page, type Worker } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);

const ROOT = resolve(import.meta.dirname, '../..');

/**
 * Builds the extension from the current sources into a fresh temp folder, so every run tests what
 * is checked out, with no pretest step and without touching the developer's dist/.
 */
export async function buildExtension(): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tollway-ext-'));
  await promisify(execFile)(
    process.execPath,
    [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--outDir', dir, '--emptyOutDir', '--logLevel', 'warn'],
    { cwd: ROOT },
  );
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface ExtensionBrowser {
  context: BrowserContext;
  worker: Worker;
  extensionId: string;
  /** The open approval windows (normally zero or one). */
  approvalPages(): Page[];
  close(): Promise<void>;
}

export async function launchWithExtension(dist: string): Promise<ExtensionBrowser> {
  const profile = await mkdtemp(join(tmpdir(), 'tollway-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      `--disable-extensions-except=${dist}`,
      `--load-extension=${dist}`,
    ],
  });
  const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker', { timeout: 20_000 }));
  const extensionId = new URL(worker.url()).host;
  return {
    context,
    worker,
    extensionId,
    approvalPages: () => context.pages().filter((p) => p.url().startsWith(`chrome-extension://${extensionId}/extension/approve/`)),
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Host access as a person gives it: Chrome's own extensions page (chrome://extensions → the
 * extension → Site access) records the grant, after which the extension's
 * chrome.permissions.request for those hosts is answered `true` without a prompt. Headless Chromium
 * cannot show or click the prompt itself, so this is the testable way to say "yes" to it; the
 * extension's own request (from its UI) still has to be made for the access to take effect.
 */
export async function approveHostAccess(b: ExtensionBrowser, patterns: readonly string[]): Promise<void> {
  const page = await b.context.newPage();
  try {
    await page.goto('chrome://extensions');
    for (const pattern of patterns) {
      await page.evaluate(
        ([id, host]) =>
          (
            globalThis as unknown as { chrome: { developerPrivate: { addHostPermission(id: string, host: string): Promise<void> } } }
          ).chrome.developerPrivate.addHostPermission(id!, host!),
        [b.extensionId, pattern],
      );
    }
  } finally {
    await page.close();
  }
}

/**
 * Approves, then has an extension page ask (playwright's evaluate counts as a user gesture) — what
 * the settings page's buttons do. Resolves once the worker has the hosts.
 */
export async function grantHostAccess(b: ExtensionBrowser, patterns: readonly string[]): Promise<void> {
  await approveHostAccess(b, patterns);
  const page = await b.context.newPage();
  try {
    await page.goto(`chrome-extension://${b.extensionId}/extension/popup/index.html`);
    const granted = await page.evaluate(
      (origins) =>
        (
          globalThis as unknown as { chrome: { permissions: { request(p: { origins: string[] }): Promise<boolean> } } }
        ).chrome.permissions.request({ origins }),
      [...patterns],
    );
    if (!granted) throw new Error(`host access to ${patterns.join(', ')} was not granted`);
  } finally {
    await page.close();
  }
}

/**
 * The `chrome` global inside the service worker, typed only as far as the tests use it. Tests write
 * `declare const chrome: WorkerChrome` and pass functions to `worker.evaluate`, which run there.
 */
export interface WorkerChrome {
  storage: {
    local: {
      get(k: string | null): Promise<Record<string, unknown>>;
      set(v: Record<string, unknown>): Promise<void>;
      clear(): Promise<void>;
    };
    session: {
      get(k: string | null): Promise<Record<string, unknown>>;
      set(v: Record<string, unknown>): Promise<void>;
      clear(): Promise<void>;
    };
  };
  runtime: { getManifest(): { name: string; manifest_version: number }; getURL(path: string): string };
  declarativeNetRequest: {
    getSessionRules(): Promise<{ id: number; condition: { urlFilter?: string; tabIds?: number[] } }[]>;
    updateSessionRules(o: unknown): Promise<void>;
  };
  permissions: { getAll(): Promise<{ origins?: string[]; permissions?: string[] }>; remove(p: { origins: string[] }): Promise<boolean> };
  notifications: { getAll(): Promise<Record<string, boolean>> };
  i18n: { getMessage(key: string): string };
  scripting: { getRegisteredContentScripts(): Promise<{ id: string; matches?: string[] }[]> };
}

/** Clicks a button that ends the approval queue: the worker closes the window, maybe before the click returns. */
export async function clickLast(win: Page, name: string): Promise<void> {
  const closed = win.waitForEvent('close');
  await win
    .getByRole('button', { name, exact: true })
    .click({ noWaitAfter: true })
    .catch((e: Error) => {
      if (!win.isClosed() && !/closed/.test(e.message)) throw e;
    });
  await closed;
}

/** Hub calls a test makes with the access token the extension stored. */
export type Bearer = { accessToken: string };
const hubGet = async (hubUrl: string, s: Bearer, path: string) =>
  (await fetch(`${hubUrl}${path}`, { headers: { authorization: `Bearer ${s.accessToken}` } })).json() as Promise<Record<string, unknown>>;
export const available = async (hubUrl: string, s: Bearer) =>
  ((await hubGet(hubUrl, s, '/accounts/me')).balances as { asset: string; available: string }[]).find((b) => b.asset === 'SOVR')
    ?.available ?? '0';
export const hubPayments = async (hubUrl: string, s: Bearer) =>
  (await hubGet(hubUrl, s, '/payments')).data as { transactionId: string; status: string; amount: string }[];
export async function faucet(hubUrl: string, s: Bearer, amount: string): Promise<void> {
  const res = await fetch(`${hubUrl}/dev/faucet`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${s.accessToken}` },
    body: JSON.stringify({ asset: 'SOVR', amount }),
  });
  if (res.status !== 200) throw new Error(`faucet: ${res.status}`);
}
