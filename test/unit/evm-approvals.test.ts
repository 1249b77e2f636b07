/**
 * The approvals flow with x402 `exact` entries on another EVM network, over in-memory storage and a
 * stand-in hub client (the real hub and chain are in test/e2e/x402-any-network.test.ts):
 *
 * - a token switched off is queued unpayable; switched on, the waiting request is planned again,
 *   and approving signs and stores the body before the hub is called;
 * - a budget pays at once, stored signed before the POST; the hub refusing the budget sends it to
 *   the window unsigned, under a new key, and the daily limit counts nothing for it;
 * - a locked wallet cannot be paid by a budget: the person is asked, with why.
 */
import { Wallet } from 'ethers';
import { describe, expect, it } from 'vitest';
import type { CreatePaymentRequest, Payment } from '../../shared/api.js';
import type { PaymentOption } from '../../shared/challenge.js';
import { createApprovals, type BudgetLookup, type Seen402 } from '../../extension/background/approvals.js';
import { createDailyLimits } from '../../extension/background/evm-limit.js';
import { createEvmPayer } from '../../extension/background/evm-pay.js';
import { createEvmSigner } from '../../extension/background/evm-sign.js';
import type { PayOutcome } from '../../extension/background/hub-client.js';
import type { Allowance } from '../../extension/common/budget.js';
import { NETWORKS_KEY, readNetworks, type NetworkSettings } from '../../extension/common/networks.js';
import { KEYS, type ApprovalRequest } from '../../extension/common/state.js';
import { readRequestList } from '../../extension/common/storage.js';
import { x402Challenge } from '../helpers/extension-fixtures.js';
import { tEn } from '../helpers/i18n-en.js';
import { MemoryStorage } from '../helpers/memory-storage.js';

const TOKEN = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const PAY_TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const ASSET = `eip155:31338/erc20:${TOKEN.toLowerCase()}`;
const SITE = 'https://shop.example';

const list = (enabled: boolean): NetworkSettings => [
  {
    chainId: 31338,
    name: 'Test chain',
    aliases: [],
    enabled,
    tokens: [{ address: TOKEN, symbol: 'USDC', decimals: 6, eip712: { name: 'USD Coin', version: '2' }, enabled }],
  },
];

const entry: PaymentOption = {
  scheme: 'exact',
  network: 'eip155:31338',
  amount: '10000',
  asset: TOKEN,
  payTo: PAY_TO,
  maxTimeoutSeconds: 300,
  extra: { name: 'USD Coin', version: '2' },
};

const seen = (path = '/a'): Seen402 => ({
  site: SITE,
  tabId: 3,
  frameType: 'main_frame',
  method: 'GET',
  url: `${SITE}${path}`,
  challenge: x402Challenge([entry]),
});

const pending = (body: CreatePaymentRequest): Payment => ({
  transactionId: 'p1',
  status: 'pending',
  rail: 'wallet',
  payTo: body.payTo,
  amount: body.amount,
  asset: body.asset,
  resource: null,
  description: null,
  failureReason: null,
  receipt: {},
  createdAt: '2026-12-07T12:00:00.000Z',
  updatedAt: '2026-12-07T12:00:00.000Z',
});

const allowance = (amount: string): Allowance => ({
  site: SITE,
  payee: PAY_TO.toLowerCase(),
  asset: ASSET,
  amount,
  period: 'day',
  spent: '0',
  remaining: amount,
  periodStart: '2026-12-07T00:00:00.000Z',
  resetsAt: '2099-01-01T00:00:00.000Z',
});

function setup(opts: { enabled: boolean; budget?: Allowance; answer?: (body: CreatePaymentRequest) => PayOutcome; locked?: boolean }) {
  const local = new MemoryStorage();
  const session = new MemoryStorage();
  const key = Wallet.createRandom();
  const calls: { key: string; body: CreatePaymentRequest; storedAtCall: ApprovalRequest | undefined }[] = [];
  const completed: ApprovalRequest[] = [];
  const budgets: BudgetLookup = {
    lookup: async (site, payee, asset) =>
      opts.budget && opts.budget.payee === payee && opts.budget.asset === asset && site === SITE ? opts.budget : null,
    put: async () => {
      throw new Error('not here');
    },
    sync: async () => undefined,
  };
  const ready = Promise.all([
    local.set({ [NETWORKS_KEY]: list(opts.enabled) }),
    opts.locked ? Promise.resolve() : session.set({ [KEYS.unlocked]: { address: key.address, privateKey: key.privateKey } }),
  ]);
  const approvals = createApprovals({
    t: tEn,
    local,
    hub: {
      pay: async (_s, idempotencyKey, body) => {
        // What was stored when the call left: the signed body must already be there.
        const storedAtCall = readRequestList(local.peek(KEYS.approvals)).requests[0];
        calls.push({ key: idempotencyKey, body, storedAtCall });
        return opts.answer?.(body) ?? { kind: 'answered', payment: pending(body) };
      },
    },
    session: async () => ({ url: 'https://hub.example', accessToken: 'at', user: { id: 'u1', address: key.address } }),
    window: { open: async () => undefined, close: async () => undefined, closedByPerson: async () => false },
    setBadge: async () => undefined,
    budgets,
    onCompleted: async (r) => void completed.push(r),
    evm: createEvmPayer({
      t: tEn,
      networks: async () => readNetworks((await local.get(NETWORKS_KEY))[NETWORKS_KEY]),
      limits: createDailyLimits({ local }),
      sign: createEvmSigner({ session, t: tEn }),
      wallet: async () => key.address,
    }),
  });
  const active = () => readRequestList(local.peek(KEYS.approvals)).requests;
  const history = () => readRequestList(local.peek(KEYS.history)).requests;
  return { ready, local, key, calls, completed, approvals, active, history };
}

describe('the approvals flow with an EVM exact entry', () => {
  it('queues a token that is off as unpayable; switched on, it is planned again, and approving stores the signature before the hub hears', async () => {
    const f = setup({ enabled: false });
    await f.ready;
    const { id } = await f.approvals.add(seen());
    expect(f.active()).toEqual([
      expect.objectContaining({ status: 'pending', payment: null, evm: expect.objectContaining({ state: 'disabled' }) }),
    ]);
    // Approving what is not payable does nothing.
    await f.approvals.decide(id, true);
    expect(f.calls).toEqual([]);

    await f.local.set({ [NETWORKS_KEY]: list(true) });
    await f.approvals.replanEvm();
    expect(f.active()).toEqual([
      expect.objectContaining({
        unpayable: null,
        payee: PAY_TO.toLowerCase(),
        payment: expect.objectContaining({ rail: 'wallet', asset: ASSET }),
        evm: expect.objectContaining({ state: 'enabled' }),
      }),
    ]);

    await f.approvals.decide(id, true);
    expect(f.calls).toHaveLength(1);
    const [call] = f.calls;
    expect(call!.body.authorization).toMatchObject({
      from: f.key.address,
      to: PAY_TO,
      value: '10000',
      eip712: { name: 'USD Coin', version: '2' },
    });
    expect(call!.storedAtCall).toMatchObject({ status: 'paying', paidFrom: 'wallet', payment: call!.body });
    // The hub has it (pending): the page is retried with the authorization at once.
    expect(f.history()).toEqual([expect.objectContaining({ id, status: 'submitted', paidFrom: 'wallet' })]);
    expect(f.completed.map((r) => r.id)).toEqual([id]);
  });

  it('pays within a budget at once, signed and stored before the POST; the hub refusing the budget asks the person, unsigned', async () => {
    const refuse = { value: false };
    const f = setup({
      enabled: true,
      budget: allowance('100000'),
      answer: (body) =>
        refuse.value
          ? { kind: 'refused', status: 403, type: 'https://tollway.dev/problems/allowance-exceeded', message: 'over' }
          : { kind: 'answered', payment: pending(body) },
    });
    await f.ready;
    const first = await f.approvals.add(seen('/one'));
    await first.settled;
    expect(f.calls[0]!.body).toMatchObject({ rail: 'wallet', allowance: { site: SITE }, authorization: { value: '10000' } });
    expect(f.calls[0]!.storedAtCall).toMatchObject({ status: 'paying', auto: true, payment: f.calls[0]!.body });
    expect(f.history()).toEqual([expect.objectContaining({ status: 'submitted', auto: true })]);
    expect(readSpent(f.local)).toEqual(['10000']);

    refuse.value = true;
    const second = await f.approvals.add(seen('/two'));
    await second.settled;
    const [asked] = f.active();
    expect(asked).toMatchObject({ status: 'pending', auto: false, note: "Over this site's budget: over" });
    expect(asked!.payment!.authorization).toBeUndefined();
    expect(asked!.payment!.allowance).toBeUndefined();
    expect(asked!.idempotencyKey).not.toBe(f.calls[1]!.key);
    // The refused authorization went nowhere: the daily limit does not count it.
    expect(readSpent(f.local)).toEqual(['10000']);
  });

  it('does not let a budget pay from a locked wallet: the person is asked, with why', async () => {
    const f = setup({ enabled: true, budget: allowance('100000'), locked: true });
    await f.ready;
    const out = await f.approvals.add(seen());
    expect(out.settled).toBeUndefined();
    expect(f.calls).toEqual([]);
    expect(f.active()).toEqual([
      expect.objectContaining({
        status: 'pending',
        auto: false,
        note: tEn('worker_locked_approve'),
        payment: expect.objectContaining({ rail: 'wallet' }),
      }),
    ]);
    expect(f.active()[0]!.payment!.authorization).toBeUndefined();
  });
});

function readSpent(local: MemoryStorage): string[] {
  return ((local.peek(KEYS.evmSpent) as { entries: { amount: string }[] } | undefined)?.entries ?? []).map((e) => e.amount);
}
