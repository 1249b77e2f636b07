/**
 * Paying a plain x402 merchant (an `exact` entry on this chain, for SOVR) from the person's own
 * wallet. The hub does not submit: it checks the authorization like any SOVR payment, reserves the
 * amount, and hands the authorization back to the person (the extension retries the merchant's
 * page with it in PAYMENT-SIGNATURE; the merchant's own facilitator settles it). This watcher then
 * follows the authorization on chain:
 *
 * - `AuthorizationUsed(from, nonce)` `confirmations` deep → completed, with that transaction's hash
 *   (EIP-3009 binds payee and value into the signature, so any use paid the merchant as signed);
 * - `AuthorizationCanceled(from, nonce)` that deep → failed (cancelled);
 * - neither, and the block `confirmations` deep is stamped at or past `validBefore` → failed
 *   (expired unused): no later block can carry a use any more, and every block up to the latest
 *   was searched.
 */
import type { JsonRpcProvider } from 'ethers';
import type { CreatePaymentRequest } from '../../../shared/api.js';
import { ProblemError } from '../../../shared/problem.js';
import type { Logger } from '../../logger.js';
import type { RailOutcome } from '../types.js';
import { addressTopic, AUTHORIZATION_USED_TOPIC, describeRpcError, sovrRailInterface } from './abi.js';
import { spawnPoller } from './watcher.js';

/** A payTo that is an EVM address is a plain x402 merchant's payout address; anything else names a hub merchant. */
export const isOnChainPayee = (payTo: string) => /^0x[0-9a-fA-F]{40}$/.test(payTo);

/** Where reservations for plain x402 merchants go: the hub's record of what left to merchants it does not hold accounts for. */
export const x402PayeesAccountId = (asset: string) => `system:x402-payees:${asset}`;

const AUTHORIZATION_CANCELED_TOPIC = sovrRailInterface.getEvent('AuthorizationCanceled')!.topicHash;

/** The exact entry the person approved must be one this hub can pay: SOVR on this chain, to `payTo`. */
export function checkExactRequirement(body: CreatePaymentRequest, p: { network: string; token: string }): void {
  const r = body.requirement;
  if (!r) {
    throw new ProblemError('validation-error', 'paying an on-chain payTo needs `requirement`: the x402 `exact` entry the merchant listed', {
      errors: [{ path: 'requirement', message: 'required when payTo is an address' }],
    });
  }
  const wrong = (path: string, message: string) =>
    new ProblemError('validation-error', `the requirement is not an exact entry this hub can pay: ${message}`, {
      errors: [{ path: `requirement.${path}`, message }],
    });
  if (r.scheme !== 'exact') throw wrong('scheme', 'must be "exact"');
  if (r.network !== p.network) throw wrong('network', `must be ${p.network}`);
  if (r.asset.toLowerCase() !== p.token.toLowerCase()) throw wrong('asset', `must be the SOVR contract ${p.token}`);
}

/** What @x402/evm's facilitator wants left of an authorization's life when it verifies, s. */
const FACILITATOR_MARGIN_SECONDS = 6;

/**
 * The validity window an exact payment's authorization must fit. The reference client signs
 * `validBefore = now + maxTimeoutSeconds`, so the hub's own floor (time for the hub to get a
 * transfer mined) would refuse merchants with a short timeout: the floor is the smaller of the
 * rail's and half the merchant's timeout, never under what the merchant's facilitator needs; the
 * ceiling grows to the merchant's timeout (plus a minute of clock skew) when that is longer.
 */
export function exactValidityWindow(
  maxTimeoutSeconds: number | undefined,
  rail: { minValiditySeconds: number; maxValiditySeconds: number },
) {
  if (maxTimeoutSeconds === undefined) return { minValiditySeconds: rail.minValiditySeconds, maxValiditySeconds: rail.maxValiditySeconds };
  return {
    minValiditySeconds: Math.max(FACILITATOR_MARGIN_SECONDS, Math.min(rail.minValiditySeconds, Math.floor(maxTimeoutSeconds / 2))),
    maxValiditySeconds: Math.max(rail.maxValiditySeconds, maxTimeoutSeconds + 60),
  };
}

export interface ExactWatched {
  paymentId: string;
  from: string;
  authNonce: string;
  validBefore: bigint;
  fromBlock: number;
}

export interface ExactWatcherDeps {
  provider: JsonRpcProvider;
  token: string;
  confirmations: number;
  pollIntervalMs: number;
  /** Records the outcome; answers the state the payment is in afterwards. */
  report(paymentId: string, outcome: RailOutcome): Promise<{ status: string }>;
  completed(hash: string): RailOutcome;
  logger: Logger;
  spawn(name: string, work: (signal: AbortSignal) => Promise<void>): void;
}

export function createExactWatcher(deps: ExactWatcherDeps) {
  const { provider, confirmations, logger } = deps;
  const watched = new Map<string, ExactWatched>();

  async function outcome(w: ExactWatched, latest: number, deepStamp: bigint): Promise<RailOutcome | undefined> {
    // Used and cancelled in one search; both mark the nonce, so at most one of them exists.
    const logs = await provider.getLogs({
      address: deps.token,
      topics: [[AUTHORIZATION_USED_TOPIC, AUTHORIZATION_CANCELED_TOPIC], addressTopic(w.from), w.authNonce],
      fromBlock: w.fromBlock,
      toBlock: 'latest',
    });
    const log = logs[0];
    if (log) {
      if (latest - log.blockNumber + 1 < confirmations) return undefined;
      return log.topics[0] === AUTHORIZATION_USED_TOPIC
        ? deps.completed(log.transactionHash)
        : { status: 'failed', reason: 'the authorization was cancelled' };
    }
    if (deepStamp >= w.validBefore) return { status: 'failed', reason: 'the authorization expired unused' };
    return undefined;
  }

  async function round(): Promise<void> {
    if (watched.size === 0) return;
    const latest = await provider.getBlockNumber();
    const deep = await provider.getBlock(Math.max(0, latest - confirmations + 1));
    if (!deep) return;
    const deepStamp = BigInt(deep.timestamp);
    await Promise.all(
      [...watched.values()].map(async (w) => {
        try {
          const o = await outcome(w, latest, deepStamp);
          if (!o) return;
          const payment = await deps.report(w.paymentId, o);
          watched.delete(w.paymentId);
          if (o.status === 'completed' && payment.status !== 'completed') {
            // The merchant was paid on chain, but the hub had released the reservation (it was down
            // past validBefore + the grace): the person's chain mirror account misses this amount.
            logger.error(
              { paymentId: w.paymentId, status: payment.status, transactionHash: o.transactionHash },
              'an exact SOVR authorization was used for a payment the hub had already failed',
            );
          }
        } catch (err) {
          logger.warn({ paymentId: w.paymentId, err: describeRpcError(err) }, 'checking an exact SOVR payment failed; retrying');
        }
      }),
    );
  }

  spawnPoller(deps, 'sovr exact watcher', 'the exact SOVR watcher could not reach the chain node; retrying', round);

  return {
    /** Follows `w` until its payment's outcome is recorded (once per payment). */
    watch(w: ExactWatched): void {
      if (!watched.has(w.paymentId)) watched.set(w.paymentId, w);
    },
    size: () => watched.size,
  };
}
export type ExactWatcher = ReturnType<typeof createExactWatcher>;
