/**
 * The approval flow paying from the person's Interledger wallet, with the hub's answers scripted:
 * the request carries the ilp plan only when the entry names the rail, the hub has it and a wallet
 * is linked; approving from the wallet stores the ilp body under the request's own Idempotency-Key
 * before the POST (a budget goes in as a wallet grant, never as a hub allowance); a `pending`
 * answer with a consent page makes the request `submitted` and its consent page is opened once;
 * the hub's live update then finishes it (completed with the retry, or failed with the reason);
 * a worker restarted between the answer and the window opens it then, a browser restarted does not.
 */
import { describe, expect, it } from 'vitest';
import type { CreatePaymentRequest, Payment, RailsInfo } from '../../shared/api.js';
import { createApprovalWindow } from '../../extension/background/approval-window.js';
import { createApprovals } from '../../extension/background/approvals.js';
import type { HubClient, PayOutcome } from '../../extension/background/hub-client.js';
import { createIlpConsent } from '../../extension/background/ilp-consent.js';
import { type ApprovalRequest, type HubSession, KEYS } from '../../extension/common/state.js';
import { loadHubSession, readRequestList } from '../../extension/common/storage.js';
import { HUB, tollwayOption, x402Challenge } from '../helpers/extension-fixtures.js';
import { tEn } from '../helpers/i18n-en.js';
import { MemoryStorage } from '../helpers/memory-storage.js';
import { FakeWindows } from '../helpers/fake-windows.js';

const WALLET = 'http://127.0.0.1:8405/person';
const PAGE = 'http://127.0.0.1:8405/auth/interact/g1/n1';
const RAILS: RailsInfo = {
  rails: [
    { name: 'internal', assets: ['SOVR', 'BTC'] },
    { name: 'ilp', assets: ['SOVR'], clientWalletAddress: 'http://127.0.0.1:8405/hub', keyId: 'k', publicKey: {}, consentSeconds: 600 },
  ],
};
const ilpEntry = () => tollwayOption({ extra: { hub: HUB, challengeId: 'ch_1', interledger: { rail: 'ilp', walletAddress: 'x' } } });

const answer = (body: CreatePaymentRequest, over: Partial<Payment>): Payment => ({
  transactionId: 'pay_ilp',
  status: 'pending',
  rail: body.rail,
  payTo: body.payTo,
  amount: body.amount,
  asset: body.asset,
  resource: body.resource ? { url: body.resource.url, method: body.resource.method } : null,
  description: null,
  failureReason: null,
  receipt: {},
  createdAt: new Date(0).toISOString(),
  updatedAt: new Date(0).toISOString(),
  ...over,
});

function setup(opts: { wallet?: boolean; rails?: RailsInfo; answer?: (b: CreatePaymentRequest) => Partial<Payment> } = {}) {
  const local = new MemoryStorage();
  const session = new MemoryStorage();
  void session.set({ [KEYS.hub]: { url: HUB, accessToken: 'at_1', user: { id: 'usr_1', address: '0xabc' } } });
  const windows = new FakeWindows();
  const sent: { key: string; body: CreatePaymentRequest; stored: ApprovalRequest | undefined }[] = [];
  const hub: HubClient = {
    async pay(_s: HubSession, key: string, body: CreatePaymentRequest): Promise<PayOutcome> {
      // What was stored when the POST left.
      sent.push({ key, body, stored: readRequestList(local.peek(KEYS.approvals)).requests[0] });
      return {
        kind: 'answered',
        payment: answer(body, opts.answer?.(body) ?? { interact: { redirect: PAGE, expiresAt: '2999-01-01T00:00:00Z' } }),
      };
    },
  };
  const consent = createIlpConsent({ t: tEn, windows, session });
  const allowances: unknown[] = [];
  const completed: ApprovalRequest[] = [];
  let ids = 0;
  const approvals = createApprovals({
    t: tEn,
    local,
    hub,
    session: () => loadHubSession(session),
    window: createApprovalWindow({ windows, session, url: 'chrome-extension://x/extension/approve/index.html' }),
    setBadge: async () => undefined,
    newId: () => `id${++ids}`,
    rails: { info: async () => opts.rails ?? RAILS },
    ilpWallet: async () => (opts.wallet === false ? null : { walletAddress: WALLET }),
    onFinished: (rs) => void consent.finished(rs),
    onCompleted: async (r) => void completed.push(r),
    budgets: {
      lookup: async () => null,
      put: async (a) => {
        allowances.push(a);
        throw new Error('no hub allowance for an Interledger payment');
      },
      sync: async () => undefined,
    },
  });
  const history = () => readRequestList(local.peek(KEYS.history)).requests;
  const consentPages = () => [...windows.open.values()].filter((u) => u === PAGE);
  return { approvals, local, session, windows, consent, sent, allowances, completed, history, consentPages };
}

const seen = (entry = ilpEntry()) => ({
  site: 'https://shop.example',
  tabId: 1,
  frameType: 'main_frame' as const,
  method: 'GET',
  url: 'https://shop.example/a',
  challenge: x402Challenge([entry]),
});
const settle = () => new Promise((r) => setTimeout(r, 10));

describe('paying from the Interledger wallet', () => {
  it('is offered only for an entry naming the ilp rail, on a hub with it, with a wallet linked', async () => {
    const offered = setup();
    await offered.approvals.add(seen());
    expect(readRequestList(offered.local.peek(KEYS.approvals)).requests[0]!.ilp).toEqual({
      walletAddress: WALLET,
      payment: expect.objectContaining({ rail: 'ilp', payTo: 'm_shop', amount: '1500', asset: 'SOVR' }),
    });
    for (const t of [
      { s: setup({ wallet: false }), entry: ilpEntry() },
      { s: setup({ rails: { rails: [RAILS.rails[0]!] } }), entry: ilpEntry() },
      { s: setup(), entry: tollwayOption() },
    ]) {
      await t.s.approvals.add(seen(t.entry));
      const r = readRequestList(t.s.local.peek(KEYS.approvals)).requests[0]!;
      expect(r.payment?.rail).toBe('internal');
      expect(r.ilp).toBeUndefined();
    }
  });

  it('stores the ilp body under the request’s key before the POST, opens the consent page once, and completes on the live update', async () => {
    const t = setup();
    const { id } = await t.approvals.add(seen());
    const key = readRequestList(t.local.peek(KEYS.approvals)).requests[0]!.idempotencyKey;
    await t.approvals.decide(id, true, undefined, { from: 'ilp' });
    expect(t.sent).toHaveLength(1);
    expect(t.sent[0]!.key).toBe(key);
    expect(t.sent[0]!.body).toMatchObject({ rail: 'ilp', payTo: 'm_shop', amount: '1500' });
    expect(t.sent[0]!.body.authorization).toBeUndefined();
    // Stored, paying, with exactly the body that was sent.
    expect(t.sent[0]!.stored).toMatchObject({ status: 'paying', paidFrom: 'ilp', idempotencyKey: key });
    expect(t.sent[0]!.stored!.payment).toEqual(t.sent[0]!.body);
    await settle();
    expect(t.history()[0]).toMatchObject({ status: 'submitted', result: { status: 'pending', rail: 'ilp' } });
    expect(t.consentPages()).toEqual([PAGE]);
    expect(t.completed).toEqual([]);

    await t.approvals.paymentUpdated(answer(t.sent[0]!.body, { status: 'completed', receipt: { token: 'eyJ.r' } }));
    await settle();
    expect(t.history()[0]).toMatchObject({ status: 'completed', paidFrom: 'ilp' });
    expect(t.completed.map((r) => r.result?.receipt.token)).toEqual(['eyJ.r']);
    expect(t.consentPages()).toEqual([]);
  });

  it('a rejected consent fails with the hub’s reason, with no receipt and no retry', async () => {
    const t = setup();
    const { id } = await t.approvals.add(seen());
    await t.approvals.decide(id, true, undefined, { from: 'ilp' });
    await t.approvals.paymentUpdated(
      answer(t.sent[0]!.body, { status: 'failed', failureReason: 'The payment was rejected on the wallet' }),
    );
    await settle();
    expect(t.history()[0]).toMatchObject({ status: 'failed', error: 'The payment was rejected on the wallet' });
    expect(t.history()[0]!.result?.receipt.token).toBeUndefined();
    expect(t.completed).toEqual([]);
    expect(t.consentPages()).toEqual([]);
  });

  it('a budget becomes a wallet grant in the body, never a hub allowance; a payment a grant covers completes with no consent page', async () => {
    const t = setup({ answer: () => ({ status: 'completed', receipt: { token: 'eyJ.r' } }) });
    const { id } = await t.approvals.add(seen());
    await t.approvals.decide(id, true, { amount: '15000', period: 'day' }, { from: 'ilp' });
    expect(t.allowances).toEqual([]);
    expect(t.sent[0]!.body.authorization).toEqual({
      budget: { amount: '15000', interval: expect.stringMatching(/^R\/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\/P1D$/) },
    });
    await settle();
    expect(t.history()[0]).toMatchObject({ status: 'completed' });
    expect(t.completed).toHaveLength(1);
    expect(t.windows.open.size).toBe(0);
  });

  it('refuses the wallet for a request that was not offered it', async () => {
    const t = setup({ wallet: false });
    const { id } = await t.approvals.add(seen());
    await expect(t.approvals.decide(id, true, undefined, { from: 'ilp' })).rejects.toThrow(tEn('worker_not_payable_from_ilp'));
    expect(t.sent).toEqual([]);
  });
});

describe('the consent window after a restart', () => {
  it('a restarted worker opens a consent page it never showed; a browser start opens none', async () => {
    const t = setup();
    const { id } = await t.approvals.add(seen());
    await t.approvals.decide(id, true, undefined, { from: 'ilp' });
    await settle();
    const history = t.history();
    expect(t.consentPages()).toEqual([PAGE]);

    // A new browser session: nothing in session storage, so nothing pops up.
    const browserStart = new FakeWindows();
    const fresh = new MemoryStorage();
    await createIlpConsent({ t: tEn, windows: browserStart, session: fresh }).resume(history, Date.now());
    expect(browserStart.open.size).toBe(0);

    // In that session, a worker stopped before it opened the page: the next worker start opens it, once.
    const restarted = createIlpConsent({ t: tEn, windows: browserStart, session: fresh });
    await restarted.resume(history, Date.now());
    await restarted.resume(history, Date.now());
    expect([...browserStart.open.values()]).toEqual([PAGE]);
    // Past its expiry it is not opened.
    const late = new FakeWindows();
    const lateSession = new MemoryStorage();
    await lateSession.set({ 'tollway.ilpConsent': [] });
    await createIlpConsent({ t: tEn, windows: late, session: lateSession }).resume(history, Date.parse('2999-01-01T00:00:01Z'));
    expect(late.open.size).toBe(0);
  });
});
