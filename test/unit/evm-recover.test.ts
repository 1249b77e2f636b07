/**
 * Settlements the worker missed, looked up on a real local chain (the USDC-like token on 31338)
 * through the RPC URL the person gave: an authorization the reference shop settled is found by its
 * AuthorizationUsed event and reported completed with that transaction; one that expired unused is
 * reported failed; a network without an RPC URL, or a request retried just now, is left alone.
 */
import { decodePaymentRequiredHeader, decodePaymentResponseHeader } from '@x402/core/http';
import type { PaymentRequirements } from '@x402/core/types';
import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Payment } from '../../shared/api.js';
import { encodePaymentSignature } from '../../shared/challenge/x402.js';
import { exactPayload, type SignedAuthorization } from '../../shared/eip3009.js';
import type { SettlementReport } from '../../shared/wallet-payments.js';
import { createEvmRecovery, RECOVER_AFTER_MS } from '../../extension/background/evm-recover.js';
import { planEntry } from '../../extension/background/evm-plan.js';
import type { NetworkSettings } from '../../extension/common/networks.js';
import { KEYS } from '../../extension/common/state.js';
import { writeRequestList } from '../../extension/common/storage.js';
import { request, x402Challenge } from '../helpers/extension-fixtures.js';
import { tEn } from '../helpers/i18n-en.js';
import { MemoryStorage } from '../helpers/memory-storage.js';
import { startUsdcChain, type UsdcChain } from '../helpers/usdc-chain.js';
import { signTransfer } from '../helpers/usdc-payer.js';
import { referenceFacilitator, startReferenceShop, type ReferenceShop } from '../helpers/x402-reference-shop.js';

const PRICE = 10_000n;
let bed: UsdcChain;
let shop: ReferenceShop;
const payTo = Wallet.createRandom().address;

beforeAll(async () => {
  bed = await startUsdcChain();
  const facilitator = referenceFacilitator({
    rpcUrl: bed.chain.rpcUrl,
    chainId: bed.chain.chainId,
    relayerKey: bed.chain.accounts[2]!.privateKey,
  });
  shop = await startReferenceShop({ facilitator, token: bed.token, payTo, price: PRICE });
}, 60_000);
afterAll(async () => {
  await shop?.close();
  await bed?.stop();
});

const networks = (rpcUrl?: string): NetworkSettings => [
  {
    chainId: bed.chain.chainId,
    name: 'Test chain',
    aliases: [],
    explorer: 'https://explorer.example',
    ...(rpcUrl ? { rpcUrl } : {}),
    enabled: true,
    tokens: [{ address: bed.usdc.address, symbol: 'USDC', decimals: 6, eip712: { name: 'USD Coin', version: '2' }, enabled: true }],
  },
];

const pendingPayment = (id: string): Payment => ({
  transactionId: id,
  status: 'pending',
  rail: 'wallet',
  payTo,
  amount: PRICE.toString(),
  asset: `eip155:${bed.chain.chainId}/erc20:${bed.usdc.address.toLowerCase()}`,
  resource: null,
  description: null,
  failureReason: null,
  receipt: {},
  createdAt: '2026-12-07T12:00:00.000Z',
  updatedAt: '2026-12-07T12:00:00.000Z',
});

/** A request as the worker leaves it once the hub has the payment and the page was retried. */
function submitted(id: string, signed: SignedAuthorization, updatedAt: number) {
  const option = {
    scheme: 'exact',
    network: `eip155:${bed.chain.chainId}`,
    amount: PRICE.toString(),
    asset: bed.usdc.address,
    payTo,
    maxTimeoutSeconds: 300,
    extra: { name: 'USD Coin', version: '2' },
  };
  const evm = planEntry(option, 0, networks())!;
  return request({
    id,
    status: 'submitted',
    updatedAt,
    challenge: x402Challenge([option]),
    evm,
    payment: {
      rail: 'wallet',
      payTo,
      amount: PRICE.toString(),
      asset: pendingPayment(id).asset,
      requirement: option,
      authorization: { ...signed, eip712: { name: 'USD Coin', version: '2' } },
    },
    result: pendingPayment(id),
  });
}

describe('settlements the worker missed, asked of the chain', () => {
  it('reports the transaction an authorization settled in, and an expired unused one as failed; nothing without an RPC URL', async () => {
    const payer = Wallet.createRandom() as unknown as Wallet;
    await bed.fund(payer.address, 1_000_000n);
    // Paid at the reference shop; the worker never saw the answer.
    const first = await fetch(shop.articleUrl);
    const entry = decodePaymentRequiredHeader(first.headers.get('payment-required')!).accepts[0] as PaymentRequirements;
    const settledSig = await signTransfer(payer, bed.token, payTo, PRICE, { validFor: 300 });
    const paid = await fetch(shop.articleUrl, {
      headers: { 'PAYMENT-SIGNATURE': encodePaymentSignature({ accepted: entry as never, payload: exactPayload(settledSig) }) },
    });
    expect(paid.status).toBe(200);
    const tx = decodePaymentResponseHeader(paid.headers.get('payment-response')!).transaction;
    // Signed, never used, and expired fifteen minutes ago.
    const now = Date.now();
    const expiredSig = await signTransfer(payer, bed.token, payTo, PRICE, { nowSeconds: Math.floor(now / 1000) - 1000, validFor: 100 });
    // Signed just now: the ordinary path may still report it.
    const recentSig = await signTransfer(payer, bed.token, payTo, PRICE);

    const local = new MemoryStorage();
    const old = now - RECOVER_AFTER_MS - 1;
    await local.set({
      [KEYS.history]: writeRequestList([
        submitted('p-settled', settledSig, old),
        submitted('p-expired', expiredSig, old),
        submitted('p-recent', recentSig, now),
      ]),
    });
    const reports: [string, SettlementReport][] = [];
    const recovery = (rpcUrl?: string) =>
      createEvmRecovery({
        local,
        t: tEn,
        fetch,
        networks: async () => networks(rpcUrl),
        report: async (id, report) => {
          reports.push([id, report]);
          return true;
        },
        now: () => now,
      });

    // No RPC URL: no one is asked.
    expect(await recovery().run()).toBe(0);
    expect(reports).toEqual([]);

    expect(await recovery(bed.chain.rpcUrl).run()).toBe(2);
    expect(reports).toEqual([
      ['p-settled', { status: 'completed', transaction: tx, blockExplorerUrl: `https://explorer.example/tx/${tx}` }],
      ['p-expired', { status: 'failed', reason: 'the signed authorization expired without being settled on chain' }],
    ]);
  });
});
