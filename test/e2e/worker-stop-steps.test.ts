/**
 * The service worker stopped at each step of a payment (worker-restart.test.ts covers two more:
 * the hub answered but the worker never heard, and stopped before the proof rule was installed).
 * After each stop a new worker starts (a page load wakes it) and the flow either completes with
 * exactly one payment at the hub, or shows the request to the person again; approving it then
 * still makes exactly one. Never two.
 *
 * One browser and one signed-in wallet serve every step (onboarding costs a scrypt of seconds);
 * each step pays for a resource of its own, and the hub's payments are counted per resource.
 */
import type { Page, Worker } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildExtension,
  CHROMIUM,
  hasChromium,
  hubPayments,
  launchWithExtension,
  type ExtensionBrowser,
  type WorkerChrome,
} from '../helpers/extension-browser.js';
import { onboard, type StoredHubSession } from '../helpers/extension-onboarding.js';
import { startHoldingProxy, type HoldingProxy } from '../helpers/extension-proxy.js';
import { PRICE, startShop, type Shop } from '../helpers/extension-shop.js';
import { createMerchant, startTestHub, type TestHub } from '../helpers/hub.js';

declare const chrome: WorkerChrome;

const STEPS = [
  'after the 402, approval window open',
  'approve clicked, POST /payments not yet sent',
  'approve clicked, POST /payments in flight',
  'waiting for paymentStatusUpdate',
  'proof rule set, page retry not yet done',
] as const;
type Step = (typeof STEPS)[number];

type Marked = { stoppedWorker?: boolean; postHeld?: boolean; answered?: string; retryHeld?: boolean };
type History = { requests: { url: string; status: string; result: { transactionId: string } | null }[] } | undefined;

const title = hasChromium ? 'worker stopped at each step of a payment' : `worker stop steps — SKIPPED: ${CHROMIUM} is missing`;

describe.skipIf(!hasChromium)(title, () => {
  let build: Awaited<ReturnType<typeof buildExtension>>;
  let proxy: HoldingProxy;
  let hub: TestHub;
  let shop: Shop;
  let b: ExtensionBrowser;
  let session: StoredHubSession;

  beforeAll(async () => {
    proxy = await startHoldingProxy();
    [build, hub] = await Promise.all([buildExtension(), startTestHub('sqlite', { env: { TOLLWAY_PUBLIC_URL: proxy.url } })]);
    proxy.target = hub.url;
    const { merchant } = await createMerchant(hub.url);
    // The challenge names the hub by the URL people reach it at: the proxy.
    shop = await startShop(proxy.url, merchant.id);
    b = await launchWithExtension(build.dir);
    ({ session } = await onboard(b, proxy.url));
    const res = await fetch(`${hub.url}/dev/faucet`, {
      method: 'POST',
      headers: { authorization: `Bearer ${session.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ asset: 'SOVR', amount: '100000' }),
    });
    expect(res.status).toBe(200);
  }, 120_000);

  const outcomes: Partial<Record<Step, string>> = {};
  afterAll(async () => {
    process.stdout.write(`worker stop steps: ${JSON.stringify(outcomes, null, 2)}\n`);
    await b?.close();
    await shop?.close();
    await hub?.stop();
    await proxy?.close();
    await build?.cleanup();
  });

  /**
   * Whether `w` runs an instance the test never stopped. Playwright's Worker can outlive a stop
   * (Chrome may restart the same target, and Playwright then evaluates in the new instance), and
   * its evaluate waits while no instance runs: hence the marker, and the time limit.
   */
  const fresh = (w: Worker) =>
    Promise.race([
      w.evaluate(() => !(globalThis as Marked).stoppedWorker).catch(() => false),
      new Promise<false>((r) => setTimeout(() => r(false), 2000)),
    ]);

  /** The extension's worker instance running now; if none runs, a page load (an event it listens to) starts one. */
  async function currentWorker(): Promise<Worker> {
    for (let i = 0; ; i++) {
      for (const w of b.context
        .serviceWorkers()
        .filter((x) => x.url().includes(b.extensionId))
        .reverse())
        if (await fresh(w)) return w;
      if (i > 20) throw new Error('no service worker started');
      const wake = await b.context.newPage();
      await wake.goto(`${shop.url}/page`);
      await wake.close();
    }
  }

  /** Stops the extension's service worker, as Chrome does to an idle one (CDP Target.closeTarget). */
  async function stopWorker(w: Worker): Promise<Page> {
    // Marks this worker instance, to see later that another one finished the job.
    await w.evaluate(() => void ((globalThis as Marked).stoppedWorker = true));
    const probe = await b.context.newPage();
    await probe.goto('about:blank');
    const cdp = await b.context.newCDPSession(probe);
    const workers = async () =>
      ((await cdp.send('Target.getTargets')) as { targetInfos: { targetId: string; type: string; url: string }[] }).targetInfos.filter(
        (t) => t.type === 'service_worker' && t.url.includes(b.extensionId),
      );
    const [sw, ...more] = await workers();
    expect(more).toEqual([]);
    await cdp.send('Target.closeTarget', { targetId: sw!.targetId });
    await expect.poll(async () => (await workers()).map((t) => t.targetId), { timeout: 10_000 }).not.toContain(sw!.targetId);
    await cdp.detach();
    return probe;
  }

  const approve = (win: Page) =>
    win
      .getByRole('button', { name: 'Approve', exact: true })
      .click({ noWaitAfter: true, timeout: 10_000 })
      .catch((e: Error) => {
        // The worker may close the window before the click returns.
        if (!win.isClosed() && !/closed/.test(e.message)) throw e;
      });

  const flag = (w: Worker, name: keyof Marked) => () => w.evaluate((n) => (globalThis as Marked)[n] ?? null, name);
  const history = (w: Worker) =>
    w.evaluate(() => chrome.storage.local.get('tollway.history').then((v) => v['tollway.history'])) as Promise<History>;

  it.each(STEPS)('stopped %s: one payment or the person asked again, never two', { timeout: 60_000 }, async (step) => {
    const path = `/paid/stop-${STEPS.indexOf(step)}`;
    const url = `${shop.url}${path}`;
    // Every payment the hub has for this step's resource: two would be a double payment.
    const paidFor = async () =>
      (await hubPayments(hub.url, session)).filter((p) => (p as { resource?: { url: string } }).resource?.url === url);
    const posts = () => proxy.log.filter((l) => l === 'POST /payments').length;
    const postsBefore = posts();
    const w = await currentWorker();

    // A test-side hold in the worker where the stop is to happen (it goes with the stopped instance).
    if (step === 'approve clicked, POST /payments not yet sent') {
      // The worker's POST never leaves: its fetch hangs, as if Chrome stopped the worker just before sending.
      await w.evaluate(() => {
        const real = globalThis.fetch;
        globalThis.fetch = (input, init) => {
          if (init?.method === 'POST' && String(input).endsWith('/payments')) {
            (globalThis as Marked).postHeld = true;
            return new Promise<Response>(() => undefined);
          }
          return real(input, init);
        };
      });
    }
    if (step === 'waiting for paymentStatusUpdate') {
      // The hub's answer is read as "submitted" (as for a chain rail), so the worker waits for the
      // live update; the hub itself completed the payment. The update must not reach this worker
      // (it would finish the job before the stop): its websocket is cut until the stop.
      proxy.blockLive(true);
      await w.evaluate(() => {
        const real = globalThis.fetch;
        globalThis.fetch = async (input, init) => {
          const res = await real(input, init);
          if (init?.method !== 'POST' || !String(input).endsWith('/payments') || res.status !== 200) return res;
          const body = (await res.json()) as { status: string };
          (globalThis as Marked).answered = body.status;
          return new Response(JSON.stringify({ ...body, status: 'submitted' }), { status: 200, headers: res.headers });
        };
      });
    }
    if (step === 'proof rule set, page retry not yet done') {
      // The page is never retried by this worker: reload and navigate hang, after the rule is in.
      await w.evaluate(() => {
        const tabs = (chrome as unknown as { tabs: Record<string, unknown> }).tabs;
        for (const k of ['reload', 'update']) {
          tabs[k] = () => {
            (globalThis as Marked).retryHeld = true;
            return new Promise(() => undefined);
          };
        }
      });
    }
    const held = step === 'approve clicked, POST /payments in flight' ? proxy.holdNext('POST', '/payments') : undefined;

    const tab = await b.context.newPage();
    await tab.goto(url).catch(() => undefined);
    await expect.poll(() => b.approvalPages().length, { timeout: 10_000 }).toBe(1);
    const win = b.approvalPages()[0]!;

    if (step !== 'after the 402, approval window open') await approve(win);
    if (step === 'approve clicked, POST /payments not yet sent') {
      await expect.poll(flag(w, 'postHeld'), { timeout: 10_000 }).toBe(true);
      expect(posts()).toBe(postsBefore);
    }
    if (step === 'approve clicked, POST /payments in flight') {
      // The hub has the POST (and may or may not have finished it): stop the worker while it waits.
      await expect.poll(posts, { timeout: 10_000 }).toBe(postsBefore + 1);
    }
    if (step === 'waiting for paymentStatusUpdate') {
      await expect.poll(flag(w, 'answered'), { timeout: 10_000 }).toBe('completed');
      // Stored as waiting for the live update, which is what the stop interrupts.
      await expect
        .poll(async () => (await history(w))?.requests.filter((r) => r.url === url).map((r) => r.status), { timeout: 10_000 })
        .toEqual(['submitted']);
    }
    if (step === 'proof rule set, page retry not yet done') {
      await expect.poll(flag(w, 'retryHeld'), { timeout: 10_000 }).toBe(true);
      expect(await w.evaluate(() => chrome.declarativeNetRequest.getSessionRules())).toHaveLength(1);
    }
    const probe = await stopWorker(w);
    proxy.blockLive(false);

    // A page load wakes a new worker.
    await probe.goto(`${shop.url}/page`);
    if (step === 'after the 402, approval window open') {
      // The window the old worker opened is still up: the person approves there, and the new worker pays.
      expect(await paidFor()).toEqual([]);
      await approve(win);
    }

    const paid = () =>
      tab
        .locator('#paid')
        .textContent({ timeout: 500 })
        .catch(() => null);
    // A window that is still up after the approval click is the old one closing: the person is
    // asked again only if a request waits for a decision.
    const askedAgain = async () =>
      b.approvalPages().length > 0 &&
      (
        (await (await currentWorker()).evaluate(() => chrome.storage.local.get('tollway.approvals').then((v) => v['tollway.approvals']))) as
          | { requests: { status: string }[] }
          | undefined
      )?.requests.some((r) => r.status === 'pending') === true;
    // Either the page gets its article, or the request is in front of the person again. Normally in
    // a second or two; the limit leaves room for the worker's resume alarm (30 s), its way back when
    // a replay found the first POST still running at the hub (409).
    await expect.poll(async () => (await paid()) !== null || (await askedAgain()), { timeout: 40_000 }).toBe(true);
    outcomes[step] = (await paid()) === null ? 'asked the person again' : 'completed by the next worker';
    if ((await paid()) === null) {
      // Needs the person again: nothing was paid twice so far, and approving pays once in total.
      expect((await paidFor()).length).toBeLessThanOrEqual(1);
      await approve(b.approvalPages()[0]!);
      await expect.poll(paid, { timeout: 20_000 }).toBe(`Paid article ${path}`);
    }
    expect(await paid()).toBe(`Paid article ${path}`);
    if (held) expect((await held).status).toBe(200);

    // Exactly one payment at the hub for this resource, and the proof the shop saw is that one.
    const payments = await paidFor();
    expect(payments).toEqual([expect.objectContaining({ status: 'completed', amount: PRICE })]);
    expect(shop.proofs.filter((p) => p.path === path)).toEqual([{ path, ok: true, sub: payments[0]!.transactionId }]);
    // Finished by a worker that was started after the stop (the stopped one is marked).
    const next = await currentWorker();
    expect((await history(next))?.requests.filter((r) => r.url === url).map((r) => [r.status, r.result?.transactionId])).toEqual([
      ['completed', payments[0]!.transactionId],
    ]);
    await probe.close();
    await tab.close();
  });
});
