import { createHash } from 'node:crypto';
import type { Payment } from '../../../shared/api.js';
import { ProblemError } from '../../../shared/problem.js';
import type { Clock } from '../../clock.js';
import type { Ledger } from '../../ledger/types.js';
import type { Logger } from '../../logger.js';
import type { Queryable } from '../../store/types.js';
import { sleep } from '../../core/timing.js';
import type { Rail, RailOutcome, RailPayment } from '../types.js';
import { decodeInvoice, type Invoice, type LightningNetwork } from '../../../lightning/invoice.js';
import {
  isLightningNodeError,
  type LightningNode,
  type PaymentFailureReason,
  type PaymentStatus,
  type PayOutcome,
} from '../../../lightning/node.js';
import type { AccountDirectory } from '../../core/accounts.js';
import type { Db } from '../../store/types.js';
import { checkInvoiceRequest, checkNotExpired } from './invoice.js';
import { createTopups, type LightningTopups, type TopupOptions } from './topups.js';

/**
 * The Lightning rail: the hub's own Lightning node pays the BOLT 11 invoice in `payTo`.
 *
 * The payer's BTC (msat) is reserved, the node pays, and the reservation is posted to the hub's
 * "Lightning outbound" account, which counts what left through the node. The ledger moves exactly
 * the invoice amount; routing fees (capped by the fee limit) are the hub operator's cost.
 *
 * A payment is sent to the node at most once by this rail. Whenever it cannot know whether the
 * node got a send (a cut stream, a reset, a crash), it asks the node (`paymentStatus`) instead of
 * sending again; the node itself also refuses a second payment of a hash it is paying or has paid
 * (`already-paid`). The node is a LightningNode (lightning/node.ts): nothing here knows which
 * software runs it.
 */

export const LIGHTNING_OUTBOUND_ACCOUNT = 'system:lightning-outbound:BTC';

export interface LightningRailOptions {
  /** The least fee limit for any payment, msat. */
  feeLimitMsat: bigint;
  /** Fee limit as parts per million of the amount; the larger of the two applies. */
  feeLimitPpm: bigint;
  /** How long the node keeps trying routes. */
  payTimeoutSeconds: number;
  /** How long POST /payments waits for a final answer before it answers `submitted`. */
  settleWaitMs: number;
}

export type LightningRailDeps = {
  /** The node the rail pays through. */
  node: LightningNode;
  ledger: Ledger;
  clock: Clock;
  logger: Logger;
  options: LightningRailOptions;
  /** Records an outcome learnt after execute/resume returned (the payment service's applyOutcome). */
  report(paymentId: string, outcome: RailOutcome): Promise<Payment>;
  /** Runs background work the hub waits for when it closes; `signal` aborts when it closes. */
  spawn(name: string, work: (signal: AbortSignal) => Promise<void>): void;
  signal: AbortSignal;
  /**
   * With these the rail also receives: top-ups into hub balances, paid to invoices of the same
   * node (topups.ts). The hub's RailParts carry them; a rail built without them only pays.
   */
  db?: Db;
  accounts?: AccountDirectory;
  eventWritten?(): void;
  topupOptions?: TopupOptions;
};

export type LightningRail = Rail & Required<Pick<Rail, 'checkRequest'>> & { readonly topups?: LightningTopups };

const FAILURE_TEXT: Record<PaymentFailureReason, string> = {
  'no-route': 'no route to the payee within the fee limit',
  timeout: 'no route found before the payment timeout',
  'incorrect-details': "the payee's node refused it (unknown or already paid invoice, or wrong amount)",
  'insufficient-balance': "the hub's node has too little outbound liquidity",
  error: 'the payment failed at the node',
  canceled: 'the payment was canceled at the node',
  other: 'the payment failed',
};

const failed = (reason: string): RailOutcome => ({ status: 'failed', reason });

type Sent = { outcome: RailOutcome } | { error: unknown };

export function createLightningRail(deps: LightningRailDeps): LightningRail {
  const { node, ledger, clock, logger, options } = deps;
  let network: LightningNetwork | null = null;
  let accountKnown = false;
  const following = new Set<string>();

  // The node's network decides which invoices it can pay. Learnt in the background, so a node
  // that is down does not stop the hub from starting; requests wait for the first attempt only,
  // and until one succeeds the node itself refuses invoices of another network.
  let firstAttempt: () => void = () => {};
  const networkTried = new Promise<void>((r) => (firstAttempt = r));
  deps.spawn('lightning getinfo', async (signal) => {
    try {
      for (let delay = 1000; !signal.aborted; delay = Math.min(delay * 2, 60_000)) {
        try {
          const info = await node.info();
          if (info.network) network = info.network;
          logger.info({ alias: info.alias, node: info.pubkey, network: info.network }, 'lightning node reached');
          return;
        } catch (err) {
          logger.warn({ err: (err as Error).message }, 'lightning node not reachable yet');
        }
        firstAttempt();
        await sleep(delay, signal);
      }
    } finally {
      firstAttempt();
    }
  });

  const feeLimitFor = (amount: bigint) => {
    const proportional = (amount * options.feeLimitPpm + 999_999n) / 1_000_000n;
    return proportional > options.feeLimitMsat ? proportional : options.feeLimitMsat;
  };

  /** The node's final word as an outcome. */
  function finalOutcome(o: PayOutcome, inv: Invoice): RailOutcome {
    if (o.state === 'succeeded') {
      const ok = o.preimage !== undefined && createHash('sha256').update(Buffer.from(o.preimage, 'hex')).digest('hex') === inv.paymentHash;
      // The money has left either way; a receipt only carries a preimage that proves it.
      if (!ok) logger.error({ paymentHash: inv.paymentHash }, 'the Lightning node reported success without a matching preimage');
      return { status: 'completed', transactionHash: inv.paymentHash, ...(ok ? { preimage: o.preimage! } : {}) };
    }
    const { reason, nodeReason } = o.failure;
    return failed(`${FAILURE_TEXT[reason] ?? FAILURE_TEXT.other} (${nodeReason ?? reason})`);
  }

  /**
   * What a send that threw tells us: a definite refusal (nothing left the node) or doubt.
   * Unreachable: no connection, nothing arrived. Refused or already paid: the node answered
   * instead of starting the payment (expired invoice, wrong network, already paid or in flight at
   * this node, bad credentials…). Anything else may have reached the node.
   */
  function refusal(err: unknown): RailOutcome | undefined {
    if (isLightningNodeError(err, 'unreachable')) return failed(`the Lightning node could not be reached: ${err.message}`);
    if (isLightningNodeError(err, 'refused') || isLightningNodeError(err, 'already-paid'))
      return failed(`the Lightning node refused the payment: ${err.message}`);
    return undefined;
  }

  async function reportOutcome(p: RailPayment, outcome: RailOutcome): Promise<void> {
    const payment = await deps.report(p.id, outcome);
    if (outcome.status === 'completed' && payment.status !== 'completed') {
      // The reservation lapsed before the node finished: the node paid, the payer was not debited.
      logger.error(
        { paymentId: p.id, status: payment.status },
        'a Lightning payment succeeded after the hub had given it up; the hub bore its cost',
      );
    }
  }

  /**
   * Asks the node until it knows the final state, in the background, after execute or resume
   * answered `submitted`. `first` is a send still being followed, if any.
   */
  function follow(p: RailPayment, inv: Invoice, first?: { sent: Promise<Sent>; resumed: boolean }): void {
    if (following.has(p.id)) return;
    following.add(p.id);
    deps.spawn(`lightning follow ${p.id}`, async (signal) => {
      try {
        if (first) {
          const r = await first.sent;
          if ('outcome' in r) return reportOutcome(p, r.outcome);
          if (signal.aborted) return;
          const ours = first.resumed && isLightningNodeError(r.error, 'already-paid');
          const definite = ours ? undefined : refusal(r.error);
          if (definite) return reportOutcome(p, definite);
        }
        let notFound = 0;
        for (let delay = 1000; !signal.aborted; delay = Math.min(delay * 2, 30_000)) {
          try {
            const status = await node.paymentStatus(inv.paymentHash, { signal, wait: true });
            if (status.state === 'succeeded' || status.state === 'failed') return reportOutcome(p, finalOutcome(status, inv));
            // Twice, a little apart: a send that was cut off may still be on its way in.
            if (status.state === 'unknown' && ++notFound >= 2) {
              return reportOutcome(p, failed('the Lightning node has no record of this payment: it was never sent'));
            }
          } catch (err) {
            if (signal.aborted) return;
            logger.warn({ paymentId: p.id, err: (err as Error).message }, 'tracking a Lightning payment; retrying');
          }
          await sleep(delay, signal);
        }
      } finally {
        following.delete(p.id);
      }
    });
  }

  /**
   * The node's answer to "what happened to this payment?", as it stands now. A node that does not
   * answer in time counts as unreachable (paymentStatus), so that a hung node cannot hold up the
   * hub's start (resume runs before it serves).
   */
  async function inspect(p: RailPayment, inv: Invoice): Promise<RailOutcome | 'unknown-to-node'> {
    for (let attempt = 0; ; attempt++) {
      let status: PaymentStatus;
      try {
        status = await node.paymentStatus(inv.paymentHash, { signal: deps.signal });
      } catch {
        // The node cannot be asked right now: keep asking in the background.
        follow(p, inv);
        return { status: 'submitted', transactionHash: inv.paymentHash };
      }
      if (status.state === 'succeeded' || status.state === 'failed') return finalOutcome(status, inv);
      if (status.state === 'unknown') {
        if (attempt === 0) {
          await sleep(1000, deps.signal);
          continue;
        }
        return 'unknown-to-node';
      }
      follow(p, inv);
      return { status: 'submitted', transactionHash: inv.paymentHash };
    }
  }

  /**
   * Sends once and waits up to settleWaitMs for the final update. On doubt it inspects instead of
   * sending again. `resumed`: this send follows a restart after which the node said it never saw
   * the payment; if the node now says it is already paying or has paid this hash, that payment is
   * this one, so it is tracked rather than failed.
   */
  async function send(p: RailPayment, inv: Invoice, resumed: boolean): Promise<RailOutcome> {
    const sent: Promise<Sent> = node
      .pay({
        bolt11: inv.paymentRequest,
        timeoutSeconds: options.payTimeoutSeconds,
        feeLimitMsat: feeLimitFor(p.amount),
        signal: deps.signal,
      })
      .then(
        (o) => ({ outcome: finalOutcome(o, inv) }),
        (error: unknown) => ({ error }),
      );
    let timer: NodeJS.Timeout | undefined;
    const waited = await Promise.race([
      sent,
      new Promise<'waiting'>((r) => (timer = setTimeout(() => r('waiting'), options.settleWaitMs))),
    ]);
    clearTimeout(timer);

    if (waited === 'waiting') {
      follow(p, inv, { sent, resumed });
      return { status: 'submitted', transactionHash: inv.paymentHash };
    }
    if ('outcome' in waited) return waited.outcome;
    // The hub is closing: the payment stays open and is resumed on the next start.
    if (deps.signal.aborted) return { status: 'submitted', transactionHash: inv.paymentHash };
    if (resumed && isLightningNodeError(waited.error, 'already-paid')) {
      const o = await inspect(p, inv);
      return o === 'unknown-to-node' ? failed('the Lightning node has no record of this payment') : o;
    }
    const definite = refusal(waited.error);
    if (definite) return definite;
    logger.warn(
      { paymentId: p.id, err: (waited.error as Error).message },
      'a Lightning send broke off; asking the node instead of sending again',
    );
    const o = await inspect(p, inv);
    return o === 'unknown-to-node' ? failed('the Lightning node never received the payment') : o;
  }

  async function outboundAccount(tx: Queryable): Promise<string> {
    if (accountKnown) return LIGHTNING_OUTBOUND_ACCOUNT;
    const [r] = await ledger.createAccounts(tx, [{ id: LIGHTNING_OUTBOUND_ACCOUNT, asset: 'BTC', owner: 'system' }]);
    // Only an account seen committed is remembered: this transaction may still roll back.
    if (r === 'exists') accountKnown = true;
    else if (r !== 'created') throw new Error(`ledger refused account ${LIGHTNING_OUTBOUND_ACCOUNT}: ${r}`);
    return LIGHTNING_OUTBOUND_ACCOUNT;
  }

  const topups =
    deps.db && deps.accounts
      ? createTopups({
          db: deps.db,
          ledger,
          accounts: deps.accounts,
          clock,
          logger,
          node,
          spawn: deps.spawn,
          eventWritten: deps.eventWritten ?? (() => {}),
          ...(deps.topupOptions ? { options: deps.topupOptions } : {}),
        })
      : undefined;

  return {
    name: 'lightning',
    settlement: 'external',
    ...(topups ? { topups, receiving: topups } : {}),
    info: async () => ({ name: 'lightning', assets: ['BTC'] }),

    async checkRequest(req) {
      // Refuse what is wrong on its face before waiting for the node.
      checkInvoiceRequest(req, network);
      if (!network) {
        await networkTried;
        checkInvoiceRequest(req, network);
      }
    },

    payeeOf(payTo) {
      // The signer of the invoice: the same from one invoice of a merchant to the next.
      try {
        return decodeInvoice(payTo).payee;
      } catch (err) {
        throw new ProblemError('invalid-invoice', (err as Error).message);
      }
    },

    async resolvePayee(tx, payTo, asset) {
      const inv = checkInvoiceRequest({ payTo, asset }, network);
      checkNotExpired(inv, clock.now());
      // One open or paid hub payment per invoice: two would both be "completed" by the one
      // payment the node makes for that hash. PostgreSQL needs a lock for the check to hold
      // under concurrency; SQLite's single writer already serialises it.
      if (tx.dialect === 'postgres')
        await tx.get('SELECT pg_advisory_xact_lock(hashtextextended(?, 0)) AS locked', [`lightning:${inv.paymentHash}`]);
      const dup = await tx.get<{ id: string; status: string }>(
        "SELECT id, status FROM payments WHERE rail = 'lightning' AND status <> 'failed' AND lower(pay_to) = ? LIMIT 1",
        [inv.paymentRequest],
      );
      if (dup) {
        throw new ProblemError(
          'invoice-already-paid',
          `this invoice is already ${dup.status === 'completed' || dup.status === 'refunded' ? 'paid' : 'being paid'} through this hub`,
        );
      }
      return { creditAccountId: await outboundAccount(tx), merchantId: null };
    },

    async execute(p) {
      return send(p, decodeInvoice(p.payTo), false);
    },

    async resume(p) {
      let inv: Invoice;
      try {
        inv = decodeInvoice(p.payTo);
      } catch (err) {
        return failed(`the invoice cannot be read: ${(err as Error).message}`);
      }
      const o = await inspect(p, inv);
      if (o !== 'unknown-to-node') return o;
      // The node never saw it. A payment that was `submitted` had been seen by the node, so the
      // node lost it (another node, a wiped one): nothing can be learnt, and sending could pay
      // twice. One that was only `pending` crashed before its send arrived: sending once is safe.
      if (p.transactionHash) return failed('the Lightning node has no record of this payment');
      return send(p, inv, true);
    },
  };
}
