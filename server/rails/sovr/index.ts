/**
 * The SOVR rail: a person pays in SOVR from their own wallet, on chain, with EIP-3009
 * authorizations they sign.
 *
 * - **A hub merchant** (`payTo` is a merchant id): the authorization pays the hub's treasury. Before
 *   anything is stored the hub checks it (signature, payer, payee, value, time window, nonce unused
 *   on chain) and that the wallet's on-chain balance covers this payment and every other SOVR
 *   payment of that address still in flight. The reservation debits the person's on-chain wallet
 *   mirror account (`chain:<userId>:SOVR`, whose balance is minus what they paid on chain through
 *   the hub) and credits the merchant's hub account: the hub is custodial for merchants, and the
 *   treasury holds the tokens behind their balances. The service wallet submits
 *   `transferWithAuthorization` (gateway.ts), the payment answers `submitted` with the hash, and
 *   the watcher (watcher.ts) reports completed or failed once it is `confirmations` deep.
 * - **A plain x402 merchant** (`payTo` is a 0x address, with the `exact` requirement it listed):
 *   the same checks with the merchant's address as payee; the reservation credits the hub's
 *   x402-payees account; the hub does not submit (the merchant's facilitator does, when the
 *   extension retries with the authorization) and follows the authorization's use (exact.ts).
 * - **Deposits** (deposits.ts): the person's own tokens into their hub balance.
 * - **The facilitator** (facilitator.ts): x402 verify/settle for anyone's `exact` SOVR payload.
 *
 * Every transaction of the service wallet goes through the one gateway (one nonce manager).
 */
import { Contract, getAddress, JsonRpcProvider, Network, Wallet } from 'ethers';
import type { Payment } from '../../../shared/api.js';
import { ProblemError } from '../../../shared/problem.js';
import type { Clock } from '../../clock.js';
import type { Ledger } from '../../ledger/types.js';
import type { Logger } from '../../logger.js';
import type { AccountDirectory } from '../../core/accounts.js';
import type { Db, Queryable } from '../../store/types.js';
import type { PreparedPayment, Rail, RailOutcome, RailRequest } from '../types.js';
import { describeRpcError, revertMessage, SOVR_RAIL_ABI } from './abi.js';
import { parseAuthorization } from './authorization.js';
import { createPrechecks } from './checks.js';
import { withTimeout } from '../../core/timing.js';
import { createDeposits, DEPOSIT_ID_PREFIX, type SovrDeposits } from './deposits.js';
import { checkExactRequirement, createExactWatcher, exactValidityWindow, isOnChainPayee, x402PayeesAccountId } from './exact.js';
import { SOVR_EIP712_NAME, SOVR_EIP712_VERSION } from '../../../contracts/eip712.js';
import { createFacilitator, type SovrFacilitator } from './facilitator.js';
import { createGateway, type Gateway } from '../../chain/evm/gateway.js';
import { createKeyedMutex } from '../../chain/evm/mutex.js';
import { createRunner, type JobSink, type RunnerDeps, type TransferJob } from './runner.js';
import { insertSovrRow, loadSovrRow, nextOpenNonce, recordRejected, recordSigned, type SovrRow } from './store.js';
import { createWatcher } from './watcher.js';

export {
  EXACT_REASONS,
  type ExactPayload,
  type ExactRequirement,
  type SettleResult,
  type SovrFacilitator,
  type VerifyResult,
} from './facilitator.js';
export { isOnChainPayee, x402PayeesAccountId } from './exact.js';
export type { SovrDeposits } from './deposits.js';

export const SOVR_ASSET = 'SOVR';

/** The mirror of a person's own wallet on chain: debited by what they paid from it through the hub. */
export const chainWalletAccountId = (userId: string) => `chain:${userId}:${SOVR_ASSET}`;

/** The service wallet: a private key, or an ethers (Web3 Secret Storage) keystore and its password. */
export type ServiceSigner = { privateKey: string } | { keystoreJson: string; password: string };

export interface SovrRailOptions {
  rpcUrl: string;
  chainId: number;
  /** The SOVR contract. */
  token: string;
  /** Where payments go; the service wallet's own address when unset. */
  treasury?: string;
  /** Blocks a transaction must be deep (1 = mined) before its payment is final. */
  confirmations: number;
  /** How often the node is polled for new blocks, ms. */
  pollIntervalMs: number;
  /** `https://explorer.example/tx/{hash}`; no link when unset. */
  explorerTxUrl?: string;
  /** validBefore must be at least this far ahead when the payment arrives, s. */
  minValiditySeconds: number;
  /** … and at most this far, s. */
  maxValiditySeconds: number;
  /** The reservation lasts until validBefore plus this, s: time for the confirmations. */
  settleGraceSeconds: number;
  /** A fixed gas limit instead of an estimate per transaction. */
  gasLimit?: bigint;
  /** Chain calls made while a payment request waits (balance, nonce state) give up after this, ms. */
  readTimeoutMs: number;
  /** How long the facilitator's settle waits for the receipt before answering `settlement_pending`, ms. */
  settleTimeoutMs: number;
}

export const SOVR_DEFAULTS = {
  confirmations: 1,
  pollIntervalMs: 2000,
  minValiditySeconds: 60,
  maxValiditySeconds: 3600,
  settleGraceSeconds: 3600,
  readTimeoutMs: 10_000,
  settleTimeoutMs: 60_000,
} satisfies Partial<SovrRailOptions>;

export interface SovrRailDeps {
  db: Db;
  accounts: AccountDirectory;
  ledger: Ledger;
  clock: Clock;
  logger: Logger;
  /** Records an outcome learnt after execute or resume returned (the payments service's applyOutcome). */
  report(paymentId: string, outcome: RailOutcome): Promise<Payment>;
  spawn(name: string, work: (signal: AbortSignal) => Promise<void>): void;
  /** A deposit's outbox event was committed (RailParts gives it): deliver it now. */
  eventWritten?(): void;
  signal: AbortSignal;
  signer: ServiceSigner;
  options: Pick<SovrRailOptions, 'rpcUrl' | 'chainId' | 'token'> & Partial<SovrRailOptions>;
}

export interface SovrRail extends Rail {
  /** The service wallet's and the treasury's addresses, once the key is loaded and the chain checked. */
  ready(): Promise<{ serviceAddress: string; treasury: string }>;
  /** Payments and deposits whose transaction is being followed (tests, metrics). */
  watching(): number;
  /** Exact payments whose authorization is being watched for its use (tests, metrics). */
  watchingExact(): number;
  /** x402 verify/settle for `exact` SOVR payloads, through this rail's gateway. */
  readonly facilitator: SovrFacilitator;
  readonly deposits: SovrDeposits;
}

export function createSovrRail(deps: SovrRailDeps): SovrRail {
  const { db, ledger, clock, logger } = deps;
  const options: SovrRailOptions = { ...SOVR_DEFAULTS, ...deps.options };
  const token = getAddress(options.token);
  const network = `eip155:${options.chainId}`;
  const provider = new JsonRpcProvider(options.rpcUrl, Network.from(options.chainId), {
    staticNetwork: true,
    // Blocks and balances must never come from a cache; concurrent calls still share one batch.
    cacheTimeout: -1,
    batchStallTime: 0,
  });
  deps.signal.addEventListener('abort', () => provider.destroy(), { once: true });
  const contract = new Contract(token, SOVR_RAIL_ABI, provider);
  const authorizationState = (from: string, nonce: string) => contract.getFunction('authorizationState')(from, nonce) as Promise<boolean>;
  const balanceOf = (owner: string) => contract.getFunction('balanceOf')(owner) as Promise<bigint>;

  // The keystore is decrypted once, in the background (scrypt takes a moment); the key never leaves here.
  const wallet: Promise<Wallet> =
    'privateKey' in deps.signer
      ? Promise.resolve(new Wallet(deps.signer.privateKey))
      : Wallet.fromEncryptedJson(deps.signer.keystoreJson, deps.signer.password).then((w) => new Wallet(w.privateKey));
  wallet.catch((err: Error) => logger.error({ err: err.message }, 'the SOVR service wallet could not be loaded'));

  const gateway: Gateway = createGateway({
    provider,
    chainId: options.chainId,
    wallet,
    gasLimit: options.gasLimit,
    logger,
    nonceFloor: (sender) => nextOpenNonce(db, sender),
    revertReason: revertMessage,
  });

  const explorerUrl = (hash: string) => (options.explorerTxUrl ? options.explorerTxUrl.replaceAll('{hash}', hash) : undefined);
  const submitted = (hash: string): RailOutcome => {
    const url = explorerUrl(hash);
    return { status: 'submitted', transactionHash: hash, ...(url ? { blockExplorerUrl: url } : {}) };
  };
  const completed = (hash: string): RailOutcome => {
    const url = explorerUrl(hash);
    return { status: 'completed', transactionHash: hash, ...(url ? { blockExplorerUrl: url } : {}) };
  };
  const failed = (reason: string): RailOutcome => ({ status: 'failed', reason });

  let identity: Promise<{ serviceAddress: string; treasury: string }> | undefined;
  function ready() {
    identity ??= (async () => {
      const w = await wallet;
      const chainId = Number(BigInt((await withTimeout(provider.send('eth_chainId', []), options.readTimeoutMs)) as string));
      if (chainId !== options.chainId) throw new Error(`the node at the SOVR RPC URL is chain ${chainId}, not ${options.chainId}`);
      return { serviceAddress: w.address, treasury: options.treasury ? getAddress(options.treasury) : w.address };
    })();
    // A failure (node down at start) is not remembered: the next payment asks again.
    identity.catch(() => (identity = undefined));
    return identity;
  }

  // Deposits are created below; the watcher reports to whichever owns the id.
  let deposits: SovrDeposits | undefined;
  const watcher = createWatcher({
    provider,
    gateway,
    token,
    confirmations: options.confirmations,
    pollIntervalMs: options.pollIntervalMs,
    report: (id, outcome) => (id.startsWith(DEPOSIT_ID_PREFIX) ? deposits!.apply(id, outcome) : deps.report(id, outcome)),
    completed,
    authorizationState,
    logger,
    spawn: deps.spawn,
  });
  const exactWatcher = createExactWatcher({
    provider,
    token,
    confirmations: options.confirmations,
    pollIntervalMs: options.pollIntervalMs,
    report: deps.report,
    completed,
    logger,
    spawn: deps.spawn,
  });

  const runnerDeps: RunnerDeps = {
    provider,
    gateway,
    token,
    watcher,
    treasury: async () => (await ready()).treasury,
    treasuryOffline: async () => (options.treasury ? getAddress(options.treasury) : (await wallet).address),
    authorizationState,
    submitted,
    logger,
  };
  const paymentSink: JobSink = {
    recordSigned: (id, t) => recordSigned(db, id, t, clock.now()),
    recordRejected: (id, reason) => recordRejected(db, id, reason, clock.now()),
    report: deps.report,
  };
  const runner = createRunner(runnerDeps, paymentSink);
  const jobOf = (row: SovrRow): TransferJob => ({
    id: row.paymentId,
    authorization: row.authorization,
    fromBlock: row.fromBlock,
    tx: row.tx,
    broadcastError: row.broadcastError,
  });

  const locks = createKeyedMutex();
  const precheck = createPrechecks({
    clock,
    chainId: options.chainId,
    token,
    provider,
    locks,
    authorizationState,
    balanceOf,
    minValiditySeconds: options.minValiditySeconds,
    maxValiditySeconds: options.maxValiditySeconds,
    settleGraceSeconds: options.settleGraceSeconds,
    readTimeoutMs: options.readTimeoutMs,
  });

  const knownAccounts = new Set<string>();
  /** A ledger account of the rail's own (no must-not-exceed flag), created when missing. */
  async function railAccount(tx: Queryable, id: string, owner: string): Promise<string> {
    if (knownAccounts.has(id)) return id;
    const [r] = await ledger.createAccounts(tx, [{ id, asset: SOVR_ASSET, owner }]);
    if (r === 'exists') knownAccounts.add(id);
    else if (r !== 'created') throw new Error(`ledger refused account ${id}: ${r}`);
    return id;
  }
  // The mirror goes negative by design: the on-chain balance check guards it.
  const chainWalletAccount = (tx: Queryable, userId: string) => railAccount(tx, chainWalletAccountId(userId), userId);

  deposits = createDeposits({
    db,
    ledger,
    accounts: deps.accounts,
    clock,
    logger,
    chainId: options.chainId,
    token,
    treasury: async () => (await ready()).treasury,
    precheck,
    chainWalletAccount,
    runner: (sink) => createRunner(runnerDeps, sink),
    spawn: deps.spawn,
    eventWritten: deps.eventWritten,
  });

  const facilitator = createFacilitator({
    db,
    provider,
    gateway,
    chainId: options.chainId,
    token,
    clock,
    logger,
    signal: deps.signal,
    spawn: deps.spawn,
    authorizationState,
    balanceOf,
    pollIntervalMs: Math.min(options.pollIntervalMs, 1000),
    settleTimeoutMs: options.settleTimeoutMs,
    readTimeoutMs: options.readTimeoutMs,
  });

  async function prepare(req: RailRequest): Promise<PreparedPayment> {
    const { body, user } = req;
    if (body.asset !== SOVR_ASSET) throw new ProblemError('validation-error', `the sovr rail pays ${SOVR_ASSET} only`);
    const exact = isOnChainPayee(body.payTo);
    if (exact) checkExactRequirement(body, { network, token });
    const a = parseAuthorization(body.authorization);
    let treasury: string;
    try {
      ({ treasury } = await ready());
    } catch (err) {
      throw new ProblemError('chain-unavailable', `the SOVR rail is not ready: ${describeRpcError(err)}`);
    }
    const checked = await precheck(a, {
      payee: exact ? body.payTo : treasury,
      ...(exact ? { payeeLabel: "the merchant's payTo", ...exactValidityWindow(body.requirement?.maxTimeoutSeconds, options) } : {}),
      ...(user.address ? { payer: user.address } : {}),
      amount: BigInt(body.amount),
    });
    return {
      debitAccount: (tx) => chainWalletAccount(tx, user.id),
      timeoutSeconds: checked.timeoutSeconds,
      reserve: async (tx, payment) => {
        await checked.reserve(tx, payment.userId);
        const row = {
          paymentId: payment.id,
          kind: exact ? ('exact' as const) : ('hub' as const),
          userId: payment.userId,
          chainId: options.chainId,
          token,
          authorization: a,
          fromBlock: checked.fromBlock,
        };
        await insertSovrRow(tx, row, clock.now());
      },
      release: checked.release,
    };
  }

  /** An exact payment is the merchant's to settle: the hub only watches for the authorization's use. */
  async function watchExact(row: SovrRow): Promise<RailOutcome> {
    const outcome: RailOutcome = { status: 'submitted' };
    // Recorded before the watcher can see the authorization used, so `submitted` precedes the final event.
    await deps
      .report(row.paymentId, outcome)
      .catch((err: Error) =>
        logger.warn({ paymentId: row.paymentId, err: err.message }, 'could not record an exact SOVR payment as submitted yet'),
      );
    const a = row.authorization;
    exactWatcher.watch({
      paymentId: row.paymentId,
      from: a.from,
      authNonce: a.nonce,
      validBefore: a.validBefore,
      fromBlock: row.fromBlock,
    });
    return outcome;
  }

  return {
    name: 'sovr',
    settlement: 'external',
    prepare,

    async resolvePayee(tx, payTo, asset) {
      if (asset !== SOVR_ASSET) throw new ProblemError('validation-error', `the sovr rail pays ${SOVR_ASSET} only`);
      if (isOnChainPayee(payTo))
        return { creditAccountId: await railAccount(tx, x402PayeesAccountId(SOVR_ASSET), 'system'), merchantId: null };
      const m = await tx.get<{ id: string }>('SELECT id FROM merchants WHERE id = ?', [payTo]);
      if (!m) throw new ProblemError('unknown-merchant', `no merchant ${JSON.stringify(payTo)} on this hub`);
      return { creditAccountId: await deps.accounts.merchant(tx, m.id, SOVR_ASSET), merchantId: m.id };
    },

    async execute(p) {
      const row = await loadSovrRow(db, p.id);
      if (!row) return failed('no SOVR authorization is stored for this payment');
      return row.kind === 'exact' ? watchExact(row) : runner.execute(jobOf(row));
    },

    async resume(p) {
      const row = await loadSovrRow(db, p.id);
      if (!row) return failed('no SOVR authorization is stored for this payment');
      if (row.kind === 'exact') {
        const a = row.authorization;
        exactWatcher.watch({
          paymentId: row.paymentId,
          from: a.from,
          authNonce: a.nonce,
          validBefore: a.validBefore,
          fromBlock: row.fromBlock,
        });
        return { status: 'submitted' };
      }
      return runner.resume(jobOf(row));
    },

    /** A wallet signs authorizations with these; the treasury is null while a keystore still decrypts. */
    async info() {
      const loaded = await Promise.race([ready().catch(() => null), new Promise<null>((r) => setTimeout(() => r(null), 2000).unref())]);
      return {
        name: 'sovr',
        assets: ['SOVR'],
        network,
        chainId: options.chainId,
        token,
        treasury: loaded?.treasury ?? options.treasury ?? null,
        eip712: { name: SOVR_EIP712_NAME, version: SOVR_EIP712_VERSION },
        confirmations: options.confirmations,
        minValiditySeconds: options.minValiditySeconds,
        maxValiditySeconds: options.maxValiditySeconds,
      };
    },
    ready,
    watching: () => watcher.size(),
    watchingExact: () => exactWatcher.size(),
    facilitator,
    deposits,
  };
}
