/**
 * The extension's Interledger parts that need no hub: when a queued 402 may also be paid from the
 * person's Interledger wallet and the body for it, the budget interval, which consent page may be
 * opened, the consent window's life (opened once, closed when the payment is final, the reason told
 * on failure), the grants' words, and the linked-wallet mirror against a stand-in of the hub's calls.
 */
import { describe, expect, it } from 'vitest';
import { tEn } from '../helpers/i18n-en.js';
import { MemoryStorage } from '../helpers/memory-storage.js';
import { createIlp } from '../../extension/background/ilp.js';
import type { IlpApi } from '../../extension/background/ilp-api.js';
import { createIlpConsent } from '../../extension/background/ilp-consent.js';
import { consentUrlOf, ilpBody, ilpInterval, ilpPlanOf, offersIlp } from '../../extension/background/ilp-plan.js';
import { HubError } from '../../extension/background/hub-api.js';
import { ILP_KEY, IlpView } from '../../extension/common/ilp.js';
import type { ApprovalRequest, HubSession } from '../../extension/common/state.js';
import { grantText, intervalText, walletAmountText } from '../../extension/popup/grant-text.js';
import { CreatePaymentRequest, type Payment } from '../../shared/api.js';
import type { PaymentOption } from '../../shared/challenge.js';
import { IlpInterval, type IlpWallet } from '../../shared/ilp.js';
import { FakeWindows } from '../helpers/fake-windows.js';

const HUB = 'https://hub.example';
const WALLET = 'https://wallet.example/alice';
const entry = (
  extra: Record<string, unknown> = { interledger: { rail: 'ilp', walletAddress: 'https://wallet.example/shop' } },
): PaymentOption => ({
  scheme: 'tollway',
  network: `tollway:${HUB}`,
  amount: '2000000000000000',
  asset: 'SOVR',
  payTo: 'mer_shop',
  extra,
});
const internal = (option: PaymentOption): CreatePaymentRequest => ({
  rail: 'internal',
  payTo: option.payTo,
  amount: option.amount,
  asset: option.asset,
  resource: { url: 'https://shop.example/article', method: 'GET' },
  requirement: option,
});
const RAILS = [
  { name: 'internal' as const, assets: ['SOVR', 'BTC'] },
  {
    name: 'ilp' as const,
    assets: ['SOVR'],
    clientWalletAddress: 'https://wallet.example/hub',
    keyId: 'k',
    publicKey: {},
    consentSeconds: 600,
  },
];

describe('ilpPlanOf', () => {
  it('offers the wallet only when the entry names the ilp rail, the hub has it for the asset, and a wallet is linked', () => {
    const option = entry();
    const plan = ilpPlanOf({ payment: internal(option), option }, RAILS, { walletAddress: WALLET });
    expect(plan).toEqual({ walletAddress: WALLET, payment: { ...internal(option), rail: 'ilp' } });
    expect(CreatePaymentRequest.safeParse(plan!.payment).success).toBe(true);

    expect(ilpPlanOf({ payment: internal(option), option }, RAILS, null)).toBeNull();
    expect(ilpPlanOf({ payment: internal(option), option }, null, { walletAddress: WALLET })).toBeNull();
    expect(ilpPlanOf({ payment: internal(option), option }, [RAILS[0]!], { walletAddress: WALLET })).toBeNull();
    const btc = { ...option, asset: 'BTC' };
    expect(ilpPlanOf({ payment: internal(btc), option: btc }, RAILS, { walletAddress: WALLET })).toBeNull();
    const plain = entry({ challengeId: 'c' });
    expect(offersIlp(plain)).toBe(false);
    expect(ilpPlanOf({ payment: internal(plain), option: plain }, RAILS, { walletAddress: WALLET })).toBeNull();
    expect(offersIlp(entry({ interledger: { rail: 'internal' } }))).toBe(false);
    // Only a hub merchant's entry: never a Lightning invoice or an on-chain body turned into ilp.
    expect(ilpPlanOf({ payment: { ...internal(option), rail: 'lightning' }, option }, RAILS, { walletAddress: WALLET })).toBeNull();
  });

  it('drops an allowance: the wallet is never paid automatically through a hub budget', () => {
    const option = entry();
    const plan = ilpPlanOf({ payment: { ...internal(option), allowance: { site: 'https://shop.example' } }, option }, RAILS, {
      walletAddress: WALLET,
    });
    expect(plan!.payment).not.toHaveProperty('allowance');
  });
});

describe('the budget a person may approve on the wallet', () => {
  const now = Date.UTC(2026, 11, 7, 5, 6, 7, 890);
  it('is an ISO 8601 repeating interval from now, to the second', () => {
    expect(ilpInterval('day', now)).toBe('R/2026-12-07T05:06:07Z/P1D');
    expect(ilpInterval('week', now)).toBe('R/2026-12-07T05:06:07Z/P7D');
    expect(ilpInterval('month', now)).toBe('R/2026-12-07T05:06:07Z/P1M');
    for (const p of ['day', 'week', 'month'] as const) expect(IlpInterval.safeParse(ilpInterval(p, now)).success).toBe(true);
  });

  it('goes into the body as authorization.budget; without one the body is the plan’s', () => {
    const option = entry();
    const plan = ilpPlanOf({ payment: internal(option), option }, RAILS, { walletAddress: WALLET })!;
    expect(ilpBody(plan, undefined, now)).toBe(plan.payment);
    const body = ilpBody(plan, { amount: '20000000000000000', period: 'day' }, now);
    expect(body.authorization).toEqual({ budget: { amount: '20000000000000000', interval: 'R/2026-12-07T05:06:07Z/P1D' } });
    expect(CreatePaymentRequest.safeParse(body).success).toBe(true);
  });
});

describe('consentUrlOf', () => {
  const p = { rail: 'ilp', status: 'pending', interact: { redirect: 'https://wallet.example/auth/interact/1/n' } };
  it('is the wallet page of a pending ilp payment, and nothing else', () => {
    expect(consentUrlOf(p)).toBe('https://wallet.example/auth/interact/1/n');
    expect(consentUrlOf({ ...p, interact: { redirect: 'javascript:alert(1)' } })).toBeNull();
    expect(consentUrlOf({ ...p, interact: { redirect: 'not a url' } })).toBeNull();
    expect(consentUrlOf({ ...p, status: 'completed' })).toBeNull();
    expect(consentUrlOf({ ...p, rail: 'internal' })).toBeNull();
    expect(consentUrlOf({ rail: 'ilp', status: 'pending' })).toBeNull();
    expect(consentUrlOf(null)).toBeNull();
  });
});

function request(status: ApprovalRequest['status'], result: Partial<Payment> | null, error: string | null = null): ApprovalRequest {
  return {
    id: 'r1',
    idempotencyKey: 'tollway-k',
    createdAt: 0,
    updatedAt: 0,
    site: 'https://shop.example',
    tabOrigin: 'https://shop.example',
    tabId: 1,
    frameType: 'main_frame',
    method: 'GET',
    url: 'https://shop.example/article',
    challenge: { x402: null, l402: null, problems: [] },
    payment: null,
    unpayable: null,
    status,
    result: result ? ({ transactionId: 'pay_1', rail: 'ilp', status: 'pending', ...result } as Payment) : null,
    error,
  };
}

describe('the consent window', () => {
  const page = 'https://wallet.example/auth/interact/1/n';
  it('opens the wallet page once for a pending payment and closes it when the payment completes', async () => {
    const windows = new FakeWindows();
    const notes: { title: string; message: string }[] = [];
    const consent = createIlpConsent({ t: tEn, windows, session: new MemoryStorage(), notify: async (n) => void notes.push(n) });
    const pending = request('submitted', { interact: { redirect: page, expiresAt: '2026-12-07T05:16:07Z' } });
    await consent.finished([pending]);
    await consent.finished([pending]);
    expect([...windows.open.values()]).toEqual([page]);
    await consent.finished([request('completed', { status: 'completed' })]);
    expect(windows.open.size).toBe(0);
    expect(notes).toEqual([]);
  });

  it('closes it on failure and tells the reason', async () => {
    const windows = new FakeWindows();
    const notes: { title: string; message: string }[] = [];
    const consent = createIlpConsent({ t: tEn, windows, session: new MemoryStorage(), notify: async (n) => void notes.push(n) });
    await consent.finished([request('submitted', { interact: { redirect: page, expiresAt: '2026-12-07T05:16:07Z' } })]);
    await consent.finished([request('failed', { status: 'failed' }, 'The payment was rejected on the wallet')]);
    expect(windows.open.size).toBe(0);
    expect(notes).toEqual([
      { title: 'Not paid from your Interledger wallet: shop.example', message: 'The payment was rejected on the wallet' },
    ]);
  });

  it('opens the page again when asked, one window per payment, only while the consent is open', async () => {
    const windows = new FakeWindows();
    const consent = createIlpConsent({ t: tEn, windows, session: new MemoryStorage() });
    const pending = request('submitted', { interact: { redirect: page, expiresAt: '2999-01-01T00:00:00Z' } });
    await consent.finished([pending]);
    expect(await consent.show(pending, Date.now())).toBe(true);
    expect([...windows.open.values()]).toEqual([page]);
    expect(await consent.show(pending, Date.parse('2999-01-01T00:00:01Z'))).toBe(false);
    expect(await consent.show(request('completed', { status: 'completed' }), Date.now())).toBe(false);
    expect(windows.open.size).toBe(1);
  });

  it('opens nothing for a payment a budget grant paid at once, nor for another rail', async () => {
    const windows = new FakeWindows();
    const consent = createIlpConsent({ t: tEn, windows, session: new MemoryStorage() });
    await consent.finished([request('completed', { status: 'completed' }), request('submitted', { status: 'submitted' })]);
    await consent.finished([request('submitted', { rail: 'internal', interact: { redirect: page, expiresAt: 'x' } })]);
    expect(windows.open.size).toBe(0);
  });
});

describe('grants in words', () => {
  it('formats wallet amounts at the wallet scale without JS numbers', () => {
    expect(walletAmountText('8000000', 'SOVR', 9, 'en-US')).toBe('0.008 SOVR');
    expect(walletAmountText('123456789012345678901234567890', 'SOVR', 9, 'en-US')).toBe('123,456,789,012,345,678,901.23456789 SOVR');
    expect(walletAmountText('12', 'USD', -1, 'en-US')).toBe('12 USD');
    expect(intervalText('R/2026-12-07T05:06:07Z/P1D', tEn)).toBe('per day');
    expect(intervalText('R/2026-12-07T05:06:07Z/P2D', tEn)).toBe('every P2D');
    expect(intervalText(null, tEn)).toBe('in all');
    expect(
      grantText(
        { remaining: '8000000', limit: '10000000', assetCode: 'SOVR', assetScale: 9, interval: 'R/2026-12-07T05:06:07Z/P1W' },
        tEn,
        'en-US',
      ),
    ).toBe('0.008 SOVR left of 0.01 SOVR per week');
  });
});

describe('the linked-wallet mirror', () => {
  const session: HubSession = { url: HUB, accessToken: 't', user: { id: 'usr_1', address: '0xabc' } };
  const linked: IlpWallet = {
    walletAddress: WALLET,
    publicName: 'Alice',
    assetCode: 'SOVR',
    assetScale: 9,
    authServer: 'https://wallet.example/auth',
    linkedAt: '2026-12-07T05:00:00Z',
  };
  function hubStandIn() {
    let current: IlpWallet | null = null;
    const calls: string[] = [];
    const api: IlpApi = {
      wallet: async () => (calls.push('wallet'), current),
      link: async (_s, address) => {
        calls.push(`link ${address}`);
        if (!address.endsWith('/alice'))
          throw new HubError(422, 'https://tollway.dev/problems/ilp-wallet-unusable', 'the wallet keeps USD at scale 2');
        current = linked;
        return linked;
      },
      unlink: async () => void ((current = null), calls.push('unlink')),
      grants: async () => (calls.push('grants'), []),
      revoke: async (_s, id) => void calls.push(`revoke ${id}`),
    };
    return { api, calls };
  }

  it('links, shows, refuses in the hub’s words, and unlinks', async () => {
    const storage = new MemoryStorage();
    const { api, calls } = hubStandIn();
    const ilp = createIlp({ t: tEn, session: storage, api, current: async () => session });
    await expect(ilp.link('https://wallet.example/usd')).rejects.toThrow('the wallet keeps USD at scale 2');
    expect(storage.peek(ILP_KEY)).toBeUndefined();
    await ilp.link(WALLET);
    const view = IlpView.parse(storage.peek(ILP_KEY));
    expect(view).toMatchObject({ hubUrl: HUB, userId: 'usr_1', wallet: linked, grants: [] });
    calls.length = 0;
    // A 402 asks the mirror, not the hub.
    expect(await ilp.wallet()).toEqual(linked);
    expect(calls).toEqual([]);
    await ilp.unlink();
    expect(await ilp.wallet()).toBeNull();
    // Another user on the same hub does not see this mirror: the hub is asked.
    const other = createIlp({
      t: tEn,
      session: storage,
      api,
      current: async () => ({ ...session, user: { id: 'usr_2', address: '0xdef' } }),
    });
    expect(await other.wallet()).toBeNull();
    expect(calls).toEqual(['unlink', 'wallet']);
  });

  it('says to sign in first when there is no session', async () => {
    const ilp = createIlp({ t: tEn, session: new MemoryStorage(), api: hubStandIn().api, current: async () => null });
    await expect(ilp.link(WALLET)).rejects.toThrow(tEn('worker_sign_in_first'));
    expect(await ilp.wallet()).toBeNull();
  });
});
