import { describe, expect, it } from 'vitest';
import { tEn } from '../helpers/i18n-en.js';
import type { CreatePaymentRequest, Payment } from '../../shared/api.js';
import { createApprovalWindow } from '../../extension/background/approval-window.js';
import { createApprovals, type Seen402 } from '../../extension/background/approvals.js';
import type { HubClient, PayOutcome } from '../../extension/background/hub-client.js';
import { type ApprovalRequest, KEYS, type HubSession } from '../../extension/common/state.js';
import { loadHubSession, readRequestList } from '../../extension/common/storage.js';
import { HUB, request, x402Challenge } from '../helpers/extension-fixtures.js';
import { MemoryStorage } from '../helpers/memory-storage.js';
import { FakeWindows } from '../helpers/fake-windows.js';

const payment = (body: CreatePaymentRequest, status: Payment['status'] = 'completed'): Payment => ({
  transactionId: 'pay_1',
  status,
  rail: body.rail,
  payTo: body.payTo,
  amount: body.amount,
  asset: body.asset,
  resource: body.resource ? { url: body.resource.url, method: body.resource.method } : null,
  description: null,
  failureReason: status === 'failed' ? 'rail said no' : null,
  receipt: status === 'completed' ? { token: 'eyJ.receipt' } : {},
  createdAt: new Date(0).toISOString(),
  updatedAt: new Date(0).toISOString(),
});

class FakeHub implements HubClient {
  calls: { key: string; body: CreatePaymentRequest; token: string }[] = [];
  outcomes: ((body: CreatePaymentRequest) => PayOutcome)[] = [];
  async pay(session: HubSession, key: string, body: CreatePaymentRequest): Promise<PayOutcome> {
    this.calls.push({ key, body, token: session.accessToken });
    const next = this.outcomes.shift();
    return next ? next(body) : { kind: 'answered', payment: payment(body) };
  }
}

function setup(
  opts: {
    connected?: boolean;
    local?: MemoryStorage;
    session?: MemoryStorage;
    windows?: FakeWindows;
    hub?: FakeHub;
    now?: () => number;
    lookup?: (id: string) => Payment | null;
  } = {},
) {
  const local = opts.local ?? new MemoryStorage();
  const session = opts.session ?? new MemoryStorage();
  const windows = opts.windows ?? new FakeWindows();
  const hub = opts.hub ?? new FakeHub();
  // The hub session lives in session storage (tokens never reach `local`).
  if (opts.connected !== false && !session.peek(KEYS.hub)) void session.set({ [KEYS.hub]: { url: HUB, accessToken: 'at_1' } });
  const badges: string[] = [];
  let ids = 0;
  let resumes = 0;
  const completed: ApprovalRequest[] = [];
  const expiries: (number | null)[] = [];
  const approvals = createApprovals({
    t: tEn,
    local,
    hub,
    session: () => loadHubSession(session),
    onCompleted: async (r) => void completed.push(r),
    window: createApprovalWindow({ windows, session, url: 'chrome-extension://x/extension/approve/index.html' }),
    setBadge: async (t) => void badges.push(t),
    now: opts.now ?? (() => 1_000 + ids),
    scheduleExpiry: async (at) => void expiries.push(at),
    newId: () => `id${++ids}`,
    scheduleResume: async () => void resumes++,
    ...(opts.lookup ? { lookupPayment: async (_s: HubSession, id: string) => opts.lookup!(id) } : {}),
  });
  return { approvals, local, session, windows, hub, badges, completed, expiries, resumes: () => resumes };
}

const seen = (url = 'https://shop.example/a', site = 'https://shop.example'): Seen402 => ({
  site,
  tabId: 1,
  frameType: 'main_frame',
  method: 'GET',
  url,
  challenge: x402Challenge(),
});
const active = (s: MemoryStorage) => readRequestList(s.peek(KEYS.approvals)).requests;
const history = (s: MemoryStorage) => readRequestList(s.peek(KEYS.history)).requests;

describe('approvals', () => {
  it('stores the request with its Idempotency-Key before the window opens', async () => {
    const t = setup();
    let storedWhenOpened: ApprovalRequest[] = [];
    t.windows.onCreate = () => (storedWhenOpened = active(t.local));
    const { id, added } = await t.approvals.add(seen());
    expect(added).toBe(true);
    expect(storedWhenOpened.map((r) => r.id)).toEqual([id]);
    const r = storedWhenOpened[0]!;
    expect(r.idempotencyKey).toMatch(/^tollway-/);
    expect(r.status).toBe('pending');
    expect(r.payment).toMatchObject({ rail: 'internal', payTo: 'm_shop', amount: '1500', asset: 'SOVR' });
    expect(t.badges.at(-1)).toBe('1');
    expect(t.windows.created).toBe(1);
  });

  it('a new 402 never reads the history; finishing one adds to the history kept before', async () => {
    const local = new MemoryStorage();
    const old = request({ id: 'old', url: 'https://shop.example/old', status: 'completed' });
    await local.set({ [KEYS.history]: { v: 1, requests: [old] } });
    const keysRead: string[] = [];
    const get = local.get.bind(local);
    local.get = async (keys) => {
      keysRead.push(...(typeof keys === 'string' ? [keys] : keys));
      return get(keys);
    };
    const t = setup({ local });
    const { id } = await t.approvals.add(seen());
    expect(keysRead).not.toContain(KEYS.history);
    await t.approvals.decide(id, false);
    expect(history(t.local).map((r) => [r.id, r.status])).toEqual([
      [id, 'rejected'],
      ['old', 'completed'],
    ]);
  });

  it('opens one window for many 402s arriving at once, and dedupes the same resource', async () => {
    const t = setup();
    const results = await Promise.all([
      t.approvals.add(seen('https://shop.example/a')),
      t.approvals.add(seen('https://shop.example/b')),
      t.approvals.add(seen('https://shop.example/a')),
    ]);
    expect(results.map((r) => r.added)).toEqual([true, true, false]);
    expect(results[2]!.id).toBe(results[0]!.id);
    expect(t.windows.created).toBe(1);
    expect(t.windows.open.size).toBe(1);
    expect(t.windows.focused).toBe(2);
    expect(active(t.local)).toHaveLength(2);
    expect(t.badges.at(-1)).toBe('2');
  });

  it('approving pays through the hub with the stored key and body, once', async () => {
    const t = setup();
    const { id } = await t.approvals.add(seen());
    const stored = active(t.local)[0]!;
    await Promise.all([t.approvals.decide(id, true), t.approvals.decide(id, true)]);
    expect(t.hub.calls).toEqual([{ key: stored.idempotencyKey, body: stored.payment, token: 'at_1' }]);
    expect(active(t.local)).toEqual([]);
    const [done] = history(t.local);
    expect(done).toMatchObject({ id, status: 'completed', result: { transactionId: 'pay_1', receipt: {} } });
    // The receipt token goes to the retry, never into local storage.
    expect(done!.result!.receipt).toEqual({});
    expect(JSON.stringify([...t.local.data.values()])).not.toContain('eyJ.receipt');
    expect(t.completed.map((r) => [r.id, r.result?.receipt.token])).toEqual([[id, 'eyJ.receipt']]);
    expect(t.badges.at(-1)).toBe('');
    expect(t.windows.open.size).toBe(0);
  });

  it('keeps the window while more requests wait, and closes it after the last', async () => {
    const t = setup();
    const a = await t.approvals.add(seen('https://shop.example/a'));
    const b = await t.approvals.add(seen('https://shop.example/b'));
    await t.approvals.decide(a.id, false);
    expect(t.windows.open.size).toBe(1);
    await t.approvals.decide(b.id, false);
    expect(t.windows.open.size).toBe(0);
    expect(t.hub.calls).toEqual([]);
    expect(history(t.local).map((r) => [r.id, r.status])).toEqual([
      [b.id, 'rejected'],
      [a.id, 'rejected'],
    ]);
  });

  it('closing the window rejects what is pending; our own close does not', async () => {
    const t = setup();
    await t.approvals.add(seen('https://shop.example/a'));
    await t.approvals.add(seen('https://shop.example/b'));
    const [windowId] = [...t.windows.open.keys()];
    await t.windows.remove(windowId!);
    await t.approvals.windowRemoved(windowId!);
    expect(active(t.local)).toEqual([]);
    expect(history(t.local).map((r) => r.error)).toEqual(['approval window closed', 'approval window closed']);
    // A window the approvals closed themselves is not the person's rejection.
    const c = await t.approvals.add(seen('https://shop.example/c'));
    await t.approvals.decide(c.id, true);
    await t.approvals.windowRemoved(2);
    expect(history(t.local)[0]).toMatchObject({ id: c.id, status: 'completed' });
  });

  it('reject all rejects every pending request and pays nothing', async () => {
    const t = setup();
    await t.approvals.add(seen('https://shop.example/a'));
    await t.approvals.add(seen('https://shop.example/b'));
    await t.approvals.rejectAll();
    expect(active(t.local)).toEqual([]);
    expect(history(t.local).map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(t.hub.calls).toEqual([]);
    expect(t.windows.open.size).toBe(0);
  });

  it('a refusal fails the request; a hub failure is stored as the hub answered it', async () => {
    const t = setup();
    t.hub.outcomes.push(() => ({
      kind: 'refused',
      status: 400,
      type: 'https://tollway.dev/problems/insufficient-funds',
      message: 'Insufficient funds',
    }));
    t.hub.outcomes.push((body) => ({ kind: 'answered', payment: payment(body, 'failed') }));
    t.hub.outcomes.push((body) => ({ kind: 'answered', payment: payment(body, 'submitted') }));
    for (const path of ['a', 'b', 'c']) await t.approvals.decide((await t.approvals.add(seen(`https://shop.example/${path}`))).id, true);
    expect(history(t.local).map((r) => [r.status, r.error])).toEqual([
      ['submitted', null],
      ['failed', 'rail said no'],
      ['failed', 'Insufficient funds'],
    ]);
  });

  it('an unknown outcome is replayed with the same key by the next worker, never a new one', async () => {
    const local = new MemoryStorage();
    const session = new MemoryStorage();
    const hub = new FakeHub();
    hub.outcomes.push(() => ({ kind: 'retry', message: 'hub unreachable' }));
    const first = setup({ local, session, hub });
    const { id } = await first.approvals.add(seen());
    await first.approvals.decide(id, true);
    expect(active(local)[0]).toMatchObject({ id, status: 'paying', error: 'hub unreachable' });
    // One wake-up asked for before paying, one after the unknown outcome.
    expect(first.resumes()).toBe(2);
    // The worker is stopped; a new one starts with only what storage holds.
    const second = setup({ local, session, hub });
    await second.approvals.resume();
    expect(hub.calls).toHaveLength(2);
    expect(hub.calls[1]).toEqual(hub.calls[0]);
    expect(history(local)[0]).toMatchObject({ id, status: 'completed' });
    await second.approvals.resume();
    expect(hub.calls).toHaveLength(2);
  });

  it('a new worker reuses the open window instead of opening a second', async () => {
    const local = new MemoryStorage();
    const session = new MemoryStorage();
    const windows = new FakeWindows();
    await setup({ local, session, windows }).approvals.add(seen('https://shop.example/a'));
    await setup({ local, session, windows }).approvals.add(seen('https://shop.example/b'));
    expect(windows.created).toBe(1);
    // The window was closed while no worker ran: the next 402 opens a fresh one.
    windows.open.clear();
    await setup({ local, session, windows }).approvals.add(seen('https://shop.example/c'));
    expect(windows.created).toBe(2);
  });

  it('after a browser restart, pending requests are rejected and payments in flight settled', async () => {
    const local = new MemoryStorage();
    await local.set({
      [KEYS.approvals]: {
        v: 1,
        requests: [
          request({ id: 'p' }),
          request({ id: 'f', url: 'https://shop.example/f', status: 'paying', idempotencyKey: 'tollway-kf' }),
        ],
      },
    });
    const t = setup({ local });
    await t.approvals.browserStarted();
    expect(t.hub.calls.map((c) => c.key)).toEqual(['tollway-kf']);
    expect(active(local)).toEqual([]);
    expect(Object.fromEntries(history(local).map((r) => [r.id, r.status]))).toEqual({ p: 'rejected', f: 'completed' });
  });

  it('recovers from corrupt storage entry by entry', async () => {
    const local = new MemoryStorage();
    await local.set({
      [KEYS.approvals]: {
        v: 1,
        requests: [request({ id: 'ok' }), { id: 'broken' }, null, request({ id: 'bad', status: 'weird' as never })],
      },
    });
    const t = setup({ local });
    const b = await t.approvals.add(seen('https://shop.example/b'));
    expect(active(local).map((r) => r.id)).toEqual(['ok', b.id]);
    await local.set({ [KEYS.approvals]: 'garbage', [KEYS.history]: { v: 99 } });
    const c = await t.approvals.add(seen('https://shop.example/c'));
    expect(active(local).map((r) => r.id)).toEqual([c.id]);
  });

  it('without a hub, a request is shown as unpayable and approving it does nothing', async () => {
    const t = setup({ connected: false });
    const { id } = await t.approvals.add(seen());
    expect(active(t.local)[0]).toMatchObject({ payment: null, unpayable: 'Tollway is not connected to a hub yet' });
    await t.approvals.decide(id, true);
    expect(active(t.local)[0]!.status).toBe('pending');
    expect(t.hub.calls).toEqual([]);
  });

  it('expires what waited past the option’s maxTimeoutSeconds: rejected, window closed, next expiry scheduled', async () => {
    let t0 = 10_000;
    const t = setup({ now: () => t0 });
    await t.approvals.add(seen('https://shop.example/a'));
    t0 += 1000;
    await t.approvals.add(seen('https://shop.example/b'));
    expect(t.expiries.at(-1)).toBe(10_000 + 300_000);
    t0 = 10_000 + 300_000;
    expect(await t.approvals.expire()).toBe(1);
    expect(active(t.local).map((r) => r.url)).toEqual(['https://shop.example/b']);
    expect(history(t.local)[0]).toMatchObject({ status: 'rejected', error: 'expired before it was approved' });
    expect(t.expiries.at(-1)).toBe(11_000 + 300_000);
    expect(t.windows.open.size).toBe(1);
    t0 += 1000;
    expect(await t.approvals.expire()).toBe(1);
    expect(t.windows.open.size).toBe(0);
    expect(t.expiries.at(-1)).toBeNull();
    expect(t.badges.at(-1)).toBe('');
  });

  it('a payment in flight with no hub session stays in flight (never failed) until signed in again', async () => {
    const local = new MemoryStorage();
    const session = new MemoryStorage();
    const hub = new FakeHub();
    await local.set({ [KEYS.approvals]: { v: 1, requests: [request({ id: 'f', status: 'paying', idempotencyKey: 'tollway-kf' })] } });
    const signedOut = setup({ local, session, hub, connected: false });
    await signedOut.approvals.resume();
    expect(hub.calls).toEqual([]);
    expect(active(local)[0]).toMatchObject({ id: 'f', status: 'paying' });
    expect(signedOut.resumes()).toBe(1);
    await session.set({ [KEYS.hub]: { url: HUB, accessToken: 'at_2' } });
    await signedOut.approvals.resume();
    expect(hub.calls.map((c) => [c.key, c.token])).toEqual([['tollway-kf', 'at_2']]);
    expect(history(local)[0]).toMatchObject({ id: 'f', status: 'completed' });
  });

  it('a submitted payment learns its outcome from the hub and then retries the page with the proof', async () => {
    const hub = new FakeHub();
    hub.outcomes.push((body) => ({ kind: 'answered', payment: payment(body, 'submitted') }));
    const t = setup({ hub });
    const { id } = await t.approvals.add(seen());
    await t.approvals.decide(id, true);
    expect(history(t.local)[0]).toMatchObject({ id, status: 'submitted' });
    expect(t.completed).toEqual([]);
    const body = history(t.local)[0]!.payment!;
    await t.approvals.paymentUpdated({ ...payment(body, 'pending'), transactionId: 'pay_other' });
    await t.approvals.paymentUpdated(payment(body, 'completed'));
    expect(history(t.local)[0]).toMatchObject({ id, status: 'completed', result: { status: 'completed', receipt: {} } });
    expect(t.completed.map((r) => [r.id, r.result?.receipt.token])).toEqual([[id, 'eyJ.receipt']]);
    // Told twice (replay and live): the request is no longer submitted, so nothing happens again.
    await t.approvals.paymentUpdated(payment(body, 'completed'));
    expect(t.completed).toHaveLength(1);
  });

  it('a final update that overtakes the hub’s own "submitted" answer is applied once that answer is stored', async () => {
    const hub = new FakeHub();
    let t!: ReturnType<typeof setup>;
    // The live update arrives while the POST is still in flight (the hub emits before its answer
    // reaches the worker): no request is `submitted` yet.
    hub.outcomes.push((body) => {
      void t.approvals.paymentUpdated(payment(body, 'completed'));
      return { kind: 'answered', payment: payment(body, 'submitted') };
    });
    t = setup({ hub });
    const { id } = await t.approvals.add(seen());
    await t.approvals.decide(id, true);
    expect(history(t.local)[0]).toMatchObject({ id, status: 'completed', result: { status: 'completed' } });
    expect(t.completed.map((r) => r.id)).toEqual([id]);
    expect(hub.calls).toHaveLength(1);
  });

  it('a page whose retry two paths find due at once is retried once, and the flag is cleared', async () => {
    const local = new MemoryStorage();
    const body = request().payment!;
    const done = request({
      id: 'r1',
      status: 'completed',
      frameType: 'main_frame',
      method: 'GET',
      tabId: 7,
      retryDue: true,
      result: payment(body, 'completed'),
    });
    await local.set({ [KEYS.history]: { v: 1, requests: [done] } });
    const t = setup({ local, lookup: () => payment(body, 'completed') });
    // A restarted worker: its start and the resume alarm both catch up at once.
    await Promise.all([t.approvals.resume(), t.approvals.resume()]);
    expect(t.completed.map((r) => r.id)).toEqual(['r1']);
    expect(history(local)[0]!.retryDue).toBeUndefined();
    await t.approvals.resume();
    expect(t.completed).toHaveLength(1);
  });

  it('a new worker asks the hub about submitted payments whose end the stopped one never stored', async () => {
    const hub = new FakeHub();
    hub.outcomes.push((body) => ({ kind: 'answered', payment: payment(body, 'submitted') }));
    const local = new MemoryStorage();
    const session = new MemoryStorage();
    const first = setup({ hub, local, session });
    const { id } = await first.approvals.add(seen());
    await first.approvals.decide(id, true);
    expect(history(local)[0]).toMatchObject({ id, status: 'submitted' });
    const body = history(local)[0]!.payment!;
    // Its live update was consumed by the stopped worker; the hub knows the payment completed.
    const asked: string[] = [];
    const second = setup({
      hub,
      local,
      session,
      lookup: (tx) => (asked.push(tx), payment(body, 'completed')),
    });
    await second.approvals.resume();
    expect(asked).toEqual(['pay_1']);
    expect(history(local)[0]).toMatchObject({ id, status: 'completed' });
    expect(second.completed.map((r) => r.id)).toEqual([id]);
    // Never paid again, and once final it is not asked about again.
    expect(hub.calls).toHaveLength(1);
    await second.approvals.resume();
    expect(asked).toHaveLength(1);
  });
});
