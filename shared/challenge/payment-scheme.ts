/**
 * The "Payment" HTTP authentication scheme (IETF draft-httpauth-payment, "MPP") with its Lightning
 * `charge` method: the `WWW-Authenticate: Payment …` challenge and the `Authorization: Payment
 * <credential>` answer. docs/protocols.md §"The Payment scheme".
 *
 * The challenge's `request` parameter is base64url (no padding) of canonical JSON (RFC 8785);
 * the credential is base64url of JSON that echoes the challenge and carries `{preimage}`. Clients
 * differ on canonical vs plain JSON in the credential, so readers compare decoded fields, never bytes.
 */
import { authChallengesIn, isChallengeError } from './auth-header.js';
import {
  CHALLENGE_LIMITS,
  decodeBase64Text,
  encodeBase64Text,
  fail,
  parseJsonSafely,
  type ChallengeError,
  type ChallengeResult,
} from './codec.js';
import { bolt11AmountMsat } from './l402.js';

/** The challenge parameters a credential echoes (the draft's names). */
export interface PaymentSchemeParams {
  id: string;
  realm: string;
  method: string;
  intent: string;
  /** base64url (no padding) of the JSON request, as sent: the echo must be these very characters. */
  request: string;
  /** RFC 3339. */
  expires?: string;
  digest?: string;
  description?: string;
  opaque?: string;
}

/** The Lightning `charge` request (the decoded `request` parameter). */
export interface LightningChargeRequest {
  /** Satoshis, a decimal string. */
  amount: string;
  currency: 'sat';
  description?: string;
  methodDetails: { invoice: string; paymentHash?: string; network?: string };
}

export interface PaymentSchemeChallenge {
  kind: 'payment';
  params: PaymentSchemeParams;
  /** The BOLT 11 invoice to pay (`request.methodDetails.invoice`). */
  invoice: string;
  /** The invoice's amount, in millisatoshi (= `request.amount` × 1000: the two must agree). */
  amountMsat: string;
}

const PARAM_NAMES = ['id', 'realm', 'method', 'intent', 'request', 'expires', 'digest', 'description', 'opaque'] as const;
const B64URL = /^[A-Za-z0-9_-]+$/;
const BOLT11 = /^ln[a-z0-9]{8,8192}$/;
const HEX32 = /^[0-9a-f]{64}$/;
/** RFC 3339 date-time, as the `expires` parameter carries it. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/** RFC 8785 canonical JSON for the values used here (strings, safe integers, objects, arrays). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('canonicalJson: not a finite number');
    if (value === undefined || typeof value === 'function' || typeof value === 'bigint') throw new TypeError('canonicalJson: not JSON');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  // RFC 8785 sorts member names by their UTF-16 code units, which is what < on strings compares.
  const keys = Object.keys(value)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

export const base64UrlEncodeText = (s: string): string => encodeBase64Text(s).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');

/** base64url, padding refused: the draft sends none, and a padded value is not what was signed. */
function decodeB64Url(s: string): ChallengeResult<string> {
  if (!B64URL.test(s)) return fail('bad-encoding', 'not base64url without padding');
  return decodeBase64Text(s);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads the `request` parameter of a Lightning charge. */
export function readLightningCharge(request: string): ChallengeResult<LightningChargeRequest & { amountMsat: bigint }> {
  const text = decodeB64Url(request);
  if (!text.ok) return text;
  const json = parseJsonSafely(text.value);
  if (!json.ok) return json;
  const r = json.value;
  if (!isRecord(r)) return fail('invalid', 'the charge request is not an object');
  if (typeof r.amount !== 'string' || !/^[1-9][0-9]{0,15}$/.test(r.amount))
    return fail('invalid', 'the charge amount is not a positive number of sats');
  if (r.currency !== 'sat') return fail('invalid', 'a Lightning charge is in currency "sat"');
  const d = r.methodDetails;
  if (!isRecord(d) || typeof d.invoice !== 'string' || !BOLT11.test(d.invoice.toLowerCase()))
    return fail('invalid', 'the charge request has no BOLT 11 invoice');
  const invoice = d.invoice.toLowerCase();
  const invoiceMsat = bolt11AmountMsat(invoice);
  const amountMsat = BigInt(r.amount) * 1000n;
  // The invoice is what gets paid: a request naming another amount would show one price and charge another.
  if (invoiceMsat !== amountMsat) return fail('invalid', 'the invoice amount is not the charge amount');
  if (d.paymentHash !== undefined && (typeof d.paymentHash !== 'string' || !HEX32.test(d.paymentHash)))
    return fail('invalid', 'paymentHash is not 32 bytes of lower-case hex');
  if (d.network !== undefined && d.network !== 'mainnet' && d.network !== 'regtest' && d.network !== 'signet')
    return fail('invalid', 'unknown Lightning network');
  return {
    ok: true,
    value: {
      amount: r.amount,
      currency: 'sat',
      ...(typeof r.description === 'string' ? { description: r.description } : {}),
      methodDetails: {
        invoice,
        ...(typeof d.paymentHash === 'string' ? { paymentHash: d.paymentHash } : {}),
        ...(typeof d.network === 'string' ? { network: d.network } : {}),
      },
      amountMsat,
    },
  };
}

/** The `request` parameter for a Lightning charge: base64url of its canonical JSON. */
export function encodeLightningCharge(r: LightningChargeRequest): string {
  return base64UrlEncodeText(canonicalJson(r));
}

/** The parameters of one `Payment` challenge, checked for the draft's required shape; null when they fail it. */
function paramsOf(p: Record<string, string>): PaymentSchemeParams | null {
  const { id, realm, method, intent, request, expires, digest, description, opaque } = p;
  if (!id || realm === undefined || !method || !/^[a-z]+$/.test(method) || !intent || !/^[A-Za-z0-9-]+$/.test(intent)) return null;
  if (!request || !B64URL.test(request)) return null;
  if (expires !== undefined && !RFC3339.test(expires)) return null;
  if (opaque !== undefined && !B64URL.test(opaque)) return null;
  return {
    id,
    realm,
    method,
    intent,
    request,
    ...(expires !== undefined ? { expires } : {}),
    ...(digest !== undefined ? { digest } : {}),
    ...(description !== undefined ? { description } : {}),
    ...(opaque !== undefined ? { opaque } : {}),
  };
}

/**
 * Finds a payable `Payment` challenge (method `lightning`, intent `charge`) among `WWW-Authenticate`
 * values; other schemes, other methods and unknown parameters are skipped. The first one that reads
 * wins (several may come as repeated headers or joined in one).
 */
export function parsePaymentScheme(values: readonly string[]): ChallengeResult<PaymentSchemeChallenge> {
  let lastError: ChallengeError | null = null;
  for (const c of authChallengesIn(values)) {
    if (isChallengeError(c)) {
      lastError = c;
      continue;
    }
    if (c.scheme.toLowerCase() !== 'payment') continue;
    const params = paramsOf(c.params);
    if (!params) {
      lastError = { code: 'invalid', message: 'Payment challenge without a valid id, realm, method, intent and request' };
      continue;
    }
    if (params.method !== 'lightning' || params.intent !== 'charge') {
      lastError = lastError ?? {
        code: 'unsupported-version',
        message: `Payment method ${params.method}/${params.intent} is not paid here`,
      };
      continue;
    }
    const charge = readLightningCharge(params.request);
    if (!charge.ok) {
      lastError = { code: charge.error.code, message: `Payment challenge: ${charge.error.message}` };
      continue;
    }
    return {
      ok: true,
      value: { kind: 'payment', params, invoice: charge.value.methodDetails.invoice, amountMsat: charge.value.amountMsat.toString() },
    };
  }
  return { ok: false, error: lastError ?? { code: 'absent', message: 'no Payment challenge' } };
}

const quote = (v: string) => `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

/** One `WWW-Authenticate` value: `Payment id="…", realm="…", method="…", intent="…", request="…"[, …]`. */
export function formatPaymentChallenge(p: PaymentSchemeParams): string {
  const parts: string[] = [];
  for (const name of PARAM_NAMES) {
    const v = p[name];
    if (v === undefined) continue;
    if (/[\r\n]/.test(v)) throw new TypeError(`Payment challenge: ${name} holds a line break`);
    parts.push(`${name}=${quote(v)}`);
  }
  return `Payment ${parts.join(', ')}`;
}

/** What a credential carries, decoded. */
export interface PaymentCredential {
  challenge: PaymentSchemeParams;
  payload: Record<string, unknown>;
  source?: string;
}

/** The challenge as a credential echoes it: every parameter that was sent, and nothing else. */
export function echoOf(p: PaymentSchemeParams): PaymentSchemeParams {
  const out: Record<string, string> = {};
  for (const name of PARAM_NAMES) if (p[name] !== undefined) out[name] = p[name]!;
  return out as unknown as PaymentSchemeParams;
}

/** `Authorization` value: `Payment <base64url of the credential's canonical JSON>`. */
export function encodePaymentCredential(c: PaymentCredential): string {
  return `Payment ${base64UrlEncodeText(canonicalJson({ challenge: echoOf(c.challenge), payload: c.payload, ...(c.source !== undefined ? { source: c.source } : {}) }))}`;
}

/** The credential of a Lightning charge: the challenge echoed, with the preimage that paid its invoice. */
export function lightningCredential(challenge: PaymentSchemeParams, preimageHex: string): ChallengeResult<string> {
  if (!/^[0-9a-fA-F]{64}$/.test(preimageHex)) return fail('invalid', 'preimage must be 32 bytes of hex');
  return { ok: true, value: encodePaymentCredential({ challenge, payload: { preimage: preimageHex.toLowerCase() } }) };
}

/** Reads `Authorization: Payment <credential>`; any other scheme, or a second credential after it, is an error. */
export function parsePaymentCredential(header: string | undefined): ChallengeResult<PaymentCredential> {
  if (typeof header !== 'string') return fail('absent', 'no Authorization header');
  if (header.length > CHALLENGE_LIMITS.headerChars) return fail('too-large', 'Authorization header too large');
  const m = /^\s*Payment\s+([A-Za-z0-9_-]+)\s*$/i.exec(header);
  if (!m)
    return /^\s*Payment(\s|$)/i.test(header) ? fail('invalid', 'not Payment <base64url>') : fail('absent', 'not a Payment credential');
  const text = decodeB64Url(m[1]!);
  if (!text.ok) return text;
  const json = parseJsonSafely(text.value);
  if (!json.ok) return json;
  const v = json.value;
  if (!isRecord(v) || !isRecord(v.challenge) || !isRecord(v.payload)) return fail('invalid', 'a credential has a challenge and a payload');
  const raw: Record<string, string> = {};
  for (const name of PARAM_NAMES) {
    const x = v.challenge[name];
    if (x === undefined) continue;
    if (typeof x !== 'string') return fail('invalid', `challenge.${name} is not a string`);
    raw[name] = x;
  }
  const challenge = paramsOf(raw);
  if (!challenge) return fail('invalid', 'the echoed challenge lacks id, realm, method, intent or request');
  if (v.source !== undefined && typeof v.source !== 'string') return fail('invalid', 'source is not a string');
  return { ok: true, value: { challenge, payload: v.payload, ...(typeof v.source === 'string' ? { source: v.source } : {}) } };
}
