/** The local-chain harness itself: accounts, mining control, dropping, stopping, and the artifact cache. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { getCreateAddress, parseEther, type Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSovrArtifact, SOVR_EVM_VERSION } from '../../contracts/compile.js';
import { ChainPortInUseError, startLocalChain } from '../../contracts/local-chain.js';
import { deploySovr, startChain, type TestChain } from '../helpers/chain.js';
import { freePort } from '../helpers/hub.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Resolves once `pid` is gone; the test's own timeout bounds the wait. */
async function gone(pid: number): Promise<void> {
  while (alive(pid)) await new Promise((r) => setTimeout(r, 50));
}

describe('a local chain', () => {
  let chain: TestChain;
  beforeAll(async () => {
    chain = await startChain();
  });
  afterAll(async () => chain?.stop());

  it('is chain 31337 with hardhat’s well-known funded dev accounts', async () => {
    expect(chain.chainId).toBe(31337);
    expect(Number((await chain.provider.getNetwork()).chainId)).toBe(31337);
    expect(chain.accounts).toHaveLength(20);
    expect(chain.accounts[0]!.address).toBe('0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266');
    expect(await chain.provider.getBalance(chain.accounts[19]!.address)).toBe(parseEther('10000'));
  });

  it('holds transactions while automine is off, mines on demand, and can drop a pending one', async () => {
    const [, a, b] = chain.accounts as [Wallet, Wallet, Wallet];
    await chain.setAutomine(false);
    try {
      const start = await chain.provider.getBlockNumber();
      const kept = await a.sendTransaction({ to: b.address, value: 1n });
      const dropped = await b.sendTransaction({ to: a.address, value: 2n });
      expect(await chain.provider.getTransactionReceipt(kept.hash)).toBeNull();
      expect(await chain.dropTransaction(dropped.hash)).toBe(true);

      await chain.mine();
      expect(await chain.provider.getBlockNumber()).toBe(start + 1);
      expect((await chain.provider.getTransactionReceipt(kept.hash))?.blockNumber).toBe(start + 1);
      expect(await chain.provider.getTransaction(dropped.hash)).toBeNull();

      await chain.mine(5);
      expect(await chain.provider.getBlockNumber()).toBe(start + 6);
    } finally {
      await chain.setAutomine(true);
    }
  });

  it('deploys SOVR and mints with the deployer as owner', async () => {
    const [deployer, holder] = chain.accounts as [Wallet, Wallet];
    const nonce = await chain.provider.getTransactionCount(deployer.address);
    const sovr = await deploySovr(chain, deployer);
    expect(sovr.address).toBe(getCreateAddress({ from: deployer.address, nonce }));
    await sovr.mint(holder.address, 5n);
    expect(await sovr.contract.balanceOf(holder.address)).toBe(5n);
    expect(await sovr.contract.owner()).toBe(deployer.address);
    // Same length as the compiled runtime code (its immutables are filled in at deployment).
    expect((await chain.provider.getCode(sovr.address)).length).toBe(loadSovrArtifact().deployedBytecode.length);
  });
});

describe('starting and stopping', () => {
  it('can start with automine off', async () => {
    const chain = await startChain({ automine: false });
    try {
      const [a, b] = chain.accounts as [Wallet, Wallet];
      const tx = await a.sendTransaction({ to: b.address, value: 1n });
      expect(await chain.provider.getTransactionReceipt(tx.hash)).toBeNull();
      await chain.mine();
      expect((await chain.provider.getTransactionReceipt(tx.hash))?.status).toBe(1);
    } finally {
      await chain.stop();
    }
  });

  it('stop() ends the node process, frees the port, and may be called twice', async () => {
    const chain = await startChain();
    await chain.stop();
    await chain.stop();
    expect(alive(chain.pid)).toBe(false);
    await expect(fetch(chain.rpcUrl, { method: 'POST', body: '{}' })).rejects.toThrow();
  });

  it('refuses a port another node already answers on, rather than using that node', async () => {
    const first = await startChain();
    try {
      const port = Number(new URL(first.rpcUrl).port);
      await expect(startLocalChain({ port })).rejects.toBeInstanceOf(ChainPortInUseError);
      expect(await first.provider.getBlockNumber()).toBeGreaterThanOrEqual(0);
    } finally {
      await first.stop();
    }
  });

  it('does not outlive the process that started it, even one killed with SIGKILL', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/chain-owner.ts', import.meta.url));
    const owner = spawn(process.execPath, ['--import', 'tsx', fixture, String(await freePort())], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const [line] = (await once(createInterface({ input: owner.stdout! }), 'line')) as [string];
      const { pid } = JSON.parse(line) as { pid: number };
      expect(alive(pid)).toBe(true);
      owner.kill('SIGKILL');
      await gone(pid);
    } finally {
      owner.kill('SIGKILL');
    }
  });
});

describe('the SOVR artifact', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sovr-build-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is compiled when missing, reused while the source is unchanged, and recompiled when stale', () => {
    const fresh = loadSovrArtifact({ buildDir: dir });
    expect(fresh.evmVersion).toBe(SOVR_EVM_VERSION);
    expect(fresh.solcVersion).toMatch(/^0\.8\.30/);
    expect(fresh.bytecode).toMatch(/^0x[0-9a-f]+$/);
    const file = join(dir, 'SOVR.json');

    // Reused: a marker written into the file survives a second load.
    writeFileSync(file, JSON.stringify({ ...fresh, contractName: 'marker' }));
    expect(loadSovrArtifact({ buildDir: dir }).contractName).toBe('marker');

    // Stale: a different source hash means the file is rebuilt from SOVR.sol.
    writeFileSync(file, JSON.stringify({ ...fresh, sourceHash: 'stale', bytecode: '0x00' }));
    expect(loadSovrArtifact({ buildDir: dir })).toEqual(fresh);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(fresh);
  });
});
