/**
 * Follows every SOVR transaction the hub is waiting on, by polling the node, and reports each
 * payment's outcome once it is `confirmations` blocks deep:
 *
 * - mined with status 1 → completed; status 0 → failed with the revert reason (the call replayed
 *   on the state of its block);
 * - unknown to the node and its nonce still unused → dropped: the stored bytes are broadcast again
 *   (same hash, never a new transaction), lowest nonce first;
 * - its nonce used by another transaction → replaced: if the authorization was used anyway (its
 *   AuthorizationUsed log, in a transaction that moved the money to the treasury), that
 *   transaction completes the payment; otherwise it failed, cancelled or not.
 *
 * A report that cannot be recorded now (the database is away) is tried again on the next round.
 */
import { Transaction, type JsonRpcProvider, type TransactionReceipt } from 'ethers';
import type { Logger } from '../../logger.js';
import type { RailOutcome } from '../types.js';
import { addressTopic, AUTHORIZATION_USED_TOPIC, describeRpcError, revertMessage, sovrRailInterface, TRANSFER_TOPIC } from './abi.js';
import type { Gateway } from '../../chain/evm/gateway.js';
import type { SignedTx } from './store.js';
import { sleep } from '../../core/timing.js';

export interface Watched {
  /** The payment's or the deposit's id: what the outcome is reported under. */
  paymentId: string;
  from: string;
  authNonce: string;
  value: bigint;
  treasury: string;
  /** Log searches for the authorization start here. */
  fromBlock: number;
  /** The hub's own transaction, if it sent one. */
  tx: SignedTx | null;
  /** The transaction followed now: the hub's, or another that used the authorization. */
  hash: string;
}

export interface WatcherDeps {
  provider: JsonRpcProvider;
  gateway: Gateway;
  token: string;
  confirmations: number;
  pollIntervalMs: number;
  /** Records the outcome; answers the state the payment or deposit is in afterwards. */
  report(paymentId: string, outcome: RailOutcome): Promise<{ status: string }>;
  completed(hash: string): RailOutcome;
  authorizationState(from: string, nonce: string): Promise<boolean>;
  logger: Logger;
  spawn(name: string, work: (signal: AbortSignal) => Promise<void>): void;
}

/**
 * Spawns `name`: `round` every `pollIntervalMs` until the rail closes. A round that throws (the
 * node is away) is logged with `unreachable` and simply tried again on the next tick.
 */
export function spawnPoller(
  deps: Pick<WatcherDeps, 'spawn' | 'logger' | 'pollIntervalMs'>,
  name: string,
  unreachable: string,
  round: () => Promise<void>,
): void {
  deps.spawn(name, async (signal) => {
    while (!signal.aborted) {
      try {
        await round();
      } catch (err) {
        deps.logger.warn({ err: describeRpcError(err) }, unreachable);
      }
      await sleep(deps.pollIntervalMs, signal);
    }
  });
}

/** The transaction that used `from`'s authorization `nonce`, if any did since `fromBlock`. */
export async function findAuthorizationUse(
  provider: JsonRpcProvider,
  token: string,
  from: string,
  nonce: string,
  fromBlock: number,
): Promise<string | null> {
  const logs = await provider.getLogs({
    address: token,
    topics: [AUTHORIZATION_USED_TOPIC, addressTopic(from), nonce],
    fromBlock,
    toBlock: 'latest',
  });
  return logs[0]?.transactionHash ?? null;
}

export function createWatcher(deps: WatcherDeps) {
  const { provider, confirmations, logger } = deps;
  const watched = new Map<string, Watched>();
  const warned = new Set<string>();

  const failed = (reason: string): RailOutcome => ({ status: 'failed', reason });

  async function revertReason(w: Watched, receipt: TransactionReceipt): Promise<string> {
    const sent = Transaction.from(w.tx!.raw);
    try {
      await provider.call({ from: w.tx!.sender, to: sent.to, data: sent.data, gasLimit: sent.gasLimit, blockTag: receipt.blockNumber });
      return receipt.gasUsed >= sent.gasLimit ? 'out of gas' : 'no reason given (the call succeeds when replayed)';
    } catch (err) {
      return revertMessage(err) ?? `no reason could be read: ${describeRpcError(err)}`;
    }
  }

  /** A transaction that used the authorization pays the hub only if it moved the value to the treasury. */
  function paidTreasury(w: Watched, receipt: TransactionReceipt): boolean {
    return receipt.logs.some(
      (l) =>
        l.address.toLowerCase() === deps.token.toLowerCase() &&
        l.topics[0] === TRANSFER_TOPIC &&
        l.topics[1] === addressTopic(w.from) &&
        l.topics[2] === addressTopic(w.treasury) &&
        BigInt(sovrRailInterface.decodeEventLog('Transfer', l.data, l.topics)[2] as bigint) === w.value,
    );
  }

  async function outcomeOf(w: Watched, receipt: TransactionReceipt): Promise<RailOutcome> {
    const ours = w.tx !== null && receipt.hash === w.tx.hash;
    if (ours)
      return receipt.status === 1 ? deps.completed(receipt.hash) : failed(`the transaction reverted: ${await revertReason(w, receipt)}`);
    if (receipt.status === 1 && paidTreasury(w, receipt)) return deps.completed(receipt.hash);
    return failed('the authorization was used by another transaction that did not pay the hub');
  }

  async function finish(w: Watched, outcome: RailOutcome): Promise<void> {
    const payment = await deps.report(w.paymentId, outcome);
    watched.delete(w.paymentId);
    if (outcome.status === 'completed' && payment.status !== 'completed') {
      // The treasury has the tokens but the payment had been given up (its reservation lapsed): the
      // merchant was not credited. Someone must settle it by hand.
      logger.error(
        { paymentId: w.paymentId, status: payment.status, transactionHash: w.hash },
        'a SOVR transfer was mined for a payment the hub had already failed',
      );
    }
  }

  /** Our nonce went to another transaction, `confirmations` deep: did the authorization get used? */
  async function replaced(w: Watched, latest: number): Promise<void> {
    const tx = w.tx!;
    const deepBlock = Math.max(0, latest - confirmations + 1);
    if ((await provider.getTransactionCount(tx.sender, deepBlock)) <= tx.nonce) return; // not deep enough yet
    const used = await findAuthorizationUse(provider, deps.token, w.from, w.authNonce, w.fromBlock);
    if (used) {
      w.hash = used;
      return; // followed from the next round until it is deep enough
    }
    const spent = await deps.authorizationState(w.from, w.authNonce);
    await finish(
      w,
      failed(
        spent
          ? "the authorization was cancelled before the hub's transaction was mined"
          : "the hub's transaction was replaced by another with the same nonce; the authorization was not used",
      ),
    );
  }

  /** One look at one transaction; returns it when it must be broadcast again. */
  async function inspect(w: Watched, latest: number): Promise<Watched | undefined> {
    // The receipt is read every round, even while a mined transaction waits for its depth: a
    // reorganisation can take the block away (and the chain back below it), and only a fresh read
    // notices in time to broadcast the transaction again.
    const receipt = await provider.getTransactionReceipt(w.hash);
    if (receipt) {
      if (latest - receipt.blockNumber + 1 < confirmations) return undefined;
      await finish(w, await outcomeOf(w, receipt));
      return undefined;
    }
    // Not mined (any more: a reorganisation takes receipts away too).
    if (await provider.getTransaction(w.hash)) return undefined; // waiting in the mempool
    const tx = w.tx;
    if (!tx || w.hash !== tx.hash) {
      // Another transaction used the authorization and is gone: look again from our own.
      if (tx) w.hash = tx.hash;
      else {
        const used = await findAuthorizationUse(provider, deps.token, w.from, w.authNonce, w.fromBlock);
        if (used) w.hash = used;
      }
      return undefined;
    }
    const usedNonces = await provider.getTransactionCount(tx.sender, 'latest');
    if (usedNonces <= tx.nonce) return w; // dropped
    await replaced(w, latest);
    return undefined;
  }

  async function again(w: Watched): Promise<void> {
    const b = await deps.gateway.rebroadcast(w.tx!);
    if (b.status === 'sent') {
      warned.delete(w.paymentId);
      logger.info({ paymentId: w.paymentId, transactionHash: w.tx!.hash, nonce: w.tx!.nonce }, 'SOVR transaction re-broadcast');
    } else if (!warned.has(w.paymentId)) {
      warned.add(w.paymentId);
      logger.warn(
        { paymentId: w.paymentId, transactionHash: w.tx!.hash, nonce: w.tx!.nonce, ...b },
        'a dropped SOVR transaction could not be re-broadcast yet; retrying',
      );
    }
  }

  async function round(): Promise<void> {
    if (watched.size === 0) return;
    const latest = await provider.getBlockNumber();
    const dropped: Watched[] = [];
    await Promise.all(
      [...watched.values()].map(async (w) => {
        try {
          const d = await inspect(w, latest);
          if (d) dropped.push(d);
        } catch (err) {
          logger.warn({ paymentId: w.paymentId, err: describeRpcError(err) }, 'checking a SOVR transaction failed; retrying');
        }
      }),
    );
    // In nonce order: a node that cannot queue refuses a nonce past a gap.
    for (const w of dropped.sort((a, b) => a.tx!.nonce - b.tx!.nonce)) await again(w).catch(() => undefined);
  }

  spawnPoller(deps, 'sovr watcher', 'the SOVR watcher could not reach the chain node; retrying', round);

  return {
    /** Follows `w` until its payment's outcome is recorded (once per payment). */
    watch(w: Watched): void {
      if (!watched.has(w.paymentId)) watched.set(w.paymentId, w);
    },
    size: () => watched.size,
  };
}
export type Watcher = ReturnType<typeof createWatcher>;
