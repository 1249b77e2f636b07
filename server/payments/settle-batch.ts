/**
 * Payments on a ledger-settled rail (the internal rail), settled many to a transaction on
 * PostgreSQL. The payments that arrive together (batcher.ts) share one transaction with one
 * statement per step for all of them: their Idempotency-Keys claimed in one insert, their
 * transfers in one ledger batch (which locks every account it touches once, in id order, and
 * writes a hot merchant's balance once for all of them), their payments and outbox events in one
 * more. The same guarantees as one payment a transaction: each member's key, transfer, payment and
 * event commit together, and nobody is answered before the COMMIT.
 *
 * The batch settles only the plain case. A member it cannot settle plainly is settled on its own,
 * through the one-payment transaction, after the batch, and gets exactly the answer it would have
 * had alone:
 *  - its key is known already (a replay, a conflict, a key in flight or past its retention), or is
 *    repeated within the batch: not claimed by the batch;
 *  - its payee is refused, or the ledger refuses its transfer (not enough money): the batch rolls
 *    back and runs again without it, so a refused member never writes anything;
 *  - the batch fails as a whole (a lost connection, a deadlock PostgreSQL broke): every member goes
 *    on its own, so one bad member cannot fail the others.
 */
import { ProblemError } from '../../shared/problem.js';
import type { Payment } from '../../shared/api.js';
import type { AccountDirectory } from '../core/accounts.js';
import { IDEMPOTENCY_TTL_MS, type KeyScope, type StoredResponse } from '../core/idempotency.js';
import type { Ledger } from '../ledger/types.js';
import type { Payee, Rail } from '../rails/types.js';
import type { Db, Queryable } from '../store/types.js';
import { createBatcher } from './batcher.js';
import { PAYMENT_COLUMNS, PAYMENT_FIELDS, type PaymentRow } from './resource.js';

export interface SettleMember {
  scope: KeyScope;
  key: string;
  fingerprint: string;
  /** The payment as it will be stored: completed, paying the merchant named in payTo, its receipt signed. */
  row: PaymentRow;
  payment: Payment;
  /** `JSON.stringify(payment)`: the stored answer and the event carry this text. */
  paymentJson: string;
  rail: Rail;
  /** The one-payment transaction for this member: the replayed answer, or null once it settled. */
  alone(): Promise<StoredResponse | null>;
}

/** null: settled (answer with the member's own payment); otherwise the stored answer to replay. */
export type SettleAnswer = StoredResponse | null;

export interface SettleBatchOptions {
  db: Db;
  ledger: Ledger;
  accounts: AccountDirectory;
  /** Most payments in one transaction. */
  maxSize?: number;
  /** Batch transactions running at once, each on a pooled connection of its own. */
  maxInFlight?: number;
  /** Each batch transaction that committed, with how many payments it settled (metrics, tests). */
  onCommit?(settled: number): void;
}

/** Each rerun drops at least one refused member; past this many the rest go on their own. */
const MAX_ATTEMPTS = 4;

/** Members to leave out of the batch (indexes into the attempt's list), thrown to roll it back. */
class LeaveOut extends Error {
  constructor(readonly members: ReadonlySet<number>) {
    super('batch members refused');
  }
}

export function createSettleBatch(opts: SettleBatchOptions) {
  const { db, ledger, accounts } = opts;

  async function runBatch(members: SettleMember[]): Promise<Array<SettleAnswer | Promise<SettleAnswer>>> {
    const answers = new Array<SettleAnswer | Promise<SettleAnswer>>(members.length);
    const alone = new Set<number>();
    const seen = new Set<string>();
    let todo: number[] = [];
    members.forEach((m, i) => {
      // The same key twice: the first settles here, the second replays its answer afterwards.
      const k = `${m.scope}\n${m.key}`;
      if (seen.has(k)) alone.add(i);
      else {
        seen.add(k);
        todo.push(i);
      }
    });
    for (let attempt = 1; attempt <= MAX_ATTEMPTS && todo.length > 0; attempt++) {
      const list = todo.map((i) => members[i]!);
      try {
        const claimed = await db.transaction((tx) => settleTogether(tx, list));
        const settled = todo.filter((_, j) => claimed[j]);
        for (const i of settled) answers[i] = null;
        for (const i of todo) if (answers[i] === undefined) alone.add(i);
        opts.onCommit?.(settled.length);
        todo = [];
      } catch (err) {
        if (!(err instanceof LeaveOut)) {
          for (const i of todo) alone.add(i);
          todo = [];
          break;
        }
        for (const j of err.members) alone.add(todo[j]!);
        todo = todo.filter((_, j) => !err.members.has(j));
      }
    }
    for (const i of todo) alone.add(i);
    // After the batch's COMMIT, so a repeated key finds the first one's answer stored.
    for (const i of alone) {
      const answer = members[i]!.alone();
      // Its caller awaits it through the batcher; this only keeps a fast failure from counting as unhandled meanwhile.
      answer.catch(() => undefined);
      answers[i] = answer;
    }
    return answers;
  }

  /** One attempt, in the caller's transaction: which members it settled (the rest were not claimed). */
  async function settleTogether(tx: Queryable, list: SettleMember[]): Promise<boolean[]> {
    const claimed = await claimKeys(tx, list);
    const settled = list.map((m) => claimed.has(m.row.id));
    const idx = list.flatMap((_, j) => (settled[j] ? [j] : []));
    if (idx.length === 0) return settled;

    const refused = new Set<number>();
    const payees = new Map<string, Payee | null>();
    for (const j of idx) {
      const m = list[j]!;
      const at = `${m.rail.name}\n${m.row.pay_to}\n${m.row.asset}`;
      let payee = payees.get(at);
      if (payee === undefined) {
        try {
          payee = await m.rail.resolvePayee(tx, m.row.pay_to, m.row.asset);
        } catch (err) {
          if (!(err instanceof ProblemError)) throw err;
          payee = null;
        }
        payees.set(at, payee);
      }
      if (payee === null) refused.add(j);
      else if (payee.merchantId !== m.row.merchant_id) throw new Error('a ledger-settled rail must pay the hub merchant named in payTo');
    }
    if (refused.size > 0) throw new LeaveOut(refused);

    // Each payer's account asked for once: asked twice in one transaction, a new account would be
    // `exists` the second time (this transaction's own row), which the directory remembers even
    // if the batch then rolls back.
    const debits = new Map<string, string>();
    const transfers = [];
    for (const j of idx) {
      const m = list[j]!;
      const payee = payees.get(`${m.rail.name}\n${m.row.pay_to}\n${m.row.asset}`)!;
      const payer = `${m.row.user_id}\n${m.row.asset}`;
      let debit = debits.get(payer);
      if (debit === undefined) debits.set(payer, (debit = await accounts.user(tx, m.row.user_id, m.row.asset)));
      transfers.push({
        id: m.row.id,
        debitAccountId: debit,
        creditAccountId: payee.creditAccountId,
        amount: BigInt(m.row.amount),
        asset: m.row.asset,
        userData: m.row.id,
      });
    }
    const results = await ledger.createTransfers(tx, transfers);
    results.forEach((r, n) => {
      if (r !== 'created') refused.add(idx[n]!);
    });
    if (refused.size > 0) throw new LeaveOut(refused);

    await insertPaymentsAndEvents(
      tx,
      idx.map((j) => list[j]!),
    );
    return settled;
  }

  const batcher = createBatcher<SettleMember, SettleAnswer>(runBatch, {
    maxSize: opts.maxSize ?? 256,
    maxInFlight: opts.maxInFlight ?? 2,
  });
  return { settle: (m: SettleMember) => batcher.submit(m), pending: () => batcher.pending };
}

/**
 * Claims every member's key with its final answer, in one insert. Keys go in (scope, key) order,
 * so two batches that share keys wait for each other in one order. As on the one-payment path
 * (claimKey with `answerIsEvent`), the answer is not stored again: the key keeps the payer's event
 * seq at the claim, and a replay reads the payment's first event after it, which this batch writes
 * with the very same text. Returns the resource ids whose key this transaction claimed; a key taken
 * already (committed, or in flight elsewhere and then committed) is left to the member's own
 * transaction.
 */
async function claimKeys(tx: Queryable, list: SettleMember[]): Promise<Set<string>> {
  const sorted = [...list].sort((a, b) => (a.scope < b.scope ? -1 : a.scope > b.scope ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const rows = await tx.all<{ resource_id: string }>(
    `INSERT INTO idempotency_keys
       (scope, key, fingerprint, resource_id, state, response_status, response_body, answer_after_seq, created_at, expires_at)
     SELECT v.s, v.k, v.f, v.r, 'done', 200, NULL, u.last_seq, v.ca, v.ca + ${IDEMPOTENCY_TTL_MS}
       FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[]) WITH ORDINALITY AS v(s, k, f, r, o, ca, n)
       JOIN users u ON u.id = v.o
      ORDER BY v.n
     ON CONFLICT (scope, key) DO NOTHING RETURNING resource_id`,
    [
      sorted.map((m) => m.scope),
      sorted.map((m) => m.key),
      sorted.map((m) => m.fingerprint),
      sorted.map((m) => m.row.id),
      sorted.map((m) => m.row.user_id),
      sorted.map((m) => m.row.created_at),
    ],
  );
  return new Set(rows.map((r) => r.resource_id));
}

const AMOUNT_COLUMNS = new Set(['amount', 'refunded_amount']);
const TIME_COLUMNS = new Set(['created_at', 'updated_at']);
const PAYMENT_ARRAYS = PAYMENT_FIELDS.map((c) =>
  AMOUNT_COLUMNS.has(c) ? '?::numeric[]' : TIME_COLUMNS.has(c) ? '?::bigint[]' : '?::text[]',
).join(', ');

/**
 * The payments and their `payment.completed` events, one statement. Each payer's seq goes up by
 * its number of payments in the batch, the events numbered in batch order. The payers' rows are
 * locked first, in id order (`locked`, which the gating condition runs before the update), so two
 * batches never take them in opposite orders; FOR NO KEY UPDATE, as the update itself takes, so
 * the foreign-key checks of other transactions' inserts do not wait for it.
 */
async function insertPaymentsAndEvents(tx: Queryable, list: SettleMember[]): Promise<void> {
  const ordinal = new Map<string, number>();
  const k = list.map((m) => {
    const n = (ordinal.get(m.row.user_id) ?? 0) + 1;
    ordinal.set(m.row.user_id, n);
    return n;
  });
  const columns = PAYMENT_FIELDS.map((c) => list.map((m) => m.row[c]));
  const rows = await tx.all<{ payment_id: string }>(
    `WITH locked AS MATERIALIZED (
       SELECT id FROM users WHERE id = ANY(?::text[]) ORDER BY id COLLATE "C" FOR NO KEY UPDATE),
     paid AS (
       INSERT INTO payments (${PAYMENT_COLUMNS}) SELECT * FROM unnest(${PAYMENT_ARRAYS})),
     counts AS (
       SELECT u AS id, count(*) AS c FROM unnest(?::text[]) AS u GROUP BY u),
     bumped AS (
       UPDATE users SET last_seq = users.last_seq + counts.c FROM counts
        WHERE users.id = counts.id AND (SELECT count(*) FROM locked) >= 0
        RETURNING users.id, users.last_seq - counts.c AS base)
     INSERT INTO outbox (user_id, merchant_id, payment_id, type, seq, payload, created_at)
     SELECT v.u, v.m, v.p, 'payment.completed', b.base + v.k, v.head || (b.base + v.k)::text || '}', v.ca
       FROM unnest(?::text[], ?::text[], ?::text[], ?::bigint[], ?::text[], ?::bigint[]) AS v(u, m, p, k, head, ca)
       JOIN bumped b ON b.id = v.u
     RETURNING payment_id`,
    [
      [...ordinal.keys()],
      ...columns,
      list.map((m) => m.row.user_id),
      list.map((m) => m.row.user_id),
      list.map((m) => m.row.merchant_id),
      list.map((m) => m.row.id),
      k,
      // The text appendEvent writes: the payment's keys, then previousStatus and seq.
      list.map((m) => `${m.paymentJson.slice(0, -1)},"previousStatus":null,"seq":`),
      list.map((m) => m.row.created_at),
    ],
  );
  if (rows.length !== list.length) throw new Error(`settle batch: ${list.length - rows.length} payer(s) not found`);
}
