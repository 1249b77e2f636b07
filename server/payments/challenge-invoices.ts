/**
 * Challenge invoices: merchants paid by any Lightning wallet. A merchant's paywall asks for an
 * invoice of the hub's own node for one 402 challenge; the hub keeps what the receipt must say (the
 * merchant, the price, the request it is bound to) beside the payment hash.
 *
 * Two ways to pay it, one result (a `completed` payment to the merchant for that challenge, with
 * the standard receipt, and the merchant's account credited once per payment hash):
 * - from outside: the settlement arrives on the Lightning rail's one settlement follower (the
 *   top-ups' stream, look-up on reconnect and expiry check, `InvoiceReceiving`), and moves the
 *   amount paid from "Lightning inbound" to the merchant. The payer has no Tollway account: the
 *   payment is recorded against the system user OUTSIDE_PAYER_ID.
 * - from a hub balance (`POST /payments` on the lightning rail with this invoice): nothing is routed;
 *   one transaction moves the person's BTC to the merchant and records the payment completed.
 * Both lock the invoice row and commit the transfer, the payment, its outbox event and the row's
 * new status together, so whichever comes first wins the row.
 *
 * An invoice paid inside the ledger is still open at the node, so an outside wallet could pay it
 * too. Right after the payment commits the hub withdraws it there (`cancelInvoice`: LND, CLN), and
 * whatever the node says decides (docs/lightning.md, "One invoice, two payers"):
 * - withdrawn: nothing else can pay it;
 * - already settled: an outside payment raced the hub balance. Exactly one may count, and only the
 *   hub balance can be given back: the outside payment is credited to the merchant and the hub
 *   balance payment refunded, in one transaction;
 * - the node cannot withdraw invoices (LNbits) and says it is open: a later outside payment is a
 *   late one, and is credited to the merchant as an outside payment (once per hash), so the
 *   ledger keeps matching what the node received.
 * Until the node has answered (`node_state` = `cancel`, migration 018), a settlement counts as
 * racing; a node that cannot be reached is asked again by `reconcile` (the follower's look-ups).
 */
import { bindingInput } from '../../shared/binding.js';
import type { BindPart } from '../../shared/binding.js';
import type { CreatePaymentRequest, Payment } from '../../shared/api.js';
import type { ChallengeInvoice, ChallengeReceipt, CreateChallengeInvoiceRequest } from '../../shared/challenge-invoices.js';
import { ProblemError } from '../../shared/problem.js';
import { decodeInvoice } from '../../lightning/invoice.js';
import { isLightningNodeError } from '../../lightning/node.js';
import type { Clock } from '../clock.js';
import type { AccountDirectory } from '../core/accounts.js';
import { claimKey, fingerprint, keyScope } from '../core/idempotency.js';
import { sleep, withTimeout } from '../core/timing.js';
import { expectCreated } from '../core/ledger-refusal.js';
import type { Ledger } from '../ledger/types.js';
import type { Logger } from '../logger.js';
import { appendEvent } from '../notify/outbox.js';
import type { InboundSettlement, InvoiceReceiving, SettlementResult } from '../rails/types.js';
import { forUpdate, type Db, type Queryable } from '../store/types.js';
import { spendAllowance } from './allowances.js';
import type { ReceiptIssuer } from './receipts.js';
import { PAYMENT_COLUMNS, PAYMENT_FIELDS, PAYMENT_PLACEHOLDERS, toPayment, type PaymentRow } from './resource.js';

/** The system user that payments from outside the hub are recorded against (migration 015). */
export const OUTSIDE_PAYER_ID = 'usr_lightning_outside';
/** The ledger transfer of an outside payment: one id per payment hash, so it can exist only once. */
export const inboundTransferId = (paymentHash: string) => `lnin:${paymentHash}`;
/** The refund of a hub balance payment that an outside payment raced (and won): one per hash. */
export const raceRefundTransferId = (paymentHash: string) => `lnrace:${paymentHash}`;
/** How long an internal payment waits for the node: its look-up before, its withdrawal after. */
const CLOSE_WAIT_MS = 3000;
/** How long a row stays `cancel` before the periodic check asks the node itself (the payment's own call goes first). */
const CLOSE_GRACE_MS = 10_000;

/** What the node may still do with an invoice paid from a hub balance (migration 018). */
type NodeState = 'cancel' | 'watch' | 'closed';

interface InvoiceRow {
  payment_hash: string;
  merchant_id: string;
  challenge_id: string;
  asset: string;
  amount: string;
  bolt11: string;
  resource_url: string;
  resource_method: string;
  resource_body_hash: string | null;
  bind: string;
  description: string | null;
  expires_at: number | string;
  status: 'open' | 'paid' | 'expired';
  payment_id: string | null;
  created_at: number | string;
  updated_at: number | string;
  node_state: NodeState | null;
}
const COLUMNS =
  'payment_hash, merchant_id, challenge_id, asset, amount, bolt11, resource_url, resource_method, resource_body_hash, bind, ' +
  'description, expires_at, status, payment_id, created_at, updated_at, node_state';

const toInvoice = (r: InvoiceRow): ChallengeInvoice => ({
  challengeId: r.challenge_id,
  merchantId: r.merchant_id,
  status: r.status,
  asset: 'BTC',
  amount: String(r.amount),
  bolt11: r.bolt11,
  paymentHash: r.payment_hash,
  expiresAt: new Date(Number(r.expires_at)).toISOString(),
});

export interface ChallengeInvoicesDeps {
  db: Db;
  ledger: Ledger;
  accounts: AccountDirectory;
  clock: Clock;
  logger: Logger;
  issueReceipt: ReceiptIssuer;
  /** The Lightning rail's receiving side; without it every call is `unsupported-rail`. */
  receiving: InvoiceReceiving | undefined;
  newPaymentId(now: number): string;
  /** After a commit that wrote an outbox event. */
  onEvent(): void;
  /** Seconds an invoice can be paid. Default: the Lightning rail's top-up expiry. */
  expirySeconds?: number;
  /** Background work the hub waits for on close (withdrawing an invoice at the node). */
  spawn?(name: string, work: (signal: AbortSignal) => Promise<unknown>): void;
}

export type ChallengeInvoices = ReturnType<typeof createChallengeInvoices>;

export function createChallengeInvoices(deps: ChallengeInvoicesDeps) {
  const { db, ledger, accounts, clock, logger, receiving } = deps;

  const byHash = (q: Queryable, hash: string, lock = false) =>
    q.get<InvoiceRow>(`SELECT ${COLUMNS} FROM challenge_invoices WHERE payment_hash = ?${lock ? forUpdate(q) : ''}`, [hash]);
  const byChallenge = (q: Queryable, merchantId: string, challengeId: string) =>
    q.get<InvoiceRow>(`SELECT ${COLUMNS} FROM challenge_invoices WHERE merchant_id = ? AND challenge_id = ?`, [merchantId, challengeId]);

  function need(): InvoiceReceiving {
    if (!receiving) throw new ProblemError('unsupported-rail', 'the lightning rail is not enabled on this hub');
    return receiving;
  }

  /** One invoice per (merchant, challenge): a repeated request gets the same one back. */
  async function create(merchantId: string, body: CreateChallengeInvoiceRequest): Promise<ChallengeInvoice> {
    const node = need();
    const known = await byChallenge(db, merchantId, body.challengeId);
    if (known) return sameRequest(known, body);
    let issued;
    try {
      issued = await node.createInvoice({
        amountMsat: BigInt(body.amount),
        memo: body.description ? body.description.slice(0, 100) : `Tollway ${body.challengeId}`,
        ...(deps.expirySeconds ? { expirySeconds: deps.expirySeconds } : {}),
      });
    } catch (err) {
      throw new ProblemError('lightning-unavailable', `the hub's Lightning node could not issue an invoice: ${(err as Error).message}`);
    }
    const now = clock.now();
    const row: InvoiceRow = {
      payment_hash: issued.paymentHash,
      merchant_id: merchantId,
      challenge_id: body.challengeId,
      asset: 'BTC',
      amount: body.amount,
      bolt11: issued.bolt11,
      resource_url: body.resource.url,
      resource_method: body.resource.method.toUpperCase(),
      resource_body_hash: body.resource.bodyHash?.toLowerCase() ?? null,
      bind: JSON.stringify(body.bind),
      description: body.description ?? null,
      expires_at: issued.expiresAt,
      status: 'open',
      payment_id: null,
      created_at: now,
      updated_at: now,
      node_state: null,
    };
    // A twin request may have stored its invoice meanwhile: the first one stays, ours is never shown.
    await db.run(
      `INSERT INTO challenge_invoices (${COLUMNS}) VALUES (${COLUMNS.split(',')
        .map(() => '?')
        .join(', ')}) ON CONFLICT (merchant_id, challenge_id) DO NOTHING`,
      COLUMNS.split(',').map((c) => row[c.trim() as keyof InvoiceRow]),
    );
    const stored = await byChallenge(db, merchantId, body.challengeId);
    if (!stored) throw new Error('challenge invoice vanished');
    return sameRequest(stored, body);
  }

  function sameRequest(r: InvoiceRow, body: CreateChallengeInvoiceRequest): ChallengeInvoice {
    if (String(r.amount) !== body.amount || r.resource_url !== body.resource.url) {
      throw new ProblemError('validation-error', 'this challenge already has an invoice for another price or resource');
    }
    return toInvoice(r);
  }

  /** What the page holding the challenge may know: the state, and once paid the receipt. */
  async function status(merchantId: string, challengeId: string): Promise<ChallengeReceipt | undefined> {
    const r = await byChallenge(db, merchantId, challengeId);
    if (!r) return undefined;
    if (r.status !== 'paid' || !r.payment_id) return { challengeId, status: r.status };
    const p = await db.get<{ receipt_token: string | null }>('SELECT receipt_token FROM payments WHERE id = ?', [r.payment_id]);
    return { challengeId, status: 'paid', transactionId: r.payment_id, ...(p?.receipt_token ? { receipt: p.receipt_token } : {}) };
  }

  /** The payment a settled invoice becomes (before it is written), with its receipt signed. */
  async function paymentFor(r: InvoiceRow, p: { id: string; userId: string; amount: bigint; transferId: string; now: number }) {
    const bind = JSON.parse(r.bind) as BindPart[];
    const resource = {
      url: r.resource_url,
      method: r.resource_method,
      ...(r.resource_body_hash ? { bodyHash: r.resource_body_hash } : {}),
    };
    bindingInput(resource, bind); // throws on a stored binding the receipt could not carry
    const row: PaymentRow = {
      id: p.id,
      user_id: p.userId,
      merchant_id: r.merchant_id,
      rail: 'lightning',
      pay_to: r.bolt11,
      amount: p.amount.toString(),
      asset: 'BTC',
      status: 'completed',
      transfer_id: p.transferId,
      resource_url: r.resource_url,
      resource_method: r.resource_method,
      resource_body_hash: r.resource_body_hash,
      bind: r.bind,
      description: r.description,
      failure_reason: null,
      receipt_token: null,
      transaction_hash: r.payment_hash,
      block_explorer_url: null,
      preimage: null,
      refunded_amount: '0',
      challenge_id: r.challenge_id,
      created_at: p.now,
      updated_at: p.now,
    };
    row.receipt_token = await deps.issueReceipt({
      paymentId: row.id,
      audience: r.merchant_id,
      amount: p.amount,
      asset: 'BTC',
      rail: 'lightning',
      resource,
      bind,
    });
    return row;
  }

  /** Writes a completed payment and its event (in the caller's transaction). */
  async function insertPayment(tx: Queryable, row: PaymentRow): Promise<Payment> {
    await tx.run(
      `INSERT INTO payments (${PAYMENT_COLUMNS}) VALUES (${PAYMENT_PLACEHOLDERS})`,
      PAYMENT_FIELDS.map((c) => row[c]),
    );
    const payment = toPayment(row);
    await appendEvent(
      tx,
      { userId: row.user_id, merchantId: row.merchant_id, type: 'payment.completed', payment, previousStatus: null },
      row.created_at,
    );
    return payment;
  }

  /** Writes a completed payment, its event and the invoice's new status (in the caller's transaction). */
  async function record(tx: Queryable, inv: InvoiceRow, row: PaymentRow, nodeState: NodeState): Promise<Payment> {
    const payment = await insertPayment(tx, row);
    await tx.run("UPDATE challenge_invoices SET status = 'paid', payment_id = ?, node_state = ?, updated_at = ? WHERE payment_hash = ?", [
      row.id,
      nodeState,
      row.updated_at,
      inv.payment_hash,
    ]);
    return payment;
  }

  /** The outside payment's credit: from "Lightning inbound" to the merchant, once per hash. */
  async function creditInbound(tx: Queryable, inv: InvoiceRow, amount: bigint, paymentId: string) {
    const [r] = await ledger.createTransfers(tx, [
      {
        id: inboundTransferId(inv.payment_hash),
        debitAccountId: await accounts.lightningInbound(tx, 'BTC'),
        creditAccountId: await accounts.merchant(tx, inv.merchant_id, 'BTC'),
        amount,
        asset: 'BTC',
        userData: paymentId,
      },
    ]);
    // Any `exists…`: this hash's one credit is there (a twin notice signed its own payment id).
    if (r?.startsWith('exists')) return 'exists';
    if (r !== 'created') throw new Error(`ledger refused the credit of challenge invoice ${inv.payment_hash}: ${r}`);
    return r;
  }

  /**
   * The hub balance payment an outside payment raced and beat: given back whole (merchant → payer)
   * and marked refunded, with its event (its Idempotency-Key replays the first answer, as after
   * any refund).
   */
  async function refundRaced(tx: Queryable, inv: InvoiceRow, now: number): Promise<void> {
    const p = inv.payment_id
      ? await tx.get<PaymentRow>(`SELECT ${PAYMENT_COLUMNS} FROM payments WHERE id = ?${forUpdate(tx)}`, [inv.payment_id])
      : undefined;
    if (!p || p.user_id === OUTSIDE_PAYER_ID || p.status !== 'completed') return;
    const left = BigInt(p.amount) - BigInt(p.refunded_amount);
    if (left > 0n) {
      const [r] = await ledger.createTransfers(tx, [
        {
          id: raceRefundTransferId(inv.payment_hash),
          debitAccountId: await accounts.merchant(tx, inv.merchant_id, 'BTC'),
          creditAccountId: await accounts.user(tx, p.user_id, 'BTC'),
          amount: left,
          asset: 'BTC',
          userData: p.id,
        },
      ]);
      expectCreated(r, { what: `the refund of ${p.id}, raced by an outside payment`, amount: left, asset: 'BTC' });
    }
    const next: PaymentRow = { ...p, status: 'refunded', refunded_amount: p.amount.toString(), updated_at: now };
    await tx.run('UPDATE payments SET status = ?, refunded_amount = ?, updated_at = ? WHERE id = ?', [
      next.status,
      next.refunded_amount,
      now,
      p.id,
    ]);
    const payment = toPayment(next);
    await appendEvent(
      tx,
      { userId: p.user_id, merchantId: p.merchant_id, type: 'payment.refunded', payment, previousStatus: 'completed' },
      now,
    );
  }

  /**
   * A settlement from outside the hub (the node's stream, a look-up, a confirmed webhook): the
   * merchant is credited what arrived, once per hash. For an invoice a hub balance already paid,
   * see the header: a racing payment replaces the hub balance one, a late one is credited beside it.
   */
  async function applySettlement(s: InboundSettlement): Promise<SettlementResult> {
    const hash = s.paymentHash.toLowerCase();
    const seen = await byHash(db, hash);
    if (!seen) return 'unknown-hash';
    if (seen.status === 'paid' && (await outsidePaid(hash))) return 'already-credited';
    const paid = s.amountPaidMsat > 0n ? s.amountPaidMsat : BigInt(seen.amount);
    const now = clock.now();
    // Signed before the lock, as payments are; thrown away if a twin notice wins the row.
    const row = await paymentFor(seen, {
      id: deps.newPaymentId(now),
      userId: OUTSIDE_PAYER_ID,
      amount: paid,
      transferId: inboundTransferId(hash),
      now,
    });
    const result = await db.transaction(async (tx): Promise<SettlementResult> => {
      const inv = await byHash(tx, hash, true);
      if (!inv) return 'unknown-hash';
      if (inv.status === 'expired') logger.warn({ paymentHash: hash }, 'a challenge invoice marked expired was settled; crediting it');
      if ((await creditInbound(tx, inv, paid, row.id)) === 'exists') return 'already-credited';
      if (inv.status !== 'paid') {
        await record(tx, inv, row, 'closed');
        return 'credited';
      }
      if (inv.node_state === 'cancel') {
        // It raced the hub balance payment: that one is given back, this one counts.
        logger.warn(
          { paymentHash: hash, paymentId: inv.payment_id },
          'an outside payment raced a hub balance payment of a challenge invoice; refunding the hub balance',
        );
        await refundRaced(tx, inv, now);
        await record(tx, inv, row, 'closed');
        return 'credited';
      }
      // Late: the node took it after the hub balance paid (it could not withdraw the invoice). The
      // money is the node's, so the merchant is credited it too, as its own payment.
      logger.warn(
        { paymentHash: hash, paymentId: inv.payment_id },
        'a challenge invoice paid from a hub balance was also paid from outside; credited to the merchant',
      );
      await insertPayment(tx, row);
      await tx.run("UPDATE challenge_invoices SET node_state = 'closed', updated_at = ? WHERE payment_hash = ?", [now, hash]);
      return 'credited';
    });
    if (result === 'credited') deps.onEvent();
    return result;
  }

  /** Whether the one outside payment this hash can have is already recorded. */
  async function outsidePaid(hash: string): Promise<boolean> {
    return (await db.get('SELECT id FROM ledger_transfers WHERE id = ?', [inboundTransferId(hash)])) !== undefined;
  }

  /**
   * After a hub balance paid the invoice: makes sure the node can no longer take a payment for it,
   * or learns that it did. Safe to repeat; what the node says moves `node_state` on (or, when the
   * node already settled it, applies that settlement, which then counts as racing).
   */
  async function closeAtNode(hash: string): Promise<void> {
    const node = need();
    let answer: 'canceled' | 'settled' | 'unknown' | 'open';
    try {
      answer = await node.cancelInvoice(hash);
    } catch (err) {
      if (!isLightningNodeError(err, 'refused')) throw err;
      // The node cannot withdraw it (LNbits, or credentials without the right): it says what it is now.
      const st = await node.lookupInvoice(hash);
      answer = st === undefined ? 'unknown' : st.state === 'settled' ? 'settled' : st.state === 'open' ? 'open' : 'canceled';
    }
    if (answer === 'settled') return void (await settledAtNode(hash));
    await moveNodeState(hash, 'cancel', answer === 'open' ? 'watch' : 'closed');
  }

  /** The node says the invoice settled: its settlement, with the amount the node reports. */
  async function settledAtNode(hash: string): Promise<SettlementResult> {
    const st = await need().lookupInvoice(hash);
    return applySettlement({
      paymentHash: hash,
      amountPaidMsat: st?.amountPaidMsat ?? 0n,
      settledAt: st?.settledAt ?? Math.floor(clock.now() / 1000),
    });
  }

  async function moveNodeState(hash: string, from: NodeState, to: NodeState): Promise<void> {
    await db.run('UPDATE challenge_invoices SET node_state = ?, updated_at = ? WHERE payment_hash = ? AND node_state = ?', [
      to,
      clock.now(),
      hash,
      from,
    ]);
  }

  /** An invoice the node could not withdraw: settled late (credited), still open (watched), or no longer payable. */
  async function watch(r: InvoiceRow): Promise<boolean> {
    const st = await need().lookupInvoice(r.payment_hash);
    if (st?.state === 'settled') return (await settledAtNode(r.payment_hash)) === 'credited';
    // Still open, even past the expiry the hub reads: the node's clock decides what it accepts.
    if (st?.state === 'open') return false;
    await moveNodeState(r.payment_hash, 'watch', 'closed');
    return true;
  }

  async function markExpired(hash: string): Promise<boolean> {
    return db.transaction(async (tx) => {
      const inv = await byHash(tx, hash, true);
      if (inv?.status !== 'open') return false;
      await tx.run("UPDATE challenge_invoices SET status = 'expired', updated_at = ? WHERE payment_hash = ?", [clock.now(), hash]);
      return true;
    });
  }

  /** Looks up open invoices at the node (every one, or those past their expiry). */
  async function reconcile(opts: { signal?: AbortSignal; expiredBy?: number }): Promise<number> {
    if (!receiving) return 0;
    const rows =
      opts.expiredBy === undefined
        ? await db.all<InvoiceRow>(`SELECT ${COLUMNS} FROM challenge_invoices WHERE status = 'open' ORDER BY created_at LIMIT 1000`)
        : await db.all<InvoiceRow>(
            `SELECT ${COLUMNS} FROM challenge_invoices WHERE status = 'open' AND expires_at <= ? ORDER BY expires_at LIMIT 500`,
            [opts.expiredBy],
          );
    let changed = await reconcileNode(opts);
    for (const r of rows) {
      if (opts.signal?.aborted) break;
      try {
        const st = await receiving.lookupInvoice(r.payment_hash);
        if (st?.state === 'settled') {
          const out = await applySettlement({
            paymentHash: r.payment_hash,
            amountPaidMsat: st.amountPaidMsat ?? BigInt(r.amount),
            settledAt: st.settledAt ?? Math.floor(clock.now() / 1000),
          });
          if (out === 'credited') changed++;
        } else if (st?.state === 'expired' || st?.state === 'canceled' || (st === undefined && clock.now() >= Number(r.expires_at))) {
          if (await markExpired(r.payment_hash)) changed++;
        }
      } catch (err) {
        logger.warn({ paymentHash: r.payment_hash, err: (err as Error).message }, 'could not look up a challenge invoice; will try again');
      }
    }
    return changed;
  }

  /**
   * Invoices paid from a hub balance that the node may still take a payment for: withdrawn (or
   * their settlement found) if the payment's own attempt did not get through, and the ones the
   * node cannot withdraw looked up. The periodic check (`expiredBy`) leaves recent `cancel` rows to
   * the payment's own attempt and looks up `watch` rows only once they expired.
   */
  async function reconcileNode(opts: { signal?: AbortSignal; expiredBy?: number }): Promise<number> {
    const rows =
      opts.expiredBy === undefined
        ? await db.all<InvoiceRow>(
            `SELECT ${COLUMNS} FROM challenge_invoices WHERE node_state IN ('cancel', 'watch') ORDER BY updated_at LIMIT 500`,
          )
        : await db.all<InvoiceRow>(
            `SELECT ${COLUMNS} FROM challenge_invoices WHERE (node_state = 'cancel' AND updated_at <= ?) OR (node_state = 'watch' AND expires_at <= ?) ORDER BY updated_at LIMIT 500`,
            [opts.expiredBy - CLOSE_GRACE_MS, opts.expiredBy],
          );
    let changed = 0;
    for (const r of rows) {
      if (opts.signal?.aborted) break;
      try {
        if (r.node_state === 'cancel') {
          await closeAtNode(r.payment_hash);
          changed++;
        } else if (await watch(r)) changed++;
      } catch (err) {
        logger.warn(
          { paymentHash: r.payment_hash, err: (err as Error).message },
          'could not withdraw a paid challenge invoice at the node; will try again',
        );
      }
    }
    return changed;
  }

  /**
   * `POST /payments` on the lightning rail: when `payTo` is a challenge invoice of the hub's own
   * node, it is paid inside the ledger (user → merchant, nothing routed) and answered completed
   * with the standard receipt. Undefined for any other invoice (the rail pays it through the node).
   */
  async function payInternally(
    user: { id: string },
    key: string,
    body: CreatePaymentRequest,
    rawBody: unknown,
  ): Promise<{ status: number; body: unknown; replayed: boolean } | undefined> {
    if (body.rail !== 'lightning' || !receiving) return undefined;
    let hash: string;
    let payee: string;
    try {
      const inv = decodeInvoice(body.payTo);
      hash = inv.paymentHash.toLowerCase();
      payee = inv.payee;
    } catch {
      return undefined; // the rail refuses it with its own words
    }
    const seen = await byHash(db, hash);
    if (!seen || seen.bolt11.toLowerCase() !== body.payTo.toLowerCase()) return undefined;
    if (seen.status === 'open') {
      // Settled at the node already, though the hub has not heard yet: that payment counts, this
      // one is refused below. A node that does not answer is asked again after the payment.
      const st = await withTimeout(receiving.lookupInvoice(hash), CLOSE_WAIT_MS).catch(() => undefined);
      if (st?.state === 'settled')
        await settledAtNode(hash).catch((err: Error) =>
          logger.warn(
            { paymentHash: hash, err: err.message },
            'could not apply a challenge invoice settled at the node; the follower will',
          ),
        );
    }
    const now = clock.now();
    const row = await paymentFor(seen, { id: deps.newPaymentId(now), userId: user.id, amount: BigInt(seen.amount), transferId: '', now });
    row.transfer_id = row.id;
    row.preimage = null;
    const payment = toPayment(row);
    const out = await db.transaction(async (tx) => {
      const claim = await claimKey(tx, {
        scope: keyScope('payment', user.id),
        key,
        fingerprint: fingerprint(rawBody),
        resourceId: row.id,
        now,
        response: { status: 200, body: payment },
      });
      if (!claim.claimed) return { replay: claim.replay };
      const inv = await byHash(tx, hash, true);
      if (!inv) throw new Error('challenge invoice vanished');
      if (inv.status === 'paid') throw new ProblemError('invoice-already-paid', 'this invoice is already paid');
      if (inv.status === 'expired' || now >= Number(inv.expires_at)) {
        throw new ProblemError('invoice-expired', `the invoice expired at ${new Date(Number(inv.expires_at)).toISOString()}`);
      }
      if (body.allowance) {
        await spendAllowance(tx, { userId: user.id, site: body.allowance.site, payee, asset: 'BTC', amount: BigInt(inv.amount), now });
      }
      const [r] = await ledger.createTransfers(tx, [
        {
          id: row.id,
          debitAccountId: await accounts.user(tx, user.id, 'BTC'),
          creditAccountId: await accounts.merchant(tx, inv.merchant_id, 'BTC'),
          amount: BigInt(inv.amount),
          asset: 'BTC',
          userData: row.id,
        },
      ]);
      expectCreated(r, { what: `payment ${row.id}`, amount: BigInt(inv.amount), asset: 'BTC' });
      await record(tx, inv, row, 'cancel');
      return { replay: undefined };
    });
    if (out.replay) return { status: out.replay.status, body: out.replay.body, replayed: true };
    deps.onEvent();
    // Withdraw the invoice at the node now; the answer waits a little for it (a race found here
    // is answered as the refund it became), and a node that is slow finishes in the background.
    const closing = closeAtNode(hash).catch((err: Error) =>
      logger.warn({ paymentHash: hash, err: err.message }, 'could not withdraw a paid challenge invoice at the node; will try again'),
    );
    deps.spawn?.('withdraw a paid challenge invoice', () => closing);
    const waited = new AbortController();
    await Promise.race([closing, sleep(CLOSE_WAIT_MS, waited.signal)]);
    waited.abort();
    const now2 = await db.get<PaymentRow>(`SELECT ${PAYMENT_COLUMNS} FROM payments WHERE id = ?`, [row.id]);
    return { status: 200, body: now2 ? toPayment(now2) : payment, replayed: false };
  }

  receiving?.addReceiver({ applySettlement, reconcile });

  return { create, status, payInternally, applySettlement, reconcile };
}
