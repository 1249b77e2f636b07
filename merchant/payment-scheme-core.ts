/**
 * The "Payment" scheme's framework-neutral core: mints challenges and checks credentials for a
 * described request (./core-contract.ts). `paymentScheme()` (./payment-scheme.ts, Express) and
 * `paymentSchemeHono()` (./hono.ts) are its adapters; ./payment-scheme.ts says what goes over the wire.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { LightningNode } from '@tollway/lightning/node.js';
import {
  base64UrlEncodeText,
  encodeLightningCharge,
  formatPaymentChallenge,
  parsePaymentCredential,
  readLightningCharge,
  type PaymentSchemeParams,
} from '@tollway/shared/challenge.js';
import { type CoreChallenge, type CorePaid, type CoreRequest, problemAnswer } from './core-contract.js';
import { type RateLimiter, type RateLimitOptions, rateLimiterFrom } from './rate-limit.js';
import { memoryReceiptStore, type ReceiptStore } from './store.js';

/** paymentScheme()'s options; `N` is the framework's request (Express `Request`, Hono `Context`). */
export interface PaymentSchemeCoreOptions<N = unknown> {
  /** Issues the invoices (`createLndNode()`, or any LightningNode). */
  node: Pick<LightningNode, 'createInvoice'>;
  /** Millisatoshi, a whole number of sats (the charge is in sats), > 0. */
  price: bigint;
  /**
   * The secret the challenge ids are signed with: 32+ bytes (a string is taken as UTF-8). The same
   * in every process that verifies and kept across restarts. Required when NODE_ENV is production.
   */
  secret?: string | Uint8Array;
  /** The protection space. Default: the request's Host. */
  realm?: string | ((req: N) => string);
  /** What a challenge is good for, as a string. Default `<METHOD> <path>` (no query). */
  routeKey?: (req: N) => string;
  /** Shown by wallets (and the invoice memo). */
  description?: string;
  /** How long a challenge (and its invoice) can be paid, seconds. Default 600. */
  expiresSeconds?: number;
  /** Where spent challenge ids are remembered. Default: in memory, per middleware. */
  store?: ReceiptStore;
  /** Rate limit on issuing invoices, as l402()'s; `false`: none. */
  rateLimit?: RateLimitOptions<N> | RateLimiter<N> | false;
  /** Milliseconds since the epoch (tests move it). */
  now?: () => number;
}

/** What price discovery (describeRoutes, openApiPaths) reads from a paymentScheme() middleware. */
export interface PaymentSchemeInfo {
  /** Millisatoshi, decimal (a whole number of sats). */
  price: string;
  asset: 'BTC';
  /** The charge's payment method and intent, as in the challenge. */
  method: 'lightning';
  intent: 'charge';
  /** How long a challenge can be paid. */
  expiresSeconds: number;
  description: string;
}

/** The property of a paymentScheme() middleware that holds its PaymentSchemeInfo. */
export const PAYMENT_SCHEME_INFO = 'tollwayPayment' as const;

/** `res.locals.payment` (Express), `c.get('payment')` (Hono) after a good credential. */
export interface PaymentSchemePaid {
  challengeId: string;
  paymentHash: string;
  amountMsat: string;
}

export interface PaymentSchemeCore<N = unknown> {
  readonly info: PaymentSchemeInfo;
  /**
   * Paid (run the route with `locals`, add `Payment-Receipt`), or the answer to send: a 402 with
   * a fresh challenge saying why not, a 429 or a 503.
   */
  handle(req: CoreRequest<N>): Promise<CoreChallenge | CorePaid<PaymentSchemePaid>>;
}

/** A problem of the draft's registry (paymentauth.org/problems/…). */
export type PaymentProblemCode =
  | 'payment-required'
  | 'malformed-credential'
  | 'invalid-challenge'
  | 'verification-failed'
  | 'payment-insufficient'
  | 'payment-expired';

const TITLES: Record<PaymentProblemCode, string> = {
  'payment-required': 'Payment required',
  'malformed-credential': 'Malformed credential',
  'invalid-challenge': 'Invalid challenge',
  'verification-failed': 'Verification failed',
  'payment-insufficient': 'Payment insufficient',
  'payment-expired': 'Payment expired',
};

/** What the low-level part works on: the credential, and the realm and route it must be for. */
interface SchemeRequest {
  authorization?: string;
  realm: string;
  routeKey: string;
}

const LABEL = Buffer.from('tollway/payment-scheme id key v0\0', 'utf8');
const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The network name of the charge request, from the invoice's prefix; undefined for one the draft does not name. */
function networkOf(bolt11: string): 'mainnet' | 'regtest' | 'signet' | undefined {
  if (bolt11.startsWith('lnbcrt')) return 'regtest';
  if (bolt11.startsWith('lntbs')) return 'signet';
  if (bolt11.startsWith('lnbc')) return 'mainnet';
  return undefined;
}

let processSecret: Buffer | undefined;

function secretOf(s: string | Uint8Array | undefined): Buffer {
  if (s === undefined) {
    if (process.env.NODE_ENV === 'production')
      throw new RangeError('paymentScheme(): set secret (32+ random bytes, kept across restarts) when NODE_ENV is production');
    // Development only: a restart voids the challenges then outstanding.
    return (processSecret ??= randomBytes(32));
  }
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : Buffer.from(s);
  if (b.length < 32) throw new RangeError('paymentScheme(): secret must be at least 32 bytes');
  return b;
}

/** Builds the core from its options (checked here, once). `clientKey`: the rate limit's default key. */
export function paymentSchemeCore<N>(opts: PaymentSchemeCoreOptions<N>, adapter: { clientKey: (req: N) => string }): PaymentSchemeCore<N> {
  if (!(opts.price > 0n) || opts.price % 1000n !== 0n)
    throw new RangeError('paymentScheme(): price must be a positive whole number of sats, in msat');
  const expiresSeconds = opts.expiresSeconds ?? 600;
  if (!Number.isInteger(expiresSeconds) || expiresSeconds <= 0)
    throw new RangeError('paymentScheme(): expiresSeconds must be a positive integer');
  const secret = secretOf(opts.secret);
  const store = opts.store ?? memoryReceiptStore({ now: opts.now });
  const now = opts.now ?? Date.now;
  const sats = (opts.price / 1000n).toString();
  const limiter = rateLimiterFrom(opts.rateLimit, adapter.clientKey);
  const realmOf = (req: CoreRequest<N>) =>
    typeof opts.realm === 'function' ? opts.realm(req.native as N) : (opts.realm ?? req.headers.host ?? 'localhost');
  const routeOf = (req: CoreRequest<N>) => {
    if (opts.routeKey) return opts.routeKey(req.native as N);
    const q = req.url.indexOf('?');
    return `${req.method.toUpperCase()} ${q >= 0 ? req.url.slice(0, q) : req.url}`;
  };

  const idOf = (routeKey: string, p: Omit<PaymentSchemeParams, 'id'>): Buffer => {
    const key = createHmac('sha256', secret).update(LABEL).update(routeKey, 'utf8').digest();
    const slots = [p.realm, p.method, p.intent, p.request, p.expires ?? '', p.digest ?? '', p.opaque ?? ''];
    return createHmac('sha256', key).update(slots.join('|'), 'utf8').digest();
  };

  /** A fresh challenge: one invoice from the node. */
  async function mint(realm: string, routeKey: string): Promise<string> {
    const invoice = await opts.node.createInvoice({
      amountMsat: opts.price,
      memo: opts.description ?? routeKey,
      expirySeconds: expiresSeconds,
    });
    const network = networkOf(invoice.bolt11.toLowerCase());
    const request = encodeLightningCharge({
      amount: sats,
      currency: 'sat',
      ...(opts.description ? { description: opts.description } : {}),
      methodDetails: { invoice: invoice.bolt11, paymentHash: invoice.paymentHash, ...(network ? { network } : {}) },
    });
    // Never later than the invoice itself: a challenge must not outlive what pays it.
    const expires = rfc3339(Math.min(now() + expiresSeconds * 1000, invoice.expiresAt * 1000));
    const p = { realm, method: 'lightning', intent: 'charge', request, expires };
    return formatPaymentChallenge({ id: idOf(routeKey, p).toString('base64url'), ...p });
  }

  async function refuse(r: SchemeRequest, code: PaymentProblemCode, detail: string): Promise<CoreChallenge> {
    let header: string;
    try {
      header = await mint(r.realm, r.routeKey);
    } catch (err) {
      return problemAnswer('lightning-unavailable', (err as Error).message, { 'Retry-After': '5' });
    }
    return {
      kind: 'challenge',
      status: 402,
      headers: { 'WWW-Authenticate': header, 'Cache-Control': 'no-store', 'Access-Control-Expose-Headers': 'WWW-Authenticate' },
      contentType: 'application/problem+json',
      body: { type: `https://paymentauth.org/problems/${code}`, title: TITLES[code], status: 402, detail },
    };
  }

  /** Why the credential is no good (code, detail), or what it paid. */
  async function check(
    r: SchemeRequest,
  ): Promise<{ ok: false; code: PaymentProblemCode; detail: string } | { ok: true; paid: PaymentSchemePaid }> {
    const no = (code: PaymentProblemCode, detail: string) => ({ ok: false as const, code, detail });
    const cred = parsePaymentCredential(r.authorization);
    if (!cred.ok) return no('malformed-credential', `the credential cannot be read: ${cred.error.message}`);
    const c = cred.value.challenge;
    let given: Buffer;
    try {
      given = Buffer.from(c.id, 'base64url');
    } catch {
      return no('invalid-challenge', 'not a challenge of this route');
    }
    const expected = idOf(r.routeKey, c);
    if (given.length !== expected.length || !timingSafeEqual(given, expected) || given.toString('base64url') !== c.id)
      return no('invalid-challenge', 'not a challenge of this route (its id does not match its parameters)');
    if (c.realm !== r.realm) return no('invalid-challenge', 'the challenge is for another realm');
    if (c.method !== 'lightning' || c.intent !== 'charge') return no('invalid-challenge', 'not a Lightning charge');
    const expiresAt = c.expires ? Date.parse(c.expires) : Number.NaN;
    if (!Number.isFinite(expiresAt)) return no('invalid-challenge', 'the challenge has no expiry');
    if (now() >= expiresAt) return no('payment-expired', 'the challenge expired');
    const charge = readLightningCharge(c.request);
    if (!charge.ok) return no('invalid-challenge', charge.error.message);
    if (charge.value.amountMsat < opts.price) return no('payment-insufficient', `this route costs ${sats} sat`);
    const hash = charge.value.methodDetails.paymentHash;
    if (!hash) return no('invalid-challenge', 'the challenge names no payment hash');
    const preimage = cred.value.payload.preimage;
    if (typeof preimage !== 'string' || !/^[0-9a-f]{64}$/.test(preimage))
      return no('malformed-credential', 'payload.preimage must be 64 lower-case hex digits');
    if (!timingSafeEqual(createHash('sha256').update(Buffer.from(preimage, 'hex')).digest(), Buffer.from(hash, 'hex')))
      return no('verification-failed', 'the preimage does not match the payment hash');
    // Last, so that a credential refused for another reason does not spend the challenge.
    if (!(await store.claim(`payment-scheme:${c.id}`, expiresAt))) return no('invalid-challenge', 'this challenge was already used');
    return { ok: true, paid: { challengeId: c.id, paymentHash: hash, amountMsat: charge.value.amountMsat.toString() } };
  }

  const info: PaymentSchemeInfo = Object.freeze({
    price: opts.price.toString(),
    asset: 'BTC',
    method: 'lightning',
    intent: 'charge',
    expiresSeconds,
    description: opts.description ?? '',
  });

  return {
    info,
    async handle(req) {
      const authorization = req.headers.authorization;
      const r: SchemeRequest = { ...(authorization ? { authorization } : {}), realm: realmOf(req), routeKey: routeOf(req) };
      // Every answer but a good credential's issues an invoice: those are rate limited, a forged credential's too.
      const no = (code: PaymentProblemCode, detail: string): Promise<CoreChallenge> => {
        const allowed = limiter?.take(limiter.key(req.native as N), now());
        if (allowed && !allowed.ok) {
          const why = `too many Lightning invoices asked for; retry in ${allowed.retryAfterSeconds} s (a paid credential is not limited)`;
          return Promise.resolve(problemAnswer('rate-limited', why, { 'Retry-After': String(allowed.retryAfterSeconds) }));
        }
        return refuse(r, code, detail);
      };
      if (!authorization || !/^\s*Payment(\s|$)/i.test(authorization))
        return no('payment-required', 'pay the invoice, then send Authorization: Payment <credential>');
      const verdict = await check(r);
      if (!verdict.ok) return no(verdict.code, verdict.detail);
      const receipt = {
        status: 'success',
        method: 'lightning',
        timestamp: rfc3339(now()),
        reference: verdict.paid.paymentHash,
        challengeId: verdict.paid.challengeId,
      };
      return {
        kind: 'paid',
        locals: verdict.paid,
        responseHeaders: {
          'Payment-Receipt': base64UrlEncodeText(JSON.stringify(receipt)),
          'Cache-Control': 'private',
          'Access-Control-Expose-Headers': 'Payment-Receipt',
        },
      };
    },
  };
}
