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
  await promisify(execFile)(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--outDir', dir, '--emptyOutDir', '--logLevel', 'warn'], { cwd: ROOT });
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
 * The `chrome` global inside the service worker, typed only as far as the tests use it. Tests write
 * `declare const chrome: WorkerChrome` and pass functions to `worker.evaluate`, which run there.
 */
export interface WorkerChrome {
  storage: {
    local: { get(k: string | null): Promise<Record<string, unknown>>; set(v: Record<string, unknown>): Promise<void>; clear(): Promise<void> };
    session: { get(k: string | null): Promise<Record<string, unknown>>; set(v: Record<string, unknown>): Promise<void>; clear(): Promise<void> };
  };
  runtime: { getManifest(): { name: string; manifest_version: number }; getURL(path: string): string };
  declarativeNetRequest: { getSessionRules(): Promise<{ id: number; condition: { urlFilter?: string; tabIds?: number[] } }[]> };
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
  ((await hubGet(hubUrl, s, '/accounts/me')).balances as { asset: string; available: string }[]).find((b) => b.asset === 'SOVR')?.available ?? '0';
export const hubPayments = async (hubUrl: string, s: Bearer) => (await hubGet(hubUrl, s, '/payments')).data as { transactionId: string; status: string; amount: string }[];
export async function faucet(hubUrl: string, s: Bearer, amount: string): Promise<void> {
  const res = await fetch(`${hubUrl}/dev/faucet`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${s.accessToken}` }, body: JSON.stringify({ asset: 'SOVR', amount }) });
  if (res.status !== 200) throw new Error(`faucet: ${res.status}`);
}
