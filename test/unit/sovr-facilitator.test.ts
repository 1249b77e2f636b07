/**
 * The SOVR rail's x402 facilitator core on a real local chain with a real SOVR contract and a real
 * store (SQLite and PostgreSQL): verify answers each reason of the reference implementation;
 * settle submits through the rail's own gateway, waits for the receipt, and answers the first
 * result again for the same authorization, sequentially, concurrently and after a restart, with
 * one transaction on chain.
 */
import { Wallet } from 'ethers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signCancelAuthorization, sovrDomain, type TransferAuthorization } from '../../contracts/eip712.js';
import { systemClock } from '../../server/clock.js';
import { createLedger } from '../../server/ledger/ledger.js';
import { createLogger } from '../../server/logger.js';
import { createAccountDirectory } from '../../server/core/accounts.js';
import { createSovrRail, EXACT_REASONS, type ExactPayload, type ExactRequirement, type SovrRail } from '../../server/rails/sovr/index.js';
import { migrate } from '../../server/store/migrate.js';
import { MIGRATIONS } from '../../server/store/migrations/index.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { payloadOf, SOVR, useSovrChain, waitFor } from '../helpers/sovr.js';
import { ENGINES, freshStore, type Engine, type TestStore } from '../helpers/stores.js';

const bed = useSovrChain();
const { payer, requirementFor, relay, relayAuthorization, transactionsFrom } = bed;

interface Facilitating {
  rail: SovrRail;
  service: Wallet;
  store: TestStore;
  /** Stops the rail's background work (as a hub closing does). */
  stop(): Promise<void>;
}

/** The rail as the hub builds it, on a migrated store, without HTTP: the facilitator needs nothing else. */
async function startRail(
  store: TestStore,
  opts: { service?: Wallet; settleTimeoutMs?: number; rpcUrl?: string } = {},
): Promise<Facilitating> {
  await migrate(store.db, MIGRATIONS);
  const service = opts.service ?? bed.nextServiceWallet();
  const ledger = createLedger({ clock: systemClock });
  const closed = new AbortController();
  const running = new Set<Promise<void>>();
  const rail = createSovrRail({
    db: store.db,
    accounts: createAccountDirectory(ledger),
    ledger,
    clock: systemClock,
    logger: createLogger('silent'),
    report: () => Promise.reject(new Error('no payments here')),
    spawn: (_name, work) => {
      const p = work(closed.signal).finally(() => running.delete(p));
      running.add(p);
    },
    signal: closed.signal,
    signer: { privateKey: service.privateKey },
    options: {
      rpcUrl: opts.rpcUrl ?? bed.chain.rpcUrl,
      chainId: bed.chain.chainId,
      token: bed.sovr.address,
      confirmations: 1,
      pollIntervalMs: 25,
      ...(opts.settleTimeoutMs ? { settleTimeoutMs: opts.settleTimeoutMs } : {}),
    },
  });
  return {
    rail,
    service,
    store,
    async stop() {
      closed.abort();
      await Promise.all(running);
    },
  };
}

const nowSeconds = () => BigInt(Math.floor(Date.now() / 1000));

/** What the reference client (@x402/evm) builds: validAfter now − 600, validBefore now + 60, a random nonce. */
async function payloadFor(
  from: Wallet,
  to: string,
  value: bigint,
  over: Partial<TransferAuthorization> & { signer?: Wallet } = {},
): Promise<ExactPayload> {
  return payloadOf(await bed.signAuthorization(from, to, value, over, 60n));
}

describe.each(ENGINES)('the SOVR facilitator on %s', (engine: Engine) => {
  let f: Facilitating;

  beforeAll(async () => {
    f = await startRail(await freshStore(engine));
  });
  afterEach(async () => {
    await bed.chain.setAutomine(true);
    await expectLedgerBalanced(f.store.db);
  });
  afterAll(async () => {
    await f?.stop();
    await f?.store.cleanup();
  });

  it('names its network, token and signer', async () => {
    expect(f.rail.facilitator.network).toBe(`eip155:${bed.chain.chainId}`);
    expect(f.rail.facilitator.token).toBe(bed.sovr.address);
    expect(await f.rail.facilitator.signerAddress()).toBe(f.service.address);
  });

  it('verifies a valid payload with its payer, and refuses each fault with the reference reason', async () => {
    const from = await payer(5n * SOVR);
    const other = await payer(0n);
    const payTo = Wallet.createRandom().address;
    const amount = 2n * SOVR;
    const good = await payloadFor(from, payTo, amount);
    expect(await f.rail.facilitator.verify(good, requirementFor(payTo, amount))).toEqual({ isValid: true, payer: from.address });
    // Addresses compare without regard to case.
    expect(
      await f.rail.facilitator.verify(good, requirementFor(payTo.toLowerCase(), amount, { asset: bed.sovr.address.toLowerCase() })),
    ).toEqual({ isValid: true, payer: from.address });

    const cancelled = await payloadFor(from, payTo, amount);
    const cancelSig = await signCancelAuthorization(
      from,
      sovrDomain(bed.chain.chainId, bed.sovr.address),
      from.address,
      cancelled.authorization.nonce,
    );
    await (await relay('cancelAuthorization(address,bytes32,bytes)', [from.address, cancelled.authorization.nonce, cancelSig])).wait();
    const now = nowSeconds();

    const cases: [string, ExactPayload, ExactRequirement, string][] = [
      ['another scheme', good, { ...requirementFor(payTo, amount), scheme: 'upto' as 'exact' }, EXACT_REASONS.scheme],
      ['another network', good, requirementFor(payTo, amount, { network: 'eip155:8453' }), EXACT_REASONS.network],
      ['another asset', good, requirementFor(payTo, amount, { asset: Wallet.createRandom().address }), EXACT_REASONS.requirements],
      ['another token name', good, requirementFor(payTo, amount, { extra: { name: 'USD Coin', version: '1' } }), EXACT_REASONS.tokenName],
      ['another recipient', await payloadFor(from, other.address, amount), requirementFor(payTo, amount), EXACT_REASONS.recipient],
      ['more than the amount', await payloadFor(from, payTo, amount + 1n), requirementFor(payTo, amount), EXACT_REASONS.value],
      ['less than the amount', await payloadFor(from, payTo, amount - 1n), requirementFor(payTo, amount), EXACT_REASONS.value],
      [
        'signed by another key',
        await payloadFor(from, payTo, amount, { signer: other }),
        requirementFor(payTo, amount),
        EXACT_REASONS.signature,
      ],
      [
        'expired',
        await payloadFor(from, payTo, amount, { validBefore: now - 1n }),
        requirementFor(payTo, amount),
        EXACT_REASONS.validBefore,
      ],
      [
        'expiring within 6 s',
        await payloadFor(from, payTo, amount, { validBefore: now + 3n }),
        requirementFor(payTo, amount),
        EXACT_REASONS.validBefore,
      ],
      [
        'not yet valid',
        await payloadFor(from, payTo, amount, { validAfter: now + 120n }),
        requirementFor(payTo, amount),
        EXACT_REASONS.validAfter,
      ],
      ['nonce already used on chain', cancelled, requirementFor(payTo, amount), EXACT_REASONS.nonceUsed],
      ['more than the balance', await payloadFor(from, payTo, 6n * SOVR), requirementFor(payTo, 6n * SOVR), EXACT_REASONS.funds],
      ['a truncated signature', { ...good, signature: good.signature.slice(0, 100) }, requirementFor(payTo, amount), EXACT_REASONS.payload],
      [
        'a number for the value',
        { ...good, authorization: { ...good.authorization, value: 1 as unknown as string } },
        requirementFor(payTo, amount),
        EXACT_REASONS.payload,
      ],
    ];
    expect(cases.map(([w]) => w)).toHaveLength(15);
    for (const [what, payload, requirement, reason] of cases) {
      const v = await f.rail.facilitator.verify(payload, requirement);
      expect(v, what).toEqual({ isValid: false, invalidReason: reason, payer: from.address });
    }
    // A refused settle answers the same reason and sends nothing.
    const sentBefore = await bed.chain.provider.getTransactionCount(f.service.address, 'pending');
    for (const [what, payload, requirement, reason] of cases) {
      const s = await f.rail.facilitator.settle(payload, requirement);
      expect(s, what).toEqual({
        success: false,
        errorReason: reason,
        payer: from.address,
        transaction: '',
        network: `eip155:${bed.chain.chainId}`,
      });
    }
    expect(await bed.chain.provider.getTransactionCount(f.service.address, 'pending')).toBe(sentBefore);
    expect(Number((await f.store.db.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM sovr_settlements'))?.n)).toBe(0);
  });

  it('settles: submits from the service wallet, waits for the receipt, moves the tokens, and answers the same for a second settle', async () => {
    const from = await payer(5n * SOVR);
    const payTo = Wallet.createRandom().address;
    const amount = 3n * SOVR;
    const payload = await payloadFor(from, payTo, amount);
    const requirement = requirementFor(payTo, amount);
    const startBlock = await bed.chain.provider.getBlockNumber();

    const first = await f.rail.facilitator.settle(payload, requirement);
    expect(first).toEqual({
      success: true,
      payer: from.address,
      transaction: expect.stringMatching(/^0x[0-9a-f]{64}$/),
      network: `eip155:${bed.chain.chainId}`,
    });
    if (!first.success) throw new Error('unreachable');
    const receipt = await bed.chain.provider.getTransactionReceipt(first.transaction);
    expect([receipt?.status, receipt?.from, receipt?.to]).toEqual([1, f.service.address, bed.sovr.address]);
    expect(await bed.sovr.contract.balanceOf(payTo)).toBe(amount);
    expect(await bed.sovr.contract.balanceOf(from.address)).toBe(2n * SOVR);

    // Sequentially again, and verify now says the nonce is spent.
    expect(await f.rail.facilitator.settle(payload, requirement)).toEqual(first);
    expect(await f.rail.facilitator.verify(payload, requirement)).toEqual({
      isValid: false,
      invalidReason: EXACT_REASONS.nonceUsed,
      payer: from.address,
    });
    expect((await transactionsFrom(f.service.address, startBlock)).map((t) => t.hash)).toEqual([first.transaction]);
  });

  it('answers concurrent settles of one authorization with the first result, with one transaction on chain', async () => {
    const from = await payer(5n * SOVR);
    const payTo = Wallet.createRandom().address;
    const payload = await payloadFor(from, payTo, SOVR);
    const requirement = requirementFor(payTo, SOVR);
    const startBlock = await bed.chain.provider.getBlockNumber();
    // Automine off: all four calls are in flight while the transaction waits in the mempool.
    await bed.chain.setAutomine(false);
    const settles = Array.from({ length: 4 }, () => f.rail.facilitator.settle(payload, requirement));
    const row = await waitFor(
      () =>
        f.store.db.get<{ tx_hash: string }>('SELECT tx_hash FROM sovr_settlements WHERE authorizer = ? AND auth_nonce = ?', [
          from.address,
          payload.authorization.nonce,
        ]),
      'the settlement to be stored',
    );
    await waitFor(async () => (await bed.chain.provider.getTransaction(row.tx_hash)) !== null, 'the transaction in the mempool');
    await bed.chain.mine(1);
    const results = await Promise.all(settles);
    expect(results[0]).toMatchObject({ success: true, transaction: row.tx_hash });
    for (const r of results) expect(r).toEqual(results[0]);
    const sent = await transactionsFrom(f.service.address, startBlock);
    expect(sent.map((t) => t.hash)).toEqual([row.tx_hash]);
    expect(await bed.sovr.contract.balanceOf(payTo)).toBe(SOVR);
  });

  it('answers a settlement whose transaction reverts with the reason and its hash, and the same again', async () => {
    const from = await payer(4n * SOVR);
    const payTo = Wallet.createRandom().address;
    const payload = await payloadFor(from, payTo, 4n * SOVR);
    const requirement = requirementFor(payTo, 4n * SOVR);
    await bed.chain.setAutomine(false);
    const settling = f.rail.facilitator.settle(payload, requirement);
    const row = await waitFor(
      () =>
        f.store.db.get<{ tx_hash: string }>('SELECT tx_hash FROM sovr_settlements WHERE authorizer = ? AND auth_nonce = ?', [
          from.address,
          payload.authorization.nonce,
        ]),
      'the settlement to be stored',
    );
    await waitFor(async () => (await bed.chain.provider.getTransaction(row.tx_hash)) !== null, 'the transaction in the mempool');
    // Before it is mined the payer spends everything elsewhere, with a larger tip: first in the block.
    const away = await payloadFor(from, bed.chain.accounts[18]!.address, 4n * SOVR);
    await relayAuthorization({ ...away.authorization, signature: away.signature });
    await bed.chain.mine(1);

    const result = await settling;
    expect(result).toEqual({
      success: false,
      errorReason: EXACT_REASONS.funds,
      payer: from.address,
      transaction: row.tx_hash,
      network: `eip155:${bed.chain.chainId}`,
    });
    expect((await bed.chain.provider.getTransactionReceipt(row.tx_hash))?.status).toBe(0);
    expect(await bed.sovr.contract.balanceOf(payTo)).toBe(0n);
    const stored = await f.store.db.get<{ status: string; error_detail: string }>(
      'SELECT status, error_detail FROM sovr_settlements WHERE tx_hash = ?',
      [row.tx_hash],
    );
    expect(stored).toEqual({ status: 'failed', error_detail: 'the transaction reverted: ERC20: transfer amount exceeds balance' });
    await bed.chain.setAutomine(true);
    expect(await f.rail.facilitator.settle(payload, requirement)).toEqual(result);
  });
});

describe('the SOVR facilitator across a restart (SQLite)', () => {
  afterEach(async () => bed.chain.setAutomine(true));

  it('answers unexpected_verify_error / unexpected_settle_error, sending nothing, while the node cannot be reached', async () => {
    const store = await freshStore('sqlite');
    const f = await startRail(store, { rpcUrl: 'http://127.0.0.1:9' });
    try {
      const from = await payer(5n * SOVR);
      const payTo = Wallet.createRandom().address;
      const payload = await payloadFor(from, payTo, SOVR);
      expect(await f.rail.facilitator.verify(payload, requirementFor(payTo, SOVR))).toEqual({
        isValid: false,
        invalidReason: EXACT_REASONS.unexpectedVerify,
        payer: from.address,
      });
      expect(await f.rail.facilitator.settle(payload, requirementFor(payTo, SOVR))).toEqual({
        success: false,
        errorReason: EXACT_REASONS.unexpectedSettle,
        payer: from.address,
        transaction: '',
        network: `eip155:${bed.chain.chainId}`,
      });
      expect(Number((await store.db.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM sovr_settlements'))?.n)).toBe(0);
    } finally {
      await f.stop();
      await store.cleanup();
    }
  });

  it('answers settlement_pending when the receipt is slow, then the result of that same transaction after a restart', async () => {
    const store = await freshStore('sqlite');
    const first = await startRail(store, { settleTimeoutMs: 300 });
    const from = await payer(5n * SOVR);
    const payTo = Wallet.createRandom().address;
    const payload = await payloadFor(from, payTo, 2n * SOVR);
    const requirement = requirementFor(payTo, 2n * SOVR);
    const startBlock = await bed.chain.provider.getBlockNumber();
    await bed.chain.setAutomine(false);
    const pending = await first.rail.facilitator.settle(payload, requirement);
    expect(pending).toMatchObject({ success: false, errorReason: EXACT_REASONS.pending, payer: from.address });
    if (pending.success) throw new Error('unreachable');
    expect(pending.transaction).toMatch(/^0x[0-9a-f]{64}$/);
    await first.stop();
    // While the facilitator is down the node loses the transaction.
    expect(await bed.chain.dropTransaction(pending.transaction)).toBe(true);

    const second = await startRail(store, { service: first.service });
    try {
      // Resumed on start: the stored bytes go out again (same hash), nothing new is signed.
      await waitFor(async () => (await bed.chain.provider.getTransaction(pending.transaction)) !== null, 'the re-broadcast');
      await bed.chain.mine(1);
      const done = await second.rail.facilitator.settle(payload, requirement);
      expect(done).toEqual({
        success: true,
        payer: from.address,
        transaction: pending.transaction,
        network: `eip155:${bed.chain.chainId}`,
      });
      expect((await transactionsFrom(first.service.address, startBlock)).map((t) => t.hash)).toEqual([pending.transaction]);
      expect(await bed.sovr.contract.balanceOf(payTo)).toBe(2n * SOVR);
      await expectLedgerBalanced(store.db);
    } finally {
      await second.stop();
      await store.cleanup();
    }
  });
});
