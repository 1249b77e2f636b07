/**
 * RFC 9457 problem details. Each cause has a stable `type` URI so that clients branch on it,
 * never on the human-readable `title` or `detail`.
 */
export const PROBLEM_BASE = 'https://tollway.dev/problems/';

export const PROBLEMS = {
  'validation-error': { status: 400, title: 'The request is not valid' },
  'idempotency-key-missing': { status: 400, title: 'Idempotency-Key header is required' },
  'idempotency-key-invalid': { status: 400, title: 'Idempotency-Key header is not valid' },
  'idempotency-key-reused': { status: 422, title: 'Idempotency-Key was used with a different request' },
  'idempotency-key-in-flight': { status: 409, title: 'A request with this Idempotency-Key is still running' },
  'insufficient-funds': { status: 400, title: 'Insufficient funds' },
  'unknown-merchant': { status: 400, title: 'No such merchant' },
  'allowance-exceeded': { status: 403, title: 'This payment would go past the allowance for the site' },
  'allowance-payee-mismatch': { status: 403, title: "The site's allowance is for another payee" },
  'payment-not-refundable': { status: 409, title: 'This payment cannot be refunded' },
  'refund-exceeds-payment': { status: 400, title: 'The refund is larger than what is left of the payment' },
  'amount-too-large': { status: 422, title: 'The amount would take a balance past what the ledger can hold' },
  'webhook-endpoint-disabled': { status: 409, title: 'The webhook endpoint is disabled' },
  'unsupported-rail': { status: 400, title: 'This rail is not available on this hub' },
  'invalid-invoice': { status: 400, title: 'The Lightning invoice cannot be paid' },
  'invoice-expired': { status: 400, title: 'The Lightning invoice has expired' },
  'invoice-amount-mismatch': { status: 400, title: 'The amount differs from the Lightning invoice amount' },
  'invoice-already-paid': { status: 409, title: 'This Lightning invoice is already paid or being paid through this hub' },
  'invalid-authorization': { status: 400, title: 'The SOVR transfer authorization is not valid for this payment' },
  'chain-unavailable': { status: 503, title: 'The chain node cannot be reached; nothing was stored, retry later' },
  /** Interledger: the wallet address cannot be used (unreachable, not a wallet, an asset the hub does not keep). */
  'ilp-wallet-unusable': { status: 422, title: 'This Interledger wallet address cannot be used' },
  /** Interledger: paying on the ilp rail needs a linked wallet address (PUT /ilp/wallet). */
  'ilp-wallet-not-linked': { status: 409, title: 'Link an Interledger wallet address first' },
  /** Interledger: the payee (a merchant without a wallet address, an unusable one) cannot be paid this way. */
  'ilp-payee-unusable': { status: 422, title: 'This payee cannot be paid through Interledger' },
  /** Interledger: a wallet or its auth server refused or did not answer; nothing was stored. */
  'ilp-unavailable': { status: 502, title: 'The Interledger wallet did not answer as expected; nothing was stored, retry later' },
  /** Interledger: a finish redirect that matches no consent in progress (unknown, already used, forged). */
  'ilp-finish-refused': { status: 400, title: 'This consent redirect cannot be used' },
  /** Wallet rail: the signed authorization is malformed, not the person's, or pays something else than the payment says. */
  'wallet-authorization-invalid': { status: 400, title: 'The signed authorization does not match this payment' },
  /** Wallet rail: this signed authorization is recorded already (it can settle once, so it is one payment). */
  'authorization-already-recorded': { status: 409, title: 'This signed authorization is already recorded as a payment' },
  /** Wallet rail: a settlement report that contradicts the outcome already recorded. */
  'settlement-conflict': { status: 409, title: 'Another outcome is already recorded for this payment' },
  unauthorized: { status: 401, title: 'Authentication required' },
  'invalid-token': { status: 401, title: 'The token is not valid' },
  'invalid-siwe': { status: 401, title: 'The sign-in message or signature is not valid' },
  forbidden: { status: 403, title: 'Not allowed' },
  'not-found': { status: 404, title: 'Not found' },
  'method-not-allowed': { status: 405, title: 'Method not allowed' },
  'unsupported-media-type': { status: 415, title: 'Send application/json' },
  'payload-too-large': { status: 413, title: 'The request body is too large' },
  'rate-limited': { status: 429, title: 'Too many requests' },
  'not-ready': { status: 503, title: 'Not ready' },
  /** Merchant kit: the hub's receipt keys cannot be fetched, so no proof can be checked (the proof may be fine). */
  'hub-unavailable': { status: 503, title: 'Cannot verify payments right now' },
  /** Merchant kit: the x402 facilitator cannot be reached to verify or settle an exact payment. */
  'facilitator-unavailable': { status: 503, title: 'Cannot verify or settle payments right now' },
  /** Merchant kit (L402): the Lightning node cannot issue the invoice a challenge needs. */
  'lightning-unavailable': { status: 503, title: 'Cannot issue a Lightning invoice right now' },
  /** Merchant kit (L402): the body of a 402 challenge that carries an invoice and a macaroon. */
  'payment-required': { status: 402, title: 'Payment required' },
  /** Merchant kit (L402): the Authorization credential is malformed, forged, expired or unpaid. */
  'invalid-l402-credential': { status: 401, title: 'The L402 credential is not valid' },
  /** Merchant kit (slots): the token's invoice is not paid yet, so it has nothing to spend. */
  'token-not-paid': { status: 409, title: 'The token is not paid yet' },
  /** Merchant kit (slots): a token buys time once; this one was already spent. */
  'token-spent': { status: 409, title: 'This token was already spent' },
  /** Merchant kit (slots): the value buys less than the shortest period sold. */
  'value-below-minimum': { status: 422, title: 'The value buys less than the minimum period' },
  /** Merchant kit (requireSlot): no slot was named, or the one named does not exist. */
  'slot-required': { status: 402, title: 'A paid slot is required' },
  /** Merchant kit (requireSlot): the slot's paid time is over; paying for it again renews it. */
  'slot-expired': { status: 402, title: 'The slot has expired' },
  internal: { status: 500, title: 'Internal error' },
} as const;

export type ProblemCode = keyof typeof PROBLEMS;

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  /** Field-level validation issues. */
  errors?: { path: string; message: string }[];
  [ext: string]: unknown;
}

export const problemType = (code: ProblemCode) => PROBLEM_BASE + code;

export class ProblemError extends Error {
  readonly code: ProblemCode;
  readonly status: number;
  readonly extra: Record<string, unknown>;
  constructor(code: ProblemCode, detail?: string, extra: Record<string, unknown> = {}) {
    super(detail ?? PROBLEMS[code].title);
    this.code = code;
    this.status = PROBLEMS[code].status;
    this.extra = extra;
  }
  toProblem(instance?: string): Problem {
    return {
      type: problemType(this.code),
      title: PROBLEMS[this.code].title,
      status: this.status,
      detail: this.message,
      ...(instance ? { instance } : {}),
      ...this.extra,
    };
  }
}
