/**
 * On-chain SOVR payments per second through the rail's gateway (server/rails/sovr/gateway.ts),
 * beside the naive way, in one run on one local chain (hardhat node, SOVR deployed):
 *  - gateway: N transferWithAuthorization submissions at once; the nonce manager hands out nonces
 *    in order, each signed transaction is stored (a temp SQLite file, one durable write each, as
 *    the hub does) before it is broadcast; timed until every one has a receipt;
 *  - one at a time: the same gateway, but each submission waits for its receipt before the next
 *    (what a sender without a nonce manager must do to avoid nonce collisions).
 * The chain mines a block every `blockTimeMs` (interval mining, like a real chain); with 0 it
 * automines, one block per transaction, which shows the hub-side cost alone.
 * The authorizations are signed before the clock starts: people sign them, not the hub.
 *
 * `npx tsx bench/sovr.ts [blockTimeMs]` prints the figures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { JsonRpcProvider, Network, Wallet } from 'ethers';
import { deploySovr } from '../contracts/deploy.js';
import { randomAuthorizationNonce, signTransferAuthorization, sovrDomain } from '../contracts/eip712.js';
import { startLocalChain } from '../contracts/local-chain.js';
import { encodeTransferWithAuthorization } from '../server/rails/sovr/abi.js';
import type { Authorization } from '../server/rails/sovr/authorization.js';
import { createGateway, type SignedTx } from '../server/chain/evm/gateway.js';
import { openSqlite } from '../server/store/sqlite.js';
import { freePort } from '../test/helpers/hub.js';

export interface SovrBenchResult {
  blockTimeMs: number;
  gateway: { payments: number; seconds: number; perSecond: number; blocks: number };
  oneAtATime: { payments: number; seconds: number; perSecond: number; blocks: number };
  /** gateway.perSecond / oneAtATime.perSecond */
  ratio: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `gasLimit`: a fixed limit instead of an estimate per transaction (the hub estimates by default). */
export async function benchSovr(
  opts: { concurrent?: number; sequential?: number; blockTimeMs?: number; gasLimit?: bigint } = {},
): Promise<SovrBenchResult> {
  const concurrent = opts.concurrent ?? 200;
  const sequential = opts.sequential ?? 20;
  const blockTimeMs = opts.blockTimeMs ?? 250;
  const chain = await startLocalChain({ port: await freePort() });
  const dir = mkdtempSync(join(tmpdir(), 'tollway-bench-sovr-'));
  const db = openSqlite(join(dir, 'bench.sqlite'));
  const provider = new JsonRpcProvider(chain.rpcUrl, Network.from(chain.chainId), {
    staticNetwork: true,
    cacheTimeout: -1,
    batchStallTime: 0,
  });
  try {
    await db.run('CREATE TABLE signed (hash TEXT PRIMARY KEY, sender TEXT NOT NULL, nonce INTEGER NOT NULL, raw TEXT NOT NULL)');
    const [deployer, service, treasury] = chain.accounts as [Wallet, Wallet, Wallet];
    const sovr = await deploySovr(deployer);
    const domain = sovrDomain(chain.chainId, sovr.address);
    const payers = Array.from({ length: 10 }, () => Wallet.createRandom());
    for (const p of payers) await sovr.mint(p.address, 10n ** 24n);

    async function authorizations(n: number): Promise<string[]> {
      const now = BigInt(Math.floor(Date.now() / 1000));
      return Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const payer = payers[i % payers.length]!;
          const a = {
            from: payer.address,
            to: treasury.address,
            value: 10n ** 15n + BigInt(i),
            validAfter: now - 600n,
            validBefore: now + 3600n,
            nonce: randomAuthorizationNonce(),
          };
          const signature = await signTransferAuthorization(payer, domain, a);
          return encodeTransferWithAuthorization({ ...a, signature } satisfies Authorization);
        }),
      );
    }
    const gateway = createGateway({
      provider,
      chainId: chain.chainId,
      wallet: Promise.resolve(new Wallet(service.privateKey)),
      gasLimit: opts.gasLimit,
    });
    const persist = (tx: SignedTx) =>
      db
        .run('INSERT INTO signed (hash, sender, nonce, raw) VALUES (?, ?, ?, ?)', [tx.hash, tx.sender, tx.nonce, tx.raw])
        .then(() => undefined);
    async function submit(data: string): Promise<string> {
      const r = await gateway.submit({ to: sovr.address, data, persist });
      if (r.status === 'refused') throw new Error(`refused: ${r.reason}`);
      return r.tx.hash;
    }
    async function confirmed(hashes: string[]): Promise<void> {
      const waiting = new Set(hashes);
      while (waiting.size > 0) {
        const receipts = await Promise.all([...waiting].map((h) => provider.getTransactionReceipt(h)));
        for (const r of receipts) {
          if (!r) continue;
          if (r.status !== 1) throw new Error(`transaction ${r.hash} reverted`);
          waiting.delete(r.hash);
        }
        if (waiting.size > 0) await sleep(10);
      }
    }

    if (blockTimeMs > 0) {
      await chain.setAutomine(false);
      await chain.send('evm_setIntervalMining', [blockTimeMs]);
    }
    // Warm-up (fee data, nonce counter, JIT), untimed.
    await confirmed(await Promise.all((await authorizations(5)).map(submit)));

    const burst = await authorizations(concurrent);
    const b0 = await provider.getBlockNumber();
    const t0 = performance.now();
    await confirmed(await Promise.all(burst.map(submit)));
    const gatewaySeconds = (performance.now() - t0) / 1000;
    const b1 = await provider.getBlockNumber();

    const serial = await authorizations(sequential);
    const t1 = performance.now();
    for (const data of serial) await confirmed([await submit(data)]);
    const serialSeconds = (performance.now() - t1) / 1000;
    const b2 = await provider.getBlockNumber();

    const gw = { payments: concurrent, seconds: gatewaySeconds, perSecond: concurrent / gatewaySeconds, blocks: b1 - b0 };
    const one = { payments: sequential, seconds: serialSeconds, perSecond: sequential / serialSeconds, blocks: b2 - b1 };
    return { blockTimeMs, gateway: gw, oneAtATime: one, ratio: gw.perSecond / one.perSecond };
  } finally {
    provider.destroy();
    await db.close();
    rmSync(dir, { recursive: true, force: true });
    await chain.stop();
  }
}

export function formatSovrBench(r: SovrBenchResult): string {
  const fmt = (n: number, d = 1) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  const chainMode = r.blockTimeMs > 0 ? `a block every ${r.blockTimeMs} ms` : 'automine (a block per transaction)';
  return [
    `SOVR on-chain payments (transferWithAuthorization), local hardhat chain, ${chainMode}, until every receipt`,
    `  gateway, ${r.gateway.payments} at once   ${fmt(r.gateway.perSecond)} payments/s   (${fmt(r.gateway.seconds, 2)} s, ${r.gateway.blocks} blocks)`,
    `  one at a time        ${fmt(r.oneAtATime.perSecond)} payments/s   (${r.oneAtATime.payments} in ${fmt(r.oneAtATime.seconds, 2)} s, ${r.oneAtATime.blocks} blocks)`,
    `  ratio                ${fmt(r.ratio)}× one at a time`,
    '',
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const blockTimeMs = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
  benchSovr({ blockTimeMs }).then(
    (r) => process.stdout.write(formatSovrBench(r)),
    (err) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
