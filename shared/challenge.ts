/**
 * 402 challenges and retry proofs: x402 version 2 (`PAYMENT-REQUIRED` header), x402 version 1
 * (JSON body), and L402 / LSAT (`WWW-Authenticate`). See PROTOCOLS.md for the wire facts.
 *
 * Everything here reads input chosen by whatever site answered 402, so the readers never throw:
 * they return `{ok: false, error}` with a stable code, and they only yield a payment option when
 * every field a payment depends on was validated (amounts as positive decimal strings, never JS
 * numbers). Runs in Node and in the browser alike: only atob/btoa and TextEncoder/TextDecoder.
 */
import { z } from 'zod';
import { HttpUrl } from './url.js';
import { PositiveAmountString } from './amount.js';
import { BIND_PARTS } from './binding.js';

export type ChallengeErrorCode =
  | 'absent' // no challenge of any kind we know
  | 'too-large' // over the size limits below
  | 'bad-encoding' // not base64 / not UTF-8
  | 'bad-json' // not JSON, or too deeply nested
  | 'unsupported-version' // a version we do not speak (x402Version 3, L402 version="1", …)
  | 'invalid'; // the right shape nowhere: no option that validates

export interface ChallengeError {
  code: ChallengeErrorCode;
  message: string;
}

export type ChallengeResult<T> = { ok: true; value: T } | { ok: false; error: ChallengeError };

const fail = (code: ChallengeErrorCode, message: string): { ok: false; error: ChallengeError } => ({
  ok: false,
  error: { code, message },
});

/** Limits that keep a hostile server from making the extension decode megabytes. */
export const CHALLENGE_LIMITS = {
  headerChars: 64 * 1024,
  bodyChars: 256 * 1024,
  jsonDepth: 32,
  accepts: 16,
  authChallenges: 16,
} as const;

// ---------------------------------------------------------------------------------------------
// Decoding helpers

/** Keys that could reach an object's prototype if the parsed value were ever merged or spread. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function depthOf(value: unknown, limit: number): number {
  // Iterative, so a hostile nesting depth cannot overflow the stack here.
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d > max) max = d;
    if (max > limit) return max;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

/** JSON.parse without prototype keys and without unbounded nesting. */
export function parseJsonSafely(text: string): ChallengeResult<unknown> {
  let value: unknown;
  try {
    // Returning undefined from a reviver deletes the key from the parsed object.
    value = JSON.parse(text, (k, v: unknown) => (FORBIDDEN_KEYS.has(k) ? undefined : v));
  } catch {
    return fail('bad-json', 'not JSON');
  }
  if (depthOf(value, CHALLENGE_LIMITS.jsonDepth) > CHALLENGE_LIMITS.jsonDepth) return fail('bad-json', 'JSON nested too deeply');
  return { ok: true, value };
}

/** Standard or URL-safe base64, padded or not, holding UTF-8 text. */
export function decodeBase64Text(s: string): ChallengeResult<string> {
  const t = s.trim();
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(t)) return fail('bad-encoding', 'not base64');
  const std = t.replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/');
  if (std.length % 4 === 1) return fail('bad-encoding', 'not base64');
  let binary: string;
  try {
    binary = atob(std + '='.repeat((4 - (std.length % 4)) % 4));
  } catch {
    return fail('bad-encoding', 'not base64');
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  try {
    return { ok: true, value: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    return fail('bad-encoding', 'not UTF-8');
  }
}

export function encodeBase64Text(s: string): string {
  const bytes = new TextEncoder().encode(s);
  let binary = '';
  // Chunks keep String.fromCharCode's argument list short.
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

// ---------------------------------------------------------------------------------------------
// x402


export const X402Resource = z.object({
  url: HttpUrl,
  description: z.string().max(2000).optional(),
  mimeType: z.string().max(200).optional(),
});
export type X402Resource = z.infer<typeof X402Resource>;

/**
 * One payment option (x402 `PaymentRequirements`), normalized to the version 2 shape. Fields we do
 * not know are kept: the proof must echo the option exactly as the server listed it.
 */
/** A hub merchant's challenge id (`extra.challengeId` of the tollway entry): `ch_` and random base64url. */
export const CHALLENGE_ID_PATTERN = /^ch_[A-Za-z0-9_-]{8,64}$/;

export const PaymentOption = z
  .object({
    scheme: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, 'a scheme name'),
    network: z.string().min(1).max(256),
    amount: PositiveAmountString,
    asset: z.string().min(1).max(256),
    payTo: z.string().min(1).max(1024),
    maxTimeoutSeconds: z.number().int().positive().max(31_536_000).optional(),
    extra: z
      .object({ bind: z.array(z.enum(BIND_PARTS)).max(4).optional() })
      .catchall(z.unknown())
      .optional(),
  })
  .catchall(z.unknown());
export type PaymentOption = z.infer<typeof PaymentOption>;

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

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function readOptions(list: unknown, normalize: (entry: Record<string, unknown>) => Record<string, unknown>): ChallengeResult<{ accepts: PaymentOption[]; skipped: number; first?: Record<string, unknown> }> {
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

// ---------------------------------------------------------------------------------------------
// WWW-Authenticate (RFC 9110 §11.6.1) and L402

export interface AuthChallenge {
  scheme: string;
  /** Parameter names lower-cased; the first of a repeated name wins. */
  params: Record<string, string>;
  token68?: string;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68_CHAR = /[A-Za-z0-9\-._~+/]/;

/**
 * Splits one `WWW-Authenticate` value into its challenges. Browsers and fetch join repeated headers
 * with ", ", so `LSAT macaroon="a", invoice="b", L402 macaroon="a", invoice="b"` is two challenges.
 * Returns null when the value cannot be read at all.
 */
export function parseAuthChallenges(value: string): AuthChallenge[] | null {
  const s = value;
  let i = 0;
  const out: AuthChallenge[] = [];
  const skipOws = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const readToken = (at: number): [string, number] => {
    let j = at;
    while (j < s.length && TOKEN_CHAR.test(s[j]!)) j++;
    return [s.slice(at, j), j];
  };
  const paramAhead = (at: number): boolean => {
    const [name, j] = readToken(at);
    let k = j;
    while (k < s.length && (s[k] === ' ' || s[k] === '\t')) k++;
    if (!name.length || s[k] !== '=') return false;
    k++;
    while (k < s.length && (s[k] === ' ' || s[k] === '\t')) k++;
    // `name=value`; a '=' followed by '=', ',' or the end is a token68's padding instead.
    return k < s.length && (s[k] === '"' || TOKEN_CHAR.test(s[k]!));
  };
  const readQuoted = (): string | null => {
    // at the opening quote
    let v = '';
    i++;
    while (i < s.length) {
      const c = s[i]!;
      if (c === '\\') {
        if (i + 1 >= s.length) return null;
        v += s[i + 1];
        i += 2;
      } else if (c === '"') {
        i++;
        return v;
      } else {
        v += c;
        i++;
      }
    }
    return null;
  };

  while (i < s.length) {
    while (i < s.length && (s[i] === ',' || s[i] === ' ' || s[i] === '\t')) i++;
    if (i >= s.length) break;
    const [scheme, afterScheme] = readToken(i);
    if (!scheme) return null;
    i = afterScheme;
    const challenge: AuthChallenge = { scheme, params: Object.create(null) as Record<string, string> };
    if (out.length >= CHALLENGE_LIMITS.authChallenges) return null;
    out.push(challenge);
    skipOws();
    if (i >= s.length || s[i] === ',') continue;
    if (!paramAhead(i)) {
      // token68 (e.g. `Basic abc==`), or another scheme right after a bare one.
      let j = i;
      while (j < s.length && TOKEN68_CHAR.test(s[j]!)) j++;
      while (j < s.length && s[j] === '=') j++;
      if (j === i) return null;
      challenge.token68 = s.slice(i, j);
      i = j;
      continue;
    }
    for (;;) {
      const [name, afterName] = readToken(i);
      i = afterName;
      skipOws();
      i++; // the '=' paramAhead saw
      skipOws();
      let v: string | null;
      if (s[i] === '"') v = readQuoted();
      else {
        const [tok, afterTok] = readToken(i);
        v = tok.length ? tok : null;
        i = afterTok;
      }
      if (v === null) return null;
      const key = name.toLowerCase();
      if (!(key in challenge.params)) challenge.params[key] = v;
      skipOws();
      if (i >= s.length) break;
      if (s[i] !== ',') return null;
      while (i < s.length && (s[i] === ',' || s[i] === ' ' || s[i] === '\t')) i++;
      if (i >= s.length || !paramAhead(i)) break; // the next challenge starts here
    }
  }
  return out;
}

export interface L402Challenge {
  kind: 'l402';
  /** How the server named it; clients answer with `L402` either way. */
  scheme: 'L402' | 'LSAT';
  macaroon: string;
  invoice: string;
  /** Invoice amount from the BOLT 11 prefix, in millisatoshi; null when the invoice names none. */
  amountMsat: string | null;
}

const MACAROON = /^[A-Za-z0-9+/_-]{8,8192}={0,2}$/;
const BOLT11 = /^ln[a-z0-9]{8,8192}$/;

/**
 * The amount in a BOLT 11 human-readable part (`lnbc2500u1…` = 2500 µBTC), in millisatoshi.
 * Returns undefined when the prefix is not a valid one.
 */
export function bolt11AmountMsat(invoice: string): bigint | null | undefined {
  const sep = invoice.lastIndexOf('1');
  if (sep < 4) return undefined;
  const hrp = invoice.slice(0, sep);
  const m = /^ln(bcrt|bc|tbs|tb|sb)(?:([1-9][0-9]{0,20})([munp]?))?$/.exec(hrp);
  if (!m) return undefined;
  if (!m[2]) return null;
  const n = BigInt(m[2]);
  // 1 BTC = 10^11 msat.
  switch (m[3]) {
    case 'm':
      return n * 100_000_000n;
    case 'u':
      return n * 100_000n;
    case 'n':
      return n * 100n;
    case 'p':
      // A pico-bitcoin amount must be a whole number of msat (BOLT 11: last digit 0).
      return n % 10n === 0n ? n / 10n : undefined;
    default:
      return n * 100_000_000_000n;
  }
}

/**
 * Finds an L402 (or LSAT) challenge among `WWW-Authenticate` values. Accepts `token=` or
 * `macaroon=`, a missing `version`, both schemes at once (L402 preferred), and ignores unknown
 * parameters and other schemes.
 */
export function parseL402(values: readonly string[]): ChallengeResult<L402Challenge> {
  let lastError: ChallengeError | null = null;
  const found: L402Challenge[] = [];
  for (const value of values) {
    if (typeof value !== 'string') continue;
    if (value.length > CHALLENGE_LIMITS.headerChars) {
      lastError = { code: 'too-large', message: 'WWW-Authenticate header too large' };
      continue;
    }
    const challenges = parseAuthChallenges(value);
    if (!challenges) {
      lastError = { code: 'invalid', message: 'WWW-Authenticate header is malformed' };
      continue;
    }
    for (const c of challenges) {
      const scheme = c.scheme.toUpperCase();
      if (scheme !== 'L402' && scheme !== 'LSAT') continue;
      if (c.params.version !== undefined && c.params.version !== '0') {
        lastError = { code: 'unsupported-version', message: `unsupported ${scheme} version` };
        continue;
      }
      const macaroon = c.params.token ?? c.params.macaroon;
      const invoice = c.params.invoice?.toLowerCase();
      if (!macaroon || !MACAROON.test(macaroon) || !invoice || !BOLT11.test(invoice)) {
        lastError = { code: 'invalid', message: `${scheme} challenge without a valid macaroon and invoice` };
        continue;
      }
      const amount = bolt11AmountMsat(invoice);
      if (amount === undefined || amount === 0n) {
        lastError = { code: 'invalid', message: `${scheme} challenge with an invalid invoice` };
        continue;
      }
      found.push({ kind: 'l402', scheme, macaroon, invoice, amountMsat: amount === null ? null : amount.toString() });
    }
  }
  const best = found.find((c) => c.scheme === 'L402') ?? found[0];
  if (best) return { ok: true, value: best };
  return { ok: false, error: lastError ?? { code: 'absent', message: 'no L402 challenge' } };
}

// ---------------------------------------------------------------------------------------------
// A whole 402 response

export interface HeaderEntry {
  name: string;
  value?: string;
}

export interface PaymentChallenge {
  x402: X402Challenge | null;
  l402: L402Challenge | null;
  /** What could not be read, for display: a challenge that is partly garbage is shown as such. */
  problems: ChallengeError[];
}

/**
 * Reads every challenge a 402 response carries. `headers` is the webRequest shape (one entry per
 * header line); `body`, when the caller has it, is read for x402 version 1 only if no
 * `PAYMENT-REQUIRED` header is present.
 */
export function readChallenge(input: { headers: readonly HeaderEntry[]; body?: string }): ChallengeResult<PaymentChallenge> {
  const named = (n: string) =>
    (Array.isArray(input?.headers) ? input.headers : [])
      .filter((h): h is { name: string; value: string } => typeof h?.name === 'string' && typeof h.value === 'string' && h.name.toLowerCase() === n)
      .map((h) => h.value);
  const problems: ChallengeError[] = [];
  let x402: X402Challenge | null = null;
  const paymentRequired = named('payment-required');
  if (paymentRequired.length) {
    const r = parsePaymentRequired(paymentRequired[0]!);
    if (r.ok) x402 = r.value;
    else problems.push(r.error);
  } else if (typeof input?.body === 'string' && input.body.trim().startsWith('{')) {
    const r = parseX402Body(input.body);
    if (r.ok) x402 = r.value;
    else problems.push(r.error);
  }
  let l402: L402Challenge | null = null;
  const auth = named('www-authenticate');
  if (auth.length) {
    const r = parseL402(auth);
    if (r.ok) l402 = r.value;
    else if (r.error.code !== 'absent') problems.push(r.error);
  }
  if (!x402 && !l402) return { ok: false, error: problems[0] ?? { code: 'absent', message: 'no payment challenge' } };
  return { ok: true, value: { x402, l402, problems } };
}

// ---------------------------------------------------------------------------------------------
// Proofs

export interface PaymentSignature {
  x402Version: 2;
  resource?: X402Resource;
  accepted: PaymentOption;
  payload: Record<string, unknown>;
  extensions?: Record<string, unknown>;
}

/** `PAYMENT-SIGNATURE` value: base64 of the version 2 payment payload. */
export function encodePaymentSignature(p: Omit<PaymentSignature, 'x402Version'>): string {
  const doc: PaymentSignature = { x402Version: 2, ...(p.resource ? { resource: p.resource } : {}), accepted: p.accepted, payload: p.payload };
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

/** `Authorization` value for L402: `L402 <macaroon>[,<macaroon>…]:<preimage hex>`. */
export function encodeL402Authorization(macaroons: string | readonly string[], preimageHex: string): ChallengeResult<string> {
  const list = typeof macaroons === 'string' ? [macaroons] : [...macaroons];
  if (!list.length || !list.every((m) => MACAROON.test(m))) return fail('invalid', 'not a macaroon');
  if (!/^[0-9a-fA-F]{64}$/.test(preimageHex)) return fail('invalid', 'preimage must be 32 bytes of hex');
  return { ok: true, value: `L402 ${list.join(',')}:${preimageHex.toLowerCase()}` };
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
