/**
 * Chain faults on a real local chain (issue 13): the node unreachable for a while, a transaction
 * the node drops (again and again, with a later nonce queued behind it), and reorganisations
 * (`evm_snapshot`/`evm_revert`) before the confirmation depth. After each: the ledger balances,
 * balances match the chain to the unit, every payment is final, a completed payment's reservation
 * was posted and a failed one's voided, the outbox told each payment's end once (no completion
 * taken back), and the service wallet sent exactly one transaction per payment.
 *
 * Run with `npm run test:faults` (or `npx vitest run --config vitest.slow.config.ts
 * test/faults/chain.test.ts`). FAULT_OUTAGE_MS sets how long the node stays cut (a minute by
 * default). Figures go to .tmp/faults-chain.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer, type Server, Socket } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { signCancelAuthorization, sovrDomain } from '../../contracts/eip712.js';
import { merchantAccountId } from '../../server/core/accounts.js';
import { chainWalletAccountId } from '../../server/rails/sovr/index.js';
import { createMerchant, pay, type Session } from '../helpers/hub.js';
import { expectLedgerBalanced, rowCounts } from '../helpers/invariant.js';
import { getPayment, ledgerAccount, SOVR, type SovrHub, untilPaymentStatus, useSovrChain, waitFor } from '../helpers/sovr.js';

const OUTAGE_MS = Number(process.env.FAULT_OUTAGE_MS ?? 60_000);

type P = { transactionId: string; status: string; failureReason: string | null; receipt: { transactionHash?: string } };
type Problem = { type: string };

const bed = useSovrChain();
const untilStatus = untilPaymentStatus<P>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TCP relay between the hub and the node that the test can cut (every connection reset) and restore. */
async function cuttableProxy(target: URL): Promise<{ url: string; cut(): void; restore(): void; close(): Promise<void> }> {
  let down = false;
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (down) return void client.destroy();
    const upstream = new Socket();
    open.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    upstream.connect(Number(target.port), target.hostname, () => {
      client.pipe(upstream);
      upstream.pipe(client);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    cut() {
      down = true;
      for (const s of open) s.destroy();
      open.clear();
    },
    restore() {
      down = false;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

interface Hub extends SovrHub {
  merchantId: string;
}

let keys = 0;
const key = () => `fault-${process.pid}-${++keys}`;
const body = (merchant: string, amount: bigint, authorization: unknown) => ({
  rail: 'sovr',
  payTo: merchant,
  amount: amount.toString(),
  asset: 'SOVR',
  resource: { url: 'https://shop.example/a', method: 'GET' },
  authorization,
});

/** What a scenario tried and what held: printed and written to .tmp/faults-chain.json. */
interface Figure {
  scenario: string;
  fault: string;
  payments: number;
  completed: number;
  failed: number;
  transactionsSent: number;
  held: string[];
  ms: number;
  [more: string]: unknown;
}
const figures: Figure[] = [];
const started = Date.now();

afterAll(() => {
  const out = { outageMs: OUTAGE_MS, totalMs: Date.now() - started, scenarios: figures };
  console.log(`chain faults figures: ${JSON.stringify(out, null, 2)}`);
  mkdirSync('.tmp', { recursive: true });
  writeFileSync('.tmp/faults-chain.json', `${JSON.stringify(out, null, 2)}\n`);
});

/** Everything the invariant checks, named once for the figures. */
const HELD = [
  'ledger balanced',
  'treasury = merchant balance, to the unit',
  'each wallet mirror = what left the wallet on chain',
  'every payment final',
  'completed reservations posted, failed ones voided',
  'one final event per payment in the outbox, never taken back',
];

describe('chain faults (SQLite, real hardhat node)', () => {
  const hubs: Hub[] = [];
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await bed.chain.setAutomine(true);
    for (const c of closers.splice(0)) await c();
    for (const h of hubs.splice(0)) await h.t.stop();
  });

  async function hub(confirmations: number, rpcUrl?: string): Promise<Hub> {
    const h = await bed.startSovrHub('sqlite', { options: { confirmations, ...(rpcUrl ? { rpcUrl } : {}) } });
    const m = await createMerchant(h.t.url);
    const out = { ...h, merchantId: m.merchant.id };
    hubs.push(out);
    return out;
  }

  /**
   * The invariant after every fault: balanced ledger, merchant = treasury, each wallet mirror = what
   * left it on chain, every payment final with its reservation posted (completed) or voided
   * (failed), and the outbox telling each payment's end exactly once.
   */
  async function expectExact(h: Hub, people: { s: Session; funded: bigint }[], total: bigint) {
    const db = h.t.store.db;
    await expectLedgerBalanced(db);
    expect(await bed.sovr.contract.balanceOf(h.treasury)).toBe(total);
    const m = await ledgerAccount(db, merchantAccountId(h.merchantId, 'SOVR'));
    expect((m?.creditsPosted ?? 0n) - (m?.debitsPosted ?? 0n)).toBe(total);
    expect(m?.creditsPending ?? 0n).toBe(0n);
    for (const { s, funded } of people) {
      const w = await ledgerAccount(db, chainWalletAccountId(s.user.id));
      expect(funded - (await bed.sovr.contract.balanceOf(s.wallet.address))).toBe((w?.debitsPosted ?? 0n) - (w?.creditsPosted ?? 0n));
      expect(w?.debitsPending ?? 0n).toBe(0n);
    }
    const payments = await db.all<{ id: string; status: string; reservation: string | null }>(
      `SELECT p.id, p.status, t.state AS reservation FROM payments p LEFT JOIN ledger_transfers t ON t.id = p.transfer_id ORDER BY p.id`,
    );
    for (const p of payments) {
      expect(['completed', 'failed'], p.id).toContain(p.status);
      expect(p.reservation, `${p.id}'s reservation`).toBe(p.status === 'completed' ? 'posted' : 'voided');
    }
    const ends = await db.all<{ payment_id: string; type: string }>(
      "SELECT payment_id, type FROM outbox WHERE type IN ('payment.completed', 'payment.failed') ORDER BY id",
    );
    expect(ends.map((e) => [e.payment_id, e.type]).sort()).toEqual(payments.map((p) => [p.id, `payment.${p.status}`]).sort());
    return {
      payments: payments.length,
      completed: payments.filter((p) => p.status === 'completed').length,
      failed: payments.filter((p) => p.status === 'failed').length,
    };
  }

  it(`RPC down for ${OUTAGE_MS} ms: nothing completes falsely, nothing is lost, all complete after recovery`, async () => {
    const t0 = Date.now();
    const proxy = await cuttableProxy(new URL(bed.chain.rpcUrl));
    closers.push(proxy.close);
    const h = await hub(2, proxy.url);
    const s = await bed.person(h.t.url, 10n * SOVR);
    const startBlock = await bed.chain.provider.getBlockNumber();

    // A is broadcast, then the node becomes unreachable before A is confirmed.
    await bed.chain.setAutomine(false);
    const a = (await (
      await pay(h.t.url, s, key(), body(h.merchantId, 2n * SOVR, await bed.authorize(s, h.treasury, 2n * SOVR)))
    ).json()) as P;
    expect(a.status).toBe('submitted');
    proxy.cut();
    await bed.chain.mine(3); // A is now deep enough, but the hub cannot see it

    // B arrives during the outage: refused with 503 and nothing stored, so the client retries it.
    const bKey = key();
    const bAuth = await bed.authorize(s, h.treasury, 3n * SOVR);
    const before = await rowCounts(h.t.store.db);
    const refused = await pay(h.t.url, s, bKey, body(h.merchantId, 3n * SOVR, bAuth));
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as Problem).type).toBe('https://tollway.dev/problems/chain-unavailable');
    expect(await rowCounts(h.t.store.db)).toEqual(before);

    // Through the whole outage A stays submitted: the hub never completes what it cannot see.
    const outageEnds = Date.now() + OUTAGE_MS;
    let looks = 0;
    while (Date.now() < outageEnds) {
      expect((await getPayment<P>(h.t.url, s, a.transactionId)).status).toBe('submitted');
      looks++;
      await sleep(Math.min(1000, Math.max(0, outageEnds - Date.now())));
    }

    proxy.restore();
    const recovered = Date.now();
    await bed.chain.setAutomine(true);
    const aDone = await untilStatus(h.t.url, s, a.transactionId, 'completed');
    const recoveryMs = Date.now() - recovered;
    expect(aDone.receipt.transactionHash).toBe(a.receipt.transactionHash);
    const b = (await (await pay(h.t.url, s, bKey, body(h.merchantId, 3n * SOVR, bAuth))).json()) as P;
    await bed.chain.mine(2);
    const bDone = await untilStatus(h.t.url, s, b.transactionId, 'completed');

    const sent = await bed.transactionsFrom(h.service.address, startBlock);
    expect(sent.map((t) => t.hash).sort()).toEqual([aDone.receipt.transactionHash, bDone.receipt.transactionHash].sort());
    const n = await expectExact(h, [{ s, funded: 10n * SOVR }], 5n * SOVR);
    figures.push({
      scenario: 'rpc-outage',
      fault: `every connection to the node reset for ${OUTAGE_MS} ms while A (2 SOVR, 2 confirmations) was mined 3 deep; B sent during the outage`,
      ...n,
      transactionsSent: sent.length,
      held: [
        `A read ${looks} times during the outage: always submitted`,
        'B refused 503 chain-unavailable with no row written, paid on retry',
        ...HELD,
      ],
      completedAfterRecoveryMs: recoveryMs,
      ms: Date.now() - t0,
    });
  });

  it('a transaction dropped three times, with a later nonce queued behind it: re-broadcast, both complete, one transaction each', async () => {
    const t0 = Date.now();
    const h = await hub(1);
    const s = await bed.person(h.t.url, 10n * SOVR);
    const startBlock = await bed.chain.provider.getBlockNumber();
    await bed.chain.setAutomine(false);
    const a = (await (
      await pay(h.t.url, s, key(), body(h.merchantId, 1n * SOVR, await bed.authorize(s, h.treasury, 1n * SOVR)))
    ).json()) as P;
    const b = (await (
      await pay(h.t.url, s, key(), body(h.merchantId, 2n * SOVR, await bed.authorize(s, h.treasury, 2n * SOVR)))
    ).json()) as P;
    const hash = a.receipt.transactionHash!;
    for (let i = 0; i < 3; i++) {
      expect(await bed.chain.dropTransaction(hash)).toBe(true);
      await waitFor(async () => (await bed.chain.provider.getTransaction(hash)) !== null, `re-broadcast #${i + 1}`);
    }
    await bed.chain.mine(1);
    await bed.chain.setAutomine(true);
    const aDone = await untilStatus(h.t.url, s, a.transactionId, 'completed');
    const bDone = await untilStatus(h.t.url, s, b.transactionId, 'completed');
    expect(aDone.receipt.transactionHash).toBe(hash);
    const sent = await bed.transactionsFrom(h.service.address, startBlock);
    expect(sent.map((t) => t.hash).sort()).toEqual([hash, bDone.receipt.transactionHash].sort());
    const n = await expectExact(h, [{ s, funded: 10n * SOVR }], 3n * SOVR);
    figures.push({
      scenario: 'dropped-transaction',
      fault: 'A dropped from the mempool three times (hardhat_dropTransaction) with B queued at the next nonce',
      ...n,
      transactionsSent: sent.length,
      held: ['A re-broadcast with the same hash each time', 'no replacement transaction', ...HELD],
      ms: Date.now() - t0,
    });
  });

  it('a reorg before the confirmation depth: no completion from the lost block, re-broadcast, completes once', async () => {
    const t0 = Date.now();
    const h = await hub(3);
    const s = await bed.person(h.t.url, 10n * SOVR);
    const startBlock = await bed.chain.provider.getBlockNumber();
    const snapshot = (await bed.chain.provider.send('evm_snapshot', [])) as string;
    const a = (await (
      await pay(h.t.url, s, key(), body(h.merchantId, 4n * SOVR, await bed.authorize(s, h.treasury, 4n * SOVR)))
    ).json()) as P;
    const hash = a.receipt.transactionHash!;
    await waitFor(async () => (await bed.chain.provider.getTransactionReceipt(hash)) !== null, 'A to be mined');
    await bed.chain.setAutomine(false);
    await bed.chain.mine(1); // two confirmations of three
    await sleep(500); // let the watcher look at the two-deep transaction
    expect((await getPayment<P>(h.t.url, s, a.transactionId)).status).toBe('submitted');
    expect(await bed.chain.provider.send('evm_revert', [snapshot])).toBe(true); // the blocks holding A are gone
    await bed.chain.setAutomine(false); // the revert restored automine with the rest of the state
    expect((await getPayment<P>(h.t.url, s, a.transactionId)).status).toBe('submitted');
    await waitFor(async () => (await bed.chain.provider.getTransaction(hash)) !== null, 'the watcher to re-broadcast A');
    expect((await getPayment<P>(h.t.url, s, a.transactionId)).status).toBe('submitted');
    await bed.chain.mine(3);
    await bed.chain.setAutomine(true);
    const done = await untilStatus(h.t.url, s, a.transactionId, 'completed');
    expect(done.receipt.transactionHash).toBe(hash);
    const sent = await bed.transactionsFrom(h.service.address, startBlock);
    expect(sent.map((t) => t.hash)).toEqual([hash]);
    const n = await expectExact(h, [{ s, funded: 10n * SOVR }], 4n * SOVR);
    figures.push({
      scenario: 'reorg-before-depth',
      fault: 'A mined and 2 of 3 confirmations deep, then evm_revert to before A (chain shorter, A out of the mempool)',
      ...n,
      transactionsSent: sent.length,
      held: ['submitted before and after the reorg', 'A re-broadcast with the same hash', ...HELD],
      ms: Date.now() - t0,
    });
  });

  it('a reorg after which the payer cancels the authorization: the payment fails and the reservation is voided', async () => {
    const t0 = Date.now();
    const h = await hub(3);
    const s = await bed.person(h.t.url, 10n * SOVR);
    const startBlock = await bed.chain.provider.getBlockNumber();
    const snapshot = (await bed.chain.provider.send('evm_snapshot', [])) as string;
    const auth = await bed.authorize(s, h.treasury, 4n * SOVR);
    const a = (await (await pay(h.t.url, s, key(), body(h.merchantId, 4n * SOVR, auth))).json()) as P;
    const hash = a.receipt.transactionHash!;
    await waitFor(async () => (await bed.chain.provider.getTransactionReceipt(hash)) !== null, 'A to be mined');
    await bed.chain.setAutomine(false);
    await bed.chain.mine(1);
    await sleep(500); // let the watcher look at the two-deep transaction
    expect(await bed.chain.provider.send('evm_revert', [snapshot])).toBe(true);
    await bed.chain.setAutomine(false);
    // In the new branch the payer cancels first (a higher tip puts the cancel ahead in the block).
    const cancelSig = await signCancelAuthorization(
      s.wallet,
      sovrDomain(bed.chain.chainId, bed.sovr.address),
      s.wallet.address,
      auth.nonce,
    );
    await bed.relay('cancelAuthorization(address,bytes32,bytes)', [s.wallet.address, auth.nonce, cancelSig]);
    await waitFor(async () => (await bed.chain.provider.getTransaction(hash)) !== null, 'the watcher to re-broadcast A');
    await bed.chain.mine(4);
    await bed.chain.setAutomine(true);
    const failed = await untilStatus(h.t.url, s, a.transactionId, 'failed');
    expect(failed.failureReason).toMatch(/reverted/);
    const n = await expectExact(h, [{ s, funded: 10n * SOVR }], 0n);
    const w = await ledgerAccount(h.t.store.db, chainWalletAccountId(s.user.id));
    expect((w?.debitsPosted ?? 0n) + (w?.debitsPending ?? 0n)).toBe(0n);
    const sent = await bed.transactionsFrom(h.service.address, startBlock);
    expect(sent.map((t) => t.hash)).toEqual([hash]);
    figures.push({
      scenario: 'reorg-then-cancel',
      fault: 'A mined 2 of 3 deep, evm_revert, the payer cancels the authorization ahead of the re-broadcast A',
      ...n,
      transactionsSent: sent.length,
      held: ['A re-broadcast and reverted on chain: failed with the reason', 'the reservation voided, nothing posted', ...HELD],
      failureReason: failed.failureReason,
      ms: Date.now() - t0,
    });
  });
});
