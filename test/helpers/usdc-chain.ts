/**
 * A local chain that stands for another network than the hub's: hardhat on a chain id of its own,
 * with the USDC-like token (contracts/usdc-like.ts) deployed and a payer funded.
 */
import type { Wallet } from 'ethers';
import type { SovrDeployment } from '../../contracts/deploy.js';
import { USDC_LIKE, deployUsdcLike } from '../../contracts/usdc-like.js';
import { startChain, type TestChain } from './chain.js';
import type { TokenRef } from './usdc-payer.js';

/** Neither hardhat's 31337 (the hub's SOVR chain in tests) nor any public network's. */
export const USDC_TEST_CHAIN_ID = 31_338;

export interface UsdcChain {
  chain: TestChain;
  usdc: SovrDeployment;
  /** The token as an x402 entry names it. */
  token: TokenRef;
  /** Mints `amount` base units (6 decimals) to `to`. */
  fund(to: string, amount: bigint): Promise<void>;
  stop(): Promise<void>;
}

export async function startUsdcChain(opts: { chainId?: number; deployer?: (chain: TestChain) => Wallet } = {}): Promise<UsdcChain> {
  const chain = await startChain({ chainId: opts.chainId ?? USDC_TEST_CHAIN_ID });
  try {
    const deployer = opts.deployer?.(chain) ?? chain.accounts[0]!;
    const usdc = await deployUsdcLike(deployer.connect(chain.provider));
    return {
      chain,
      usdc,
      token: { chainId: chain.chainId, address: usdc.address, name: USDC_LIKE.name, version: USDC_LIKE.version },
      async fund(to, amount) {
        await usdc.mint(to, amount);
      },
      stop: () => chain.stop(),
    };
  } catch (err) {
    await chain.stop();
    throw err;
  }
}
