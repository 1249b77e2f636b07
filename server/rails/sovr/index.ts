/**
 * The SOVR rail: a person pays a hub merchant in SOVR from their own wallet, on chain.
 *
 * The person signs an EIP-3009 TransferWithAuthorization (from: their wallet, to: the hub's
 * treasury, value: the amount). Before anything is stored the hub checks it (signature, payer,
 * payee, value, time window, nonce unused on chain) and that the wallet's on-chain balance covers
 * this payment and every other SOVR payment of that address still in flight. The reservation then
 * debits the person's on-chain wallet mirror account (`chain:<userId>:SOVR`, whose balance is minus
 * what they paid on chain) and credits the merchant's hub account: the hub is custodial for
 * merchants, and the treasury holds the tokens behind their balances.
 *
 * The service wallet submits `transferWithAuthorization` (gateway.ts) and the payment answers
 * `submitted` with the hash; the watcher (watcher.ts) reports completed or failed once the
 * transaction is `confirmations` deep, and the payments service posts or voids the reservation,
 * issues the receipt and emits the events.
 */
import { Contract, getAddress, JsonRpcProvider, Network, Wallet } from 'ethers';
import type { Payment } from '../../../shared/api.js';
import { ProblemError } from '../../../shared/problem.js';
import type { Clock } from '../../clock.js';
import type { Ledger } from '../../ledger/types.js';
import type { Logger } from '../../logger.js';
import type { AccountDirectory } from '../../payments/accounts.js';
import type { Db, Queryable } from '../../store/types.js';
import type { PreparedPayment, Rail, RailOutcome, RailPayment, RailRequest } from '../types.js';
import { describeRpcError, encodeTransferWithAuthorization, SOVR_RAIL_ABI } from './abi.js';
import { checkAuthorization, parseAuthorization, refuse, type Authorization } from './authorization.js';
import { createGateway, type Gateway } from './gateway.js';
import { createKeyedMutex } from './mutex.js';
import { committedSince, insertSovrRow, loadSovrRow, nextOpenNonce, paymentUsing, recordRejected, recordSigned, type SovrRow } from './store.js';
import { createWatcher, findAuthorizationUse, type Watched } from './watcher.js';

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
}

export const SOVR_DEFAULTS = {
  confirmations: 1,
  pollIntervalMs: 2000,
  minValiditySeconds: 60,
  maxValiditySeconds: 3600,
  settleGraceSeconds: 3600,
  readTimeoutMs: 10_000,
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
  signal: AbortSignal;
  signer: ServiceSigner;
  options: Pick<SovrRailOptions, 'rpcUrl' | 'chainId' | 'token'> & Partial<SovrRailOptions>;
}

export interface SovrRail extends Rail {
  /** The service wallet's and the treasury's addresses, once the key is loaded and the chain checked. */
  ready(): Promise<{ serviceAddress: string; treasury: string }>;
  /** Payments whose transaction is being followed (tests, metrics). */
  watching(): number;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export function createSovrRail(deps: SovrRailDeps): SovrRail {
  const { db, ledger, clock, logger } = deps;
  const options: SovrRailOptions = { ...SOVR_DEFAULTS, ...deps.options };
  const token = getAddress(options.token);
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

  const watcher = createWatcher({
    provider,
    gateway,
    token,
    confirmations: options.confirmations,
    pollIntervalMs: options.pollIntervalMs,
    report: deps.report,
    completed,
    authorizationState,
    logger,
    spawn: deps.spawn,
  });

  const locks = createKeyedMutex();
  const knownAccounts = new Set<string>();
  async function chainWalletAccount(tx: Queryable, userId: string): Promise<string> {
    const id = chainWalletAccountId(userId);
    if (knownAccounts.has(id)) return id;
    // No must-not-exceed flag: it goes negative by design, and the on-chain balance check guards it.
    const [r] = await ledger.createAccounts(tx, [{ id, asset: SOVR_ASSET, owner: userId }]);
    if (r === 'exists') knownAccounts.add(id);
    else if (r !== 'created') throw new Error(`ledger refused account ${id}: ${r}`);
    return id;
  }

  function watchedFrom(row: SovrRow, treasury: string, hash: string): Watched {
    const a = row.authorization;
    return { paymentId: row.paymentId, from: a.from, authNonce: a.nonce, value: a.value, treasury, fromBlock: row.fromBlock, tx: row.tx, hash };
  }

  /** Signs, stores and broadcasts the one transaction of this payment, and follows it. */
  async function send(row: SovrRow): Promise<RailOutcome> {
    const { treasury } = await ready();
    const a = row.authorization;
    const result = await gateway.submit({
      to: token,
      data: encodeTransferWithAuthorization(a),
      persist: (t) => recordSigned(db, row.paymentId, t, clock.now()),
      onRejected: (_t, reason) => recordRejected(db, row.paymentId, reason, clock.now()),
    });
    if (result.status === 'refused') return failed(result.reason);
    const outcome = submitted(result.tx.hash);
    // Recorded here, before the watcher can see it mined, so `submitted` always precedes the final event.
    await deps.report(row.paymentId, outcome).catch((err: Error) => logger.warn({ paymentId: row.paymentId, err: err.message }, 'could not record a SOVR payment as submitted yet'));
    watcher.watch(watchedFrom({ ...row, tx: result.tx }, treasury, result.tx.hash));
    return outcome;
  }

  /** Inside the creating transaction: the balance check against what is in flight, and the row. */
  async function reserve(tx: Queryable, payment: RailPayment, a: Authorization, balance: bigint, readAt: number, fromBlock: number): Promise<void> {
    // Several hub processes on one PostgreSQL: one payment of this address at a time across all of them.
    if (tx.dialect === 'postgres') await tx.get('SELECT pg_advisory_xact_lock(hashtextextended(?, 0)) AS locked', [`sovr:${a.from}`]);
    const owner = await tx.get<{ address: string }>('SELECT address FROM users WHERE id = ?', [payment.userId]);
    if (!owner || getAddress(owner.address) !== a.from) throw refuse('payer', `\`from\` must be your signed-in wallet${owner ? ` ${owner.address}` : ''}`);
    const other = await paymentUsing(tx, a.from, a.nonce);
    if (other) throw refuse('in-use', `this authorization is already used by payment ${other}`);
    const committed = await committedSince(tx, a.from, readAt);
    if (balance < committed + a.value) {
      throw new ProblemError(
        'insufficient-funds',
        `${a.from} holds ${balance} SOVR on chain, and ${committed} of it is committed to payments in flight; ${a.value} more does not fit`,
      );
    }
    await insertSovrRow(tx, { paymentId: payment.id, userId: payment.userId, chainId: options.chainId, token, authorization: a, fromBlock }, clock.now());
  }

  async function prepare(req: RailRequest): Promise<PreparedPayment> {
    const { body, user } = req;
    if (body.asset !== SOVR_ASSET) throw new ProblemError('validation-error', `the sovr rail pays ${SOVR_ASSET} only`);
    const a = parseAuthorization(body.authorization);
    let treasury: string;
    try {
      ({ treasury } = await ready());
    } catch (err) {
      throw new ProblemError('chain-unavailable', `the SOVR rail is not ready: ${describeRpcError(err)}`);
    }
    const nowMs = clock.now();
    checkAuthorization(a, {
      chainId: options.chainId,
      token,
      treasury,
      payer: user.address,
      amount: BigInt(body.amount),
      now: Math.floor(nowMs / 1000),
      minValiditySeconds: options.minValiditySeconds,
      maxValiditySeconds: options.maxValiditySeconds,
    });

    // From the balance read until the reservation commits, no other payment of this address may
    // reserve here: each sees the others in its in-flight sum.
    const release = await locks.lock(a.from);
    try {
      const readAt = clock.now();
      let used: boolean, balance: bigint, fromBlock: number;
      try {
        [used, balance, fromBlock] = await withTimeout(Promise.all([authorizationState(a.from, a.nonce), balanceOf(a.from), provider.getBlockNumber()]), options.readTimeoutMs);
      } catch (err) {
        throw new ProblemError('chain-unavailable', `the chain node could not be asked: ${describeRpcError(err)}`);
      }
      if (used) throw refuse('used', 'this authorization is already used or cancelled on chain');
      if (balance < a.value) throw new ProblemError('insufficient-funds', `${a.from} holds ${balance} SOVR on chain, less than ${a.value}`);
      const validFor = Number(a.validBefore) - Math.floor(nowMs / 1000);
      return {
        debitAccount: (tx) => chainWalletAccount(tx, user.id),
        timeoutSeconds: Math.max(1, validFor + options.settleGraceSeconds),
        reserve: (tx, payment) => reserve(tx, payment, a, balance, readAt, fromBlock),
        release,
      };
    } catch (err) {
      release();
      throw err;
    }
  }

  return {
    name: 'sovr',
    settlement: 'external',
    prepare,

    async resolvePayee(tx, payTo, asset) {
      if (asset !== SOVR_ASSET) throw new ProblemError('validation-error', `the sovr rail pays ${SOVR_ASSET} only`);
      const m = await tx.get<{ id: string }>('SELECT id FROM merchants WHERE id = ?', [payTo]);
      if (!m) throw new ProblemError('unknown-merchant', `no merchant ${JSON.stringify(payTo)} on this hub`);
      return { creditAccountId: await deps.accounts.merchant(tx, m.id, SOVR_ASSET), merchantId: m.id };
    },

    async execute(p) {
      const row = await loadSovrRow(db, p.id);
      if (!row) return failed('no SOVR authorization is stored for this payment');
      try {
        return await send(row);
      } catch (err) {
        // send() only throws before anything was broadcast.
        return failed(`nothing was sent: ${describeRpcError(err)}`);
      }
    },

    async resume(p) {
      const row = await loadSovrRow(db, p.id);
      if (!row) return failed('no SOVR authorization is stored for this payment');
      if (row.broadcastError) return failed(row.broadcastError);
      let treasury: string;
      try {
        ({ treasury } = await ready());
      } catch (err) {
        if (!row.tx) return failed(`the chain node could not be reached to resume the payment; nothing was sent: ${describeRpcError(err)}`);
        treasury = options.treasury ? getAddress(options.treasury) : (await wallet).address;
      }
      if (row.tx) {
        // Signed before the restart: only ever these bytes, re-broadcast if the node lacks them.
        const tx = row.tx;
        try {
          const [known, usedNonces] = await Promise.all([provider.getTransaction(tx.hash), provider.getTransactionCount(tx.sender, 'latest')]);
          if (!known && usedNonces <= tx.nonce) await gateway.rebroadcast(tx);
        } catch (err) {
          logger.warn({ paymentId: p.id, err: describeRpcError(err) }, 'could not reach the chain node on resume; the watcher keeps trying');
        }
        watcher.watch(watchedFrom(row, treasury, tx.hash));
        return submitted(tx.hash);
      }
      // Never signed, so nothing of ours is on chain; someone else may still have used the authorization.
      const a = row.authorization;
      try {
        if (await authorizationState(a.from, a.nonce)) {
          const used = await findAuthorizationUse(provider, token, a.from, a.nonce, row.fromBlock);
          if (!used) return failed('the authorization was cancelled before the hub sent it');
          watcher.watch(watchedFrom(row, treasury, used));
          return submitted(used);
        }
      } catch (err) {
        return failed(`the chain node could not be reached to resume the payment; nothing was sent: ${describeRpcError(err)}`);
      }
      try {
        return await send(row);
      } catch (err) {
        return failed(`nothing was sent: ${describeRpcError(err)}`);
      }
    },

    ready,
    watching: () => watcher.size(),
  };
}
