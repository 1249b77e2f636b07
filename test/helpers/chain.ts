/**
 * A real local chain for tests: `hardhat node` on a free port, with SOVR deployable on it.
 * The work is done by contracts/local-chain.ts and contracts/deploy.ts, which `npm start` shares.
 */
import type { Wallet } from 'ethers';
import { deploySovr as deploySovrWith, type SovrDeployment } from '../../contracts/deploy.js';
import { ChainPortInUseError, startLocalChain, type LocalChain } from '../../contracts/local-chain.js';
import { freePort } from './hub.js';

export type TestChain = LocalChain;
export type { SovrDeployment };

/**
 * Starts a chain; call `stop()` in afterAll. A free port can be taken by someone else before the
 * node binds it, so a port clash is retried on a new port.
 */
export async function startChain(
  opts: { automine?: boolean; chainId?: number; onOutput?: (line: string) => void } = {},
): Promise<TestChain> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startLocalChain({ port: await freePort(), automine: opts.automine, chainId: opts.chainId, onOutput: opts.onOutput });
    } catch (err) {
      if (!(err instanceof ChainPortInUseError) || attempt >= 3) throw err;
    }
  }
}

/** Deploys SOVR from `deployer` (any funded wallet; accounts[0] by convention), who becomes its owner. */
export function deploySovr(chain: TestChain, deployer: Wallet = chain.accounts[0]!): Promise<SovrDeployment> {
  return deploySovrWith(deployer.connect(chain.provider));
}
