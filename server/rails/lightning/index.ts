import { createHash } from 'node:crypto';
import type { Payment } from '../../../shared/api.js';
import { ProblemError } from '../../../shared/problem.js';
import type { Clock } from '../../clock.js';
import type { Ledger } from '../../ledger/types.js';
import type { Logger } from '../../logger.js';
import type { Queryable } from '../../store/types.js';
import type { Rail, RailOutcome, RailPayment } from '../types.js';
import { checkInvoiceRequest, checkNotExpired, decodeInvoice, NETWORK_PREFIX, type Invoice, type LightningNetwork } from './invoice.js';
import { GRPC, isLndError, type LndClient, type LndPayment } from './lnd-client.js';

/**
 * The Lightning rail: the hub's own LND pays the BOLT 11 invoice in `payTo`.
 *
 * The payer's BTC (msat) is reserved, the node pays, and the reservation is posted to the hub's
 * "Lightning outbound" account, which counts what left through the node. The ledger moves exactly
 * the invoice amount; routing fees (capped by the fee limit) are the hub operator's cost.
 *
 * A payment is sent to the node at most once by this rail. Whenever it cannot know whether the
 * node got a send (a cut stream, a reset, a crash), it asks the node (TrackPaymentV2) instead of
 * sending again; LND itself also refuses a second payment of a hash it is paying or has paid.
 */

export const LIGHTNING_OUTBOUND_ACCOUNT = 'system:lightning-outbound:BTC';

export interface LightningRailOptions {
  /** The least fee limit for any payment, msat. */
  feeLimitMsat: bigint;
  /** Fee limit as parts per million of the amount; the larger of the two applies. */
  feeLimitPpm: bigint;
  /** How long LND keeps trying routes (SendPaymentV2 timeout_seconds). */
  payTimeoutSeconds: number;
  /** How long POST /payments waits for a final answer before it answers `submitted`. */
  settleWaitMs: number;
}

export interface LightningRailDeps {
  client: LndClient;
  ledger: Ledger;
  clock: Clock;
  logger: Logger;
  options: LightningRailOptions;
  /** Records an outcome learnt after execute/resume returned (the payment service's applyOutcome). */
  report(paymentId: string, outcome: RailOutcome): Promise<Payment>;
  /** Runs background work the hub waits for when it closes; `signal` aborts when it closes. */
  spawn(name: string, work: (signal: AbortSignal) => Promise<void>): void;
  signal: AbortSignal;
}

/** What the request alone decides, checked before anything is stored (see app.ts). */
export interface RequestCheck {
  checkRequest(req: { payTo: string; amount: bigint; asset: string }): Promise<void>;
}

export type LightningRail = Rail & RequestCheck;

const FAILURE_TEXT: Record<string, string> = {
  FAILURE_REASON_NO_ROUTE: 'no route to the payee within the fee limit',
  FAILURE_REASON_TIMEOUT: 'no route found before the payment timeout',
  FAILURE_REASON_INCORRECT_PAYMENT_DETAILS: "the payee's node refused it (unknown or already paid invoice, or wrong amount)",
  FAILURE_REASON_INSUFFICIENT_BALANCE: "the hub's node has too little outbound liquidity",
  FAILURE_REASON_ERROR: 'the payment failed at the node',
  FAILURE_REASON_CANCELED: 'the payment was canceled at the node',
};

const INSPECT_TIMEOUT_MS = 15_000;

const failed = (reason: string): RailOutcome => ({ status: 'failed', reason });
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

type Sent = { outcome: RailOutcome } | { error: unknown };

export function createLightningRail(deps: LightningRailDeps): LightningRail {
  const { client, ledger, clock, logger, options } = deps;
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
          const info = await client.getInfo();
          if (info.network && info.network in NETWORK_PREFIX) network = info.network as LightningNetwork;
          logger.info({ alias: info.alias, node: info.identityPubkey, network: info.network }, 'lightning node reached');
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

  /** A final update as an outcome; undefined while the payment is still on its way. */
  function finalOutcome(u: LndPayment, inv: Invoice): RailOutcome | undefined {
    if (u.status === 'SUCCEEDED') {
      const ok = u.preimage !== null && createHash('sha256').update(Buffer.from(u.preimage, 'hex')).digest('hex') === inv.paymentHash;
      // The money has left either way; a receipt only carries a preimage that proves it.
      if (!ok) logger.error({ paymentHash: inv.paymentHash }, 'LND reported success without a matching preimage');
      return { status: 'completed', transactionHash: inv.paymentHash, ...(ok ? { preimage: u.preimage! } : {}) };
    }
    if (u.status === 'FAILED') {
      const code = u.failureReason ?? 'FAILURE_REASON_ERROR';
      return failed(`${FAILURE_TEXT[code] ?? 'the payment failed'} (${code})`);
    }
    return undefined;
  }

  /** Follows a send until its final update; `accepted` turns true at the node's first update. */
  async function drive(updates: AsyncGenerator<LndPayment>, inv: Invoice, state: { accepted: boolean }): Promise<RailOutcome> {
    for await (const u of updates) {
      state.accepted = true;
      const o = finalOutcome(u, inv);
      if (o) return o;
    }
    throw new Error('the node closed the stream before a final update');
  }

  /**
   * What a send that threw tells us: a definite refusal (nothing left the node) or doubt.
   * Unreachable: no connection, nothing arrived. Refused before any update: LND answered with a
   * status instead of starting the payment (expired invoice, wrong network, already paid or in
   * flight at this node, bad macaroon…). Anything else may have reached the node.
   */
  function refusal(err: unknown, accepted: boolean): RailOutcome | undefined {
    if (isLndError(err, 'unreachable')) return failed(`the Lightning node could not be reached: ${err.message}`);
    if (isLndError(err, 'refused') && !accepted) return failed(`the Lightning node refused the payment: ${err.message}`);
    return undefined;
  }

  async function reportOutcome(p: RailPayment, outcome: RailOutcome): Promise<void> {
    const payment = await deps.report(p.id, outcome);
    if (outcome.status === 'completed' && payment.status !== 'completed') {
      // The reservation lapsed before the node finished: the node paid, the payer was not debited.
      logger.error({ paymentId: p.id, status: payment.status }, 'a Lightning payment succeeded after the hub had given it up; the hub bore its cost');
    }
  }

  /**
   * Asks the node until it knows the final state, in the background, after execute or resume
   * answered `submitted`. `first` is a send still being followed, if any.
   */
  function follow(p: RailPayment, inv: Invoice, first?: { sent: Promise<Sent>; state: { accepted: boolean }; resumed: boolean }): void {
    if (following.has(p.id)) return;
    following.add(p.id);
    deps.spawn(`lightning follow ${p.id}`, async (signal) => {
      try {
        if (first) {
          const r = await first.sent;
          if ('outcome' in r) return reportOutcome(p, r.outcome);
          if (signal.aborted) return;
          const ours = first.resumed && isLndError(r.error, 'refused', GRPC.ALREADY_EXISTS);
          const definite = ours ? undefined : refusal(r.error, first.state.accepted);
          if (definite) return reportOutcome(p, definite);
        }
        let notFound = 0;
        for (let delay = 1000; !signal.aborted; delay = Math.min(delay * 2, 30_000)) {
          try {
            const o = await drive(client.trackPayment(inv.paymentHash, signal), inv, { accepted: false });
            return reportOutcome(p, o);
          } catch (err) {
            if (signal.aborted) return;
            // Twice, a little apart: a send that was cut off may still be on its way in.
            if (isLndError(err, 'refused', GRPC.NOT_FOUND) && ++notFound >= 2) {
              return reportOutcome(p, failed('the Lightning node has no record of this payment: it was never sent'));
            }
            logger.warn({ paymentId: p.id, err: (err as Error).message }, 'tracking a Lightning payment; retrying');
          }
          await sleep(delay, signal);
        }
      } finally {
        following.delete(p.id);
      }
    });
  }

  /** The node's answer to "what happened to this payment?", waiting only for its first update. */
  async function inspect(p: RailPayment, inv: Invoice): Promise<RailOutcome | 'unknown-to-node'> {
    for (let attempt = 0; ; attempt++) {
      const ctl = new AbortController();
      const onClose = () => ctl.abort();
      deps.signal.addEventListener('abort', onClose, { once: true });
      // LND answers a track with the current state at once; a node that does not is treated as
      // unreachable, so that a hung node cannot hold up the hub's start (resume runs before it serves).
      const timer = setTimeout(() => ctl.abort(), INSPECT_TIMEOUT_MS);
      const updates = client.trackPayment(inv.paymentHash, ctl.signal);
      try {
        const first = await updates.next();
        if (first.done) throw new Error('the node closed the stream without an update');
        const o = finalOutcome(first.value, inv);
        if (o) return o;
      } catch (err) {
        if (isLndError(err, 'refused', GRPC.NOT_FOUND)) {
          if (attempt === 0) {
            await sleep(1000, deps.signal);
            continue;
          }
          return 'unknown-to-node';
        }
        // The node cannot be asked right now: keep asking in the background.
        follow(p, inv);
        return { status: 'submitted', transactionHash: inv.paymentHash };
      } finally {
        clearTimeout(timer);
        deps.signal.removeEventListener('abort', onClose);
        ctl.abort();
        await updates.return(undefined).catch(() => undefined);
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
    const ctl = new AbortController();
    const onClose = () => ctl.abort();
    deps.signal.addEventListener('abort', onClose, { once: true });
    const state = { accepted: false };
    const updates = client.sendPayment(
      { paymentRequest: inv.paymentRequest, timeoutSeconds: options.payTimeoutSeconds, feeLimitMsat: feeLimitFor(p.amount) },
      ctl.signal,
    );
    const sent: Promise<Sent> = drive(updates, inv, state).then(
      (outcome) => ({ outcome }),
      (error: unknown) => ({ error }),
    );
    sent.finally(() => deps.signal.removeEventListener('abort', onClose)).catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const waited = await Promise.race([sent, new Promise<'waiting'>((r) => (timer = setTimeout(() => r('waiting'), options.settleWaitMs)))]);
    clearTimeout(timer);

    if (waited === 'waiting') {
      follow(p, inv, { sent, state, resumed });
      return { status: 'submitted', transactionHash: inv.paymentHash };
    }
    if ('outcome' in waited) return waited.outcome;
    // The hub is closing: the payment stays open and is resumed on the next start.
    if (deps.signal.aborted) return { status: 'submitted', transactionHash: inv.paymentHash };
    if (resumed && isLndError(waited.error, 'refused', GRPC.ALREADY_EXISTS)) {
      const o = await inspect(p, inv);
      return o === 'unknown-to-node' ? failed('the Lightning node has no record of this payment') : o;
    }
    const definite = refusal(waited.error, state.accepted);
    if (definite) return definite;
    logger.warn({ paymentId: p.id, err: (waited.error as Error).message }, 'a Lightning send broke off; asking the node instead of sending again');
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

  return {
    name: 'lightning',
    settlement: 'external',

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
      if (tx.dialect === 'postgres') await tx.get('SELECT pg_advisory_xact_lock(hashtextextended(?, 0)) AS locked', [`lightning:${inv.paymentHash}`]);
      const dup = await tx.get<{ id: string; status: string }>(
        "SELECT id, status FROM payments WHERE rail = 'lightning' AND status <> 'failed' AND lower(pay_to) = ? LIMIT 1",
        [inv.paymentRequest],
      );
      if (dup) {
        throw new ProblemError('invoice-already-paid', `this invoice is already ${dup.status === 'completed' || dup.status === 'refunded' ? 'paid' : 'being paid'} through this hub`);
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
