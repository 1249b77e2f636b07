/**
 * The "Payment" HTTP authentication scheme (draft-httpauth-payment, "MPP"), Lightning `charge`:
 * charge for a route with an invoice from the merchant's Lightning node, the way Alby's
 * `fetchWithMpp` and the Tollway extension pay it.
 *
 * @example
 * ```ts
 * import { paymentScheme } from '@tollway/merchant';
 * // 2 sat per request; secret: 32+ random bytes, the same in every process and across restarts.
 * app.get('/api/quote', paymentScheme({ node, price: 2000n, secret: process.env.PAYMENT_SCHEME_SECRET! }), handler);
 * ```
 *
 * Without a credential the route answers `402` with
 * `WWW-Authenticate: Payment id="…", realm="<host>", method="lightning", intent="charge", request="…", expires="…"`
 * where `request` is base64url of `{amount: "<sats>", currency: "sat", methodDetails: {invoice, paymentHash, network}}`.
 * The `id` is `HMAC-SHA256(routeKey, realm|method|intent|request|expires|digest|opaque)`, the route
 * key being derived from `secret` and the route (method and path), so nothing is stored per
 * challenge and a challenge of one route is no good on another. The client pays the invoice and
 * retries with `Authorization: Payment <base64url JSON {challenge: <the echo>, payload: {preimage}}>`.
 * The kit checks the id (any edited parameter, another route or another secret fails it), the realm,
 * the expiry, the amount, `sha256(preimage) == paymentHash`, and then spends the id once (`store`).
 * A refused credential is a 402 with a fresh challenge and an RFC 9457 body whose `type` is
 * `https://paymentauth.org/problems/<code>`. Paid, the route runs with `res.locals.payment` and the
 * answer carries `Payment-Receipt`.
 *
 * To offer this beside x402 and L402 in one 402, see `offer()` (./offer.ts).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { LightningNode } from '@tollway/lightning/node.js';
import {
  base64UrlEncodeText,
  encodeLightningCharge,
  formatPaymentChallenge,
  parsePaymentCredential,
  readLightningCharge,
  type PaymentSchemeParams,
} from '@tollway/shared/challenge.js';
import { ProblemError } from '@tollway/shared/problem.js';
import { l402ClientKey, type L402RateLimiter, type L402RateLimitOptions } from './l402.js';
import { rateLimiterFrom } from './rate-limit.js';
import { memoryReceiptStore, type ReceiptStore } from './store.js';

export interface PaymentSchemeOptions {
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
  realm?: string | ((req: Request) => string);
  /** What a challenge is good for, as a string. Default `<METHOD> <path>` (no query). */
  routeKey?: (req: Request) => string;
  /** Shown by wallets (and the invoice memo). */
  description?: string;
  /** How long a challenge (and its invoice) can be paid, seconds. Default 600. */
  expiresSeconds?: number;
  /** Where spent challenge ids are remembered. Default: in memory, per middleware. */
  store?: ReceiptStore;
  /** Rate limit on issuing invoices, as l402()'s; `false`: none. */
  rateLimit?: L402RateLimitOptions | L402RateLimiter | false;
  /** Milliseconds since the epoch (tests move it). */
  now?: () => number;
}

/** `res.locals.payment` after a good credential. */
export interface PaymentSchemePaid {
  challengeId: string;
  paymentHash: string;
  amountMsat: string;
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

/** The answer for the framework to send. */
export type PaymentSchemeAnswer =
  | { kind: 'challenge'; status: 402 | 429 | 503; headers: Record<string, string>; body: Record<string, unknown> }
  | { kind: 'paid'; locals: PaymentSchemePaid; responseHeaders: Record<string, string> };

export interface PaymentSchemeRequest {
  authorization?: string;
  realm: string;
  routeKey: string;
  /** Who asks, for the rate limit. */
  client: string;
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

/** The framework-neutral part: mints challenges and checks credentials. */
export function paymentSchemeCore(opts: Omit<PaymentSchemeOptions, 'realm' | 'routeKey' | 'rateLimit'>) {
  if (!(opts.price > 0n) || opts.price % 1000n !== 0n)
    throw new RangeError('paymentScheme(): price must be a positive whole number of sats, in msat');
  const expiresSeconds = opts.expiresSeconds ?? 600;
  if (!Number.isInteger(expiresSeconds) || expiresSeconds <= 0)
    throw new RangeError('paymentScheme(): expiresSeconds must be a positive integer');
  const secret = secretOf(opts.secret);
  const store = opts.store ?? memoryReceiptStore({ now: opts.now });
  const now = opts.now ?? Date.now;
  const sats = (opts.price / 1000n).toString();

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

  async function refuse(r: PaymentSchemeRequest, code: PaymentProblemCode, detail: string): Promise<PaymentSchemeAnswer> {
    let header: string;
    try {
      header = await mint(r.realm, r.routeKey);
    } catch (err) {
      return {
        kind: 'challenge',
        status: 503,
        headers: { 'Cache-Control': 'no-store', 'Retry-After': '5' },
        body: new ProblemError('lightning-unavailable', (err as Error).message).toProblem() as unknown as Record<string, unknown>,
      };
    }
    return {
      kind: 'challenge',
      status: 402,
      headers: { 'WWW-Authenticate': header, 'Cache-Control': 'no-store' },
      body: { type: `https://paymentauth.org/problems/${code}`, title: TITLES[code], status: 402, detail },
    };
  }

  /** Why the credential is no good (code, detail), or what it paid. */
  async function check(
    r: PaymentSchemeRequest,
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

  return {
    mint,
    refuse,
    /** The answer to a request: paid, or a 402 (a fresh challenge) saying why not. */
    async handle(r: PaymentSchemeRequest): Promise<PaymentSchemeAnswer> {
      if (!r.authorization || !/^\s*Payment(\s|$)/i.test(r.authorization))
        return refuse(r, 'payment-required', 'pay the invoice, then send Authorization: Payment <credential>');
      const verdict = await check(r);
      if (!verdict.ok) return refuse(r, verdict.code, verdict.detail);
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
        responseHeaders: { 'Payment-Receipt': base64UrlEncodeText(JSON.stringify(receipt)), 'Cache-Control': 'private' },
      };
    },
  };
}

/** Express middleware: the route runs only for a good `Authorization: Payment` credential. */
export function paymentScheme(opts: PaymentSchemeOptions): RequestHandler {
  const core = paymentSchemeCore(opts);
  const now = opts.now ?? Date.now;
  const limiter = rateLimiterFrom(opts.rateLimit, l402ClientKey);
  const realmOf = (req: Request) => (typeof opts.realm === 'function' ? opts.realm(req) : (opts.realm ?? req.headers.host ?? 'localhost'));
  const routeOf = opts.routeKey ?? ((req: Request) => `${req.method.toUpperCase()} ${req.baseUrl}${req.path}`);

  return (req: Request, res: Response, next: NextFunction) => {
    (async () => {
      const r: PaymentSchemeRequest = {
        ...(typeof req.headers.authorization === 'string' ? { authorization: req.headers.authorization } : {}),
        realm: realmOf(req),
        routeKey: routeOf(req),
        client: limiter?.key(req) ?? '',
      };
      // A credential is checked without the limiter; every other answer issues an invoice.
      const presenting = !!r.authorization && /^\s*Payment(\s|$)/i.test(r.authorization);
      const allowed = presenting ? undefined : limiter?.take(r.client, now());
      if (allowed && !allowed.ok) {
        res
          .status(429)
          .set({ 'Retry-After': String(allowed.retryAfterSeconds), 'Cache-Control': 'no-store' })
          .type('application/problem+json');
        const detail = `too many Lightning invoices asked for; retry in ${allowed.retryAfterSeconds} s (a paid credential is not limited)`;
        res.send(JSON.stringify(new ProblemError('rate-limited', detail).toProblem()));
        return;
      }
      const answer = await core.handle(r);
      if (answer.kind === 'challenge') {
        res.status(answer.status).set(answer.headers).type('application/problem+json');
        res.send(JSON.stringify(answer.body));
        return;
      }
      res.locals.payment = answer.locals;
      res.set(answer.responseHeaders);
      res.append('Access-Control-Expose-Headers', 'Payment-Receipt');
      next();
    })().catch(next);
  };
}
