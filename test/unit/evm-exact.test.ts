/**
 * x402 `exact` entries on any EVM network, the worker's pure parts: planning an entry against the
 * person's networks and tokens (enabled, disabled, unknown, mismatch), choosing the enabled one,
 * the wallet-rail body, the daily limit in bigint, signing with the listed domain, reading the
 * site's settlement, and the payer that ties them together (nothing signed unless enabled and
 * within the limit).
 */
import { TypedDataEncoder, verifyTypedData, Wallet } from 'ethers';
import { describe, expect, it } from 'vitest';
import type { PaymentOption } from '../../shared/challenge.js';
import { encodePaymentResponse } from '../../shared/challenge.js';
import { TRANSFER_WITH_AUTHORIZATION_TYPES } from '../../shared/eip3009.js';
import { WalletAuthorization } from '../../shared/wallet-payments.js';
import { createDailyLimits, prune, spentToday, utcDay, withinLimit } from '../../extension/background/evm-limit.js';
import { createEvmPayer } from '../../extension/background/evm-pay.js';
import { planEntry, planEvm, planRefusal, validityOf, walletBody } from '../../extension/background/evm-plan.js';
import {
  awaitingSettlement,
  createEvmSettlement,
  explorerTxUrl,
  paymentResponseOf,
  reportOf,
} from '../../extension/background/evm-settle.js';
import { signEvmTransfer } from '../../extension/background/evm-sign.js';
import type { SovrRailInfo } from '../../extension/background/onchain.js';
import { enableToken, withHubChain, type NetworkSettings } from '../../extension/common/networks.js';
import { KEYS } from '../../extension/common/state.js';
import { writeRequestList } from '../../extension/common/storage.js';
import type { Payment } from '../../shared/api.js';
import { request, x402Challenge } from '../helpers/extension-fixtures.js';
import { tEn } from '../helpers/i18n-en.js';
import { MemoryStorage } from '../helpers/memory-storage.js';

const TOKEN = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const PAY_TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const ASSET = `eip155:31338/erc20:${TOKEN.toLowerCase()}`;

const networks = (over: { enabled?: boolean; dailyLimit?: string; name?: string } = {}): NetworkSettings => [
  {
    chainId: 31338,
    name: 'Test chain',
    aliases: ['test-chain'],
    explorer: 'https://explorer.example/',
    enabled: over.enabled ?? true,
    tokens: [
      {
        address: TOKEN,
        symbol: 'USDC',
        decimals: 6,
        eip712: { name: over.name ?? 'USD Coin', version: '2' },
        enabled: over.enabled ?? true,
        ...(over.dailyLimit ? { dailyLimit: over.dailyLimit } : {}),
      },
    ],
  },
];

const entry = (over: Partial<PaymentOption> = {}): PaymentOption => ({
  scheme: 'exact',
  network: 'eip155:31338',
  amount: '10000',
  asset: TOKEN,
  payTo: PAY_TO,
  maxTimeoutSeconds: 300,
  extra: { name: 'USD Coin', version: '2' },
  ...over,
});

const sovr: SovrRailInfo = {
  name: 'sovr',
  assets: ['SOVR'],
  network: 'eip155:31337',
  chainId: 31337,
  token: '0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512',
  treasury: null,
  eip712: { name: 'Sovereign', version: '1' },
  confirmations: 1,
  minValiditySeconds: 60,
  maxValiditySeconds: 3600,
};

describe('planning an exact entry against the networks list', () => {
  it('is enabled only when the network and the token are, with symbol and decimals from the list', () => {
    expect(planEntry(entry(), 0, networks())).toEqual({
      optionIndex: 0,
      state: 'enabled',
      chainId: 31338,
      networkName: 'Test chain',
      explorer: 'https://explorer.example/',
      token: { address: TOKEN, symbol: 'USDC', decimals: 6 },
      payTo: PAY_TO,
      amount: '10000',
      validitySeconds: 300,
    });
    expect(planEntry(entry(), 0, networks({ enabled: false }))?.state).toBe('disabled');
    // A v1 network name that the list knows as an alias.
    expect(planEntry(entry({ network: 'test-chain' }), 0, networks())?.state).toBe('enabled');
  });

  it('is unknown for a token or chain not listed, and skipped for what no EVM wallet can sign', () => {
    expect(planEntry(entry({ asset: PAY_TO }), 0, networks())).toMatchObject({
      state: 'unknown',
      chainId: 31338,
      token: { address: PAY_TO },
    });
    expect(planEntry(entry({ network: 'eip155:8453' }), 0, networks())).toMatchObject({ state: 'unknown', chainId: 8453 });
    expect(planEntry(entry({ network: 'solana:mainnet' }), 0, networks())).toBeNull();
    expect(planEntry(entry({ scheme: 'upto' }), 0, networks())).toBeNull();
    expect(planEntry(entry({ payTo: 'm_shop' }), 0, networks())).toBeNull();
  });

  it('is a mismatch when the entry names another EIP-712 name or version than the listed token', () => {
    expect(planEntry(entry({ extra: { name: 'USD Coin (fake)', version: '2' } }), 0, networks())?.state).toBe('mismatch');
    expect(planEntry(entry({ extra: { name: 'USD Coin', version: '1' } }), 0, networks())?.state).toBe('mismatch');
    // Disabled and mismatched: the mismatch is what is said.
    expect(planEntry(entry({ extra: { name: 'X', version: '2' } }), 0, networks({ enabled: false }))?.state).toBe('mismatch');
    // No domain named: the listed one is signed.
    expect(planEntry(entry({ extra: {} }), 0, networks())?.state).toBe('enabled');
  });

  it('bounds the validity to between one minute and one hour', () => {
    expect(validityOf(entry({ maxTimeoutSeconds: 5 }))).toBe(60);
    expect(validityOf(entry({ maxTimeoutSeconds: 86_400 }))).toBe(3600);
    expect(validityOf(entry({ maxTimeoutSeconds: undefined }))).toBe(600);
  });

  it('takes the enabled entry over the first, and leaves the hub SOVR entries to the SOVR rail', () => {
    const other = entry({ network: 'eip155:8453' });
    const challenge = x402Challenge([other, entry()]);
    const found = planEvm(challenge, networks(), null);
    expect(found?.plan).toMatchObject({ optionIndex: 1, state: 'enabled' });
    expect(found?.all.map((p) => p.state)).toEqual(['unknown', 'enabled']);
    expect(planEvm(x402Challenge([other]), networks(), null)?.plan.state).toBe('unknown');
    const hubEntry = entry({ network: sovr.network, asset: sovr.token, extra: { name: 'Sovereign', version: '1' } });
    expect(planEvm(x402Challenge([hubEntry]), networks(), sovr)).toBeNull();
    expect(planEvm(x402Challenge([]), networks(), null)).toBeNull();
  });

  it('says why a plan is not paid, in the token units from the list', () => {
    const plan = (n: NetworkSettings, o = entry()) => planEntry(o, 0, n)!;
    expect(planRefusal(plan(networks()), tEn)).toBeNull();
    expect(planRefusal(plan(networks({ enabled: false })), tEn)).toBe(
      '0.01 USDC on Test chain is not enabled: nothing is paid until you enable it',
    );
    expect(planRefusal(plan(networks(), entry({ network: 'eip155:8453' })), tEn)).toBe(
      `10000 base units of ${TOKEN} on chain 8453 is a network or token you have not listed: it is never paid`,
    );
    expect(planRefusal(plan(networks({ name: 'Other' })), tEn)).toMatch(/^0\.01 USDC on Test chain asks for a signature under another/);
  });

  it('builds the unsigned wallet-rail body with the CAIP-19 asset in lower case', () => {
    const plan = planEntry(entry(), 0, networks())!;
    expect(walletBody(plan, entry(), { url: 'https://shop.example/a', method: 'get' }, 'An article')).toEqual({
      rail: 'wallet',
      payTo: PAY_TO,
      amount: '10000',
      asset: ASSET,
      resource: { url: 'https://shop.example/a', method: 'GET' },
      requirement: entry(),
      description: 'An article',
    });
  });

  it("adds the hub's SOVR chain as enabled unless the person listed that chain", () => {
    const list = withHubChain(networks(), sovr);
    expect(list).toHaveLength(2);
    expect(list[1]).toMatchObject({ chainId: 31337, enabled: true, tokens: [{ address: sovr.token, enabled: true, eip712: sovr.eip712 }] });
    expect(withHubChain(networks(), null)).toEqual(networks());
    expect(withHubChain(networks(), { ...sovr, chainId: 31338 })).toEqual(networks());
  });
});

describe('the daily limit', () => {
  const day = Date.UTC(2026, 11, 7, 12);
  const e = (amount: string, at = day, asset = ASSET, requestId = `r${amount}${at}`) => ({ requestId, asset, amount, day: utcDay(at) });

  it('counts one UTC day of one token, in bigint', () => {
    const big = (2n ** 200n).toString();
    const list = [e('10000'), e(big), e('5', day - 86_400_000), e('7', day, 'eip155:1/erc20:0x0000000000000000000000000000000000000001')];
    expect(spentToday(list, ASSET, day)).toBe(10000n + 2n ** 200n);
    expect(spentToday(list, ASSET, Date.UTC(2026, 11, 8, 0, 0, 1))).toBe(0n);
    expect(withinLimit(undefined, 10n ** 30n, 1n)).toBe(true);
    expect(withinLimit('10', 5n, 5n)).toBe(true);
    expect(withinLimit('10', 5n, 6n)).toBe(false);
    expect(prune([e('1', day - 3 * 86_400_000), e('2', day - 86_400_000), e('3')], day).map((x) => x.amount)).toEqual(['2', '3']);
  });

  it('reserves within the limit only, once per request, and gives back what the hub refused', async () => {
    const local = new MemoryStorage();
    const limits = createDailyLimits({ local, now: () => day });
    expect(await limits.reserve('a', ASSET, '6000', '15000')).toBe(true);
    expect(await limits.reserve('a', ASSET, '6000', '15000')).toBe(true);
    expect(await limits.spent(ASSET)).toBe(6000n);
    expect(await limits.reserve('b', ASSET, '10000', '15000')).toBe(false);
    expect(await limits.spent(ASSET)).toBe(6000n);
    // Two at once cannot both slip under it.
    const both = await Promise.all([limits.reserve('c', ASSET, '9000', '15000'), limits.reserve('d', ASSET, '9000', '15000')]);
    expect(both.sort()).toEqual([false, true]);
    await limits.release('a');
    expect(await limits.spent(ASSET)).toBe(9000n);
    expect(local.peek(KEYS.evmSpent)).toMatchObject({ v: 1, entries: [{ amount: '9000', day: '2026-12-07' }] });
  });
});

describe('signing and the settlement', () => {
  const key = Wallet.createRandom();

  it("signs TransferWithAuthorization under the listed token's domain, as the hub and the token check it", () => {
    const plan = planEntry(entry(), 0, networks())!;
    const window = { validAfter: 1000, validBefore: 2000 };
    const a = signEvmTransfer(
      key.privateKey,
      plan,
      { name: 'USD Coin', version: '2' },
      key.address.toLowerCase(),
      window,
      tEn,
      `0x${'ab'.repeat(32)}`,
    );
    expect(WalletAuthorization.parse(a)).toEqual(a);
    expect(a).toMatchObject({
      from: key.address,
      to: PAY_TO,
      value: '10000',
      validAfter: '1000',
      validBefore: '2000',
      eip712: { name: 'USD Coin', version: '2' },
    });
    const domain = { name: 'USD Coin', version: '2', chainId: 31338, verifyingContract: TOKEN };
    const { signature, eip712: _d, ...message } = a;
    expect(verifyTypedData(domain, TRANSFER_WITH_AUTHORIZATION_TYPES, message, signature)).toBe(key.address);
    // Another name in the domain is another digest: a merchant's changed `extra.name` would not verify.
    expect(TypedDataEncoder.hash({ ...domain, name: 'USD Coin (fake)' }, TRANSFER_WITH_AUTHORIZATION_TYPES, message)).not.toBe(
      TypedDataEncoder.hash(domain, TRANSFER_WITH_AUTHORIZATION_TYPES, message),
    );
    expect(() => signEvmTransfer(key.privateKey, plan, { name: 'USD Coin', version: '2' }, PAY_TO, window, tEn)).toThrow();
  });

  it("reads the site's PAYMENT-RESPONSE into the hub's settlement report", () => {
    const plan = planEntry(entry(), 0, networks())!;
    const signed = signEvmTransfer(
      key.privateKey,
      plan,
      { name: 'USD Coin', version: '2' },
      key.address,
      { validAfter: 1, validBefore: 2 },
      tEn,
    );
    const r = {
      payment: { ...walletBody(plan, entry(), { url: 'https://shop.example/a', method: 'GET' }), authorization: signed },
      evm: plan,
    };
    const tx = `0x${'12'.repeat(32)}`;
    const ok = encodePaymentResponse({ success: true, transaction: tx, network: 'eip155:31338', payer: key.address });
    expect(
      paymentResponseOf([
        { name: 'Content-Type', value: 'x' },
        { name: 'payment-response', value: ok },
      ]),
    ).toBe(ok);
    expect(paymentResponseOf([{ name: 'X-PAYMENT-RESPONSE', value: 'v1' }])).toBe('v1');
    expect(reportOf(r, ok)).toEqual({ status: 'completed', transaction: tx, blockExplorerUrl: `https://explorer.example/tx/${tx}` });
    expect(
      reportOf(r, encodePaymentResponse({ success: false, errorReason: 'insufficient_funds', transaction: '', network: 'eip155:31338' })),
    ).toEqual({ status: 'failed', reason: 'insufficient_funds' });
    // Someone else's settlement, or no transaction: nothing is reported.
    expect(reportOf(r, encodePaymentResponse({ success: true, transaction: tx, network: 'eip155:31338', payer: PAY_TO }))).toBeNull();
    expect(reportOf(r, encodePaymentResponse({ success: true, transaction: 'nope', network: 'eip155:31338' }))).toBeNull();
    expect(reportOf(r, 'not base64 json')).toBeNull();
    expect(explorerTxUrl(undefined, tx)).toBeUndefined();
  });

  it('finds the submitted wallet-rail request of that tab and URL only', () => {
    const result = { transactionId: 'p1' } as never;
    const wallet = { rail: 'wallet' as const, payTo: PAY_TO, amount: '1', asset: ASSET };
    const list = [
      request({ id: 'a', status: 'completed', payment: wallet, result }),
      request({ id: 'b', status: 'submitted', payment: wallet, result, tabId: 2 }),
      request({ id: 'c', status: 'submitted', payment: wallet, result }),
    ];
    expect(awaitingSettlement(list, 1, 'https://shop.example/a#x')?.id).toBe('c');
    expect(awaitingSettlement(list, 1, 'https://shop.example/b')).toBeUndefined();
    expect(awaitingSettlement([request({ status: 'submitted', result })], 1, 'https://shop.example/a')).toBeUndefined();
  });
});

describe('the payer', () => {
  const key = Wallet.createRandom();
  const day = Date.UTC(2026, 11, 7, 12);

  function setup(list: NetworkSettings) {
    const state = { list, signed: 0 };
    const limits = createDailyLimits({ local: new MemoryStorage(), now: () => day });
    const payer = createEvmPayer({
      t: tEn,
      networks: async () => state.list,
      limits,
      sign: async (plan, eip712, from, window) => {
        state.signed++;
        return signEvmTransfer(key.privateKey, plan, eip712, from, window, tEn);
      },
      wallet: async () => key.address,
      now: () => day,
    });
    return { state, limits, payer };
  }
  const req = { url: 'https://shop.example/a', method: 'GET' };

  it('queues an enabled entry payable, and a disabled one with its reason and nothing to pay', async () => {
    const { payer } = setup(networks({ enabled: false }));
    const off = await payer.plan(x402Challenge([entry()]), req, null);
    expect(off).toMatchObject({ evm: { state: 'disabled' }, payment: null, unpayable: expect.stringMatching(/is not enabled/) });
    const on = await setup(enableToken(networks({ enabled: false }), 31338, TOKEN)).payer.plan(x402Challenge([entry()]), req, null);
    expect(on).toMatchObject({ evm: { state: 'enabled' }, payment: { rail: 'wallet', asset: ASSET }, unpayable: null });
  });

  it('signs only what is enabled now, never a mismatch, and within the daily limit', async () => {
    const { state, payer, limits } = setup(networks({ dailyLimit: '15000' }));
    const queued = (await payer.plan(x402Challenge([entry()]), req, null))!;
    const r = { id: 'r1', challenge: x402Challenge([entry()]), payment: queued.payment, evm: queued.evm };
    const body = await payer.sign(r, null);
    expect(body.authorization).toMatchObject({ from: key.address, to: PAY_TO, value: '10000', eip712: { name: 'USD Coin', version: '2' } });
    expect(await limits.spent(ASSET)).toBe(10000n);
    // A second payment today would pass the limit: nothing signed, and the window says why.
    await expect(payer.sign({ ...r, id: 'r2' }, null)).rejects.toThrow(
      "0.01 USDC on Test chain would go past today's limit for this token (0.01 USDC on Test chain of 0.015 USDC on Test chain spent today",
    );
    const over = await payer.plan(x402Challenge([entry()]), req, null);
    expect(over).toMatchObject({ payment: null, evm: { dailyLimit: { limit: '15000', spentToday: '10000' } } });
    expect(state.signed).toBe(1);
    // Switched off after it was queued: refused at signing.
    state.list = networks({ enabled: false });
    await expect(payer.sign({ ...r, id: 'r3' }, null)).rejects.toThrow(/is not enabled/);
    // The merchant's changed domain.
    state.list = networks();
    const changed = x402Challenge([entry({ extra: { name: 'USD Coin (fake)', version: '2' } })]);
    expect((await payer.plan(changed, req, null))?.evm.state).toBe('mismatch');
    await expect(payer.sign({ ...r, id: 'r4', challenge: changed }, null)).rejects.toThrow(/another token name or version/);
    expect(state.signed).toBe(1);
  });
});

describe('reporting the settlement to the hub', () => {
  const tx = `0x${'34'.repeat(32)}`;
  const session = { url: 'https://hub.example', accessToken: 'at' };
  const wallet = { rail: 'wallet' as const, payTo: PAY_TO, amount: '10000', asset: ASSET };
  const hubPayment = (status: Payment['status'], receipt: Payment['receipt'] = {}): Payment => ({
    transactionId: 'p1',
    status,
    rail: 'wallet',
    payTo: PAY_TO,
    amount: '10000',
    asset: ASSET,
    resource: null,
    description: null,
    failureReason: null,
    receipt,
    createdAt: '2026-12-07T12:00:00.000Z',
    updatedAt: '2026-12-07T12:00:00.000Z',
  });

  function setup(answers: (number | 'down')[]) {
    const local = new MemoryStorage();
    const sent: { url: string; body: unknown }[] = [];
    const applied: Payment[] = [];
    const fetch = (async (url: URL, init: RequestInit) => {
      sent.push({ url: String(url), body: JSON.parse(String(init.body)) });
      const status = answers.shift() ?? 200;
      if (status === 'down') throw new TypeError('fetch failed');
      const body = status === 200 ? hubPayment('completed', { transactionHash: tx }) : { type: 'x', title: 'no' };
      return new Response(JSON.stringify(body), { status });
    }) as unknown as typeof globalThis.fetch;
    const settlement = createEvmSettlement({
      local,
      t: tEn,
      fetch,
      session: async () => session,
      onPayment: async (p) => void applied.push(p),
    });
    return { local, sent, applied, settlement };
  }
  const history = (local: MemoryStorage) =>
    local.set({
      [KEYS.history]: writeRequestList([request({ status: 'submitted', payment: wallet, result: hubPayment('pending') })]),
    });
  const header = encodePaymentResponse({ success: true, transaction: tx, network: 'eip155:31338' });

  it('keeps a report the hub could not take and sends it on the next start', async () => {
    const { local, sent, applied, settlement } = setup(['down', 503]);
    await history(local);
    const seen = { tabId: 1, url: 'https://shop.example/a', responseHeaders: [{ name: 'PAYMENT-RESPONSE', value: header }] };
    expect(await settlement.observed(seen)).toBe(false);
    expect(local.peek(KEYS.evmReports)).toEqual([{ paymentId: 'p1', report: { status: 'completed', transaction: tx } }]);
    await settlement.resume();
    expect(local.peek(KEYS.evmReports)).toHaveLength(1);
    await settlement.resume();
    expect(local.peek(KEYS.evmReports)).toEqual([]);
    expect(sent.map((s) => s.url)).toEqual(Array(3).fill('https://hub.example/payments/p1/settlement'));
    expect(applied).toEqual([expect.objectContaining({ status: 'completed', receipt: { transactionHash: tx } })]);
    // Another tab, or no settlement header: nothing to report.
    expect(await settlement.observed({ ...seen, tabId: 2 })).toBe(false);
    expect(await settlement.observed({ ...seen, responseHeaders: [] })).toBe(false);
    expect(sent).toHaveLength(3);
  });

  it('drops a report the hub refuses for good, and records a refused proof as failed', async () => {
    const { local, sent, applied, settlement } = setup([409, 200]);
    await history(local);
    expect(
      await settlement.observed({
        tabId: 1,
        url: 'https://shop.example/a',
        responseHeaders: [{ name: 'payment-response', value: header }],
      }),
    ).toBe(false);
    expect(local.peek(KEYS.evmReports)).toEqual([]);
    expect(await settlement.refused({ tabId: 1, url: 'https://shop.example/a', serverError: 'invalid_signature' })).toBe(true);
    expect(sent[1]!.body).toEqual({ status: 'failed', reason: 'the site answered 402 to the signed authorization: invalid_signature' });
    expect(applied).toHaveLength(1);
  });
});
