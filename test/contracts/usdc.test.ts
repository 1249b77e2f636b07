/**
 * The USDC-like test token (contracts/usdc-like.ts) on a chain id of its own: USDC's name, EIP-712
 * version and 6 decimals on SOVR's EIP-3009 contract, so authorizations signed for "USD Coin"
 * version "2" execute, and one signed for any other domain does not.
 */
import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SovrContract } from '../../contracts/deploy.js';
import { USDC_LIKE, usdcLikeSource } from '../../contracts/usdc-like.js';
import { USDC_TEST_CHAIN_ID, startUsdcChain, type UsdcChain } from '../helpers/usdc-chain.js';
import { signTransfer } from '../helpers/usdc-payer.js';

const TRANSFER_WITH_SIGNATURE = 'transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,bytes)';

let bed: UsdcChain;
beforeAll(async () => {
  bed = await startUsdcChain();
});
afterAll(async () => bed?.stop());

describe('the USDC-like token', () => {
  it('runs on a chain id of its own with USDC’s name, symbol, EIP-712 version and decimals', async () => {
    expect(bed.chain.chainId).toBe(USDC_TEST_CHAIN_ID);
    const c = bed.usdc.contract;
    expect([await c.name(), await c.symbol(), await c.version(), await c.decimals()]).toEqual(['USD Coin', 'USDC', '2', 6n]);
    const domain = await c.eip712Domain();
    expect([domain[1], domain[2], domain[3], domain[4]]).toEqual(['USD Coin', '2', BigInt(USDC_TEST_CHAIN_ID), bed.usdc.address]);
  });

  it('executes an EIP-3009 authorization signed for its domain once, and refuses one signed for another', async () => {
    const payer = Wallet.createRandom();
    const shop = Wallet.createRandom().address;
    await bed.fund(payer.address, 1_000_000n);
    const relayed = bed.usdc.contract.connect(bed.chain.accounts[1]!) as SovrContract;
    const send = (a: Awaited<ReturnType<typeof signTransfer>>) =>
      relayed.getFunction(TRANSFER_WITH_SIGNATURE)(a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, a.signature);

    const signed = await signTransfer(payer, bed.token, shop, 10_000n);
    expect((await (await send(signed)).wait())?.status).toBe(1);
    expect(await bed.usdc.contract.balanceOf(shop)).toBe(10_000n);
    expect(await bed.usdc.contract.authorizationState(payer.address, signed.nonce)).toBe(true);
    await expect(send(signed)).rejects.toThrow(/authorization is used or canceled/);

    const asSovr = await signTransfer(payer, { ...bed.token, name: 'SOVR', version: '1' }, shop, 10_000n);
    await expect(send(asSovr)).rejects.toThrow(/invalid signature/);
    expect(await bed.usdc.contract.balanceOf(shop)).toBe(10_000n);
    expect(await bed.usdc.contract.balanceOf(payer.address)).toBe(990_000n);
  });

  it('is derived from SOVR.sol by its four constants, and says so when SOVR.sol changes them', () => {
    const sovr =
      'string public constant name = "SOVR";string public constant symbol = "SOVR";uint8 public constant decimals = 18;string public constant version = "1";';
    expect(usdcLikeSource(sovr)).toBe(
      `string public constant name = "${USDC_LIKE.name}";string public constant symbol = "USDC";uint8 public constant decimals = 6;string public constant version = "2";`,
    );
    expect(() => usdcLikeSource(sovr.replace('decimals = 18', 'decimals = 8'))).toThrow(/update contracts\/usdc-like.ts/);
  });
});
