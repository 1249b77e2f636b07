/**
 * The approval flow's shortcuts, against in-memory storage and a scripted hub: a budget that covers
 * the amount pays at once with `allowance: {site}` and no window, but only to the payee it was set
 * for (any other payee on the same site opens the window); the hub refusing it as over budget (or
 * for another payee) turns it into an ordinary request (new key, no allowance) in the window; the
 * request names the site the tab shows, never a URL the page or the challenge chose; a 402 answering a proof
 * is always asked; a pass is shown again without queuing; and a completed page load whose retry a
 * stopped worker missed is retried from the hub's record, never paid again.
 */
import { randomBytes } from 'node:crypto';
import bolt11 from 'bolt11';
import { describe, expect, it } from 'vitest';
import { tEn } from '../helpers/i18n-en.js';
import type { CreatePaymentRequest, Payment } from '../../shared/api.js';
import { createApprovalWindow } from '../../extension/background/approval-window.js';
import { createApprovals, type Seen402 } from '../../extension/background/approvals.js';
import type { HubClient, PayOutcome } from '../../extension/background/hub-client.js';
import type { PassStore } from '../../extension/background/passes.js';
import type { Allowance } from '../../extension/common/budget.js';
import { KEYS, type ApprovalRequest, type HubSession, type Pass } from '../../extension/common/state.js';
import { loadHubSession, readRequestList } from '../../extension/common/storage.js';
import { HUB, request, tollwayOption, x402Challenge } from '../helpers/extension-fixtures.js';
import { makeInvoice } from '../../devnet/lnd.js';
import { MemoryStorage } from '../helpers/memory-storage.js';
import { FakeWindows } from '../helpers/fake-windows.js';

const SITE = 'https://shop.example';
const NOW = Date.parse('2025-03-10T12:00:00Z');

const paid = (body: CreatePaymentRequest, status: Payment['status'] = 'completed'): Payment => ({
  transactionId: 'pay_1',
  status,
  rail: body.rail,
  payTo: body.payTo,
  amount: body.amount,
  asset: body.asset,
  resource: body.resource ? { url: body.resource.url, method: body.resource.method } : null,
  description: null,
  failureReason: null,
  receipt: status === 'completed' ? { token: 'eyJ.receipt' } : {},
  createdAt: new Date(NOW).toISOString(),
  updatedAt: new Date(NOW).toISOString(),
});

class Hub implements HubClient {
  calls: { key: string; body: CreatePaymentRequest }[] = [];
  outcomes: ((body: CreatePaymentRequest) => PayOutcome)[] = [];
  async pay(_s: HubSession, key: string, body: CreatePaymentRequest): Promise<PayOutcome> {
    this.calls.push({ key, body });
    return (this.outcomes.shift() ?? ((b) => ({ kind: 'answered', payment: paid(b) })))(body);
  }
}

const budget = (over: Partial<Allowance> = {}): Allowance => ({
  site: SITE,
  payee: 'm_shop',
  asset: 'SOVR',
  amount: '3000',
  period: 'day',
  spent: '0',
  remaining: '3000',
  periodStart: '2025-03-10T00:00:00.000Z',
  resetsAt: '2025-03-11T00:00:00.000Z',
  ...over,
});

function setup(
  opts: {
    budgets?: Allowance[];
    passes?: Pass[];
    local?: MemoryStorage;
    lookup?: (id: string) => Payment | null;
    tabs?: Record<number, string | null>;
  } = {},
) {
  const local = opts.local ?? new MemoryStorage();
  const session = new MemoryStorage();
  void session.set({ [KEYS.hub]: { url: HUB, accessToken: 'at_1' } });
  const windows = new FakeWindows();
  const hub = new Hub();
  let budgets = opts.budgets ?? [];
  const syncs: number[] = [];
  const puts: unknown[] = [];
  const notes: { title: string; message: string }[] = [];
  const completed: ApprovalRequest[] = [];
  const reapplied: { pass: Pass; seen: Seen402 }[] = [];
  const recorded: string[] = [];
  const spent: string[] = [];
  const passes: PassStore = {
    find: async (want) =>
      opts.passes?.find((p) => p.payTo === want.payTo && p.url === want.url && !spent.includes(p.transactionId)) ?? null,
    record: async (r) => void recorded.push(r.id),
    spend: async (id) => void spent.push(id),
  };
  let ids = 0;
  const approvals = createApprovals({
    t: tEn,
    local,
    hub,
    session: () => loadHubSession(session),
    window: createApprovalWindow({ windows, session, url: 'chrome-extension://x/approve.html' }),
    setBadge: async () => undefined,
    now: () => NOW,
    newId: () => `id${++ids}`,
    onCompleted: async (r) => void completed.push(r),
    budgets: {
      lookup: async (site, payee, asset) => budgets.find((a) => a.site === site && a.payee === payee && a.asset === asset) ?? null,
      put: async (a) => {
        puts.push(a);
        const saved = budget({ ...a, period: a.period, remaining: a.amount });
        budgets = [saved];
        return saved;
      },
      sync: async () => void syncs.push(1),
    },
    passes,
    reapply: async (pass, seen) => (reapplied.push({ pass, seen }), true),
    tabOrigin: async (tabId) => opts.tabs?.[tabId] ?? null,
    lookupPayment: async (_s, id) => opts.lookup?.(id) ?? null,
    notify: async (n) => void notes.push(n),
  });
  return {
    approvals,
    local,
    windows,
    hub,
    syncs,
    puts,
    notes,
    completed,
    reapplied,
    recorded,
    spent,
    setBudgets: (b: Allowance[]) => (budgets = b),
  };
}

const seen = (path = '/a', over: Partial<Seen402> = {}): Seen402 => ({
  site: SITE,
  tabId: 7,
  frameType: 'main_frame',
  method: 'GET',
  url: `${SITE}${path}`,
  challenge: x402Challenge(),
  ...over,
});
const active = (s: MemoryStorage) => readRequestList(s.peek(KEYS.approvals)).requests;
const history = (s: MemoryStorage) => readRequestList(s.peek(KEYS.history)).requests;

describe('auto-payment from a budget', () => {
  it('pays at once, charged to the site’s allowance, with no window, and says so in a notification', async () => {
    const t = setup({ budgets: [budget()] });
    const out = await t.approvals.add(seen());
    // Stored as paying, with the allowance in the body, before the hub is called.
    expect(active(t.local)[0]).toMatchObject({ status: 'paying', auto: true, payment: { allowance: { site: SITE }, amount: '1500' } });
    await out.settled;
    expect(t.windows.created).toBe(0);
    expect(t.hub.calls).toEqual([
      {
        key: expect.stringMatching(/^tollway-/),
        body: expect.objectContaining({ rail: 'internal', amount: '1500', allowance: { site: SITE } }),
      },
    ]);
    expect(history(t.local)[0]).toMatchObject({ status: 'completed', auto: true });
    expect(t.completed.map((r) => r.result?.receipt.token)).toEqual(['eyJ.receipt']);
    expect(t.syncs).toHaveLength(1);
    expect(t.notes).toEqual([
      {
        title: 'Tollway paid shop.example',
        message: "0.0000000000000015 SOVR from this site's budget. 0.000000000000003 SOVR left this day.",
      },
    ]);
  });

  it('asks when the budget does not cover it, or for another asset, or when there is none', async () => {
    for (const b of [[budget({ remaining: '1499', spent: '1501' })], [budget({ asset: 'BTC' })], []]) {
      const t = setup({ budgets: b });
      await t.approvals.add(seen());
      expect(active(t.local)[0]).toMatchObject({ status: 'pending' });
      expect(active(t.local)[0]!.payment).not.toHaveProperty('allowance');
      expect(t.windows.created).toBe(1);
      expect(t.hub.calls).toEqual([]);
    }
  });

  it('the hub refusing it as over budget sends it to the window: a new key, no allowance, nothing paid', async () => {
    const t = setup({ budgets: [budget()] });
    t.hub.outcomes.push(() => ({
      kind: 'refused',
      status: 403,
      type: 'https://tollway.dev/problems/allowance-exceeded',
      message: '0 SOVR left for https://shop.example this day',
    }));
    const out = await t.approvals.add(seen());
    const firstKey = active(t.local)[0]!.idempotencyKey;
    await out.settled;
    const [r] = active(t.local);
    expect(r).toMatchObject({
      status: 'pending',
      auto: false,
      note: "Over this site's budget: 0 SOVR left for https://shop.example this day",
    });
    expect(r!.payment).not.toHaveProperty('allowance');
    expect(r!.idempotencyKey).not.toBe(firstKey);
    expect(t.windows.created).toBe(1);
    expect(t.syncs).toHaveLength(1);
    expect(t.notes).toEqual([]);
    // Approved by hand: paid once more, under the new key, without the allowance.
    await t.approvals.decide(r!.id, true);
    expect(t.hub.calls.map((c) => [c.key === firstKey, 'allowance' in c.body])).toEqual([
      [true, true],
      [false, false],
    ]);
    expect(history(t.local)[0]).toMatchObject({ status: 'completed' });
  });

  it('another refusal is a failure the person is told about', async () => {
    const t = setup({ budgets: [budget()] });
    t.hub.outcomes.push(() => ({
      kind: 'refused',
      status: 400,
      type: 'https://tollway.dev/problems/insufficient-funds',
      message: 'balance too low',
    }));
    await (await t.approvals.add(seen())).settled;
    expect(history(t.local)[0]).toMatchObject({ status: 'failed', error: 'balance too low' });
    expect(t.notes).toEqual([{ title: 'Tollway could not pay shop.example', message: '0.0000000000000015 SOVR: balance too low' }]);
    expect(t.windows.created).toBe(0);
  });

  it('a 402 that answered a retry with a proof is always asked (no loop through the budget)', async () => {
    const t = setup({ budgets: [budget()] });
    await t.approvals.add(seen('/a', { afterProof: true }));
    expect(active(t.local)[0]).toMatchObject({ status: 'pending' });
    expect(t.hub.calls).toEqual([]);
    expect(t.windows.created).toBe(1);
  });

  it('approving with "pay automatically up to … per …" saves the budget first, then pays; a budget that cannot be saved pays nothing', async () => {
    const t = setup();
    const { id } = await t.approvals.add(seen());
    await t.approvals.decide(id, true, { amount: '15000', period: 'week' });
    expect(t.puts).toEqual([{ site: SITE, payee: 'm_shop', asset: 'SOVR', amount: '15000', period: 'week' }]);
    // The approved payment itself is not charged to the new budget.
    expect(t.hub.calls.map((c) => 'allowance' in c.body)).toEqual([false]);
    // The next 402 on the site is inside it.
    await (await t.approvals.add(seen('/b'))).settled;
    expect(t.hub.calls.map((c) => c.body.allowance)).toEqual([undefined, { site: SITE }]);

    const failing = setup();
    const r = await failing.approvals.add(seen());
    const approvals = createApprovals({
      t: tEn,
      local: failing.local,
      hub: failing.hub,
      session: async () => ({ url: HUB, accessToken: 'at' }),
      window: createApprovalWindow({ windows: failing.windows, session: new MemoryStorage(), url: 'x' }),
      setBadge: async () => undefined,
      budgets: { lookup: async () => null, put: async () => Promise.reject(new Error('hub unreachable')), sync: async () => undefined },
    });
    await expect(approvals.decide(r.id, true, { amount: '1', period: 'day' })).rejects.toThrow(
      /budget could not be saved, nothing was paid: hub unreachable/,
    );
    expect(failing.hub.calls).toEqual([]);
    expect(active(failing.local)[0]).toMatchObject({ status: 'pending' });
  });
});

describe('a budget is bound to its payee', () => {
  const otherPayee = x402Challenge([tollwayOption({ payTo: 'm_evil' })]);

  it('a script on the budgeted site asking to pay another merchant gets the window: nothing paid, nothing charged', async () => {
    const t = setup({ budgets: [budget()] });
    const out = await t.approvals.add(seen('/a', { frameType: 'xmlhttprequest', challenge: otherPayee }));
    expect(out.settled).toBeUndefined();
    expect(active(t.local)[0]).toMatchObject({ status: 'pending', payee: 'm_evil', payment: { payTo: 'm_evil' } });
    expect(active(t.local)[0]!.auto).toBeUndefined();
    expect(active(t.local)[0]!.payment).not.toHaveProperty('allowance');
    expect(t.windows.created).toBe(1);
    expect(t.hub.calls).toEqual([]);
    // The payee the budget was set for is still paid without asking.
    await (await t.approvals.add(seen('/b'))).settled;
    expect(t.hub.calls.map((c) => [c.body.payTo, c.body.allowance])).toEqual([['m_shop', { site: SITE }]]);
  });

  it('a budget kept from before budgets named a payee pays nobody automatically', async () => {
    const t = setup({ budgets: [budget({ payee: null })] });
    await t.approvals.add(seen());
    expect(active(t.local)[0]).toMatchObject({ status: 'pending', payee: 'm_shop' });
    expect(t.hub.calls).toEqual([]);
    expect(t.windows.created).toBe(1);
  });

  it('the hub refusing it for another payee sends it to the window with a note, under a new key', async () => {
    const t = setup({ budgets: [budget()] });
    t.hub.outcomes.push(() => ({
      kind: 'refused',
      status: 403,
      type: 'https://tollway.dev/problems/allowance-payee-mismatch',
      message: 'the allowance for https://shop.example is not for this payee: ask the person',
    }));
    const out = await t.approvals.add(seen());
    const firstKey = active(t.local)[0]!.idempotencyKey;
    await out.settled;
    const [r] = active(t.local);
    expect(r).toMatchObject({ status: 'pending', auto: false, note: expect.stringMatching(/^Not this site's budget's payee: /) });
    expect(r!.payment).not.toHaveProperty('allowance');
    expect(r!.idempotencyKey).not.toBe(firstKey);
    expect(t.windows.created).toBe(1);
  });

  it('Lightning: a budget for the node that signed the invoices pays its new invoices; another node’s invoice gets the window', async () => {
    const node = randomBytes(32);
    const l402 = (invoice: string): Seen402['challenge'] => ({
      x402: null,
      l402: { kind: 'l402', scheme: 'L402', macaroon: 'AgEEbHNhdAJCAADX', invoice, amountMsat: '1500000' },
      problems: [],
    });
    const ours = makeInvoice({ valueMsat: 1_500_000n, nodeKey: node }).paymentRequest;
    const nodeKey = bolt11.decode(ours).payeeNodeKey!;
    const t = setup({ budgets: [budget({ payee: nodeKey, asset: 'BTC', amount: '3000000', remaining: '3000000' })] });
    await (await t.approvals.add(seen('/ln-1', { challenge: l402(ours) }))).settled;
    expect(t.hub.calls.map((c) => [c.body.rail, c.body.payTo, c.body.allowance])).toEqual([['lightning', ours, { site: SITE }]]);
    const theirs = makeInvoice({ valueMsat: 1_500_000n, nodeKey: randomBytes(32) }).paymentRequest;
    await t.approvals.add(seen('/ln-2', { challenge: l402(theirs) }));
    expect(active(t.local)[0]).toMatchObject({ status: 'pending', payment: { rail: 'lightning', payTo: theirs } });
    expect(active(t.local)[0]!.payee).not.toBe(nodeKey);
    expect(t.hub.calls).toHaveLength(1);
    expect(t.windows.created).toBe(1);
  });

  it('approving with a budget binds it to this request’s payee; a payee that cannot be told gets no budget and nothing is paid', async () => {
    const t = setup();
    const { id } = await t.approvals.add(seen('/a', { challenge: otherPayee }));
    await t.approvals.decide(id, true, { amount: '15000', period: 'day' });
    expect(t.puts).toEqual([{ site: SITE, payee: 'm_evil', asset: 'SOVR', amount: '15000', period: 'day' }]);

    const unreadable = setup();
    const l402: Seen402['challenge'] = {
      x402: null,
      l402: {
        kind: 'l402',
        scheme: 'L402',
        macaroon: 'AgEEbHNhdAJCAADX',
        invoice: 'lnbcrt15u1pjqqqqqpp5qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqsdqqcqzpgxqyz5vq',
        amountMsat: '1500000',
      },
      problems: [],
    };
    const r = await unreadable.approvals.add(seen('/ln', { challenge: l402 }));
    expect(active(unreadable.local)[0]).toMatchObject({ status: 'pending', payee: null, payment: { rail: 'lightning' } });
    await expect(unreadable.approvals.decide(r.id, true, { amount: '1', period: 'day' })).rejects.toThrow(
      /cannot have a budget; nothing was paid/,
    );
    expect(unreadable.puts).toEqual([]);
    expect(unreadable.hub.calls).toEqual([]);
  });
});

describe('the site the window names', () => {
  const elsewhere = (): Seen402['challenge'] => ({
    ...x402Challenge(),
    x402: { ...x402Challenge().x402!, resource: { url: 'https://bank.example/transfer', description: 'Rent' } },
  });

  it('is the tab’s origin from the browser, whatever resource URL the challenge or the page names', async () => {
    const t = setup({ tabs: { 7: 'https://news.example' } });
    // A fetch from a frame of shop.example inside a news.example tab, naming a bank's URL.
    await t.approvals.add(seen('/a', { frameType: 'xmlhttprequest', url: 'https://bank.example/transfer', challenge: elsewhere() }));
    expect(active(t.local)[0]).toMatchObject({ site: SITE, tabOrigin: 'https://news.example', url: 'https://bank.example/transfer' });
  });

  it('a provider call carries the tab’s origin from the message sender; a page load is its own URL’s origin', async () => {
    const t = setup({ tabs: { 7: 'https://wrong.example' } });
    await t.approvals.add(
      seen('/a', { frameType: 'xmlhttprequest', tabOrigin: SITE, url: 'https://bank.example/transfer', challenge: elsewhere() }),
    );
    expect(active(t.local)[0]).toMatchObject({ tabOrigin: SITE });
    const load = setup({ tabs: { 7: 'https://previous-page.example' } });
    await load.approvals.add(seen('/b', { challenge: elsewhere() }));
    expect(active(load.local)[0]).toMatchObject({ tabOrigin: SITE, url: `${SITE}/b` });
  });

  it('is null (the window falls back to the browser-given site) when the browser does not tell', async () => {
    const t = setup();
    await t.approvals.add(seen('/a', { frameType: 'xmlhttprequest' }));
    expect(active(t.local)[0]).toMatchObject({ site: SITE, tabOrigin: null });
  });
});

describe('access passes in the flow', () => {
  const pass: Pass = {
    transactionId: 'pay_0',
    payTo: 'm_shop',
    url: `${SITE}/a`,
    method: 'GET',
    createdAt: NOW - 1000,
    exp: NOW / 1000 + 3600,
    header: { name: 'PAYMENT-SIGNATURE', value: 'eyJwYXNz' },
    spent: false,
  };
  const withReuse = x402Challenge([tollwayOption({ extra: { hub: HUB, challengeId: 'c', reuse: { windowSeconds: 600 } } })]);

  it('a page load the merchant offers a pass for, with a pass held, is shown again: nothing queued, nothing paid', async () => {
    const t = setup({ passes: [pass], budgets: [budget()] });
    const out = await t.approvals.add(seen('/a', { challenge: withReuse }));
    expect(out).toMatchObject({ id: 'pay_0', added: false, reused: pass });
    expect(t.reapplied.map((x) => [x.pass.transactionId, x.seen.tabId])).toEqual([['pay_0', 7]]);
    expect(active(t.local)).toEqual([]);
    expect(t.hub.calls).toEqual([]);
    expect(t.windows.created).toBe(0);
  });

  it('is not used for single-use challenges, other resources, fetches, or a 402 that answered a proof', async () => {
    for (const s of [
      seen('/a'),
      seen('/b', { challenge: withReuse }),
      seen('/a', { challenge: withReuse, frameType: 'xmlhttprequest' }),
      seen('/a', { challenge: withReuse, afterProof: true }),
    ]) {
      const t = setup({ passes: [pass] });
      await t.approvals.add(s);
      expect(t.reapplied).toEqual([]);
      expect(active(t.local)).toHaveLength(1);
    }
  });

  it('completed payments are offered to the pass store', async () => {
    const t = setup();
    const { id } = await t.approvals.add(seen('/a', { challenge: withReuse }));
    await t.approvals.decide(id, true);
    expect(t.recorded).toEqual([id]);
  });
});

describe('a completed page load whose retry a stopped worker missed', () => {
  it('is marked in the same write as completed, and cleared once the retry ran', async () => {
    const t = setup();
    const { id } = await t.approvals.add(seen());
    let flagWhenRetried: boolean | undefined;
    const local = t.local;
    // The retry runs after the completed state was stored with the flag.
    t.completed.push = ((_r: ApprovalRequest) => ((flagWhenRetried = history(local)[0]?.retryDue), 1)) as never;
    await t.approvals.decide(id, true);
    expect(flagWhenRetried).toBe(true);
    expect(history(local)[0]).toMatchObject({ status: 'completed' });
    expect(history(local)[0]!.retryDue).toBeUndefined();
  });

  it('on wake: the hub is asked for the payment (no POST), the proof retried, the flag cleared', async () => {
    const local = new MemoryStorage();
    const done = request({ id: 'r9', status: 'completed', retryDue: true, result: { ...paid(request().payment!), receipt: {} } });
    await local.set({
      [KEYS.history]: {
        v: 1,
        requests: [
          done,
          request({ id: 'old', status: 'completed', result: { ...paid(request().payment!), transactionId: 'pay_old', receipt: {} } }),
        ],
      },
    });
    const asked: string[] = [];
    const t = setup({ local, lookup: (txid) => (asked.push(txid), { ...paid(request().payment!), transactionId: txid }) });
    await t.approvals.resume();
    expect(asked).toEqual(['pay_1']);
    expect(t.hub.calls).toEqual([]);
    expect(t.completed.map((r) => [r.id, r.result?.receipt.token])).toEqual([['r9', 'eyJ.receipt']]);
    expect(history(local).map((r) => r.retryDue)).toEqual([undefined, undefined]);
    await t.approvals.resume();
    expect(asked).toEqual(['pay_1']);
  });

  it('an unreachable hub leaves the flag for the next wake-up', async () => {
    const local = new MemoryStorage();
    await local.set({
      [KEYS.history]: {
        v: 1,
        requests: [request({ id: 'r9', status: 'completed', retryDue: true, result: { ...paid(request().payment!), receipt: {} } })],
      },
    });
    const t = setup({
      local,
      lookup: () => {
        throw new Error('hub unreachable');
      },
    });
    await t.approvals.resume();
    expect(t.completed).toEqual([]);
    expect(history(local)[0]!.retryDue).toBe(true);
  });
});
