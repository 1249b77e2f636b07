/**
 * A development chain with SOVR on it: what `npm start` needs, and a script for trying the
 * contract by hand (`tsx contracts/dev-chain.ts`, port from CHAIN_PORT, default 8545; Ctrl-C stops).
 */
import { pathToFileURL } from 'node:url';
import { deploySovr, type SovrDeployment } from './deploy.js';
import { startLocalChain, type LocalChain } from './local-chain.js';

export const DEFAULT_CHAIN_PORT = 8545;

export interface DevChain {
  chain: LocalChain;
  /** Deployed by chain.accounts[0], the owner, so it is the first contract of a fresh chain and
   *  always at the same address (0x5FbDB2315678afecb367f032d93F642f64180aa3). */
  sovr: SovrDeployment;
}

export async function startDevChain(opts: { port?: number; host?: string; onOutput?: (line: string) => void } = {}): Promise<DevChain> {
  const chain = await startLocalChain({ port: opts.port ?? DEFAULT_CHAIN_PORT, host: opts.host, onOutput: opts.onOutput });
  try {
    return { chain, sovr: await deploySovr(chain.accounts[0]!) };
  } catch (err) {
    await chain.stop();
    throw err;
  }
}

async function main(): Promise<void> {
  const port = process.env.CHAIN_PORT ? Number(process.env.CHAIN_PORT) : DEFAULT_CHAIN_PORT;
  if (!Number.isInteger(port) || port <= 0 || port > 65_535)
    throw new Error(`CHAIN_PORT must be a TCP port, not "${process.env.CHAIN_PORT}"`);
  const { chain, sovr } = await startDevChain({ port });
  process.stdout.write(
    `local chain ${chain.chainId} at ${chain.rpcUrl}\nSOVR at ${sovr.address} (owner ${chain.accounts[0]!.address}, hardhat dev account 0)\n`,
  );
  const stop = () => void chain.stop().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  setInterval(() => {}, 1 << 30); // the node is unref'd: keep this process (and so the chain) alive
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`dev-chain: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
