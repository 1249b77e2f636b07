/**
 * x402: the challenge (`PAYMENT-REQUIRED`, version 2; the JSON body of version 1), the retry proof
 * (`PAYMENT-SIGNATURE`, or version 1 `X-PAYMENT`) and the settlement answer (`PAYMENT-RESPONSE`).
 * Readers never throw and only yield an option whose every field a payment depends on was
 * validated (amounts as positive decimal strings, never JS numbers). docs/protocols.md §1.
 */
import { z } from 'zod';
import { isRecord } from '../json.js';
import { CHALLENGE_LIMITS, decodeBase64Text, encodeBase64Text, fail, parseJsonSafely, type ChallengeResult } from './codec.js';
import { PaymentOption, X402Resource } from './option.js';

// The option schemas live apart so that code needing only them (stored requests, the hub's API
// types) does not pull in the readers below.
export { PaymentOption, X402Resource } from './option.js';

export interface X402Challenge {
  kind: 'x402';
  /** The version the server spoke. Proofs are always emitted as version 2. */
  version: 1 | 2;
  resource: X402Resource | null;
  accepts: PaymentOption[];
  /** How many listed options failed validation and were left out. */
  skipped: number;
  /** The server's own `error` text, for display only. */
  serverError?: string;
}

function readOptions(
  list: unknown,
  normalize: (entry: Record<string, unknown>) => Record<string, unknown>,
): ChallengeResult<{ accepts: PaymentOption[]; skipped: number; first?: Record<string, unknown> }> {
  if (!Array.isArray(list)) return fail('invalid', '`accepts` must be a list');
  if (list.length > CHALLENGE_LIMITS.accepts) return fail('too-large', `more than ${CHALLENGE_LIMITS.accepts} payment options`);
  const accepts: PaymentOption[] = [];
  let first: Record<string, unknown> | undefined;
  for (const entry of list) {
    if (!isRecord(entry)) continue;
    const parsed = PaymentOption.safeParse(normalize(entry));
    if (parsed.success) {
      accepts.push(parsed.data);
      first ??= entry;
    }
  }
  if (!accepts.length) return fail('invalid', 'no valid payment option');
  return { ok: true, value: { accepts, skipped: list.length - accepts.length, first } };
}

const serverError = (v: unknown) => (typeof v === 'string' && v ? v.slice(0, 500) : undefined);

function readResource(v: unknown): X402Resource | null {
  // The spec sends an object; accept a bare URL string too, as some servers do.
  const parsed = X402Resource.safeParse(typeof v === 'string' ? { url: v } : v);
  return parsed.success ? parsed.data : null;
}

function fromV2(doc: Record<string, unknown>): ChallengeResult<X402Challenge> {
  const options = readOptions(doc.accepts, (e) => e);
  if (!options.ok) return options;
  return {
    ok: true,
    value: {
      kind: 'x402',
      version: 2,
      resource: readResource(doc.resource),
      accepts: options.value.accepts,
      skipped: options.value.skipped,
      ...(serverError(doc.error) ? { serverError: serverError(doc.error) } : {}),
    },
  };
}

/** Version 1 lists `maxAmountRequired` and the resource on every entry. */
function fromV1(doc: Record<string, unknown>): ChallengeResult<X402Challenge> {
  const options = readOptions(doc.accepts, (e) => {
    const { maxAmountRequired, resource: _r, description: _d, mimeType: _m, amount: _a, ...rest } = e;
    return { ...rest, amount: maxAmountRequired };
  });
  if (!options.ok) return options;
  const first = options.value.first ?? {};
  const resource = readResource({
    url: first.resource,
    ...(typeof first.description === 'string' ? { description: first.description } : {}),
    ...(typeof first.mimeType === 'string' ? { mimeType: first.mimeType } : {}),
  });
  return {
    ok: true,
    value: {
      kind: 'x402',
      version: 1,
      resource,
      accepts: options.value.accepts,
      skipped: options.value.skipped,
      ...(serverError(doc.error) ? { serverError: serverError(doc.error) } : {}),
    },
  };
}

function fromDocument(doc: unknown): ChallengeResult<X402Challenge> {
  if (!isRecord(doc)) return fail('invalid', 'not an x402 object');
  if (doc.x402Version === 2) return fromV2(doc);
  if (doc.x402Version === 1) return fromV1(doc);
  if (doc.x402Version === undefined) return fail('invalid', 'no x402Version');
  return fail('unsupported-version', 'unsupported x402Version');
}

/** Reads the `PAYMENT-REQUIRED` header of x402 version 2. */
export function parsePaymentRequired(header: string): ChallengeResult<X402Challenge> {
  if (typeof header !== 'string') return fail('invalid', 'no header');
  if (header.length > CHALLENGE_LIMITS.headerChars) return fail('too-large', 'PAYMENT-REQUIRED header too large');
  const text = decodeBase64Text(header);
  if (!text.ok) return text;
  const json = parseJsonSafely(text.value);
  if (!json.ok) return json;
  return fromDocument(json.value);
}

/** Reads a 402 JSON body (x402 version 1, where the requirements travel in the body). */
export function parseX402Body(body: string): ChallengeResult<X402Challenge> {
  if (typeof body !== 'string') return fail('invalid', 'no body');
  if (body.length > CHALLENGE_LIMITS.bodyChars) return fail('too-large', '402 body too large');
  const json = parseJsonSafely(body);
  if (!json.ok) return json;
  return fromDocument(json.value);
}

export interface PaymentSignature {
  x402Version: 2;
  resource?: X402Resource;
  accepted: PaymentOption;
  payload: Record<string, unknown>;
  extensions?: Record<string, unknown>;
}

/** `PAYMENT-SIGNATURE` value: base64 of the version 2 payment payload. */
export function encodePaymentSignature(p: Omit<PaymentSignature, 'x402Version'>): string {
  const doc: PaymentSignature = {
    x402Version: 2,
    ...(p.resource ? { resource: p.resource } : {}),
    accepted: p.accepted,
    payload: p.payload,
  };
  if (p.extensions) doc.extensions = p.extensions;
  return encodeBase64Text(JSON.stringify(doc));
}

const PaymentSignatureSchema = z.object({
  x402Version: z.literal(2),
  resource: X402Resource.optional(),
  accepted: PaymentOption,
  payload: z.record(z.string(), z.unknown()),
  extensions: z.record(z.string(), z.unknown()).optional(),
});

/** Reads a `PAYMENT-SIGNATURE` (or version 1 `X-PAYMENT`) value; the merchant side of the codec. */
export function parsePaymentSignature(header: string): ChallengeResult<PaymentSignature> {
  if (typeof header !== 'string') return fail('invalid', 'no header');
  if (header.length > CHALLENGE_LIMITS.headerChars) return fail('too-large', 'payment header too large');
  const text = decodeBase64Text(header);
  if (!text.ok) return text;
  const json = parseJsonSafely(text.value);
  if (!json.ok) return json;
  if (isRecord(json.value) && json.value.x402Version !== 2) return fail('unsupported-version', 'unsupported x402Version');
  const parsed = PaymentSignatureSchema.safeParse(json.value);
  if (!parsed.success) return fail('invalid', 'not a version 2 payment payload');
  return { ok: true, value: parsed.data as PaymentSignature };
}

// ---------------------------------------------------------------------------------------------
// The merchant's side: the challenge it sends and the answer it adds after a good proof

/** The decoded `PAYMENT-REQUIRED` document of x402 version 2, as a merchant emits it. */
export interface PaymentRequired {
  x402Version: 2;
  /** Why the previous proof (if any) was refused: a stable code. */
  error?: string;
  resource: X402Resource;
  accepts: PaymentOption[];
  extensions?: Record<string, unknown>;
}

/** `PAYMENT-REQUIRED` value: base64 of the version 2 document. */
export function encodePaymentRequired(p: Omit<PaymentRequired, 'x402Version'>): string {
  return encodeBase64Text(JSON.stringify(paymentRequiredDocument(p)));
}

/** The version 2 document with its fields in the spec's order (also usable as a JSON body). */
export function paymentRequiredDocument(p: Omit<PaymentRequired, 'x402Version'>): PaymentRequired {
  const doc: PaymentRequired = { x402Version: 2, ...(p.error ? { error: p.error } : {}), resource: p.resource, accepts: p.accepts };
  if (p.extensions) doc.extensions = p.extensions;
  return doc;
}

/** x402 version 2 settlement answer (`PAYMENT-RESPONSE`, `X-PAYMENT-RESPONSE` in version 1). */
export interface PaymentResponse {
  success: boolean;
  errorReason?: string;
  payer?: string;
  transaction: string;
  network: string;
  amount?: string;
}

export function encodePaymentResponse(r: PaymentResponse): string {
  const doc: PaymentResponse = { success: r.success, transaction: r.transaction, network: r.network };
  if (r.errorReason !== undefined) doc.errorReason = r.errorReason;
  if (r.payer !== undefined) doc.payer = r.payer;
  if (r.amount !== undefined) doc.amount = r.amount;
  return encodeBase64Text(JSON.stringify(doc));
}

const PaymentResponseSchema = z.object({
  success: z.boolean(),
  errorReason: z.string().max(500).optional(),
  payer: z.string().max(1024).optional(),
  transaction: z.string().max(1024),
  network: z.string().max(256),
  amount: z.string().max(100).optional(),
});

/** Reads a `PAYMENT-RESPONSE` (or `X-PAYMENT-RESPONSE`) value. */
export function parsePaymentResponse(header: string): ChallengeResult<PaymentResponse> {
  if (typeof header !== 'string') return fail('invalid', 'no header');
  if (header.length > CHALLENGE_LIMITS.headerChars) return fail('too-large', 'payment response header too large');
  const text = decodeBase64Text(header);
  if (!text.ok) return text;
  const json = parseJsonSafely(text.value);
  if (!json.ok) return json;
  const parsed = PaymentResponseSchema.safeParse(json.value);
  if (!parsed.success) return fail('invalid', 'not a payment response');
  return { ok: true, value: parsed.data as PaymentResponse };
}
