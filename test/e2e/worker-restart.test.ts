/**
 * The service worker stopped in the middle of a payment, at two points:
 *  - the hub has taken the payment but the worker never heard the answer: the next worker replays
 *    the same Idempotency-Key, learns the outcome, and retries the page;
 *  - the worker stored the payment completed but was stopped before the proof rule was installed
 *    and the tab reloaded: the next worker asks the hub for that payment (GET /payments/:id, never
 *    POST again), installs the rule and reloads.
 * Either way: exactly one payment at the hub, the article shown.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildExtension,
  CHROMIUM,
  hasChromium,
  launchWithExtension,
  type ExtensionBrowser,
  type WorkerChrome,
} from '../helpers/extension-browser.js';
import { onboard } from '../helpers/extension-onboarding.js';
import { startHoldingProxy, type HoldingProxy } from '../helpers/extension-proxy.js';
import { PRICE, startShop, type Shop } from '../helpers/extension-shop.js';
import { createMerchant, startTestHub, type TestHub } from '../helpers/hub.js';

declare const chrome: WorkerChrome;

const title = hasChromium ? 'worker stopped mid-payment in Chromium' : `worker restart in Chromium — SKIPPED: ${CHROMIUM} is missing`;

describe.skipIf(!hasChromium)(title, () => {
  let build: Awaited<ReturnType<typeof buildExtension>>;
  let proxy: HoldingProxy;
  let hub: TestHub;
  let shop: Shop;
  let browser: ExtensionBrowser;
  let second: ExtensionBrowser | undefined;

  beforeAll(async () => {
    proxy = await startHoldingProxy();
    [build, hub] = await Promise.all([buildExtension(), startTestHub('sqlite', { env: { TOLLWAY_PUBLIC_URL: proxy.url } })]);
    proxy.target = hub.url;
    const { merchant } = await createMerchant(hub.url);
    // The challenge names the hub by the URL people reach it at: the proxy.
    shop = await startShop(proxy.url, merchant.id);
    browser = await launchWithExtension(build.dir);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await second?.close();
    await shop?.close();
    await hub?.stop();
    await proxy?.close();
    await build?.cleanup();
  });

  /** Stops the extension's service worker, as Chrome does to an idle one (CDP Target.closeTarget). */
  async function stopWorker(b: ExtensionBrowser) {
    const probe = await b.context.newPage();
    await probe.goto('about:blank');
    const cdp = await b.context.newCDPSession(probe);
    const { targetInfos } = (await cdp.send('Target.getTargets')) as { targetInfos: { targetId: string; type: string; url: string }[] };
    const sw = targetInfos.find((t) => t.type === 'service_worker' && t.url.includes(b.extensionId))!;
    await cdp.send('Target.closeTarget', { targetId: sw.targetId });
    return probe;
  }

  it('replays the same key after a restart: one payment, and the page gets its proof', async () => {
    const b = browser;
    const { session } = await onboard(b, proxy.url);
    const auth = { authorization: `Bearer ${session.accessToken}` };
    const res = await fetch(`${hub.url}/dev/faucet`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ asset: 'SOVR', amount: '10000' }),
    });
    expect(res.status).toBe(200);

    // Marks this worker instance, to see later that another one finished the job.
    await b.worker.evaluate(() => void ((globalThis as { firstWorker?: boolean }).firstWorker = true));
    const held = proxy.holdNext('POST', '/payments');
    const tab = await b.context.newPage();
    await tab.goto(`${shop.url}/paid/restart`).catch(() => undefined);
    await expect.poll(() => b.approvalPages().length, { timeout: 10_000 }).toBe(1);
    const win = b.approvalPages()[0]!;
    await win
      .getByRole('button', { name: 'Approve', exact: true })
      .click({ noWaitAfter: true })
      .catch(() => undefined);

    // The hub has paid; the worker is waiting for an answer that will never come. Stop it.
    const answer = await held;
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ status: 'completed' });
    const probe = await stopWorker(b);

    // Storage still says "paying" with its key; the page still shows the 402.
    expect(await tab.locator('#paid').count()).toBe(0);

    // Any event starts a new worker, which asks the hub with the same key (here: a page load).
    await probe.goto(`${shop.url}/page`);
    await expect
      .poll(
        () =>
          tab
            .locator('#paid')
            .textContent()
            .catch(() => null),
        { timeout: 15_000 },
      )
      .toBe('Paid article /paid/restart');

    const payments = (await (await fetch(`${hub.url}/payments`, { headers: auth })).json()) as {
      data: { transactionId: string; status: string; amount: string }[];
    };
    expect(payments.data).toEqual([expect.objectContaining({ status: 'completed', amount: PRICE })]);
    const me = (await (await fetch(`${hub.url}/accounts/me`, { headers: auth })).json()) as {
      balances: { asset: string; available: string }[];
    };
    expect(me.balances.find((x) => x.asset === 'SOVR')?.available).toBe(String(10_000n - BigInt(PRICE)));
    const worker = b.context.serviceWorkers().find((w) => w.url().includes(b.extensionId))!;
    expect(await worker.evaluate(() => (globalThis as { firstWorker?: boolean }).firstWorker ?? false)).toBe(false);
    const history = (await worker.evaluate(() => chrome.storage.local.get('tollway.history').then((v) => v['tollway.history']))) as {
      requests: { status: string; result: { transactionId: string } | null }[];
    };
    expect(history.requests.map((r) => [r.status, r.result?.transactionId])).toEqual([['completed', payments.data[0]!.transactionId]]);
  });

  it('stopped after the payment completed but before the proof reload: the next worker asks the hub and reloads, paying nothing again', async () => {
    const b = (second = await launchWithExtension(build.dir));
    const { session } = await onboard(b, proxy.url);
    const auth = { authorization: `Bearer ${session.accessToken}` };
    await fetch(`${hub.url}/dev/faucet`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ asset: 'SOVR', amount: '10000' }),
    });

    // The proof step never finishes in this worker: the session-rule call is held forever, as if
    // Chrome stopped the worker right there (a test-side hold, like the proxy's for the hub).
    await b.worker.evaluate(() => {
      const dnr = chrome.declarativeNetRequest;
      dnr.updateSessionRules = () => {
        (globalThis as { proofHeld?: boolean }).proofHeld = true;
        return new Promise<void>(() => undefined);
      };
    });
    const tab = await b.context.newPage();
    await tab.goto(`${shop.url}/paid/crash-after-pay`).catch(() => undefined);
    await expect.poll(() => b.approvalPages().length, { timeout: 10_000 }).toBe(1);
    await b
      .approvalPages()[0]!
      .getByRole('button', { name: 'Approve', exact: true })
      .click({ noWaitAfter: true })
      .catch(() => undefined);
    await expect
      .poll(() => b.worker.evaluate(() => (globalThis as { proofHeld?: boolean }).proofHeld ?? false), { timeout: 15_000 })
      .toBe(true);
    const stored = (await b.worker.evaluate(() => chrome.storage.local.get('tollway.history').then((v) => v['tollway.history']))) as {
      requests: { status: string; retryDue?: boolean }[];
    };
    expect(stored.requests.map((r) => [r.status, r.retryDue])).toEqual([['completed', true]]);
    const posts = () => proxy.log.filter((l) => l === 'POST /payments').length;
    const postsBefore = posts();

    const probe = await stopWorker(b);
    expect(await tab.locator('#paid').count()).toBe(0);

    // Any event starts a new worker (here: a page load); it finds the completed request, asks the hub for it, and reloads the tab with the proof.
    await probe.goto(`${shop.url}/page`);
    await expect
      .poll(
        () =>
          tab
            .locator('#paid')
            .textContent()
            .catch(() => null),
        { timeout: 15_000 },
      )
      .toBe('Paid article /paid/crash-after-pay');

    const payments = (await (await fetch(`${hub.url}/payments`, { headers: auth })).json()) as {
      data: { transactionId: string; status: string }[];
    };
    expect(payments.data).toEqual([expect.objectContaining({ status: 'completed' })]);
    expect(posts()).toBe(postsBefore);
    expect(proxy.log).toContain(`GET /payments/${payments.data[0]!.transactionId}`);
    expect(shop.proofs.filter((p) => p.path === '/paid/crash-after-pay')).toEqual([
      { path: '/paid/crash-after-pay', ok: true, sub: payments.data[0]!.transactionId },
    ]);
    const worker = b.context.serviceWorkers().find((w) => w.url().includes(b.extensionId))!;
    const after = (await worker.evaluate(() => chrome.storage.local.get('tollway.history').then((v) => v['tollway.history']))) as {
      requests: { status: string; retryDue?: boolean }[];
    };
    expect(after.requests.map((r) => [r.status, r.retryDue])).toEqual([['completed', undefined]]);
  });
});
