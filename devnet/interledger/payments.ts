/**
 * The resource server's money: incoming payments, quotes and outgoing payments between the wallets
 * here. No HTTP (./resource-routes.ts does that). Amounts are bigint in the smallest unit.
 *
 * The exchange is fixed and documented: both wallets must hold the same asset (code and scale), it
 * converts 1:1, and the payer pays `QuoteFee` on top of what the payee receives. An outgoing payment
 * checks its grant's limit (in the current interval) and the payer's balance and moves the money in
 * one synchronous step, so concurrent payments under one grant can never overspend it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Grant } from './grants.js';
import { parseInterval } from './interval.js';
import type { OutgoingFailure, QuoteFee } from './types.js';
import type { Wallet, WalletDirectory } from './wallets.js';

export const UINT64_MAX = 2n ** 64n - 1n;

export interface IncomingPayment {
  id: string;
  wallet: Wallet;
  incomingAmount?: bigint;
  received: bigint;
  completed: boolean;
  expiresAt?: Date;
  metadata?: Record<string, unknown>;
  createdAt: Date;
  /** The client that created it: `read` (unlike `read-all`) reaches only a client's own resources. */
  client?: string;
  ilpAddress: string;
  sharedSecret: string;
}

export interface Quote {
  id: string;
  wallet: Wallet;
  receiver: IncomingPayment;
  debit: bigint;
  receive: bigint;
  createdAt: Date;
  expiresAt: Date;
  client?: string;
  used: boolean;
}

export interface OutgoingPayment {
  id: string;
  wallet: Wallet;
  quoteId?: string;
  receiver: IncomingPayment;
  debit: bigint;
  receive: bigint;
  sent: bigint;
  failed: boolean;
  metadata?: Record<string, unknown>;
  createdAt: Date;
  client?: string;
  grantId: string;
  /** What the grant had spent in the current interval once this payment was counted. */
  grantSpentDebit: bigint;
  grantSpentReceive: bigint;
}

/** Why the resource server refuses: an HTTP status the operation lists, and a code for the client. */
export interface Refusal {
  refused: true;
  status: 400 | 403 | 404;
  code: string;
  description: string;
}

const refuse = (status: Refusal['status'], code: string, description: string): Refusal => ({ refused: true, status, code, description });
export const isRefusal = (x: unknown): x is Refusal => (x as Refusal | null)?.refused === true;

export interface AmountIn {
  value: string;
  assetCode: string;
  assetScale: number;
}

function amountOf(a: AmountIn, wallet: Wallet, what: string): bigint | Refusal {
  if (a.assetCode !== wallet.assetCode || a.assetScale !== wallet.assetScale)
    return refuse(400, 'invalid_request', `${what} must be in ${wallet.assetCode} at scale ${wallet.assetScale}, the wallet's asset`);
  let v: bigint;
  try {
    v = BigInt(a.value);
  } catch {
    return refuse(400, 'invalid_request', `${what} is not an integer`);
  }
  if (v <= 0n || v > UINT64_MAX) return refuse(400, 'invalid_request', `${what} must be above 0 and fit in 64 bits`);
  return v;
}

export class PaymentBook {
  readonly #incoming = new Map<string, IncomingPayment>();
  readonly #quotes = new Map<string, Quote>();
  readonly #outgoing = new Map<string, OutgoingPayment>();
  #nextFailure: OutgoingFailure | undefined;
  /** Fees the provider kept (payer debits minus payee credits), per asset code. */
  readonly fees = new Map<string, bigint>();

  constructor(
    private readonly deps: {
      resourceServer: string;
      wallets: WalletDirectory;
      now: () => Date;
      quoteTtlMs: number;
      fee: QuoteFee;
    },
  ) {}

  failNext(kind: OutgoingFailure): void {
    this.#nextFailure = kind;
  }

  #fee(receive: bigint): bigint {
    const bp = BigInt(this.deps.fee.basisPoints ?? 0);
    return (this.deps.fee.fixed ?? 0n) + (receive * bp + 9_999n) / 10_000n;
  }

  /** The most the payee can receive when the payer gives `debit`, fee included. */
  #receiveFor(debit: bigint): bigint {
    const bp = BigInt(this.deps.fee.basisPoints ?? 0);
    let r = ((debit - (this.deps.fee.fixed ?? 0n)) * 10_000n) / (10_000n + bp);
    while (r > 0n && r + this.#fee(r) > debit) r -= 1n;
    while (r + 1n + this.#fee(r + 1n) <= debit) r += 1n;
    return r;
  }

  createIncoming(
    wallet: Wallet,
    input: { incomingAmount?: AmountIn; expiresAt?: string; metadata?: Record<string, unknown> },
    client: string | undefined,
  ): IncomingPayment | Refusal {
    let incomingAmount: bigint | undefined;
    if (input.incomingAmount) {
      const v = amountOf(input.incomingAmount, wallet, 'incomingAmount');
      if (isRefusal(v)) return v;
      incomingAmount = v;
    }
    let expiresAt: Date | undefined;
    if (input.expiresAt !== undefined) {
      expiresAt = new Date(input.expiresAt);
      if (Number.isNaN(expiresAt.getTime()) || expiresAt <= this.deps.now())
        return refuse(400, 'invalid_request', 'expiresAt must be in the future');
    }
    const uuid = randomUUID();
    const ip: IncomingPayment = {
      id: `${this.deps.resourceServer}/incoming-payments/${uuid}`,
      wallet,
      incomingAmount,
      received: 0n,
      completed: false,
      expiresAt,
      metadata: input.metadata,
      createdAt: this.deps.now(),
      client,
      ilpAddress: `test.tollway-local.${wallet.name.replace(/[^a-zA-Z0-9_~-]/g, '-')}.${uuid.replaceAll('-', '')}`,
      sharedSecret: randomBytes(32).toString('base64url'),
    };
    this.#incoming.set(ip.id, ip);
    return ip;
  }

  incoming(id: string): IncomingPayment | undefined {
    return this.#incoming.get(id);
  }

  expired(ip: IncomingPayment): boolean {
    return ip.expiresAt !== undefined && this.deps.now() >= ip.expiresAt;
  }

  complete(ip: IncomingPayment): IncomingPayment | Refusal {
    if (this.expired(ip) && !ip.completed) return refuse(403, 'invalid_state', 'the incoming payment expired');
    ip.completed = true;
    return ip;
  }

  incomingOf(wallet: Wallet, client: string | undefined): IncomingPayment[] {
    return [...this.#incoming.values()].filter((p) => p.wallet === wallet && (client === undefined || p.client === client));
  }

  #receivable(receiver: IncomingPayment): Refusal | undefined {
    if (receiver.completed) return refuse(400, 'invalid_receiver', 'the incoming payment is completed');
    if (this.expired(receiver)) return refuse(400, 'invalid_receiver', 'the incoming payment expired');
    return undefined;
  }

  #delivery(payer: Wallet, receiver: IncomingPayment, receive: bigint): Refusal | undefined {
    if (payer.assetCode !== receiver.wallet.assetCode || payer.assetScale !== receiver.wallet.assetScale)
      return refuse(
        400,
        'invalid_request',
        `no exchange from ${payer.assetCode}/${payer.assetScale} to ${receiver.wallet.assetCode}/${receiver.wallet.assetScale}: this wallet only pays within one asset`,
      );
    if (receiver.incomingAmount !== undefined && receiver.received + receive > receiver.incomingAmount)
      return refuse(400, 'invalid_request', 'the amount is more than the incoming payment still expects');
    return undefined;
  }

  createQuote(
    payer: Wallet,
    receiverUrl: string,
    amounts: { debitAmount?: AmountIn; receiveAmount?: AmountIn },
    client: string | undefined,
  ): Quote | Refusal {
    const receiver = this.#incoming.get(receiverUrl);
    if (!receiver) return refuse(400, 'invalid_receiver', 'the receiver is not an incoming payment this wallet can pay');
    const closed = this.#receivable(receiver);
    if (closed) return closed;
    let debit: bigint;
    let receive: bigint;
    if (amounts.debitAmount) {
      const d = amountOf(amounts.debitAmount, payer, 'debitAmount');
      if (isRefusal(d)) return d;
      debit = d;
      receive = this.#receiveFor(d);
      if (receive <= 0n) return refuse(400, 'invalid_request', 'the debit amount does not cover the fee');
    } else {
      if (amounts.receiveAmount) {
        const r = amountOf(amounts.receiveAmount, receiver.wallet, 'receiveAmount');
        if (isRefusal(r)) return r;
        receive = r;
      } else {
        if (receiver.incomingAmount === undefined)
          return refuse(400, 'invalid_request', 'a debitAmount or receiveAmount is needed for an incoming payment without incomingAmount');
        receive = receiver.incomingAmount - receiver.received;
      }
      debit = receive + this.#fee(receive);
    }
    const bad = this.#delivery(payer, receiver, receive);
    if (bad) return bad;
    if (debit > UINT64_MAX) return refuse(400, 'invalid_request', 'the debit amount does not fit in 64 bits');
    const now = this.deps.now();
    const quote: Quote = {
      id: `${this.deps.resourceServer}/quotes/${randomUUID()}`,
      wallet: payer,
      receiver,
      debit,
      receive,
      createdAt: now,
      expiresAt: new Date(now.getTime() + this.deps.quoteTtlMs),
      client,
      used: false,
    };
    this.#quotes.set(quote.id, quote);
    return quote;
  }

  quote(id: string): Quote | undefined {
    return this.#quotes.get(id);
  }

  /** What the grant lets this payment spend, counting the grant's payments in the current interval. */
  #limitCheck(grant: Grant, payer: Wallet, receiver: IncomingPayment, debit: bigint, receive: bigint) {
    const item = grant.access.find((a) => a.type === 'outgoing-payment' && a.actions.includes('create') && a.identifier === payer.url);
    if (!item) return { refusal: refuse(403, 'insufficient_grant', 'the grant does not cover outgoing payments from this wallet') };
    const limits = item.limits ?? {};
    if (limits.receiver !== undefined && limits.receiver !== receiver.id)
      return { refusal: refuse(403, 'insufficient_grant', 'the grant is for another receiver') };
    const now = this.deps.now();
    let from = new Date(0);
    if (limits.interval !== undefined) {
      const window = parseInterval(limits.interval)?.windowAt(now);
      if (!window) return { refusal: refuse(403, 'insufficient_grant', 'the grant interval is not running') };
      from = window.start;
    }
    const inWindow = grant.spent.filter((s) => s.at >= from);
    const spentDebit = inWindow.reduce((sum, s) => sum + s.debit, 0n);
    const spentReceive = inWindow.reduce((sum, s) => sum + s.receive, 0n);
    if (limits.debitAmount && spentDebit + debit > limits.debitAmount.value)
      return { refusal: refuse(403, 'insufficient_grant', `the grant's debit limit has ${limits.debitAmount.value - spentDebit} left`) };
    if (limits.receiveAmount && spentReceive + receive > limits.receiveAmount.value)
      return {
        refusal: refuse(403, 'insufficient_grant', `the grant's receive limit has ${limits.receiveAmount.value - spentReceive} left`),
      };
    return { spentDebit, spentReceive };
  }

  /**
   * Creates and runs an outgoing payment: from a quote, or to an incoming payment for a debit amount.
   * Everything from the checks to the balances happens without an await, so it is atomic.
   */
  pay(
    grant: Grant,
    payer: Wallet,
    source: { quoteId: string } | { incomingPayment: string; debitAmount: AmountIn },
    metadata: Record<string, unknown> | undefined,
    client: string | undefined,
  ): OutgoingPayment | Refusal {
    let receiver: IncomingPayment;
    let debit: bigint;
    let receive: bigint;
    let quote: Quote | undefined;
    if ('quoteId' in source) {
      quote = this.#quotes.get(source.quoteId);
      if (!quote || quote.wallet !== payer) return refuse(400, 'invalid_quote', 'no such quote on this wallet address');
      if (quote.used) return refuse(400, 'invalid_quote', 'the quote was already used');
      if (this.deps.now() >= quote.expiresAt) return refuse(400, 'invalid_quote', 'the quote expired');
      ({ receiver, debit, receive } = quote);
    } else {
      const ip = this.#incoming.get(source.incomingPayment);
      if (!ip) return refuse(400, 'invalid_receiver', 'the incoming payment is not one this wallet can pay');
      receiver = ip;
      const d = amountOf(source.debitAmount, payer, 'debitAmount');
      if (isRefusal(d)) return d;
      debit = d;
      receive = this.#receiveFor(d);
      if (receive <= 0n) return refuse(400, 'invalid_request', 'the debit amount does not cover the fee');
    }
    const closed = this.#receivable(receiver) ?? this.#delivery(payer, receiver, receive);
    if (closed) return closed;
    const limit = this.#limitCheck(grant, payer, receiver, debit, receive);
    if (limit.refusal) return limit.refusal;
    if (payer.balance < debit) return refuse(403, 'insufficient_balance', 'the wallet balance does not cover the debit amount');

    const failure = this.#nextFailure;
    this.#nextFailure = undefined;
    // A partial payment delivers half and stops; a failed one delivers nothing. Both end `failed`.
    const sentDebit = failure === 'failed' ? 0n : failure === 'partial' ? debit / 2n : debit;
    const delivered = failure === 'failed' ? 0n : failure === 'partial' ? receive / 2n : receive;
    payer.balance -= sentDebit;
    receiver.wallet.balance += delivered;
    if (sentDebit > delivered) this.fees.set(payer.assetCode, (this.fees.get(payer.assetCode) ?? 0n) + sentDebit - delivered);
    receiver.received += delivered;
    if (receiver.incomingAmount !== undefined && receiver.received >= receiver.incomingAmount) receiver.completed = true;
    if (quote) quote.used = true;
    const now = this.deps.now();
    grant.spent.push({ at: now, debit: sentDebit, receive: delivered });
    const payment: OutgoingPayment = {
      id: `${this.deps.resourceServer}/outgoing-payments/${randomUUID()}`,
      wallet: payer,
      quoteId: quote?.id,
      receiver,
      debit,
      receive,
      sent: sentDebit,
      failed: failure !== undefined,
      metadata,
      createdAt: now,
      client,
      grantId: grant.id,
      grantSpentDebit: limit.spentDebit + sentDebit,
      grantSpentReceive: limit.spentReceive + delivered,
    };
    this.#outgoing.set(payment.id, payment);
    return payment;
  }

  outgoing(id: string): OutgoingPayment | undefined {
    return this.#outgoing.get(id);
  }

  outgoingOf(wallet: Wallet, client: string | undefined): OutgoingPayment[] {
    return [...this.#outgoing.values()].filter((p) => p.wallet === wallet && (client === undefined || p.client === client));
  }
}
