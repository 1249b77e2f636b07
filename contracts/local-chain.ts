/**
 * A local EVM chain: `hardhat node` (contracts/hardhat.config.cjs) in a child process.
 * Used by the tests (test/helpers/chain.ts) and by `npm start`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HDNodeWallet, JsonRpcProvider, Wallet } from 'ethers';

const CONTRACTS_DIR = dirname(fileURLToPath(import.meta.url));
export const HARDHAT_CONFIG_PATH = join(CONTRACTS_DIR, 'hardhat.config.cjs');
const RUNNER_PATH = join(CONTRACTS_DIR, 'hardhat-node.cjs');

interface HardhatNetworkConfig {
  chainId: number;
  accounts: { mnemonic: string; count: number };
}
const hardhatNetwork = (createRequire(import.meta.url)(HARDHAT_CONFIG_PATH) as { networks: { hardhat: HardhatNetworkConfig } }).networks
  .hardhat;

/** The chain id `hardhat node` runs with (31337). */
export const LOCAL_CHAIN_ID = hardhatNetwork.chainId;
/** The public dev mnemonic the chain funds its accounts from (known to everyone: dev only). */
export const DEV_MNEMONIC = hardhatNetwork.accounts.mnemonic;
export const DEV_ACCOUNT_COUNT = hardhatNetwork.accounts.count;

/** Hardhat's well-known funded dev wallets (m/44'/60'/0'/0/i), connected to `provider` if given. */
export function devWallets(provider?: JsonRpcProvider, count = DEV_ACCOUNT_COUNT): Wallet[] {
  const parent = HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, "m/44'/60'/0'/0");
  return Array.from({ length: count }, (_, i) => new Wallet(parent.deriveChild(i).privateKey, provider ?? null));
}

export interface LocalChainOptions {
  port: number;
  host?: string;
  /** Start with automine on (the default) or off. */
  automine?: boolean;
  /** A chain id other than 31337: a chain that stands for another network (one of the person's tokens). */
  chainId?: number;
  /** How long to wait for the first `eth_chainId` answer. */
  readyTimeoutMs?: number;
  /** Receives the node's output lines (RPC logs only with TOLLWAY_CHAIN_LOGGING=1). */
  onOutput?: (line: string) => void;
}

export interface LocalChain {
  rpcUrl: string;
  chainId: number;
  provider: JsonRpcProvider;
  /** The funded dev wallets, connected to `provider`. accounts[0] is the usual deployer. */
  accounts: Wallet[];
  pid: number;
  /** Raw JSON-RPC, e.g. `send('hardhat_dropTransaction', [hash])`. */
  send(method: string, params?: unknown[]): Promise<unknown>;
  /** Mines `n` blocks (default 1), with or without automine. */
  mine(n?: number): Promise<void>;
  setAutomine(on: boolean): Promise<void>;
  /** Removes a pending transaction from the mempool; true if it was there. */
  dropTransaction(hash: string): Promise<boolean>;
  /** Timestamp of the latest block, seconds: what contract-side time checks compare against. */
  latestTimestamp(): Promise<bigint>;
  /** Ends the node (its whole process group) and the provider. Safe to call twice. */
  stop(): Promise<void>;
}

/** Thrown when the node could not take the port, so a caller can retry on another. */
export class ChainPortInUseError extends Error {}

const STOP_GRACE_MS = 3_000;
/** What `hardhat node` prints once its server listens. */
const LISTENING = /Started HTTP and WebSocket JSON-RPC server at/;

function rpc(url: string, method: string, params: unknown[] = []): Promise<unknown> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  })
    .then((r) => r.json() as Promise<{ result?: unknown; error?: { message: string } }>)
    .then((body) => {
      if (body.error) throw new Error(`${method}: ${body.error.message}`);
      return body.result;
    });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal); // the runner leads its own group (detached)
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** Starts `hardhat node` on host:port and resolves once it answers `eth_chainId`. */
export async function startLocalChain(opts: LocalChainOptions): Promise<LocalChain> {
  const host = opts.host ?? '127.0.0.1';
  const rpcUrl = `http://${host}:${opts.port}`;
  const child = spawn(
    process.execPath,
    [RUNNER_PATH, 'node', '--config', HARDHAT_CONFIG_PATH, '--hostname', host, '--port', String(opts.port)],
    {
      cwd: CONTRACTS_DIR,
      // Its own process group, so stop() can end it together with anything it spawns.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: {
        ...process.env,
        HARDHAT_DISABLE_TELEMETRY_PROMPT: 'true',
        FORCE_COLOR: '0',
        NO_COLOR: '1',
        ...(opts.chainId ? { TOLLWAY_HARDHAT_CHAIN_ID: String(opts.chainId) } : {}),
      },
    },
  );
  // The output is always drained (a full pipe would stall the node); the tail explains failures.
  let tail = '';
  let listening = false;
  const onData = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    tail = (tail + text).slice(-8_000);
    listening ||= LISTENING.test(tail);
    if (opts.onOutput) for (const line of text.split('\n')) if (line.trim()) opts.onOutput(line);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  // Never keeps the parent alive by itself; the IPC channel still ends the node when the parent exits.
  child.unref();
  child.channel?.unref();
  (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();

  const exited = once(child, 'exit');
  const onParentExit = () => killGroup(child, 'SIGKILL');
  process.once('exit', onParentExit);

  let stopped: Promise<void> | undefined;
  const stopChild = (): Promise<void> =>
    (stopped ??= (async () => {
      process.removeListener('exit', onParentExit);
      if (child.exitCode === null && child.signalCode === null) {
        killGroup(child, 'SIGTERM');
        const timer = setTimeout(() => killGroup(child, 'SIGKILL'), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }
    })());

  let chainId: number;
  let provider: JsonRpcProvider;
  try {
    await waitUntilReady(
      rpcUrl,
      child,
      exited,
      opts.readyTimeoutMs ?? 60_000,
      () => listening,
      () => tail,
    );
    chainId = Number(BigInt((await rpc(rpcUrl, 'eth_chainId')) as string));
    // Local blocks come at once: poll fast, never serve a cached block number or balance.
    provider = new JsonRpcProvider(rpcUrl, chainId, { staticNetwork: true, pollingInterval: 50, cacheTimeout: -1 });
    if (opts.automine === false) await provider.send('evm_setAutomine', [false]);
  } catch (err) {
    await stopChild();
    throw err;
  }
  const send = (method: string, params: unknown[] = []) => provider.send(method, params) as Promise<unknown>;

  return {
    rpcUrl,
    chainId,
    provider,
    accounts: devWallets(provider),
    pid: child.pid!,
    send,
    async mine(n = 1) {
      await send('hardhat_mine', [`0x${n.toString(16)}`]);
    },
    async setAutomine(on) {
      await send('evm_setAutomine', [on]);
    },
    async dropTransaction(hash) {
      return (await send('hardhat_dropTransaction', [hash])) as boolean;
    },
    async latestTimestamp() {
      const block = (await send('eth_getBlockByNumber', ['latest', false])) as { timestamp: string };
      return BigInt(block.timestamp);
    },
    async stop() {
      provider.destroy();
      await stopChild();
    },
  };
}

/**
 * Ready means: this child printed that it listens (so the port is ours, not an older node's that
 * happens to answer on it) and `eth_chainId` answers.
 */
async function waitUntilReady(
  rpcUrl: string,
  child: ChildProcess,
  exited: Promise<unknown>,
  timeoutMs: number,
  listening: () => boolean,
  tail: () => string,
): Promise<void> {
  let done = false;
  const died = exited.then(() => {
    if (done) return;
    const out = tail();
    const msg = `hardhat node exited before it was ready (code ${child.exitCode ?? child.signalCode}):\n${out}`;
    throw /EADDRINUSE|address already in use/i.test(out) ? new ChainPortInUseError(msg) : new Error(msg);
  });
  const deadline = Date.now() + timeoutMs;
  const poll = (async () => {
    for (;;) {
      if (done) return;
      if (Date.now() > deadline) throw new Error(`hardhat node did not answer on ${rpcUrl} within ${timeoutMs} ms:\n${tail()}`);
      if (listening()) {
        try {
          await rpc(rpcUrl, 'eth_chainId');
          return;
        } catch {
          // not answering yet
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  try {
    await Promise.race([poll, died]);
  } finally {
    done = true;
  }
}
