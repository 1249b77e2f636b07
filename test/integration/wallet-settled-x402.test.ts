/**
 * A wallet-settled payment end to end, with nothing of Tollway's on the shop's side: a local chain
 * standing for another network (its own chain id) with the USDC-like token, an `@x402/express`
 * shop whose facilitator is the reference one, and a payer who signs the EIP-3009 authorization with
 * ethers as the extension will. The payment is recorded at the hub before it is sent, the shop
 * settles it on chain, and the transaction from PAYMENT-RESPONSE finishes it at the hub (SQLite and
 * PostgreSQL). The same signed bytes sent again settle nothing more.
 */
import { decodePaymentRequiredHeader, decodePaymentResponseHeader } from '@x402/core/http';
import type { PaymentRequirements } from '@x402/core/types';
import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Payment } from '../../shared/api.js';
import { encodePaymentSignature } from '../../shared/challenge/x402.js';
import { exactPayload } from '../../shared/eip3009.js';
import { tokenAsset } from '../../shared/wallet-payments.js';
import { pay, signIn, startTestHub, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced, rowCounts } from '../helpers/invariant.js';
import { ENGINES } from '../helpers/stores.js';
import { startUsdcChain, type UsdcChain } from '../helpers/usdc-chain.js';
import { signTransfer, walletPaymentBody } from '../helpers/usdc-payer.js';
import { referenceFacilitator, startReferenceShop, type ReferenceShop } from '../helpers/x402-reference-shop.js';

const PRICE = 10_000n; // 0.01 USDC

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
});
afterAll(async () => {
  await shop?.close();
  await bed?.stop();
});

describe.each(ENGINES)('a USDC payment the wallet settles, recorded at the hub on %s', (engine) => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub(engine);
  });
  afterAll(async () => t?.stop());

  it('is signed, recorded, settled by the reference shop, finished with its transaction, and never settles twice', async () => {
    const payer = Wallet.createRandom() as unknown as Wallet;
    await bed.fund(payer.address, 1_000_000n);
    const session = await signIn(t.url, payer);
    const auth = { 'content-type': 'application/json', authorization: `Bearer ${session.accessToken}` };
    const ledgerBefore = await rowCounts(t.store.db);

    // The shop's 402, read with the reference decoder.
    const first = await fetch(shop.articleUrl);
    expect(first.status).toBe(402);
    const required = decodePaymentRequiredHeader(first.headers.get('payment-required')!);
    const entry = required.accepts[0] as PaymentRequirements;
    expect(entry).toMatchObject({
      scheme: 'exact',
      network: `eip155:${bed.chain.chainId}`,
      asset: bed.usdc.address,
      amount: PRICE.toString(),
      payTo,
      extra: { name: 'USD Coin', version: '2' },
    });

    // The wallet signs with the entry's domain, and records the payment before sending it.
    const signed = await signTransfer(payer, bed.token, entry.payTo, BigInt(entry.amount), { validFor: entry.maxTimeoutSeconds });
    const recorded = await pay(
      t.url,
      session,
      `x402-${engine}`,
      walletPaymentBody(bed.token, signed, { resource: { url: shop.articleUrl } }),
    );
    expect(recorded.status).toBe(200);
    const pending = (await recorded.json()) as Payment;
    expect(pending).toMatchObject({ status: 'pending', rail: 'wallet', asset: tokenAsset(bed.chain.chainId, bed.usdc.address) });

    const payeeBefore = await bed.usdc.contract.balanceOf(payTo);
    const header = encodePaymentSignature({ resource: required.resource, accepted: entry as never, payload: exactPayload(signed) });
    const paid = await fetch(shop.articleUrl, { headers: { 'PAYMENT-SIGNATURE': header } });
    expect(paid.status).toBe(200);
    expect(await paid.json()).toEqual({ title: 'Paid in USDC', body: 'Thanks for reading.' });
    const settlement = decodePaymentResponseHeader(paid.headers.get('payment-response')!);
    expect(settlement).toMatchObject({ success: true, network: `eip155:${bed.chain.chainId}`, payer: payer.address });
    const receipt = await bed.chain.provider.getTransactionReceipt(settlement.transaction);
    expect(receipt?.status).toBe(1);
    expect(await bed.usdc.contract.balanceOf(payTo)).toBe(payeeBefore + PRICE);
    expect(await bed.usdc.contract.balanceOf(payer.address)).toBe(1_000_000n - PRICE);

    const done = await fetch(`${t.url}/payments/${pending.transactionId}/settlement`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ status: 'completed', transaction: settlement.transaction }),
    });
    expect(done.status).toBe(200);
    expect(await done.json()).toMatchObject({ status: 'completed', receipt: { transactionHash: settlement.transaction.toLowerCase() } });
    const list = (await (await fetch(`${t.url}/payments`, { headers: auth })).json()) as { data: Payment[] };
    expect(list.data).toEqual([expect.objectContaining({ transactionId: pending.transactionId, status: 'completed' })]);

    // A worker that died between signing and retrying sends the same bytes: the nonce is spent.
    const again = await fetch(shop.articleUrl, { headers: { 'PAYMENT-SIGNATURE': header } });
    expect(again.status).toBe(402);
    expect(await bed.usdc.contract.balanceOf(payer.address)).toBe(1_000_000n - PRICE);
    expect(await bed.usdc.contract.balanceOf(payTo)).toBe(payeeBefore + PRICE);
    // … and recording them again is refused, so the books hold the payment once.
    const twice = await pay(t.url, session, `x402-${engine}-again`, walletPaymentBody(bed.token, signed));
    expect(twice.status).toBe(409);

    // The hub moved nothing of its own.
    const after = await rowCounts(t.store.db);
    expect([after.ledger_transfers, after.ledger_accounts]).toEqual([ledgerBefore.ledger_transfers, ledgerBefore.ledger_accounts]);
    await expectLedgerBalanced(t.store.db);
  });
});
