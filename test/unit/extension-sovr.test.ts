/**
 * SOVR on chain from the extension's wallet, as pure parts: which entry and rail a 402 is paid
 * with, the EIP-712 typed data built for a hub merchant (to the hub's treasury) and for a plain x402
 * `exact` entry (to its payTo) with golden values — signed with a fixed key, recovered with ethers'
 * verifyTypedData and with viem (an independent EIP-712 implementation, the one the x402 reference
 * packages use), and accepted by the hub's own authorization checks — the validity clamped to the
 * hub's bounds, and the `PAYMENT-SIGNATURE` an `exact` retry carries, read back with the x402
 * reference decoder.
 */
import { tEn } from '../helpers/i18n-en.js';
import { decodePaymentSignatureHeader } from '@x402/core/http';
import { verifyTypedData as ethersVerify, Wallet } from 'ethers';
import { verifyTypedData as viemVerify, type Hex } from 'viem';
import { describe, expect, it } from 'vitest';
import { choosePayment } from '../../extension/background/choose.js';
import { exactPlan, isExactForRail, merchantPlan, typedDataOf, type SovrRailInfo } from '../../extension/background/onchain.js';
import { proofHeader } from '../../extension/background/proof.js';
import { signAuthorization } from '../../extension/background/sign.js';
import { defaultPayFrom } from '../../extension/approve/pay-from.js';
import { describeRequest } from '../../extension/common/format.js';
import type { ApprovalRequest } from '../../extension/common/state.js';
import { checkAuthorization, parseAuthorization } from '../../server/rails/sovr/authorization.js';
import type { Payment } from '../../shared/api.js';
import { parsePaymentSignature, type PaymentChallenge, type PaymentOption } from '../../shared/challenge.js';
import { authorizationWindow, clampValidity, windowAcceptable } from '../../shared/eip3009.js';
import { HUB, request, tollwayOption, x402Challenge } from '../helpers/extension-fixtures.js';

// Hardhat's public dev account 2: a fixed key, so the signatures below are golden (RFC 6979).
const KEY = '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a';
const WALLET = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';
const TOKEN = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const TREASURY = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const PAYOUT = '0x90F79bf6EB2c4f870365E785982E1f101E93b906';
const NOW = 1767225600; // 2026-01-01T00:00:00Z
const PAGE = { url: 'https://shop.example/a', method: 'GET' };

const RAIL: SovrRailInfo = {
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
const chain = { rail: RAIL, wallet: WALLET };

const exactOption = (over: Partial<PaymentOption> = {}): PaymentOption => ({
  scheme: 'exact',
  network: 'eip155:31337',
  amount: '2500',
  // Lower case, as some servers send it: still the hub's token.
  asset: TOKEN.toLowerCase(),
  payTo: PAYOUT,
  maxTimeoutSeconds: 300,
  extra: { name: 'SOVR', version: '1' },
  ...over,
});

const l402 = (): PaymentChallenge['l402'] => ({
  kind: 'l402',
  scheme: 'L402',
  macaroon: 'AgEEbHNhdAJCAADXYmFzZTY0bWFjYXJvb24=',
  invoice: 'lnbcrt15u1pjqqqq',
  amountMsat: '1500000',
});

describe('choosing the entry and the rail', () => {
  it('a hub merchant’s SOVR entry on a hub with the sovr rail: the hub balance, with paying from the wallet offered beside it', () => {
    const c = choosePayment(x402Challenge([tollwayOption()]), PAGE, HUB, tEn, chain);
    expect(c.payment).toMatchObject({ rail: 'internal', payTo: 'm_shop', amount: '1500', asset: 'SOVR' });
    expect(c.onChain).toEqual({
      kind: 'merchant',
      payment: {
        rail: 'sovr',
        payTo: 'm_shop',
        amount: '1500',
        asset: 'SOVR',
        resource: { url: PAGE.url, method: 'GET' },
        requirement: tollwayOption(),
        description: 'Article',
      },
      domain: { name: 'SOVR', version: '1', chainId: 31337, verifyingContract: TOKEN },
      from: WALLET,
      to: TREASURY,
      validitySeconds: 600,
      minValiditySeconds: 60,
      maxValiditySeconds: 3600,
    });
  });

  it('offers nothing on chain without the rail, without a known treasury, without a wallet address, or for another asset', () => {
    expect(choosePayment(x402Challenge([tollwayOption()]), PAGE, HUB, tEn).onChain).toBeUndefined();
    expect(
      choosePayment(x402Challenge([tollwayOption()]), PAGE, HUB, tEn, { rail: { ...RAIL, treasury: null }, wallet: WALLET }).onChain,
    ).toBeUndefined();
    expect(choosePayment(x402Challenge([tollwayOption()]), PAGE, HUB, tEn, { rail: RAIL, wallet: null }).onChain).toBeUndefined();
    const btc = choosePayment(x402Challenge([tollwayOption({ asset: 'BTC' })]), PAGE, HUB, tEn, chain);
    expect(btc.payment).toMatchObject({ rail: 'internal', asset: 'BTC' });
    expect(btc.onChain).toBeUndefined();
  });

  it('an exact-only 402 for the hub’s token on the hub’s chain: the wallet, to the entry’s payTo, body unsigned until approval', () => {
    const c = choosePayment(x402Challenge([exactOption()]), PAGE, HUB, tEn, chain);
    expect(c.payment).toEqual({
      rail: 'sovr',
      payTo: PAYOUT,
      amount: '2500',
      asset: 'SOVR',
      resource: { url: PAGE.url, method: 'GET' },
      requirement: exactOption(),
      description: 'Article',
    });
    expect(c.payment?.authorization).toBeUndefined();
    expect(c.onChain).toMatchObject({
      kind: 'exact',
      to: PAYOUT,
      from: WALLET,
      validitySeconds: 300,
      domain: { name: 'SOVR', version: '1', chainId: 31337, verifyingContract: TOKEN.toLowerCase() },
    });
    expect(describeRequest(request({ payment: c.payment, challenge: x402Challenge([exactOption()]) }), tEn)).toMatchObject({
      amount: '0.0000000000000025 SOVR',
      rail: 'SOVR on chain, from your wallet',
      scheme: 'exact · eip155:31337',
    });
  });

  it('an exact entry it cannot pay is listed as such: another chain, another token, a payee that is not an address, or no rail', () => {
    for (const option of [exactOption({ network: 'eip155:8453' }), exactOption({ asset: PAYOUT }), exactOption({ payTo: 'm_shop' })]) {
      expect(isExactForRail(option, RAIL)).toBe(false);
      expect(choosePayment(x402Challenge([option]), PAGE, HUB, tEn, chain)).toMatchObject({
        payment: null,
        unpayable: expect.stringContaining('exact on eip155:'),
      });
    }
    expect(choosePayment(x402Challenge([exactOption()]), PAGE, HUB, tEn)).toMatchObject({
      payment: null,
      unpayable: 'No option this wallet can pay yet: exact on eip155:31337',
    });
  });

  it('prefers what is paid from the hub balance: tollway, then Lightning, then exact from the wallet', () => {
    const both = choosePayment(x402Challenge([exactOption(), tollwayOption()]), PAGE, HUB, tEn, chain);
    expect(both.payment).toMatchObject({ rail: 'internal', payTo: 'm_shop' });
    expect(both.onChain?.kind).toBe('merchant');
    const withLightning: PaymentChallenge = { ...x402Challenge([exactOption()]), l402: l402() };
    expect(choosePayment(withLightning, PAGE, HUB, tEn, chain).payment).toMatchObject({ rail: 'lightning' });
    // A tollway entry naming another hub is no use here; the exact entry is.
    const otherHub = choosePayment(
      x402Challenge([tollwayOption({ network: 'tollway:https://elsewhere.example' }), exactOption()]),
      PAGE,
      HUB,
      tEn,
      chain,
    );
    expect(otherHub.payment).toMatchObject({ rail: 'sovr', payTo: PAYOUT });
  });

  it('the window’s default source: the hub balance when it covers the amount (or is unknown), else the wallet; the wallet when it is the only way', () => {
    const merchant = choosePayment(x402Challenge([tollwayOption()]), PAGE, HUB, tEn, chain);
    const r = { payment: merchant.payment, onChain: merchant.onChain };
    expect(defaultPayFrom(r, [{ asset: 'SOVR', available: '1500' }])).toBe('hub');
    expect(defaultPayFrom(r, [{ asset: 'SOVR', available: '1499' }])).toBe('wallet');
    expect(defaultPayFrom(r, [])).toBe('wallet');
    expect(defaultPayFrom(r, null)).toBe('hub');
    const exact = choosePayment(x402Challenge([exactOption()]), PAGE, HUB, tEn, chain);
    expect(defaultPayFrom({ payment: exact.payment, onChain: exact.onChain }, [{ asset: 'SOVR', available: '10000' }])).toBe('wallet');
    expect(defaultPayFrom({ payment: merchant.payment, onChain: undefined }, [])).toBe('hub');
  });
});

describe('the typed data and its signature (golden values)', () => {
  it('hub merchant: TransferWithAuthorization from the wallet to the treasury, domain from GET /rails', async () => {
    const plan = merchantPlan(choosePayment(x402Challenge([tollwayOption()]), PAGE, HUB, tEn).payment!, RAIL, WALLET)!;
    const window = authorizationWindow(NOW, plan.validitySeconds);
    expect(window).toEqual({ validAfter: NOW - 600, validBefore: NOW + 600 });
    const nonce = `0x${'11'.repeat(32)}`;
    const typed = typedDataOf(plan, window, nonce);
    expect(typed).toEqual({
      domain: { name: 'SOVR', version: '1', chainId: 31337, verifyingContract: TOKEN },
      types: {
        TransferWithAuthorization: [
          { name: 'from', type: 'address' },
          { name: 'to', type: 'address' },
          { name: 'value', type: 'uint256' },
          { name: 'validAfter', type: 'uint256' },
          { name: 'validBefore', type: 'uint256' },
          { name: 'nonce', type: 'bytes32' },
        ],
      },
      primaryType: 'TransferWithAuthorization',
      message: { from: WALLET, to: TREASURY, value: '1500', validAfter: '1767225000', validBefore: '1767226200', nonce },
    });
    const signed = await signAuthorization(KEY, plan, window, tEn, nonce);
    expect(signed).toEqual({
      ...typed.message,
      signature:
        '0xf7998616ef3af8f2360144e2ef7e74127ac55e2b975ba49e8e8553b306974796037b61d063a9a09c43806bb348a0db0c9669856693e57b5bc3e4b0effcd1afd11b',
    });
    expect(ethersVerify(typed.domain, typed.types, typed.message, signed.signature)).toBe(WALLET);
    expect(
      await viemVerify({
        address: WALLET,
        domain: { ...typed.domain, verifyingContract: TOKEN as Hex },
        types: typed.types,
        primaryType: typed.primaryType,
        message: { ...typed.message, value: 1500n, validAfter: BigInt(NOW - 600), validBefore: BigInt(NOW + 600), nonce: nonce as Hex },
        signature: signed.signature as Hex,
      }),
    ).toBe(true);
    // The hub's own checks (signature under SOVR's domain, payer, treasury, value, window) pass.
    expect(() =>
      checkAuthorization(parseAuthorization(signed), {
        chainId: 31337,
        token: TOKEN,
        treasury: TREASURY,
        payer: WALLET,
        amount: 1500n,
        now: NOW + 1,
        minValiditySeconds: 60,
        maxValiditySeconds: 3600,
      }),
    ).not.toThrow();
  });

  it('exact: to the entry’s payTo, domain name and version from the entry’s extra, token as the verifying contract', async () => {
    const plan = exactPlan(exactOption(), RAIL, WALLET, { url: PAGE.url, method: 'GET' })!;
    const window = authorizationWindow(NOW, plan.validitySeconds);
    const nonce = `0x${'22'.repeat(32)}`;
    const signed = await signAuthorization(KEY, plan, window, tEn, nonce);
    expect(signed).toEqual({
      from: WALLET,
      to: PAYOUT,
      value: '2500',
      validAfter: '1767225000',
      validBefore: '1767225900',
      nonce,
      signature:
        '0x09d3dd9f34bde2b98da133d5041829626cb71d3bc1147c55839b2a2a66e78e2771e796bb694bfe8cc842011b015544a1c710407a201fc856938253d84d3bc9481c',
    });
    const { signature, ...message } = signed;
    expect(
      ethersVerify(
        { name: 'SOVR', version: '1', chainId: 31337, verifyingContract: TOKEN },
        typedDataOf(plan, window, nonce).types,
        message,
        signature,
      ),
    ).toBe(WALLET);
    expect(() =>
      checkAuthorization(parseAuthorization(signed), {
        chainId: 31337,
        token: TOKEN,
        treasury: PAYOUT,
        payer: WALLET,
        amount: 2500n,
        now: NOW + 1,
        minValiditySeconds: 60,
        maxValiditySeconds: 3600,
      }),
    ).not.toThrow();

    // A token whose domain the entry names differently is signed under that name (and only that name recovers it).
    const other = exactPlan(exactOption({ extra: { name: 'Sovereign', version: '2' } }), RAIL, WALLET, undefined)!;
    expect(other.domain).toEqual({ name: 'Sovereign', version: '2', chainId: 31337, verifyingContract: TOKEN.toLowerCase() });
    const s2 = await signAuthorization(KEY, other, window, tEn, nonce);
    const { signature: sig2, ...m2 } = s2;
    expect(
      ethersVerify(
        { name: 'Sovereign', version: '2', chainId: 31337, verifyingContract: TOKEN },
        typedDataOf(other, window, nonce).types,
        m2,
        sig2,
      ),
    ).toBe(WALLET);
    expect(
      ethersVerify(
        { name: 'SOVR', version: '1', chainId: 31337, verifyingContract: TOKEN },
        typedDataOf(other, window, nonce).types,
        m2,
        sig2,
      ),
    ).not.toBe(WALLET);
    // Without extra, GET /rails names the domain.
    expect(exactPlan(exactOption({ extra: undefined }), RAIL, WALLET, undefined)!.domain).toMatchObject({ name: 'SOVR', version: '1' });
  });

  it('refuses to sign with a key that is not the signed-in wallet, or to a payee with a wrong checksum', async () => {
    const plan = exactPlan(exactOption(), RAIL, WALLET, undefined)!;
    const window = authorizationWindow(NOW, plan.validitySeconds);
    await expect(signAuthorization(Wallet.createRandom().privateKey, plan, window, tEn)).rejects.toThrow(/not the one signed in/);
    await expect(signAuthorization(KEY, { ...plan, to: PAYOUT.replace('F79', 'f79') }, window, tEn)).rejects.toThrow(/not a valid address/);
    // A fresh random nonce every time.
    const [a, b] = await Promise.all([signAuthorization(KEY, plan, window, tEn), signAuthorization(KEY, plan, window, tEn)]);
    expect(a.nonce).toMatch(/^0x[0-9a-f]{64}$/);
    expect(a.nonce).not.toBe(b.nonce);
  });
});

describe('validity clamping', () => {
  const hub = { minValiditySeconds: 60, maxValiditySeconds: 3600 };
  it('keeps the wanted validity inside the hub’s bounds with a margin either side', () => {
    expect(clampValidity(600, hub)).toBe(600);
    expect(clampValidity(30, hub)).toBe(120);
    expect(clampValidity(3600, hub)).toBe(3540);
    expect(clampValidity(99_999, hub)).toBe(3540);
    expect(clampValidity(600, { minValiditySeconds: 600, maxValiditySeconds: 900 })).toBe(660);
    // No room for both margins: the middle of the bounds.
    expect(clampValidity(600, { minValiditySeconds: 60, maxValiditySeconds: 100 })).toBe(80);
  });

  it('an exact entry’s maxTimeoutSeconds is clamped the same way', () => {
    expect(exactPlan(exactOption({ maxTimeoutSeconds: 10 }), RAIL, WALLET, undefined)!.validitySeconds).toBe(120);
    expect(exactPlan(exactOption({ maxTimeoutSeconds: 86_400 }), RAIL, WALLET, undefined)!.validitySeconds).toBe(3540);
    expect(exactPlan(exactOption({ maxTimeoutSeconds: undefined }), RAIL, WALLET, undefined)!.validitySeconds).toBe(600);
    expect(
      exactPlan(exactOption(), { ...RAIL, minValiditySeconds: 600, maxValiditySeconds: 1200 }, WALLET, undefined)!.validitySeconds,
    ).toBe(660);
  });

  it('a window sent back with an approval is signed only while it is still inside the bounds', () => {
    const w = authorizationWindow(NOW, 600);
    expect(windowAcceptable(w, NOW, hub)).toBe(true);
    expect(windowAcceptable(w, NOW + 5, hub)).toBe(true);
    // Left on screen until fewer than min + slack (60 + 30) seconds remain.
    expect(windowAcceptable(w, NOW + 600 - 90, hub)).toBe(true);
    expect(windowAcceptable(w, NOW + 600 - 90 + 1, hub)).toBe(false);
    // Not yet valid, backdated by more than an hour, or longer than the hub allows.
    expect(windowAcceptable({ validAfter: NOW, validBefore: NOW + 600 }, NOW, hub)).toBe(false);
    expect(windowAcceptable({ validAfter: NOW - 3601, validBefore: NOW + 600 }, NOW, hub)).toBe(false);
    expect(windowAcceptable({ validAfter: NOW - 600, validBefore: NOW + 3601 }, NOW, hub)).toBe(false);
    expect(windowAcceptable({ validAfter: NOW - 600.5, validBefore: NOW + 600 }, NOW, hub)).toBe(false);
  });
});

describe('the PAYMENT-SIGNATURE of an exact payment', () => {
  const hubPayment = (status: Payment['status']): Payment => ({
    transactionId: 'pay_x',
    status,
    rail: 'sovr',
    payTo: PAYOUT,
    amount: '2500',
    asset: 'SOVR',
    resource: null,
    description: null,
    failureReason: null,
    receipt: {},
    createdAt: 'x',
    updatedAt: 'x',
  });

  async function signedRequest(status: ApprovalRequest['status']): Promise<ApprovalRequest> {
    const challenge = x402Challenge([exactOption()]);
    const plan = choosePayment(challenge, PAGE, HUB, tEn, chain).onChain!;
    const authorization = await signAuthorization(KEY, plan, authorizationWindow(NOW, plan.validitySeconds), tEn, `0x${'22'.repeat(32)}`);
    return request({
      challenge,
      onChain: plan,
      payment: { ...plan.payment, authorization },
      paidFrom: 'wallet',
      status,
      result: status === 'paying' ? null : hubPayment(status === 'submitted' ? 'submitted' : 'completed'),
    });
  }

  it('is base64 of {x402Version: 2, resource, accepted: <the entry>, payload: {signature, authorization}}, numbers as decimal strings', async () => {
    const r = await signedRequest('submitted');
    const proof = proofHeader(r)!;
    expect(proof.header).toBe('PAYMENT-SIGNATURE');
    const doc = JSON.parse(Buffer.from(proof.value, 'base64').toString('utf8')) as unknown;
    expect(doc).toEqual({
      x402Version: 2,
      resource: { url: 'https://shop.example/a', description: 'Article' },
      accepted: exactOption(),
      payload: {
        signature:
          '0x09d3dd9f34bde2b98da133d5041829626cb71d3bc1147c55839b2a2a66e78e2771e796bb694bfe8cc842011b015544a1c710407a201fc856938253d84d3bc9481c',
        authorization: {
          from: WALLET,
          to: PAYOUT,
          value: '2500',
          validAfter: '1767225000',
          validBefore: '1767225900',
          nonce: `0x${'22'.repeat(32)}`,
        },
      },
    });
    // The x402 reference decoder and the hub's merchant-side codec read it the same way.
    expect(decodePaymentSignatureHeader(proof.value)).toEqual(doc);
    expect(parsePaymentSignature(proof.value)).toMatchObject({ ok: true, value: { accepted: { scheme: 'exact', payTo: PAYOUT } } });
  });

  it('exists from the moment the hub has the payment (submitted) — not while paying, not before it is signed', async () => {
    expect(proofHeader(await signedRequest('paying'))).toBeNull();
    expect(proofHeader(await signedRequest('completed'))?.header).toBe('PAYMENT-SIGNATURE');
    const unsigned = await signedRequest('submitted');
    expect(proofHeader({ ...unsigned, payment: unsigned.onChain!.payment })).toBeNull();
  });

  it('a hub merchant paid from the wallet proves with the hub’s receipt, once completed, as any tollway payment', () => {
    const challenge = x402Challenge([tollwayOption()]);
    const c = choosePayment(challenge, PAGE, HUB, tEn, chain);
    const payment = { ...c.onChain!.payment, authorization: { signed: 'elsewhere' } };
    const result = { ...hubPayment('completed'), payTo: 'm_shop', receipt: { token: 'eyJ.receipt', transactionHash: '0xabc' } };
    expect(
      proofHeader(
        request({
          challenge,
          payment,
          status: 'submitted',
          result: { ...result, status: 'submitted', receipt: { transactionHash: '0xabc' } },
        }),
      ),
    ).toBeNull();
    const proof = proofHeader(request({ challenge, payment, status: 'completed', result }))!;
    expect(parsePaymentSignature(proof.value)).toMatchObject({
      ok: true,
      value: { accepted: { scheme: 'tollway' }, payload: { receipt: 'eyJ.receipt' } },
    });
  });
});
