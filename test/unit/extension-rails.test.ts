/**
 * The rail a 402 is paid on comes from the challenge and the hub's `GET /rails`, not from a fixed
 * list: the same challenge is paid differently on hubs with different rails; what is paid from the
 * hub balance comes before what is signed from the wallet, otherwise the challenge's order stands;
 * an L402 challenge on a hub without Lightning is not payable, and says why. Rails not known yet:
 * what the extension always did, and the 402 does not wait for GET /rails unless it could be paid
 * on chain.
 */
import { describe, expect, it } from 'vitest';
import { tEn } from '../helpers/i18n-en.js';
import type { CreatePaymentRequest, Payment, RailsInfo } from '../../shared/api.js';
import type { PaymentChallenge, PaymentOption } from '../../shared/challenge.js';
import { createApprovalWindow, type WindowsApi } from '../../extension/background/approval-window.js';
import { createApprovals, type Seen402 } from '../../extension/background/approvals.js';
import { choosePayment, type HubRails } from '../../extension/background/choose.js';
import type { HubClient, PayOutcome } from '../../extension/background/hub-client.js';
import type { SovrRailInfo } from '../../extension/background/onchain.js';
import { createRails } from '../../extension/background/rails.js';
import { KEYS, type HubSession, type RailsView } from '../../extension/common/state.js';
import { loadHubSession, readRequestList } from '../../extension/common/storage.js';
import { HUB, tollwayOption, x402Challenge } from '../helpers/extension-fixtures.js';
import { MemoryStorage } from '../helpers/memory-storage.js';

const WALLET = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';
const TOKEN = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const TREASURY = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const PAYOUT = '0x90F79bf6EB2c4f870365E785982E1f101E93b906';
const PAGE = { url: 'https://shop.example/a', method: 'GET' };

const SOVR: SovrRailInfo = {
  name: 'sovr',
  assets: ['SOVR'],
  network: 'eip155:31337',
  chainId: 31337,
  token: TOKEN,
  treasury: TREASURY,
  eip712: { name: 'SOVR', version: '1' },
  confirmations: 1,
  minValiditySeconds: 60,
  maxValiditySeconds: 3600,
};
type Rail = HubRails[number];
const INTERNAL: Rail = { name: 'internal', assets: ['SOVR', 'BTC'] };
const LIGHTNING: Rail = { name: 'lightning', assets: ['BTC'] };

const rails = (...list: HubRails): HubRails => list.map((r) => ({ ...r, assets: [...r.assets] }));
/** The hub's rails as GET /rails lists them, the wallet signed in. */
const on = (list: HubRails) => ({ rails: list, rail: null, wallet: WALLET });

const exactOption = (over: Partial<PaymentOption> = {}): PaymentOption => ({
  scheme: 'exact',
  network: 'eip155:31337',
  amount: '2500',
  asset: TOKEN,
  payTo: PAYOUT,
  maxTimeoutSeconds: 300,
  ...over,
});
const L402: NonNullable<PaymentChallenge['l402']> = {
  kind: 'l402',
  scheme: 'L402',
  macaroon: 'AgEEbHNhdAJCAADXYmFzZTY0bWFjYXJvb24=',
  invoice: 'lnbcrt15u1pjqqqq',
  amountMsat: '1500000',
};
const l402Only: PaymentChallenge = { x402: null, l402: L402, problems: [] };
const withL402 = (options: PaymentOption[]): PaymentChallenge => ({ ...x402Challenge(options), l402: L402 });

describe('choosing by the hub’s rails', () => {
  it('L402: paid on a hub with the lightning rail; on one without, not payable and it says why', () => {
    expect(choosePayment(l402Only, PAGE, HUB, tEn, on(rails(INTERNAL, LIGHTNING))).payment).toMatchObject({
      rail: 'lightning',
      asset: 'BTC',
      amount: '1500000',
    });
    expect(choosePayment(l402Only, PAGE, HUB, tEn, on(rails(INTERNAL, SOVR)))).toEqual({
      payment: null,
      option: null,
      unpayable: 'this hub cannot pay Lightning invoices',
    });
    // A lightning rail that keeps no BTC is no Lightning rail for this.
    expect(choosePayment(l402Only, PAGE, HUB, tEn, on(rails(INTERNAL, { name: 'lightning', assets: [] }))).unpayable).toBe(
      'this hub cannot pay Lightning invoices',
    );
  });

  it('the same exact + L402 challenge: Lightning from the hub balance where the hub has it, else the wallet on chain', () => {
    const challenge = withL402([exactOption()]);
    expect(choosePayment(challenge, PAGE, HUB, tEn, on(rails(INTERNAL, LIGHTNING, SOVR))).payment).toMatchObject({ rail: 'lightning' });
    const noLightning = choosePayment(challenge, PAGE, HUB, tEn, on(rails(INTERNAL, SOVR)));
    expect(noLightning.payment).toMatchObject({ rail: 'sovr', payTo: PAYOUT, amount: '2500' });
    expect(noLightning.onChain?.kind).toBe('exact');
    // Neither: both reasons listed.
    expect(choosePayment(challenge, PAGE, HUB, tEn, on(rails(INTERNAL))).unpayable).toBe(
      'No option this wallet can pay yet: exact on eip155:31337, this hub cannot pay Lightning invoices',
    );
  });

  it('exact: paid from the wallet on a hub with the sovr rail, not payable on one without', () => {
    const challenge = x402Challenge([exactOption()]);
    const withSovr = choosePayment(challenge, PAGE, HUB, tEn, on(rails(INTERNAL, SOVR)));
    expect(withSovr.payment).toMatchObject({ rail: 'sovr', payTo: PAYOUT, requirement: exactOption() });
    expect(withSovr.onChain).toMatchObject({ kind: 'exact', from: WALLET, to: PAYOUT });
    expect(choosePayment(challenge, PAGE, HUB, tEn, on(rails(INTERNAL, LIGHTNING)))).toMatchObject({
      payment: null,
      unpayable: 'No option this wallet can pay yet: exact on eip155:31337',
    });
    // The sovr rail's details from GET /rails are what counts, not a stale rail passed beside them.
    expect(choosePayment(challenge, PAGE, HUB, tEn, { rails: rails(INTERNAL), rail: SOVR, wallet: WALLET }).payment).toBeNull();
  });

  it('a hub merchant’s SOVR entry: the hub balance, with the wallet offered beside it only on a hub with the sovr rail', () => {
    const challenge = x402Challenge([tollwayOption()]);
    const withSovr = choosePayment(challenge, PAGE, HUB, tEn, on(rails(INTERNAL, SOVR)));
    expect(withSovr.payment).toMatchObject({ rail: 'internal', payTo: 'm_shop' });
    expect(withSovr.onChain).toMatchObject({ kind: 'merchant', to: TREASURY });
    const without = choosePayment(challenge, PAGE, HUB, tEn, on(rails(INTERNAL, LIGHTNING)));
    expect(without.payment).toMatchObject({ rail: 'internal', payTo: 'm_shop' });
    expect(without.onChain).toBeUndefined();
  });

  it('an exact entry first and a tollway entry second: the hub balance still comes first', () => {
    const c = choosePayment(x402Challenge([exactOption(), tollwayOption()]), PAGE, HUB, tEn, on(rails(SOVR, LIGHTNING, INTERNAL)));
    expect(c.payment).toMatchObject({ rail: 'internal', payTo: 'm_shop' });
    expect(c.option).toEqual(tollwayOption());
    expect(c.onChain?.kind).toBe('merchant');
  });

  it('among what the hub balance pays, the challenge’s order, whatever order the hub lists its rails in', () => {
    const btcFirst = x402Challenge([tollwayOption({ asset: 'BTC', amount: '7' }), tollwayOption()]);
    for (const list of [rails(INTERNAL, LIGHTNING), rails(LIGHTNING, INTERNAL)]) {
      expect(choosePayment(btcFirst, PAGE, HUB, tEn, on(list)).payment).toMatchObject({ rail: 'internal', asset: 'BTC', amount: '7' });
      // x402 entries come before the WWW-Authenticate dialects.
      expect(choosePayment(withL402([tollwayOption()]), PAGE, HUB, tEn, on(list)).payment).toMatchObject({ rail: 'internal' });
    }
  });

  it('an asset the hub’s internal rail does not list is skipped, and said so when nothing else pays', () => {
    const hub = rails({ name: 'internal', assets: ['SOVR'] }, LIGHTNING);
    expect(choosePayment(x402Challenge([tollwayOption({ asset: 'BTC' }), tollwayOption()]), PAGE, HUB, tEn, on(hub)).payment).toMatchObject(
      {
        asset: 'SOVR',
      },
    );
    expect(choosePayment(withL402([tollwayOption({ asset: 'BTC' })]), PAGE, HUB, tEn, on(hub)).payment).toMatchObject({
      rail: 'lightning',
    });
    expect(choosePayment(x402Challenge([tollwayOption({ asset: 'BTC' })]), PAGE, HUB, tEn, on(hub)).unpayable).toBe(
      'this hub keeps no BTC balances',
    );
    // Another hub's entry is just listed: this hub's rails have nothing to say about it.
    const elsewhere = tollwayOption({ network: 'tollway:https://elsewhere.example', asset: 'BTC' });
    expect(choosePayment(x402Challenge([elsewhere]), PAGE, HUB, tEn, on(hub)).unpayable).toBe(
      'No option this wallet can pay yet: tollway on tollway:https://elsewhere.example',
    );
  });

  it('schemes no planner knows are listed, not tripped over (even ones named like Object members)', () => {
    const odd = [exactOption({ scheme: 'upto' }), exactOption({ scheme: 'constructor' }), exactOption({ scheme: '__proto__' })];
    expect(choosePayment(x402Challenge(odd), PAGE, HUB, tEn, on(rails(INTERNAL, LIGHTNING, SOVR))).unpayable).toBe(
      'No option this wallet can pay yet: upto on eip155:31337, constructor on eip155:31337, __proto__ on eip155:31337',
    );
  });

  it('rails not known yet: what it always did (tollway, then Lightning, then exact from a known SOVR rail)', () => {
    const unknown = [
      { rail: SOVR, wallet: WALLET },
      { rails: null, rail: SOVR, wallet: WALLET },
    ];
    for (const chain of unknown) {
      expect(choosePayment(withL402([exactOption(), tollwayOption()]), PAGE, HUB, tEn, chain).payment).toMatchObject({ rail: 'internal' });
      expect(choosePayment(withL402([exactOption()]), PAGE, HUB, tEn, chain).payment).toMatchObject({ rail: 'lightning' });
      expect(choosePayment(x402Challenge([exactOption()]), PAGE, HUB, tEn, chain).payment).toMatchObject({ rail: 'sovr' });
      expect(choosePayment(l402Only, PAGE, HUB, tEn, chain).payment).toMatchObject({ rail: 'lightning' });
    }
    expect(choosePayment(x402Challenge([exactOption()]), PAGE, HUB, tEn, { rails: null, rail: null, wallet: WALLET }).unpayable).toBe(
      'No option this wallet can pay yet: exact on eip155:31337',
    );
  });
});

class FakeWindows implements WindowsApi {
  created = 0;
  async create() {
    this.created++;
    return { id: this.created };
  }
  async update() {}
  async get() {
    return {};
  }
  async remove() {}
}

class FakeHub implements HubClient {
  calls: CreatePaymentRequest[] = [];
  async pay(_s: HubSession, _key: string, body: CreatePaymentRequest): Promise<PayOutcome> {
    this.calls.push(body);
    const p: Payment = {
      transactionId: 'pay_1',
      status: 'completed',
      rail: body.rail,
      payTo: body.payTo,
      amount: body.amount,
      asset: body.asset,
      resource: null,
      description: null,
      failureReason: null,
      receipt: {},
      createdAt: 'x',
      updatedAt: 'x',
    };
    return { kind: 'answered', payment: p };
  }
}

/** The approval flow with the worker's own rails cache over a GET /rails the test answers by hand. */
function setup(opts: { cached?: HubRails; user?: boolean } = {}) {
  const local = new MemoryStorage();
  const session = new MemoryStorage();
  const hubSession: HubSession = { url: HUB, accessToken: 'at_1', ...(opts.user ? { user: { id: 'u_1', address: WALLET } } : {}) };
  void session.set({ [KEYS.hub]: hubSession });
  if (opts.cached) void session.set({ [KEYS.rails]: { hubUrl: HUB, info: { rails: opts.cached }, fetchedAt: 1_000 } satisfies RailsView });
  const reads: { answer(info: RailsInfo): void }[] = [];
  const railsCache = createRails({
    session,
    api: { rails: () => new Promise<RailsInfo>((answer) => reads.push({ answer })) },
    current: () => loadHubSession(session),
    now: () => 1_000,
    // Long enough that a 402 waiting on it would time the test out.
    lookupWaitMs: 60_000,
  });
  let ids = 0;
  const approvals = createApprovals({
    t: tEn,
    local,
    hub: new FakeHub(),
    session: () => loadHubSession(session),
    window: createApprovalWindow({ windows: new FakeWindows(), session, url: 'chrome-extension://x/extension/approve/index.html' }),
    setBadge: async () => undefined,
    now: () => 1_000,
    newId: () => `id${++ids}`,
    rails: railsCache,
  });
  const seen = (challenge: PaymentChallenge, url = PAGE.url): Seen402 => ({
    site: 'https://shop.example',
    tabId: 1,
    frameType: 'main_frame',
    method: 'GET',
    url,
    challenge,
  });
  const queued = () => readRequestList(local.peek(KEYS.approvals)).requests;
  return { approvals, session, reads, seen, queued };
}

describe('the approval flow and GET /rails', () => {
  it('a cached answer is used at once, with no read: an L402 on a hub without lightning is queued as not payable', async () => {
    const t = setup({ cached: rails(INTERNAL, SOVR) });
    await t.approvals.add(t.seen(l402Only));
    expect(t.reads).toHaveLength(0);
    expect(t.queued()[0]).toMatchObject({ payment: null, unpayable: 'this hub cannot pay Lightning invoices' });
  });

  it('no answer yet: the 402 does not wait for the hub, is chosen as before, and the next one uses the answer', async () => {
    const t = setup();
    // The read never answers while the first 402 is handled: it is queued (payable on Lightning) all the same.
    await t.approvals.add(t.seen(l402Only));
    expect(t.queued()[0]).toMatchObject({ payment: { rail: 'lightning' }, unpayable: null });
    expect(t.reads).toHaveLength(1);
    t.reads[0]!.answer({ rails: rails(INTERNAL, SOVR) });
    await expect.poll(() => t.session.peek(KEYS.rails)).toBeTruthy();
    await t.approvals.add(t.seen(l402Only, 'https://shop.example/b'));
    expect(t.queued()[1]).toMatchObject({ payment: null, unpayable: 'this hub cannot pay Lightning invoices' });
    expect(t.reads).toHaveLength(1);
  });

  it('a challenge that could be paid on chain still waits (briefly) for the first answer, and uses it', async () => {
    const t = setup({ user: true });
    const added = t.approvals.add(t.seen(withL402([exactOption()])));
    await expect.poll(() => t.reads.length).toBe(1);
    t.reads[0]!.answer({ rails: rails(INTERNAL, SOVR) });
    await added;
    expect(t.queued()[0]).toMatchObject({ payment: { rail: 'sovr', payTo: PAYOUT }, onChain: { kind: 'exact' } });
  });
});
