/**
 * What every SOVR authorization the hub accepts from a person passes before anything is stored,
 * whether it pays a hub merchant, a plain x402 merchant or the person's own deposit: the checks
 * that need no chain (authorization.ts), then, under the payer's lock, the chain's word on the
 * nonce and the balance; and inside the creating transaction, the balance against everything of
 * that address still in flight.
 */
import { getAddress, type JsonRpcProvider } from 'ethers';
import { ProblemError } from '../../../shared/problem.js';
import type { Clock } from '../../clock.js';
import type { Queryable } from '../../store/types.js';
import { describeRpcError } from './abi.js';
import { checkAuthorization, refuse, type Authorization } from './authorization.js';
import type { KeyedMutex } from '../../chain/evm/mutex.js';
import { authorizationHolder, committedSince } from './store.js';
import { withTimeout } from '../../core/timing.js';

export interface PrecheckDeps {
  clock: Clock;
  chainId: number;
  token: string;
  provider: JsonRpcProvider;
  locks: KeyedMutex;
  authorizationState(from: string, nonce: string): Promise<boolean>;
  balanceOf(owner: string): Promise<bigint>;
  minValiditySeconds: number;
  maxValiditySeconds: number;
  settleGraceSeconds: number;
  readTimeoutMs: number;
}

export interface Precheck {
  /** Where the authorization must pay. */
  payee: string;
  /** How refusals name the payee. */
  payeeLabel?: string;
  /** The signed-in person's wallet. */
  payer?: string;
  amount: bigint;
  /** Instead of the rail's window (an exact payment follows its merchant's timeout). */
  minValiditySeconds?: number;
  maxValiditySeconds?: number;
}

export interface Prechecked {
  /** The block the chain was at: log searches for the authorization start here. */
  fromBlock: number;
  /** How long the reservation lasts: until the authorization is dead, plus time for the confirmations. */
  timeoutSeconds: number;
  /** Inside the creating transaction: the payer is the user, the authorization is free, the balance covers everything in flight. */
  reserve(tx: Queryable, userId: string): Promise<void>;
  /** Lets the next request of this payer check; idempotent. */
  release(): void;
}

export function createPrechecks(deps: PrecheckDeps) {
  const { clock } = deps;

  async function reserve(tx: Queryable, userId: string, a: Authorization, balance: bigint, readAt: number): Promise<void> {
    // Several hub processes on one PostgreSQL: one payment of this address at a time across all of them.
    if (tx.dialect === 'postgres') await tx.get('SELECT pg_advisory_xact_lock(hashtextextended(?, 0)) AS locked', [`sovr:${a.from}`]);
    const owner = await tx.get<{ address: string }>('SELECT address FROM users WHERE id = ?', [userId]);
    if (!owner || getAddress(owner.address) !== a.from)
      throw refuse('payer', `\`from\` must be your signed-in wallet${owner ? ` ${owner.address}` : ''}`);
    const other = await authorizationHolder(tx, a.from, a.nonce);
    if (other) throw refuse('in-use', `this authorization is already used by ${other}`);
    const committed = await committedSince(tx, a.from, readAt);
    if (balance < committed + a.value) {
      throw new ProblemError(
        'insufficient-funds',
        `${a.from} holds ${balance} SOVR on chain, and ${committed} of it is committed to payments in flight; ${a.value} more does not fit`,
      );
    }
  }

  /**
   * The checks, then the chain reads under the payer's lock, which the caller holds until the
   * creating transaction is over (`release`): from the balance read until the reservation commits,
   * no other request of this address may reserve here, so each sees the others in its sum.
   */
  return async function precheck(a: Authorization, p: Precheck): Promise<Prechecked> {
    const nowMs = clock.now();
    checkAuthorization(a, {
      chainId: deps.chainId,
      token: deps.token,
      treasury: p.payee,
      ...(p.payeeLabel ? { payeeLabel: p.payeeLabel } : {}),
      ...(p.payer ? { payer: p.payer } : {}),
      amount: p.amount,
      now: Math.floor(nowMs / 1000),
      minValiditySeconds: p.minValiditySeconds ?? deps.minValiditySeconds,
      maxValiditySeconds: p.maxValiditySeconds ?? deps.maxValiditySeconds,
    });
    const release = await deps.locks.lock(a.from);
    try {
      const readAt = clock.now();
      let used: boolean, balance: bigint, fromBlock: number;
      try {
        [used, balance, fromBlock] = await withTimeout(
          Promise.all([deps.authorizationState(a.from, a.nonce), deps.balanceOf(a.from), deps.provider.getBlockNumber()]),
          deps.readTimeoutMs,
        );
      } catch (err) {
        throw new ProblemError('chain-unavailable', `the chain node could not be asked: ${describeRpcError(err)}`);
      }
      if (used) throw refuse('used', 'this authorization is already used or cancelled on chain');
      if (balance < a.value) throw new ProblemError('insufficient-funds', `${a.from} holds ${balance} SOVR on chain, less than ${a.value}`);
      const validFor = Number(a.validBefore) - Math.floor(nowMs / 1000);
      return {
        fromBlock,
        timeoutSeconds: Math.max(1, validFor + deps.settleGraceSeconds),
        reserve: (tx, userId) => reserve(tx, userId, a, balance, readAt),
        release,
      };
    } catch (err) {
      release();
      throw err;
    }
  };
}
export type Prechecks = ReturnType<typeof createPrechecks>;
