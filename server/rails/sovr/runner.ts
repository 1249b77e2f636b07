/**
 * Sending one stored authorization to the treasury through the gateway, and carrying it on after a
 * restart: shared by hub-merchant payments and deposits, which differ only in where they record
 * the signed transaction and the outcome.
 *
 * One transaction per job, stored before it is sent: a restart only ever re-broadcasts those
 * bytes. A job reserved but never signed is sent on resume only after `authorizationState` says
 * the authorization is unused; if someone else used it, the job follows that transaction instead.
 */
import type { JsonRpcProvider } from 'ethers';
import type { Logger } from '../../logger.js';
import type { RailOutcome } from '../types.js';
import { describeRpcError, encodeTransferWithAuthorization } from './abi.js';
import type { Authorization } from './authorization.js';
import type { Gateway } from '../../chain/evm/gateway.js';
import type { SignedTx } from './store.js';
import { findAuthorizationUse, type Watched, type Watcher } from './watcher.js';

export interface TransferJob {
  /** The payment's or the deposit's id: what outcomes are reported under. */
  id: string;
  authorization: Authorization;
  /** Log searches for the authorization start here. */
  fromBlock: number;
  tx: SignedTx | null;
  broadcastError: string | null;
}

/** Where a kind of job keeps its transaction and its outcome. */
export interface JobSink {
  /** Before the broadcast; throwing sends nothing. */
  recordSigned(id: string, tx: SignedTx): Promise<void>;
  recordRejected(id: string, reason: string): Promise<void>;
  report(id: string, outcome: RailOutcome): Promise<unknown>;
}

export interface RunnerDeps {
  provider: JsonRpcProvider;
  gateway: Gateway;
  token: string;
  watcher: Watcher;
  /** The treasury, once the chain is checked; throws while the node cannot be reached. */
  treasury(): Promise<string>;
  /** The treasury without asking the node (configured, or the service wallet's address). */
  treasuryOffline(): Promise<string>;
  authorizationState(from: string, nonce: string): Promise<boolean>;
  submitted(hash: string): RailOutcome;
  logger: Logger;
}

const failed = (reason: string): RailOutcome => ({ status: 'failed', reason });

export function createRunner(deps: RunnerDeps, sink: JobSink) {
  const { provider, gateway, watcher, logger } = deps;

  function watched(job: TransferJob, treasury: string, hash: string, tx = job.tx): Watched {
    const a = job.authorization;
    return { paymentId: job.id, from: a.from, authNonce: a.nonce, value: a.value, treasury, fromBlock: job.fromBlock, tx, hash };
  }

  /** Signs, stores and broadcasts the one transaction of this job, and follows it. Throws only before anything was broadcast. */
  async function send(job: TransferJob): Promise<RailOutcome> {
    const treasury = await deps.treasury();
    const result = await gateway.submit({
      to: deps.token,
      data: encodeTransferWithAuthorization(job.authorization),
      persist: (t) => sink.recordSigned(job.id, t),
      onRejected: (_t, reason) => sink.recordRejected(job.id, reason),
    });
    if (result.status === 'refused') return failed(result.reason);
    const outcome = deps.submitted(result.tx.hash);
    // Recorded here, before the watcher can see it mined, so `submitted` always precedes the final event.
    await sink
      .report(job.id, outcome)
      .catch((err: Error) => logger.warn({ id: job.id, err: err.message }, 'could not record a SOVR transfer as submitted yet'));
    watcher.watch(watched(job, treasury, result.tx.hash, result.tx));
    return outcome;
  }

  async function execute(job: TransferJob): Promise<RailOutcome> {
    try {
      return await send(job);
    } catch (err) {
      return failed(`nothing was sent: ${describeRpcError(err)}`);
    }
  }

  /** After a restart, for a job that is not final: never a second transaction. */
  async function resume(job: TransferJob): Promise<RailOutcome> {
    if (job.broadcastError) return failed(job.broadcastError);
    let treasury: string;
    try {
      treasury = await deps.treasury();
    } catch (err) {
      if (!job.tx) return failed(`the chain node could not be reached to resume; nothing was sent: ${describeRpcError(err)}`);
      treasury = await deps.treasuryOffline();
    }
    if (job.tx) {
      // Signed before the restart: only ever these bytes, re-broadcast if the node lacks them.
      const tx = job.tx;
      try {
        const [known, usedNonces] = await Promise.all([
          provider.getTransaction(tx.hash),
          provider.getTransactionCount(tx.sender, 'latest'),
        ]);
        if (!known && usedNonces <= tx.nonce) await gateway.rebroadcast(tx);
      } catch (err) {
        logger.warn({ id: job.id, err: describeRpcError(err) }, 'could not reach the chain node on resume; the watcher keeps trying');
      }
      watcher.watch(watched(job, treasury, tx.hash));
      return deps.submitted(tx.hash);
    }
    // Never signed, so nothing of ours is on chain; someone else may still have used the authorization.
    const a = job.authorization;
    try {
      if (await deps.authorizationState(a.from, a.nonce)) {
        const used = await findAuthorizationUse(provider, deps.token, a.from, a.nonce, job.fromBlock);
        if (!used) return failed('the authorization was cancelled before the hub sent it');
        watcher.watch(watched(job, treasury, used));
        return deps.submitted(used);
      }
    } catch (err) {
      return failed(`the chain node could not be reached to resume; nothing was sent: ${describeRpcError(err)}`);
    }
    return execute(job);
  }

  return { execute, resume };
}
export type Runner = ReturnType<typeof createRunner>;
