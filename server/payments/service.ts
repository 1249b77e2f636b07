import { CHALLENGE_ID_PATTERN } from '../../shared/challenge.js';
import { randomBytes } from 'node:crypto';
import type { CreatePaymentRequest, Payment, PaymentStatus, RefundRequest } from '../../shared/api.js';
import { FINAL_STATUSES } from '../../shared/api.js';
import { DEFAULT_BIND, type BindPart } from '../../shared/binding.js';
import { ProblemError } from '../../shared/problem.js';
import { isTokenAsset, type SettlementReport } from '../../shared/wallet-payments.js';
import type { Clock } from '../clock.js';
import type { Ledger } from '../ledger/types.js';
import { appendEvent } from '../notify/outbox.js';
import type {
  AwaitingPayer,
  DepositsApi,
  TopupsApi,
  PreparedPayment,
  Rail,
  RailOutcome,
  RailPayment,
  RailRequest,
  Rails,
} from '../rails/types.js';
import { newestFirst } from '../store/pages.js';
import { forUpdate, type Db, type Queryable } from '../store/types.js';
import type { AccountDirectory } from '../core/accounts.js';
import { spendAllowance } from './allowances.js';
import { claimKey, fingerprint, keyKnown, keyScope, storeKeyResponse, storeResponse, type StoredResponse } from '../core/idempotency.js';
import { expectCreated } from '../core/ledger-refusal.js';
import type { ReceiptIssuer } from './receipts.js';
import { OUTSIDE_PAYER_ID, type ChallengeInvoices } from './challenge-invoices.js';
import { PAYMENT_COLUMNS, PAYMENT_FIELDS, PAYMENT_PLACEHOLDERS, toPayment, type PaymentRow } from './resource.js';
import { createSettleBatch, type SettleBatchOptions } from './settle-batch.js';

export interface PaymentsDeps {
  db: Db;
  ledger: Ledger;
  accounts: AccountDirectory;
  clock: Clock;
  rails: Rails;
  issueReceipt: ReceiptIssuer;
  /** Seconds a reservation lasts; past it the ledger releases the funds. */
  paymentTimeout: number;
  /** Called after every commit that wrote an outbox event (wakes the dispatcher). */
  onEvent?: () => void;
  /** Called after a status change commits (metrics). */
  onStatus?: (status: PaymentStatus) => void;
  /** Challenge invoices of the hub's own node: paid inside the ledger, never routed (challenge-invoices.ts). */
  ownInvoices?: Pick<ChallengeInvoices, 'payInternally'>;
  /** PostgreSQL: ledger-settled payments that arrive together settle in one transaction (settle-batch.ts); `false` turns it off. */
  settleBatch?: false | Omit<SettleBatchOptions, 'db' | 'ledger' | 'accounts'>;
}

export interface CreateResult {
  status: number;
  body: unknown;
  replayed: boolean;
  /** `JSON.stringify(body)`, when it was made already (the HTTP layer sends it as is). */
  json?: string;
}

/**
 * Payment ids: `pay_` and 16 base64url characters, as before, from 4 bytes of the creation time (in
 * 16 ms steps, wrapping every ~2 years) and 8 random bytes. Every index keyed by the id (payments,
 * ledger transfers, idempotency keys) then takes the rows of one group commit on a few adjacent
 * B-tree pages instead of one random page each (that was ~40% of the pages a COMMIT wrote to the WAL).
 * 64 random bits per 16 ms step keep collisions out of reach, and a collision would be refused by
 * the primary keys, not merged. Random bytes are drawn in blocks: one CSPRNG call per 256 ids.
 */
export function createPaymentIds() {
  const BLOCK = 256 * 8;
  let pool = randomBytes(BLOCK);
  let at = 0;
  return (now: number): string => {
    if (at === BLOCK) {
      pool = randomBytes(BLOCK);
      at = 0;
    }
    const b = Buffer.allocUnsafe(12);
    b.writeUInt32BE(Math.floor(now / 16) % 0x1_0000_0000, 0);
    pool.copy(b, 4, at, at + 8);
    at += 8;
    return `pay_${b.toString('base64url')}`;
  };
}

const EVENT_TYPE: Record<PaymentStatus, string> = {
  pending: 'payment.created',
  submitted: 'payment.submitted',
  completed: 'payment.completed',
  failed: 'payment.failed',
  refunded: 'payment.refunded',
};

const railPayment = (r: PaymentRow): RailPayment => ({
  id: r.id,
  userId: r.user_id,
  payTo: r.pay_to,
  merchantId: r.merchant_id,
  amount: BigInt(r.amount),
  asset: r.asset,
  transactionHash: r.transaction_hash,
});

/**
 * The payment state machine: pending (funds reserved) → submitted → completed | failed.
 * Every change commits together with its ledger transfer, its outbox event and, for the request
 * that caused it, the idempotent response.
 */
export function createPaymentsService(deps: PaymentsDeps) {
  const { db, ledger, accounts, clock, rails } = deps;
  const newPaymentId = createPaymentIds();
  // PostgreSQL only: SQLite's store already commits the transactions that arrive together as one.
  const settleBatch =
    deps.settleBatch !== false && db.dialect === 'postgres' ? createSettleBatch({ db, ledger, accounts, ...deps.settleBatch }) : undefined;

  async function loadForUpdate(tx: Queryable, id: string): Promise<PaymentRow | undefined> {
    return tx.get<PaymentRow>(`SELECT ${PAYMENT_COLUMNS} FROM payments WHERE id = ?${forUpdate(tx)}`, [id]);
  }

  async function create(
    user: { id: string; address?: string },
    key: string,
    body: CreatePaymentRequest,
    rawBody: unknown,
  ): Promise<CreateResult> {
    const rail = rails[body.rail];
    if (!rail) throw new ProblemError('unsupported-rail', `the ${body.rail} rail is not enabled on this hub`);
    // Hub balances are in hub assets; a token on some network is only ever paid from the person's own wallet.
    if (isTokenAsset(body.asset) !== (rail.settlement === 'wallet')) {
      throw new ProblemError(
        'validation-error',
        rail.settlement === 'wallet'
          ? 'the wallet rail pays tokens: asset eip155:<chainId>/erc20:<address>'
          : `the ${body.rail} rail pays hub assets only`,
      );
    }
    if (body.requirement && (body.requirement.amount !== body.amount || body.requirement.payTo !== body.payTo)) {
      throw new ProblemError('validation-error', 'requirement.amount and requirement.payTo must equal amount and payTo');
    }
    const own = await deps.ownInvoices?.payInternally(user, key, body, rawBody);
    if (own) {
      if (!own.replayed) deps.onStatus?.('completed');
      return own;
    }
    const bind = (body.requirement?.extra?.bind as BindPart[] | undefined) ?? null;
    const now = clock.now();
    const id = newPaymentId(now);
    const row: PaymentRow = {
      id,
      user_id: user.id,
      merchant_id: null,
      rail: body.rail,
      pay_to: body.payTo,
      amount: body.amount,
      asset: body.asset,
      status: 'pending',
      transfer_id: id,
      resource_url: body.resource?.url ?? null,
      resource_method: body.resource ? body.resource.method.toUpperCase() : null,
      resource_body_hash: body.resource?.bodyHash?.toLowerCase() ?? null,
      bind: bind ? JSON.stringify(bind) : null,
      description: body.description ?? null,
      failure_reason: null,
      receipt_token: null,
      transaction_hash: null,
      block_explorer_url: null,
      preimage: null,
      refunded_amount: '0',
      challenge_id: challengeIdOf(body),
      created_at: now,
      updated_at: now,
    };
    const prepared = rail.prepare ? await prepareUnlessKnown(rail, { paymentId: id, user, body }, key) : undefined;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      prepared?.release?.();
    };
    const request: NewPayment = { user, key, body, rail, row, fingerprint: fingerprint(rawBody), prepared, release };
    try {
      if (rail.settlement === 'wallet') return await createRecorded(request);
      return await (rail.settlement === 'ledger' ? createSettled(request) : createReserved(request));
    } finally {
      release();
    }
  }

  /**
   * The rail's checks before anything is stored. Skipped for a known key: the claim replays its
   * answer (or refuses 409/422), and a replay must not depend on what the chain says now (the
   * first request has spent the authorization since). A twin request with the same key may claim
   * it while this one prepares; then a refusal is not this request's answer either.
   */
  async function prepareUnlessKnown(rail: Rail, request: RailRequest, key: string): Promise<PreparedPayment | undefined> {
    if (await keyKnown(db, keyScope('payment', request.user.id), key, clock.now())) return undefined;
    try {
      return await rail.prepare!(request);
    } catch (err) {
      if (err instanceof ProblemError && (await keyKnown(db, keyScope('payment', request.user.id), key, clock.now()))) return undefined;
      throw err;
    }
  }

  /** A key that was unknown before the claim but claimed now, without the rail's preparation: retry. */
  function requirePrepared(p: NewPayment): void {
    if (p.rail.prepare && !p.prepared) throw new ProblemError('idempotency-key-in-flight', 'the key was released meanwhile; retry');
  }

  interface NewPayment {
    user: { id: string };
    key: string;
    body: CreatePaymentRequest;
    rail: Rail;
    row: PaymentRow;
    fingerprint: string;
    /** What the rail's `prepare` returned, if it has one. */
    prepared?: PreparedPayment;
    /** Ends the rail's preparation (idempotent): called as soon as the creating transaction is over. */
    release(): void;
  }

  /** An auto-payment: charged to the site's allowance, or refused with the whole transaction. */
  async function chargeAllowance(tx: Queryable, p: NewPayment): Promise<void> {
    if (!p.body.allowance) return;
    // The payee as the rail knows it: the allowance is for that payee only.
    const payee = p.rail.payeeOf ? p.rail.payeeOf(p.body.payTo) : p.body.payTo;
    await spendAllowance(tx, {
      userId: p.user.id,
      site: p.body.allowance.site,
      payee,
      asset: p.body.asset,
      amount: BigInt(p.body.amount),
      now: p.row.created_at,
    });
  }

  /** Writes the ledger transfer; a wallet that cannot cover it refuses the whole transaction. */
  async function transfer(tx: Queryable, p: NewPayment, creditAccountId: string, pending: boolean): Promise<void> {
    await chargeAllowance(tx, p);
    const debitAccountId = p.prepared?.debitAccount ? await p.prepared.debitAccount(tx) : await accounts.user(tx, p.user.id, p.body.asset);
    const [result] = await ledger.createTransfers(tx, [
      {
        id: p.row.id,
        debitAccountId,
        creditAccountId,
        amount: BigInt(p.body.amount),
        asset: p.body.asset,
        ...(pending ? { timeout: p.prepared?.timeoutSeconds ?? deps.paymentTimeout, flags: { pending: true } } : {}),
        userData: p.row.id,
      },
    ]);
    // Refused before any state exists: the rollback takes the key claim with it.
    expectCreated(result, { what: `payment ${p.row.id}`, amount: BigInt(p.body.amount), asset: p.body.asset });
  }

  async function insertPayment(tx: Queryable, row: PaymentRow): Promise<void> {
    await tx.run(
      `INSERT INTO payments (${PAYMENT_COLUMNS}) VALUES (${PAYMENT_PLACEHOLDERS})`,
      PAYMENT_FIELDS.map((c) => row[c]),
    );
  }

  /**
   * A rail whose act is the ledger transfer: one transaction claims the key with its final answer,
   * moves the money, records the payment completed and its event. The receipt is signed first,
   * outside the write lock, since everything it says is known already.
   */
  async function createSettled(p: NewPayment): Promise<CreateResult> {
    const row: PaymentRow = { ...p.row, status: 'completed', merchant_id: p.body.payTo };
    row.receipt_token = await receiptFor(row);
    const payment = toPayment(row);
    // Serialised once: the stored answer, the outbox event and the HTTP response all carry it.
    const paymentJson = JSON.stringify(payment);
    const alone = () => settleAlone(p, row, payment, paymentJson);
    // Nothing to prepare or charge beside the transfer: the payments that arrive together share a transaction.
    const batchable = settleBatch && !p.rail.prepare && !p.prepared && !p.body.allowance;
    const replay = batchable
      ? await settleBatch.settle({
          scope: keyScope('payment', p.user.id),
          key: p.key,
          fingerprint: p.fingerprint,
          row,
          payment,
          paymentJson,
          rail: p.rail,
          alone,
        })
      : await alone();
    if (replay) return { status: replay.status, body: replay.body, replayed: true };
    deps.onEvent?.();
    deps.onStatus?.('completed');
    return { status: 200, body: payment, replayed: false, json: paymentJson };
  }

  /** One ledger-settled payment in a transaction of its own: the stored answer to replay, or null once it settled. */
  async function settleAlone(p: NewPayment, row: PaymentRow, payment: Payment, paymentJson: string): Promise<StoredResponse | null> {
    return db
      .transaction(async (tx) => {
        const claim = await claimKey(tx, {
          scope: keyScope('payment', p.user.id),
          key: p.key,
          fingerprint: p.fingerprint,
          resourceId: row.id,
          now: row.created_at,
          response: { status: 200, body: payment },
          responseJson: paymentJson,
          // Its event below carries this very text: the key refers to it rather than storing it again.
          answerIsEvent: true,
        });
        if (!claim.claimed) return claim.replay;
        requirePrepared(p);
        const payee = await p.rail.resolvePayee(tx, p.body.payTo, p.body.asset);
        if (payee.merchantId !== row.merchant_id) throw new Error('a ledger-settled rail must pay the hub merchant named in payTo');
        await transfer(tx, p, payee.creditAccountId, false);
        await insertPayment(tx, row);
        await p.prepared?.reserve?.(tx, railPayment(row));
        await appendEvent(
          tx,
          { userId: row.user_id, merchantId: row.merchant_id, type: EVENT_TYPE.completed, payment, paymentJson, previousStatus: null },
          row.created_at,
        );
        return null;
      })
      .finally(p.release);
  }

  /**
   * A payment the person's own wallet settles (the wallet rail): one transaction claims the key,
   * charges the budget, records the payment pending with what the rail keeps of it, and its event.
   * No ledger transfer: no hub account holds or reserves this money. The wallet's settlement report
   * finishes it (recordSettlement).
   */
  async function createRecorded(p: NewPayment): Promise<CreateResult> {
    const payment = toPayment(p.row);
    const paymentJson = JSON.stringify(payment);
    const replay = await db
      .transaction(async (tx) => {
        const claim = await claimKey(tx, {
          scope: keyScope('payment', p.user.id),
          key: p.key,
          fingerprint: p.fingerprint,
          resourceId: p.row.id,
          now: p.row.created_at,
          response: { status: 200, body: payment },
          responseJson: paymentJson,
          // Its event below carries this very text: the key refers to it rather than storing it again.
          answerIsEvent: true,
        });
        if (!claim.claimed) return claim.replay;
        requirePrepared(p);
        await chargeAllowance(tx, p);
        await insertPayment(tx, p.row);
        await p.prepared?.reserve?.(tx, railPayment(p.row));
        await appendEvent(
          tx,
          { userId: p.row.user_id, merchantId: null, type: EVENT_TYPE.pending, payment, paymentJson, previousStatus: null },
          p.row.created_at,
        );
        return null;
      })
      .finally(p.release);
    if (replay) return { status: replay.status, body: replay.body, replayed: true };
    deps.onEvent?.();
    deps.onStatus?.('pending');
    return { status: 200, body: payment, replayed: false, json: paymentJson };
  }

  /**
   * The wallet's report on one of its own wallet-settled payments: completed with the settlement
   * transaction, or failed. Reporting the same outcome again answers the payment as it is; an
   * outcome that contradicts the recorded one is refused. Another person's payment is not found.
   */
  async function recordSettlement(userId: string, id: string, report: SettlementReport): Promise<Payment> {
    const { payment, changed } = await db.transaction(async (tx) => {
      const row = await loadForUpdate(tx, id);
      if (!row || row.user_id !== userId) throw new ProblemError('not-found', 'no such payment');
      if (row.rail !== 'wallet') throw new ProblemError('settlement-conflict', `a ${row.rail} payment is settled by the hub, not reported`);
      const tx_hash = report.status === 'completed' ? report.transaction.toLowerCase() : null;
      if (row.status !== 'pending') {
        const same = row.status === report.status && (report.status === 'failed' || row.transaction_hash === tx_hash);
        if (same) return { payment: toPayment(row), changed: false };
        throw new ProblemError('settlement-conflict', `this payment is ${row.status} already`, { recorded: row.status });
      }
      const next: PaymentRow =
        report.status === 'completed'
          ? { ...row, status: 'completed', transaction_hash: tx_hash, block_explorer_url: report.blockExplorerUrl ?? null }
          : { ...row, status: 'failed', failure_reason: report.reason };
      next.updated_at = clock.now();
      return { payment: await recordTransition(tx, row, next), changed: true };
    });
    if (changed) {
      deps.onEvent?.();
      deps.onStatus?.(payment.status);
    }
    return payment;
  }

  /**
   * A rail that works outside the hub: reserve (pending transfer, payment, event, key in flight)
   * and commit; run the rail with no lock held; record its outcome with the answer to the key.
   */
  async function createReserved(p: NewPayment): Promise<CreateResult> {
    const started = await db
      .transaction(async (tx) => {
        const claim = await claimKey(tx, {
          scope: keyScope('payment', p.user.id),
          key: p.key,
          fingerprint: p.fingerprint,
          resourceId: p.row.id,
          now: p.row.created_at,
        });
        if (!claim.claimed) return { replay: claim.replay, row: undefined };
        requirePrepared(p);
        const payee = await p.rail.resolvePayee(tx, p.body.payTo, p.body.asset);
        const row: PaymentRow = { ...p.row, merchant_id: payee.merchantId };
        await transfer(tx, p, payee.creditAccountId, true);
        await insertPayment(tx, row);
        await p.prepared?.reserve?.(tx, railPayment(row));
        await appendEvent(
          tx,
          { userId: row.user_id, merchantId: row.merchant_id, type: EVENT_TYPE.pending, payment: toPayment(row), previousStatus: null },
          row.created_at,
        );
        return { replay: undefined, row };
      })
      .finally(p.release);
    if (started.replay) return { status: started.replay.status, body: started.replay.body, replayed: true };
    if (!started.row) throw new Error('unreachable');
    deps.onEvent?.();
    deps.onStatus?.('pending');

    let outcome: RailOutcome | AwaitingPayer;
    try {
      outcome = await p.rail.execute(railPayment(started.row));
    } catch (err) {
      outcome = { status: 'failed', reason: `rail error: ${(err as Error).message}` };
    }
    const payment = await applyOutcome(started.row.id, outcome);
    return { status: 200, body: payment, replayed: false };
  }

  /**
   * A status change and everything that must commit with it: the row, its event for the user's
   * live feed and webhooks, and the answer a retry of the creating request will replay.
   */
  async function recordTransition(
    tx: Queryable,
    prev: PaymentRow,
    next: PaymentRow,
    type = EVENT_TYPE[next.status as PaymentStatus],
  ): Promise<Payment> {
    await tx.run(
      `UPDATE payments SET status = ?, failure_reason = ?, receipt_token = ?, transaction_hash = ?,
       block_explorer_url = ?, preimage = ?, refunded_amount = ?, updated_at = ? WHERE id = ?`,
      [
        next.status,
        next.failure_reason,
        next.receipt_token,
        next.transaction_hash,
        next.block_explorer_url,
        next.preimage,
        next.refunded_amount,
        next.updated_at,
        next.id,
      ],
    );
    const payment = toPayment(next);
    await appendEvent(
      tx,
      { userId: next.user_id, merchantId: next.merchant_id, type, payment, previousStatus: prev.status as PaymentStatus },
      next.updated_at,
    );
    await storeResponse(tx, next.id, { status: 200, body: payment });
    return payment;
  }

  /**
   * Records what the rail said. Idempotent: a payment already final, or already in the reported
   * state, is left as it is. A reservation that lapsed before it could be posted fails the payment.
   */
  async function applyOutcome(id: string, outcome: RailOutcome | AwaitingPayer): Promise<Payment> {
    if (outcome.status === 'pending') return awaitingPayer(id, outcome.interact);
    // Sign before taking the write lock: signing is the slowest step and needs nothing locked.
    const pre =
      outcome.status === 'completed' ? await db.get<PaymentRow>(`SELECT ${PAYMENT_COLUMNS} FROM payments WHERE id = ?`, [id]) : undefined;
    const token = pre ? await receiptFor(pre) : null;

    const { payment, changed } = await db.transaction(async (tx) => {
      const row = await loadForUpdate(tx, id);
      if (!row) throw new Error(`payment ${id} vanished`);
      const previous = row.status as PaymentStatus;
      if (FINAL_STATUSES.includes(previous) || previous === outcome.status) {
        return { payment: toPayment(row), changed: false };
      }
      const now = clock.now();
      const next: PaymentRow = { ...row, updated_at: now };

      if (outcome.status === 'completed') {
        const [r] = await ledger.createTransfers(tx, [
          { id: `${id}:post`, pendingId: id, flags: { postPendingTransfer: true }, userData: id },
        ]);
        if (r === 'created' || r === 'exists') {
          next.status = 'completed';
          next.receipt_token = token ?? (await receiptFor(row));
          next.preimage = outcome.preimage ?? row.preimage;
          next.transaction_hash = outcome.transactionHash ?? row.transaction_hash;
          next.block_explorer_url = outcome.blockExplorerUrl ?? row.block_explorer_url;
        } else if (r === 'pending_transfer_expired') {
          next.status = 'failed';
          next.failure_reason = 'the reservation expired before the payment settled';
        } else {
          throw new Error(`ledger refused to post ${id}: ${r}`);
        }
      } else if (outcome.status === 'submitted') {
        next.status = 'submitted';
        next.transaction_hash = outcome.transactionHash ?? row.transaction_hash;
        next.block_explorer_url = outcome.blockExplorerUrl ?? row.block_explorer_url;
      } else {
        const [r] = await ledger.createTransfers(tx, [
          { id: `${id}:void`, pendingId: id, flags: { voidPendingTransfer: true }, userData: id },
        ]);
        const released = ['created', 'exists', 'pending_transfer_expired', 'pending_transfer_already_voided'];
        if (!r || !released.includes(r)) throw new Error(`ledger refused to void ${id}: ${r}`);
        next.status = 'failed';
        next.failure_reason = outcome.reason;
      }

      const payment = await recordTransition(tx, row, next);
      return { payment, changed: true };
    });
    if (changed) {
      deps.onEvent?.();
      deps.onStatus?.(payment.status);
    }
    return payment;
  }

  /**
   * The rail waits for the payer (consent on their own wallet): nothing changes state, but the
   * answer to the creating request, and its replay, say where the person approves.
   */
  async function awaitingPayer(id: string, interact: Payment['interact']): Promise<Payment> {
    return db.transaction(async (tx) => {
      const row = await loadForUpdate(tx, id);
      if (!row) throw new Error(`payment ${id} vanished`);
      if (row.status !== 'pending') return toPayment(row);
      const payment: Payment = { ...toPayment(row), interact };
      await storeResponse(tx, id, { status: 200, body: payment });
      return payment;
    });
  }

  function receiptFor(row: PaymentRow): Promise<string> {
    return deps.issueReceipt({
      paymentId: row.id,
      audience: row.merchant_id ?? row.pay_to,
      amount: BigInt(row.amount),
      asset: row.asset,
      rail: row.rail,
      resource: row.resource_url
        ? {
            url: row.resource_url,
            method: row.resource_method ?? 'GET',
            ...(row.resource_body_hash ? { bodyHash: row.resource_body_hash } : {}),
          }
        : null,
      bind: row.bind ? (JSON.parse(row.bind) as BindPart[]) : DEFAULT_BIND,
    });
  }

  /**
   * A merchant gives back all or part of a completed payment: a posted transfer from the merchant's
   * account to the payer's, the payment's refunded amount, and a `payment.refunded` event, in one
   * transaction. The Idempotency-Key is scoped to the merchant. What is left to refund can never go
   * below zero, so two refunds racing for the same money cannot both pass.
   */
  async function refund(merchantId: string, paymentId: string, key: string, body: RefundRequest, rawBody: unknown): Promise<CreateResult> {
    const fp = fingerprint({ paymentId, body: rawBody });
    const scope = keyScope('refund', merchantId);
    const out = await db.transaction(async (tx) => {
      const now = clock.now();
      const claim = await claimKey(tx, { scope, key, fingerprint: fp, resourceId: paymentId, now });
      if (!claim.claimed) return { replay: claim.replay };
      const row = await loadForUpdate(tx, paymentId);
      if (!row || row.merchant_id !== merchantId) throw new ProblemError('not-found', 'no such payment to this merchant');
      if (row.status !== 'completed') throw new ProblemError('payment-not-refundable', `a ${row.status} payment cannot be refunded`);
      // Its payer has no hub balance to give it back to.
      if (row.user_id === OUTSIDE_PAYER_ID)
        throw new ProblemError('payment-not-refundable', 'a payment from outside the hub (any Lightning wallet) cannot be refunded here');
      // It went from the person's wallet into the merchant's own wallet: the merchant's hub balance never held it.
      if (row.rail === 'ilp')
        throw new ProblemError(
          'payment-not-refundable',
          "an Interledger payment went into the merchant's own wallet: refund it from there",
        );
      const left = BigInt(row.amount) - BigInt(row.refunded_amount);
      const amount = body.amount === undefined ? left : BigInt(body.amount);
      if (amount > left) throw new ProblemError('refund-exceeds-payment', `at most ${left} ${row.asset} is left to refund`);
      const credit = await accounts.user(tx, row.user_id, row.asset);
      const debit = await accounts.merchant(tx, merchantId, row.asset);
      const [r] = await ledger.createTransfers(tx, [
        {
          id: `refund_${randomBytes(12).toString('base64url')}`,
          debitAccountId: debit,
          creditAccountId: credit,
          amount,
          asset: row.asset,
          userData: row.id,
        },
      ]);
      expectCreated(r, { what: `the refund of ${row.id}`, amount, asset: row.asset });
      const refunded = BigInt(row.refunded_amount) + amount;
      const next: PaymentRow = {
        ...row,
        status: refunded === BigInt(row.amount) ? 'refunded' : 'completed',
        refunded_amount: refunded.toString(),
        updated_at: now,
      };
      // The event is payment.refunded whether the refund was whole or partial.
      const payment = await recordTransition(tx, row, next, EVENT_TYPE.refunded);
      await storeKeyResponse(tx, scope, key, { status: 200, body: payment });
      return { payment };
    });
    if (out.replay) return { status: out.replay.status, body: out.replay.body, replayed: true };
    deps.onEvent?.();
    deps.onStatus?.(out.payment!.status);
    return { status: 200, body: out.payment, replayed: false };
  }

  async function get(userId: string, id: string): Promise<Payment | undefined> {
    const row = await db.get<PaymentRow>(`SELECT ${PAYMENT_COLUMNS} FROM payments WHERE id = ? AND user_id = ?`, [id, userId]);
    return row ? toPayment(row) : undefined;
  }

  async function listBy(column: 'user_id' | 'merchant_id', owner: string, cursor: string | undefined, limit: number) {
    const page = await newestFirst<PaymentRow>(
      db,
      { select: `SELECT ${PAYMENT_COLUMNS} FROM payments`, where: `${column} = ?`, params: [owner], idPrefix: 'pay_' },
      cursor,
      limit,
    );
    return { data: page.data.map(toPayment), nextCursor: page.nextCursor };
  }

  /** On start: carry every unfinished payment to where its rail says it is. */
  async function resumeOpen(): Promise<number> {
    // Wallet-settled payments are left to the person's wallet to report, however long the hub was down.
    const open = await db.all<PaymentRow>(
      `SELECT ${PAYMENT_COLUMNS} FROM payments WHERE status IN ('pending', 'submitted') AND rail <> 'wallet'`,
    );
    for (const row of open) {
      const rail = rails[row.rail as keyof Rails];
      const outcome: RailOutcome | AwaitingPayer = rail
        ? await rail
            .resume(railPayment(row))
            .catch((err: Error) => ({ status: 'failed' as const, reason: `rail error on resume: ${err.message}` }))
        : { status: 'failed', reason: `the ${row.rail} rail is no longer enabled` };
      await applyOutcome(row.id, outcome);
    }
    return open.length;
  }

  /**
   * Payments whose reservation the ledger sweeper released become failed. Runs in a transaction
   * of its own after the sweep, locking payments only (the sweep locked transfers only), so it
   * never waits on applyOutcome in the opposite order; a payment applyOutcome holds is skipped, and
   * applyOutcome itself fails it when the post finds the reservation expired. Finding the payments
   * by join (not by the sweep's result) makes a crash between the two transactions harmless.
   */
  async function failLapsed(limit = 500): Promise<number> {
    return db.transaction(async (tx) => {
      const rows = await tx.all<PaymentRow>(
        `SELECT ${PAYMENT_COLUMNS.split(', ')
          .map((c) => `p.${c}`)
          .join(', ')} FROM payments p
           JOIN ledger_transfers t ON t.id = p.transfer_id
          WHERE p.status IN ('pending', 'submitted') AND t.state = 'expired'
          LIMIT ?${tx.dialect === 'postgres' ? ' FOR UPDATE OF p SKIP LOCKED' : ''}`,
        [limit],
      );
      const now = clock.now();
      for (const row of rows) {
        await recordTransition(tx, row, {
          ...row,
          status: 'failed',
          failure_reason: 'the reservation expired before the payment settled',
          updated_at: now,
        });
      }
      if (rows.length) deps.onEvent?.();
      for (let i = 0; i < rows.length; i++) deps.onStatus?.('failed');
      return rows.length;
    });
  }

  return {
    create,
    recordSettlement,
    refund,
    applyOutcome,
    get,
    listForUser: (userId: string, cursor: string | undefined, limit: number) => listBy('user_id', userId, cursor, limit),
    listForMerchant: (merchantId: string, cursor: string | undefined, limit: number) => listBy('merchant_id', merchantId, cursor, limit),
    resumeOpen,
    failLapsed,
    /** Deposits into hub balances, when a rail offers them (the SOVR rail); the HTTP layer reaches them here. */
    deposits: (): DepositsApi | undefined => Object.values(rails).find((r) => r?.deposits)?.deposits,
    /** Top-ups into hub balances, when a rail receives money (the Lightning rail). */
    topups: (): TopupsApi | undefined => Object.values(rails).find((r) => r?.topups)?.topups,
  };
}
export type PaymentsService = ReturnType<typeof createPaymentsService>;

/** A challenge id worth remembering: the shape merchant kits mint, anything else is ignored. */
function challengeIdOf(body: CreatePaymentRequest): string | null {
  const id = body.requirement?.extra?.challengeId;
  return typeof id === 'string' && CHALLENGE_ID_PATTERN.test(id) ? id : null;
}
