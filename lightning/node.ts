import type { LightningNetwork } from './invoice.js';

/**
 * A Lightning node as Tollway uses it, in Tollway's terms, whatever software runs it. The hub's
 * Lightning rail pays through one; the merchant kit's `l402()` issues invoices through one. An
 * adapter (lightning/lnd/, cln/, lnbits/) maps its node's calls, states and errors onto this.
 *
 * Conventions: amounts are millisatoshi as bigint; payment hashes and preimages are lowercase hex
 * (64 digits); times are unix seconds. A node that cannot do what was asked throws a
 * LightningNodeError; a caller's mistake (a hash that is not hex) throws a RangeError.
 */
export interface LightningNode {
  /** Which adapter this is (`lnd`, `cln`, `lnbits`): for logs and messages. */
  readonly kind: string;

  /**
   * Issues a BOLT 11 invoice for `amountMsat` (> 0). With `preimage`, its hash is the payment hash
   * (a node that cannot take one, LNbits, throws `refused`). A node that issues whole satoshis only
   * (LNbits) throws RangeError for an amount that is not.
   */
  createInvoice(req: CreateInvoiceRequest): Promise<CreatedInvoice>;

  /** An invoice this node issued, as it stands now; undefined when the node has no such invoice. */
  lookupInvoice(paymentHash: string): Promise<InvoiceStatus | undefined>;

  /**
   * Withdraws an invoice this node issued, so that no payment can settle it any more:
   * - `canceled`: it can no longer be paid (it was open, or already canceled or expired). Some
   *   nodes (CLN) delete it: a look-up then finds nothing;
   * - `settled`: too late, it was paid; the money is the node's (look it up for the amount);
   * - `unknown`: the node has no such invoice (never issued, or deleted), so nothing can pay it.
   *
   * A node that cannot withdraw invoices at all (LNbits) throws `refused` with `nodeCode`
   * `unsupported` and changes nothing: its invoices stay payable until they expire. Other errors as
   * usual (`unreachable`: nothing was done; `broken`: ask again, canceling is idempotent).
   */
  cancelInvoice(paymentHash: string): Promise<CancelOutcome>;

  /**
   * The invoices of this node that settle from now on, as they settle, until `signal` aborts
   * (the iteration then ends quietly).
   *
   * When the connection to the node breaks, the iteration throws a LightningNodeError and does not
   * reconnect by itself: whatever settled while nobody was listening is not in any stream. A caller
   * that follows again therefore looks up (`lookupInvoice`) each invoice it was waiting for, so
   * that none is missed; it may also pass `since`, the `cursor` of the last settlement it saw, and
   * a node that can replay (LND, CLN) first yields what settled after it. A node that cannot (LNbits) ignores
   * `since`. The same settlement may come twice (a replay, a look-up): handle it once by its hash.
   */
  followSettlements(opts: { signal: AbortSignal; since?: string }): AsyncIterable<SettledInvoice>;

  /**
   * Pays a BOLT 11 invoice and waits for the end: succeeded (with the preimage) or failed (nothing
   * left the node). Throws when it cannot say which:
   * - `unreachable`, `refused`: the node never started the payment; nothing left it;
   * - `already-paid`: the node is paying or has paid this payment hash already; nothing new was sent;
   * - `broken`, or `signal` aborting after the request went out: the outcome is unknown. Ask
   *   `paymentStatus`, never `pay` again (it could pay twice).
   */
  pay(req: PayRequest): Promise<PayOutcome>;

  /**
   * What became of a payment of this hash made by this node (one whose `pay` threw or was given
   * up, or from before a restart). `unknown`: the node never heard of it. With `wait`, an
   * in-flight payment is followed until it ends (or `signal` aborts); without, the answer is the
   * state now, and a node that does not answer in time throws `unreachable`.
   */
  paymentStatus(paymentHash: string, opts?: { signal?: AbortSignal; wait?: boolean }): Promise<PaymentStatus>;

  /** Who the node is and whether it is ready; the cheapest call that proves the credentials work. */
  info(): Promise<NodeInfo>;
}

export interface CreateInvoiceRequest {
  /** Millisatoshi, > 0 (amountless invoices are not issued). */
  amountMsat: bigint;
  memo?: string;
  /** How long the invoice can be paid. Default 3600. */
  expirySeconds?: number;
  /** Hex, 32 bytes: the preimage to use instead of one the node makes up. */
  preimage?: string;
}

export interface CreatedInvoice {
  bolt11: string;
  paymentHash: string;
  /** Unix seconds, as the invoice itself says. */
  expiresAt: number;
}

/** What became of an invoice the node was asked to withdraw (`cancelInvoice`). */
export type CancelOutcome = 'canceled' | 'settled' | 'unknown';

/** The `nodeCode` of the `refused` error a node that cannot withdraw invoices throws. */
export const CANCEL_UNSUPPORTED = 'unsupported';

/** `expired`: never paid and past its expiry. `canceled`: withdrawn before it was paid. */
export type InvoiceState = 'open' | 'settled' | 'expired' | 'canceled';

export interface InvoiceStatus {
  state: InvoiceState;
  /** What the invoice asks for; undefined for an amountless one. */
  amountMsat?: bigint;
  /** What was paid, once settled. */
  amountPaidMsat?: bigint;
  /** Once settled (some nodes give it for any invoice they issued). */
  preimage?: string;
  /** Unix seconds, once settled. */
  settledAt?: number;
}

export interface SettledInvoice {
  paymentHash: string;
  preimage: string;
  amountPaidMsat: bigint;
  /** Unix seconds. */
  settledAt: number;
  /** Where the stream stood: give it back as `since` to resume after this settlement. */
  cursor?: string;
}

export interface PayRequest {
  bolt11: string;
  /** The most the node may spend on routing fees. */
  feeLimitMsat: bigint;
  /** How long the node keeps looking for a route. */
  timeoutSeconds: number;
  /** Stops waiting (the payment itself may go on: ask `paymentStatus`). */
  signal?: AbortSignal;
}

/** Why a payment failed, in Tollway's words; `other` is a reason this package does not know. */
export type PaymentFailureReason = 'no-route' | 'timeout' | 'incorrect-details' | 'insufficient-balance' | 'canceled' | 'error' | 'other';

export interface PaymentFailure {
  reason: PaymentFailureReason;
  /** The node's own name for it (LND: `FAILURE_REASON_NO_ROUTE`), for operators. */
  nodeReason?: string;
}

export type PayOutcome =
  /** `preimage` as the node reported it: prove it (sha256 = payment hash) before relying on it. */
  { state: 'succeeded'; preimage?: string; feeMsat?: bigint } | { state: 'failed'; failure: PaymentFailure };

export type PaymentStatus = PayOutcome | { state: 'in_flight' } | { state: 'unknown' };

export interface NodeInfo {
  alias: string;
  /** The node's identity key, hex (compressed secp256k1); null when it does not say (LNbits is a wallet, not a node). */
  pubkey: string | null;
  /** null: a network this package does not know, so its invoices' network is not checked. */
  network: LightningNetwork | null;
  /** Synced to the chain: until then payments may fail. */
  synced: boolean;
  /** The node software and its version, e.g. `LND 0.18.4-beta`. */
  version: string;
}

/**
 * - `unreachable`: no connection was made (or no answer came in time); nothing reached the node.
 * - `refused`: the node answered and declined (credentials, a bad or expired invoice, another
 *   network…); it did nothing.
 * - `not-found`: the node has no such thing, where that is not an ordinary answer.
 * - `already-paid`: a payment of this hash is already in flight or done at this node.
 * - `broken`: the exchange broke off after the request may have reached the node: outcome unknown.
 */
export type LightningNodeErrorKind = 'unreachable' | 'refused' | 'not-found' | 'already-paid' | 'broken';

export class LightningNodeError extends Error {
  constructor(
    readonly kind: LightningNodeErrorKind,
    message: string,
    /** The node's own code for it (LND: the gRPC status code), for operators. */
    readonly nodeCode?: string | number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LightningNodeError';
  }
}

export const isLightningNodeError = (e: unknown, kind?: LightningNodeErrorKind): e is LightningNodeError =>
  e instanceof LightningNodeError && (kind === undefined || e.kind === kind);
