/**
 * Deposits: a person moves SOVR from their own wallet into their hub balance (which the internal
 * rail spends). They sign an authorization to the treasury; the hub checks it like a payment's,
 * then in one transaction claims the Idempotency-Key, reserves (a pending ledger transfer from the
 * person's chain wallet mirror to their hub SOVR account) and stores the deposit; the gateway
 * submits it; once the transfer is `confirmations` deep the reservation is posted (the hub balance
 * is credited, exactly once), and a revert voids it.
 *
 * Every status change after creation writes its outbox event (`deposit.submitted`,
 * `deposit.completed`, `deposit.failed`) in the transaction that makes it, as top-ups do: the
 * owner's sockets hear `depositStatusUpdate` and the event broker publishes it; no webhook
 * carries it, since no merchant is party to a deposit.
 */
import { randomBytes } from 'node:crypto';
import { ProblemError } from '../../../shared/problem.js';
import { FINAL_DEPOSIT_STATUSES, type CreateDepositRequest, type Deposit } from '../../../shared/deposits.js';
import type { Clock } from '../../clock.js';
import type { Ledger } from '../../ledger/types.js';
import type { Logger } from '../../logger.js';
import { depositEvent } from '../../notify/events.js';
import { appendOutboxEvent } from '../../notify/outbox.js';
import type { AccountDirectory } from '../../core/accounts.js';
import { claimKey, fingerprint, keyKnown, keyScope, storeResponse } from '../../core/idempotency.js';
import { expectCreated } from '../../core/ledger-refusal.js';
import type { Db, Queryable } from '../../store/types.js';
import type { DepositsApi, RailOutcome } from '../types.js';
import { describeRpcError } from './abi.js';
import { parseAuthorization } from './authorization.js';
import type { Prechecked, Prechecks } from './checks.js';
import {
  insertDeposit,
  jobOf,
  loadDeposit,
  openDeposits,
  recordDepositRejected,
  recordDepositSigned,
  toDeposit,
  updateDepositState,
  type DepositRow,
} from './deposits-store.js';
import type { JobSink, Runner } from './runner.js';

export const DEPOSIT_ID_PREFIX = 'dep_';
export const newDepositId = () => `${DEPOSIT_ID_PREFIX}${randomBytes(12).toString('base64url')}`;
const ASSET = 'SOVR';

export interface DepositsDeps {
  db: Db;
  ledger: Ledger;
  accounts: AccountDirectory;
  clock: Clock;
  logger: Logger;
  chainId: number;
  token: string;
  /** The treasury, once the chain is checked; throws while the node cannot be reached. */
  treasury(): Promise<string>;
  precheck: Prechecks;
  /** The person's chain wallet mirror account, created when missing. */
  chainWalletAccount(tx: Queryable, userId: string): Promise<string>;
  /** Builds the runner that sends deposits, given where it records them. */
  runner(sink: JobSink): Runner;
  spawn(name: string, work: (signal: AbortSignal) => Promise<void>): void;
  /** A deposit's outbox event was committed: deliver it now rather than at the next poll. */
  eventWritten?(): void;
}

export interface SovrDeposits extends DepositsApi {
  /** Records what the chain said about a deposit (the watcher reports here). */
  apply(id: string, outcome: RailOutcome): Promise<Deposit>;
}

/** Idempotency keys of deposits live beside payments' but in their own scope per user. */

export function createDeposits(deps: DepositsDeps): SovrDeposits {
  const { db, ledger, accounts, clock, logger } = deps;

  const runner = deps.runner({
    recordSigned: (id, tx) => recordDepositSigned(db, id, tx, clock.now()),
    recordRejected: (id, reason) => recordDepositRejected(db, id, reason, clock.now()),
    report: (id, outcome) => apply(id, outcome),
  });

  async function prepare(
    user: { id: string; address?: string },
    body: CreateDepositRequest,
  ): Promise<{ checked: Prechecked; row: Parameters<typeof insertDeposit>[1] }> {
    const a = parseAuthorization(body.authorization);
    let treasury: string;
    try {
      treasury = await deps.treasury();
    } catch (err) {
      throw new ProblemError('chain-unavailable', `the SOVR rail is not ready: ${describeRpcError(err)}`);
    }
    const checked = await deps.precheck(a, {
      payee: treasury,
      ...(user.address ? { payer: user.address } : {}),
      amount: BigInt(body.amount),
    });
    return {
      checked,
      row: {
        id: newDepositId(),
        userId: user.id,
        chainId: deps.chainId,
        token: deps.token,
        authorization: a,
        fromBlock: checked.fromBlock,
      },
    };
  }

  async function create(user: { id: string; address?: string }, key: string, body: CreateDepositRequest, rawBody: unknown) {
    // A known key is answered by the claim (replay, 409, 422), never checked against the chain again:
    // the first request has spent the authorization since.
    let prepared: Awaited<ReturnType<typeof prepare>> | undefined;
    if (!(await keyKnown(db, keyScope('deposit', user.id), key, clock.now()))) {
      try {
        prepared = await prepare(user, body);
      } catch (err) {
        if (!(err instanceof ProblemError && (await keyKnown(db, keyScope('deposit', user.id), key, clock.now())))) throw err;
      }
    }
    const now = clock.now();
    let started: { replay: { status: number; body: unknown } } | { row: DepositRow };
    try {
      started = await db.transaction(async (tx) => {
        const claim = await claimKey(tx, {
          scope: keyScope('deposit', user.id),
          key,
          fingerprint: fingerprint(rawBody),
          resourceId: prepared?.row.id ?? newDepositId(),
          now,
        });
        if (!claim.claimed) return { replay: claim.replay };
        if (!prepared) throw new ProblemError('idempotency-key-in-flight', 'the key was released meanwhile; retry');
        await prepared.checked.reserve(tx, user.id);
        const debit = await deps.chainWalletAccount(tx, user.id);
        const credit = await accounts.user(tx, user.id, ASSET);
        const r = prepared.row;
        const [result] = await ledger.createTransfers(tx, [
          {
            id: r.id,
            debitAccountId: debit,
            creditAccountId: credit,
            amount: r.authorization.value,
            asset: ASSET,
            timeout: prepared.checked.timeoutSeconds,
            flags: { pending: true },
            userData: r.id,
          },
        ]);
        expectCreated(result, { what: `deposit ${r.id}`, amount: r.authorization.value, asset: ASSET });
        return { row: await insertDeposit(tx, r, now) };
      });
    } finally {
      prepared?.checked.release();
    }
    if ('replay' in started) return { status: started.replay.status, body: started.replay.body as Deposit, replayed: true };
    const outcome = await runner.execute(jobOf(started.row));
    return { status: 200, body: await apply(started.row.id, outcome), replayed: false };
  }

  /**
   * Records an outcome; idempotent (a final deposit, or one already in the reported state, stays
   * as it is). Completing posts the reservation; if it lapsed meanwhile (the hub was down past
   * its timeout) while the tokens did reach the treasury, a posted transfer credits them instead:
   * either way once, since the deposit turns final in the same transaction.
   */
  async function apply(id: string, outcome: RailOutcome): Promise<Deposit> {
    let changed = false;
    const deposit = await db.transaction(async (tx) => {
      changed = false; // a transaction retried after a conflict starts over
      const row = await loadDeposit(tx, id, true);
      if (!row) throw new Error(`deposit ${id} vanished`);
      if (FINAL_DEPOSIT_STATUSES.includes(row.status) || row.status === outcome.status) return toDeposit(row);
      const next: DepositRow = { ...row, updatedAt: clock.now() };
      if (outcome.status === 'completed') {
        const [r] = await ledger.createTransfers(tx, [
          { id: `${id}:post`, pendingId: id, flags: { postPendingTransfer: true }, userData: id },
        ]);
        if (r === 'pending_transfer_expired') {
          const [late] = await ledger.createTransfers(tx, [
            {
              id: `${id}:late`,
              debitAccountId: await deps.chainWalletAccount(tx, row.userId),
              creditAccountId: await accounts.user(tx, row.userId, ASSET),
              amount: row.authorization.value,
              asset: ASSET,
              userData: id,
            },
          ]);
          if (late !== 'created' && late !== 'exists') throw new Error(`ledger refused the late credit of deposit ${id}: ${late}`);
          logger.warn({ depositId: id }, 'a deposit was confirmed after its reservation lapsed; credited with a posted transfer');
        } else if (r !== 'created' && r !== 'exists') {
          throw new Error(`ledger refused to post deposit ${id}: ${r}`);
        }
        next.status = 'completed';
        next.transactionHash = outcome.transactionHash ?? row.transactionHash;
        next.blockExplorerUrl = outcome.blockExplorerUrl ?? row.blockExplorerUrl;
      } else if (outcome.status === 'submitted') {
        next.status = 'submitted';
        next.transactionHash = outcome.transactionHash ?? row.transactionHash;
        next.blockExplorerUrl = outcome.blockExplorerUrl ?? row.blockExplorerUrl;
      } else {
        const [r] = await ledger.createTransfers(tx, [
          { id: `${id}:void`, pendingId: id, flags: { voidPendingTransfer: true }, userData: id },
        ]);
        const released = ['created', 'exists', 'pending_transfer_expired', 'pending_transfer_already_voided'];
        if (!r || !released.includes(r)) throw new Error(`ledger refused to void deposit ${id}: ${r}`);
        next.status = 'failed';
        next.failureReason = outcome.reason;
      }
      await updateDepositState(tx, next);
      const deposit = toDeposit(next);
      await appendOutboxEvent(tx, depositEvent(row.userId, deposit, row.status), next.updatedAt);
      await storeResponse(tx, id, { status: 200, body: deposit });
      changed = true;
      return deposit;
    });
    if (changed) deps.eventWritten?.();
    return deposit;
  }

  async function get(userId: string, id: string): Promise<Deposit | undefined> {
    const row = await loadDeposit(db, id);
    return row && row.userId === userId ? toDeposit(row) : undefined;
  }

  // Deposits left open by a restart: re-broadcast or follow their one transaction, never a second.
  deps.spawn('sovr deposits resume', async () => {
    let open: DepositRow[];
    try {
      open = await openDeposits(db);
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'could not load open deposits');
      return;
    }
    for (const row of open) {
      try {
        await apply(row.id, await runner.resume(jobOf(row)));
      } catch (err) {
        logger.error({ depositId: row.id, err: (err as Error).message }, 'could not resume a deposit');
      }
    }
  });

  return { create, get, apply };
}
