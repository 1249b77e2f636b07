/**
 * SOVR speaks x402's `exact` EVM scheme: the reference client (@x402/evm 2.27) signs payments our
 * contract accepts, and the reference facilitator verifies and settles them on our chain.
 */
import { x402Client } from '@x402/core/client';
import type { PaymentPayload, PaymentRequired, PaymentRequirements } from '@x402/core/types';
import { eip3009ABI, toFacilitatorEvmSigner } from '@x402/evm';
import { registerExactEvmScheme } from '@x402/evm/exact/client';
import { ExactEvmScheme as ExactEvmFacilitator } from '@x402/evm/exact/facilitator';
import { Interface, Signature, type TransactionReceipt, type Wallet } from 'ethers';
import { createWalletClient, http, publicActions, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { hardhat } from 'viem/chains';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SovrContract } from '../../contracts/deploy.js';
import { SOVR_EIP712_NAME, SOVR_EIP712_VERSION } from '../../contracts/eip712.js';
import { deploySovr, startChain, type SovrDeployment, type TestChain } from '../helpers/chain.js';

const SOVR = 10n ** 18n;

let chain: TestChain;
let sovr: SovrDeployment;
let payer: Wallet, merchant: Wallet, relayer: Wallet;
let network: `eip155:${number}`;

/** What a Tollway merchant's 402 offers for SOVR: the x402 v2 `exact` entry. */
function requirements(amount: bigint): PaymentRequirements {
  return {
    scheme: 'exact',
    network,
    amount: amount.toString(),
    asset: sovr.address,
    payTo: merchant.address,
    maxTimeoutSeconds: 300,
    extra: { name: SOVR_EIP712_NAME, version: SOVR_EIP712_VERSION },
  };
}

function paymentRequired(req: PaymentRequirements): PaymentRequired {
  return {
    x402Version: 2,
    resource: { url: 'https://shop.example/articles/1', description: 'article', mimeType: 'text/html' },
    accepts: [req],
  };
}

/** The reference client, signing with a viem local account as its docs show. */
function referenceClient(opts: { allowSovr: boolean }) {
  const client = new x402Client();
  registerExactEvmScheme(client, { signer: privateKeyToAccount(payer.privateKey as Hex), networks: [network] });
  // x402 clients pay only well-known assets (USDC…) unless told otherwise: a Tollway client must
  // list SOVR explicitly.
  if (opts.allowSovr) client.setSpendControls({ allowedAssets: [{ network, asset: sovr.address }] });
  return client;
}

interface Eip3009Payload {
  signature: string;
  authorization: { from: string; to: string; value: string; validAfter: string; validBefore: string; nonce: string };
}

beforeAll(async () => {
  chain = await startChain();
  const [deployer, a, b, c] = chain.accounts as [Wallet, Wallet, Wallet, Wallet];
  [payer, merchant, relayer] = [a, b, c];
  network = `eip155:${chain.chainId}`;
  sovr = await deploySovr(chain, deployer);
  await sovr.mint(payer.address, 100n * SOVR);
});

afterAll(async () => chain?.stop());

describe('the x402 reference client', () => {
  it('has the same transferWithAuthorization overloads and getters in its ABI as SOVR', () => {
    const ours = new Interface(sovr.contract.interface.fragments);
    for (const f of new Interface(eip3009ABI as never).fragments) {
      if (f.type !== 'function') continue;
      const sig = f.format('sighash');
      expect(ours.getFunction(sig)?.format('sighash'), sig).toBe(sig);
    }
  });

  it('refuses a non-default asset such as SOVR unless its spend controls allow it', async () => {
    await expect(referenceClient({ allowSovr: false }).createPaymentPayload(paymentRequired(requirements(SOVR)))).rejects.toThrow(
      /spendControls/,
    );
  });

  it('signs a payment that SOVR executes with transferWithAuthorization, in both signature forms', async () => {
    const client = referenceClient({ allowSovr: true });
    const token = sovr.contract.connect(relayer) as SovrContract;
    for (const [i, form] of (['vrs', 'bytes'] as const).entries()) {
      const amount = BigInt(i + 1) * SOVR;
      const created = (await client.createPaymentPayload(paymentRequired(requirements(amount)))) as PaymentPayload;
      expect(created.x402Version).toBe(2);
      const { authorization: a, signature } = created.payload as unknown as Eip3009Payload;
      expect([a.from, a.to, a.value]).toEqual([payer.address, merchant.address, amount.toString()]);

      const before = [await token.balanceOf(payer.address), await token.balanceOf(merchant.address)];
      const args = [a.from, a.to, BigInt(a.value), BigInt(a.validAfter), BigInt(a.validBefore), a.nonce];
      const { v, r, s } = Signature.from(signature);
      const tx =
        form === 'vrs'
          ? await token.getFunction('transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)')(
              ...args,
              v,
              r,
              s,
            )
          : await token.getFunction('transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,bytes)')(...args, signature);
      const receipt = (await tx.wait()) as TransactionReceipt;
      expect(receipt.status).toBe(1);
      expect(await token.balanceOf(payer.address)).toBe(before[0]! - amount);
      expect(await token.balanceOf(merchant.address)).toBe(before[1]! + amount);
      expect(await token.authorizationState(payer.address, a.nonce)).toBe(true);
    }
  });
});

describe('the x402 reference facilitator', () => {
  it('verifies and settles a SOVR payment on the local chain, and refuses to settle it twice', async () => {
    const wallet = createWalletClient({
      account: privateKeyToAccount(relayer.privateKey as Hex),
      chain: { ...hardhat, id: chain.chainId },
      transport: http(chain.rpcUrl),
    }).extend(publicActions);
    const facilitator = new ExactEvmFacilitator(toFacilitatorEvmSigner({ ...wallet, address: wallet.account.address } as never));
    const req = requirements(5n * SOVR);
    const payload = await referenceClient({ allowSovr: true }).createPaymentPayload(paymentRequired(req));
    const before = [await sovr.contract.balanceOf(payer.address), await sovr.contract.balanceOf(merchant.address)];

    expect(await facilitator.verify(payload, req)).toMatchObject({ isValid: true, payer: payer.address });
    const settled = await facilitator.settle(payload, req);
    expect(settled).toMatchObject({ success: true, network, payer: payer.address });
    const receipt = await chain.provider.getTransactionReceipt(settled.transaction);
    expect(receipt?.status).toBe(1);
    expect(await sovr.contract.balanceOf(payer.address)).toBe(before[0]! - 5n * SOVR);
    expect(await sovr.contract.balanceOf(merchant.address)).toBe(before[1]! + 5n * SOVR);

    // Our revert text is what the facilitator maps to its nonce-reuse reason.
    const again = await facilitator.settle(payload, req);
    expect(again).toMatchObject({ success: false, errorReason: 'invalid_exact_evm_nonce_already_used' });
    expect(await sovr.contract.balanceOf(merchant.address)).toBe(before[1]! + 5n * SOVR);
  });
});
