/**
 * Paying an L402 (Lightning) 402 in real Chromium: a small L402 server answers 402 with
 * `WWW-Authenticate: L402 version="0", token=…, invoice=…` (an invoice from the stand-in LND) and
 * nothing else; the approval window shows the amount in sats and BTC on the Lightning rail; the hub
 * pays the invoice through its Lightning rail (the same stand-in node); the preimage from the hub's
 * receipt becomes `Authorization: L402 <token>:<preimage>` on the reload, which the server checks
 * (sha256(preimage) = the invoice's payment hash) before serving the page. When the node takes
 * longer than the hub waits, the answer is `submitted` and the preimage arrives later on the live
 * socket (`paymentStatusUpdate`): the reload happens then.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildExtension,
  CHROMIUM,
  clickLast,
  hasChromium,
  launchWithExtension,
  type ExtensionBrowser,
} from '../helpers/extension-browser.js';
import { onboard } from '../helpers/extension-onboarding.js';
import { startFakeLnd, type FakeLnd } from '../../devnet/lnd.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';

const title = hasChromium ? 'Lightning (L402) in Chromium' : `Lightning (L402) in Chromium — SKIPPED: ${CHROMIUM} is missing`;
const PRICE_MSAT = 2000n;

interface L402Server {
  url: string;
  /** Every credential shown, with the verdict. */
  credentials: { path: string; ok: boolean }[];
  close(): Promise<void>;
}

/** 402 with an L402 challenge only; 200 once `Authorization: L402 <token>:<preimage>` proves the invoice paid. */
async function startL402Server(lnd: FakeLnd): Promise<L402Server> {
  const issued = new Map<string, string>(); // token → payment hash (hex)
  const credentials: L402Server['credentials'] = [];
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (!path.startsWith('/l402/')) return void res.writeHead(404).end();
    const m = /^L402 ([A-Za-z0-9+/=_-]+):([0-9a-f]{64})$/.exec(req.headers.authorization ?? '');
    if (m) {
      const hash = issued.get(m[1]!);
      const ok = hash !== undefined && createHash('sha256').update(Buffer.from(m[2]!, 'hex')).digest('hex') === hash;
      credentials.push({ path, ok });
      if (ok) {
        res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'no-store' });
        return void res.end(`<!doctype html><title>paid</title><h1 id="paid">Lightning article ${path}</h1>`);
      }
    }
    const invoice = lnd.addInvoice({ valueMsat: PRICE_MSAT, memo: path });
    const token = randomBytes(48).toString('base64');
    issued.set(token, invoice.paymentHashHex);
    res.writeHead(402, {
      'content-type': 'text/plain',
      'cache-control': 'no-store',
      'www-authenticate': `L402 version="0", token="${token}", invoice="${invoice.paymentRequest}"`,
    });
    res.end('Payment required');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    credentials,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe.skipIf(!hasChromium)(title, () => {
  let build: Awaited<ReturnType<typeof buildExtension>>;
  let lnd: FakeLnd;
  let hub: TestHub;
  let site: L402Server;
  let b: ExtensionBrowser;

  beforeAll(async () => {
    lnd = await startFakeLnd();
    // The hub answers `submitted` after 1 s without an outcome (the second test holds the node).
    [build, hub] = await Promise.all([
      buildExtension(),
      startTestHub('sqlite', {
        env: { TOLLWAY_LND_REST_URL: lnd.url, TOLLWAY_LND_MACAROON: lnd.macaroonHex, TOLLWAY_LIGHTNING_WAIT: '1' },
      }),
    ]);
    site = await startL402Server(lnd);
    b = await launchWithExtension(build.dir);
  }, 120_000);

  afterAll(async () => {
    await b?.close();
    await site?.close();
    await hub?.stop();
    await lnd?.close();
    await build?.cleanup();
  });

  it('approves an L402-only 402 in sats, the hub pays the invoice, and the reload carries L402 <token>:<preimage>', async () => {
    const { session } = await onboard(b, hub.url);
    const auth = { authorization: `Bearer ${session.accessToken}` };
    const funded = await fetch(`${hub.url}/dev/faucet`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ asset: 'BTC', amount: '100000' }),
    });
    expect(funded.status).toBe(200);

    const tab = await b.context.newPage();
    await tab.goto(`${site.url}/l402/deep-dive`).catch(() => undefined);
    await expect.poll(() => b.approvalPages().length, { timeout: 10_000 }).toBe(1);
    const win = b.approvalPages()[0]!;
    await expect
      .poll(
        () =>
          win
            .getByTestId('amount')
            .textContent()
            .catch(() => null),
        { timeout: 10_000 },
      )
      .toBe('2 sats (0.00000002 BTC)');
    expect(await win.getByText('Lightning', { exact: true }).count()).toBe(1);
    await clickLast(win, 'Approve');

    await expect
      .poll(
        () =>
          tab
            .locator('#paid')
            .textContent()
            .catch(() => null),
        { timeout: 20_000 },
      )
      .toBe('Lightning article /l402/deep-dive');
    expect(site.credentials).toEqual([{ path: '/l402/deep-dive', ok: true }]);
    const payments = (
      (await (await fetch(`${hub.url}/payments`, { headers: auth })).json()) as {
        data: { rail: string; status: string; amount: string; asset: string; receipt: { preimage?: string } }[];
      }
    ).data;
    expect(payments).toEqual([
      expect.objectContaining({ rail: 'lightning', status: 'completed', amount: String(PRICE_MSAT), asset: 'BTC' }),
    ]);
    expect(lnd.payments().map((p) => [p.valueMsat, p.status])).toEqual([[PRICE_MSAT, 'SUCCEEDED']]);
    // The preimage went to the page's retry only: local storage never holds it.
    const local = JSON.stringify(
      await b.worker.evaluate(() =>
        (globalThis as unknown as { chrome: { storage: { local: { get(k: null): Promise<unknown> } } } }).chrome.storage.local.get(null),
      ),
    );
    expect(local).not.toContain(payments[0]!.receipt.preimage!);
  });

  it('a payment the node settles later: submitted first, then the preimage arrives by paymentStatusUpdate and the page reloads with it', async () => {
    const auth = {
      authorization: `Bearer ${(await b.worker.evaluate(() => (globalThis as unknown as { chrome: { storage: { session: { get(k: string): Promise<Record<string, { accessToken: string }>> } } } }).chrome.storage.session.get('tollway.hub')))['tollway.hub']!.accessToken}`,
    };
    lnd.holdPayments();
    const tab = await b.context.newPage();
    await tab.goto(`${site.url}/l402/later`).catch(() => undefined);
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
    await clickLast(win, 'Approve');
    const history = () =>
      b.worker.evaluate(() =>
        (
          globalThis as unknown as {
            chrome: { storage: { local: { get(k: string): Promise<Record<string, { requests: { url: string; status: string }[] }>> } } };
          }
        ).chrome.storage.local
          .get('tollway.history')
          .then((v) => v['tollway.history']!.requests.find((r) => r.url.endsWith('/l402/later'))?.status),
      );
    await expect.poll(history, { timeout: 15_000 }).toBe('submitted');
    expect(await tab.locator('#paid').count()).toBe(0);

    lnd.release();
    await expect
      .poll(
        () =>
          tab
            .locator('#paid')
            .textContent()
            .catch(() => null),
        { timeout: 20_000 },
      )
      .toBe('Lightning article /l402/later');
    expect(await history()).toBe('completed');
    expect(site.credentials.filter((c) => c.path === '/l402/later')).toEqual([{ path: '/l402/later', ok: true }]);
    const payments = ((await (await fetch(`${hub.url}/payments`, { headers: auth })).json()) as { data: { status: string }[] }).data;
    expect(payments.map((p) => p.status)).toEqual(['completed', 'completed']);
  });
});
