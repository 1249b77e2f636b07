import type { CreatePaymentRequest, Rail as RailName, RailsInfo } from '../../shared/api.js';
import type { CreateDepositRequest, Deposit } from '../../shared/deposits.js';
import type { CreateTopupRequest, Topup } from '../../shared/topups.js';
import type { Queryable } from '../store/types.js';
import type { SovrFacilitator } from './facilitator.js';
import type { InterledgerApi } from './ilp/api.js';

/** One rail's entry in `GET /rails`. */
export type RailInfo = RailsInfo['rails'][number];

/** A payment as a rail sees it: what to move, from whom, to whom. */
export interface RailPayment {
  id: string;
  userId: string;
  payTo: string;
  merchantId: string | null;
  amount: bigint;
  asset: string;
  transactionHash: string | null;
}

/** What happened on the rail. `submitted` means the rail took it and confirmation comes later. */
export type RailOutcome =
  | { status: 'completed'; transactionHash?: string; blockExplorerUrl?: string; preimage?: string }
  | { status: 'submitted'; transactionHash?: string; blockExplorerUrl?: string }
  | { status: 'failed'; reason: string };

/**
 * What `execute` or `resume` may also say: still waiting for the payer (their consent on their own
 * wallet's page). The payment stays `pending`, and the answer to the request carries where the
 * person approves it.
 */
export type AwaitingPayer = { status: 'pending'; interact: { redirect: string; expiresAt: string } };

export interface Payee {
  /** The ledger account credited when the payment posts. */
  creditAccountId: string;
  /** The hub merchant paid, when the payee is one (receipts name it as their audience). */
  merchantId: string | null;
}

export interface Rail {
  readonly name: RailName;
  /**
   * `ledger`: the rail's act is the ledger transfer itself (nothing leaves the hub), so a payment
   * settles in the one transaction that creates it. `external`: the funds are reserved, the rail
   * runs outside any transaction, and its outcome is recorded after (posting or voiding).
   * `wallet`: the person's own wallet pays and a merchant's facilitator settles; the hub only keeps
   * the books. No ledger transfer is written, `resolvePayee`, `execute` and `resume` are never
   * called, and the outcome comes from the person's settlement report (`POST /payments/:id/settlement`).
   */
  readonly settlement: 'ledger' | 'external' | 'wallet';
  /**
   * Resolves `payTo` inside the payment's transaction and makes sure the credit account exists.
   * Throws a ProblemError when the payee cannot be paid on this rail.
   */
  resolvePayee(tx: Queryable, payTo: string, asset: string): Promise<Payee>;
  /**
   * Optional: who `payTo` pays, as allowances name their payee (shared/payee.ts), when that is not
   * `payTo` itself (a Lightning invoice is new every time; the node that signed it is not). An
   * auto-payment is charged only to an allowance for this payee. Throws a ProblemError when
   * `payTo` names nobody.
   */
  payeeOf?(payTo: string): string;
  /** Moves the money once the reservation has committed. */
  execute(payment: RailPayment): Promise<RailOutcome | AwaitingPayer>;
  /**
   * After a restart, for a payment that is not final: find out what happened (re-check the chain
   * or the invoice) and never send a second time blindly.
   */
  resume(payment: RailPayment): Promise<RailOutcome | AwaitingPayer>;
  /**
   * Optional, for a rail whose payer's money is not a hub balance (an on-chain wallet): checks the
   * request and reads what it must (the chain) before anything is stored; a ProblemError refuses
   * it with nothing stored. Not called for a request whose Idempotency-Key is already known (its
   * stored answer is replayed instead), so a replay never depends on what the chain says now.
   */
  prepare?(request: RailRequest): Promise<PreparedPayment>;
  /** Optional: moving the payer's outside money into their hub balance (the SOVR rail). */
  readonly deposits?: DepositsApi;
  /** Optional: receiving money into a person's hub balance from anyone who pays (Lightning top-ups). */
  readonly topups?: TopupsApi;
  /**
   * Optional: invoices of the hub's own node for others to settle (merchants' challenge invoices),
   * on the same settlement follower as top-ups. Comes with `topups`.
   */
  readonly receiving?: InvoiceReceiving;
  /**
   * Optional: checks a request against what only this rail can read in `payTo` (a Lightning
   * invoice's amount) before the idempotency key is claimed, so a refused request stores nothing.
   * It must depend on the request alone, so that a replay of a stored answer passes it again.
   */
  checkRequest?(req: { payTo: string; amount: bigint; asset: string }): Promise<void>;
  /** Optional: the x402 facilitator core (verify and settle `exact` payloads) this rail brings. */
  readonly facilitator?: SovrFacilitator;
  /** Optional: linked wallet addresses, the consent redirect and held grants (the Interledger rail). */
  readonly interledger?: InterledgerApi;
  /** What `GET /rails` says about this rail: what a wallet needs to use it. */
  info(): Promise<RailInfo>;
}

/** A payment request as `prepare` sees it: who asks, and the validated body. */
export interface RailRequest {
  paymentId: string;
  user: { id: string; address?: string };
  body: CreatePaymentRequest;
}

/** What `prepare` found out, and how the rail takes part in the transaction that creates the payment. */
export interface PreparedPayment {
  /** The ledger account the reservation debits instead of the payer's hub wallet; created here when missing. */
  debitAccount?(tx: Queryable): Promise<string>;
  /** Seconds the reservation lasts, instead of the hub's payment timeout. */
  timeoutSeconds?: number;
  /**
   * Runs inside the creating transaction, after the payment row is written. Throwing (a
   * ProblemError to refuse) rolls everything back: nothing is stored.
   */
  reserve?(tx: Queryable, payment: RailPayment): Promise<void>;
  /** Called once the creating transaction is over (committed, rolled back, or never run). */
  release?(): void;
}

export type Rails = Partial<Record<RailName, Rail>>;

/**
 * Deposits (the SOVR rail): a person moves on-chain tokens into their hub balance. The HTTP layer
 * reaches them through the payments service; a hub without such a rail has none.
 */
export interface DepositsApi {
  /** Checks, reserves, submits; idempotent per (user, key) like payments. */
  create(
    user: { id: string; address?: string },
    key: string,
    body: CreateDepositRequest,
    rawBody: unknown,
  ): Promise<{ status: number; body: Deposit; replayed: boolean }>;
  /** The user's own deposit only. */
  get(userId: string, id: string): Promise<Deposit | undefined>;
}

/**
 * Top-ups (the Lightning rail): the hub receives. A person asks for an invoice from the hub's own
 * node; once it is paid, from any wallet, their balance is credited once. A hub without such a
 * rail has none.
 */
export interface TopupsApi {
  /** Issues the invoice and stores the top-up; idempotent per (user, key) like payments. */
  create(
    user: { id: string },
    key: string,
    body: CreateTopupRequest,
    rawBody: unknown,
  ): Promise<{ status: number; body: Topup; replayed: boolean }>;
  /** The user's own top-up only. */
  get(userId: string, id: string): Promise<Topup | undefined>;
}

/** What became of one settlement notice. */
export type SettlementResult = 'credited' | 'already-credited' | 'unknown-hash';

/** A settlement of an invoice of the hub's node, as the node reported it. */
export interface InboundSettlement {
  /** Lower-case hex. */
  paymentHash: string;
  amountPaidMsat: bigint;
  /** Seconds since the epoch. */
  settledAt: number;
}

/** Whoever issued invoices on the hub's node besides top-ups: told of their settlements. */
export interface InvoiceReceiver {
  /** Applies one notice; 'unknown-hash' for a hash it did not issue. Idempotent per hash. */
  applySettlement(s: InboundSettlement): Promise<SettlementResult>;
  /** Looks up its open invoices at the node (all, or those expired by `expiredBy`, ms); how many changed. */
  reconcile(opts: { signal?: AbortSignal; expiredBy?: number }): Promise<number>;
}

/** The hub's node as a receiver of payments (the Lightning rail). */
export interface InvoiceReceiving {
  /** `expiresAt` in ms since the epoch; `paymentHash` lower-case hex. */
  createInvoice(req: { amountMsat: bigint; memo: string; expirySeconds?: number }): Promise<{
    bolt11: string;
    paymentHash: string;
    expiresAt: number;
  }>;
  lookupInvoice(
    paymentHash: string,
  ): Promise<{ state: 'open' | 'settled' | 'expired' | 'canceled'; amountPaidMsat?: bigint; settledAt?: number } | undefined>;
  /** Settlements of hashes that are no top-up go to `r` (and the look-ups on reconnect call it). */
  addReceiver(r: InvoiceReceiver): void;
  /**
   * Withdraws an invoice at the node (LightningNode.cancelInvoice): `canceled` (no payment can
   * settle it now), `settled` (too late), `unknown`. A node that cannot (LNbits) throws `refused`.
   */
  cancelInvoice(paymentHash: string): Promise<'canceled' | 'settled' | 'unknown'>;
  /**
   * Present when the node sends webhooks (LNbits): an unsigned body that only names a payment.
   * The node is asked about it, and what it says is applied once per hash; `not-settled` when it
   * says the invoice is not paid. A body that names no payment hash throws RangeError.
   */
  webhookHint?(body: unknown): Promise<SettlementResult | 'not-settled'>;
}
