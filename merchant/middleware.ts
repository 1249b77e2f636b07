/**
 * The Tollway paywall: Express middleware that charges for a route.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { paywall, priceList, keepRawBody } from './merchant/index.js';
 *
 * const hub = 'https://hub.example';             // the hub's TOLLWAY_PUBLIC_URL
 * const merchantId = 'm_…';                       // from POST /merchants
 * const app = express();
 *
 * // 0.0015 SOVR (18 decimals) per read; a receipt opens the article once.
 * app.get('/article/:id', paywall({ hub, merchantId, price: '1500000000000000', asset: 'SOVR',
 *   description: 'One article' }), (req, res) => { res.send('<h1>The article</h1>'); });
 *
 * // An API route whose receipt is bound to the exact body and query, valid for 10 minutes.
 * app.post('/api/summarize', paywall({ hub, merchantId, price: '1000', asset: 'SOVR',
 *   bind: ['method', 'path', 'query', 'body'], reuse: { windowSeconds: 600 } }),
 *   (req, res) => { res.json({ summary: '…', paidBy: res.locals.tollway.transaction }); });
 *
 * // Price discovery: agents learn the cost without triggering a 402.
 * app.get('/.well-known/tollway.json', priceList(app));
 *
 * // A body parser before a paywall that binds the body must keep the raw bytes:
 * //   app.use(express.json({ verify: keepRawBody }));
 * // (with no parser before it, the paywall reads the body itself and sets req.body.)
 * ```
 *
 * Without a proof the route answers `402` with `PAYMENT-REQUIRED: base64(x402 v2 JSON)` listing a
 * `tollway` entry (and a standard `exact` entry on `eip155:<chainId>` when `payoutAddress` and
 * `chain` are given), a JSON body for API clients and a small HTML page for browsers. A retry with
 * `PAYMENT-SIGNATURE` (or x402 v1 `X-PAYMENT`) carrying `payload.receipt` is verified offline
 * against the hub's JWKS: ES256 signature, `typ`, `iss` = hub, `aud` = merchant, `exp`, asset,
 * amount ≥ price, the request binding `rqh`, and reuse. On success the route runs with
 * `res.locals.tollway` set and the answer carries `PAYMENT-RESPONSE`; any failure is a fresh 402
 * whose `error` (JSON body and decoded header) says why. If the hub's keys cannot be fetched at
 * all the answer is 503 (the proof may be fine; paying again would not help).
 *
 * With `facilitator` as well (e.g. `facilitator: 'https://hub.example/x402'`), the paywall also
 * takes a plain x402 `exact` payment: a `PAYMENT-SIGNATURE` whose `accepted` is the `exact` entry,
 * as any x402 client (`@x402/fetch`) sends it. In the reference middleware's order: the
 * facilitator verifies it, the route runs with its response held back, the facilitator settles it
 * only if the route answered < 400, and the held response goes out with `PAYMENT-RESPONSE`. A
 * refused verification or settlement is a fresh 402 whose `error` is the facilitator's x402 reason
 * (`invalid_exact_evm_payload_signature`, `insufficient_funds`, …); a facilitator that cannot be
 * reached is a 503.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { parseAmount } from '../shared/amount.js';
import { ASSET_NAMES } from '../shared/assets.js';
import { BIND_PARTS, DEFAULT_BIND, requestHash, type BindPart } from '../shared/binding.js';
import { encodePaymentRequired, encodePaymentResponse, type PaymentOption } from '../shared/challenge.js';
import { BodyTooLargeError, rawBody, sha256Hex } from './body.js';
import { challengeDocument, challengePage, hubNetwork, paymentOptions, type ChallengeSpec, type ExactChainConfig } from './challenge.js';
import { facilitatorClient, FacilitatorUnavailableError, type Facilitator } from './facilitator.js';
import { hubJwks, JwksUnavailableError, type KeySource } from './jwks.js';
import { readPaymentDocument, readProof } from './proof.js';
import { verifyReceipt, type PaywallReason, type ReceiptClaims } from './receipt.js';
import { defaultReceiptStore, type ReceiptStore } from './store.js';

export type Reuse = 'single' | { windowSeconds: number };

export interface PaywallOptions {
  /** The hub's public URL, exactly as it signs receipts (`iss`), e.g. `https://hub.example`. */
  hub: string;
  /** This merchant's id at the hub (`aud` of its receipts, `payTo` of the challenge). */
  merchantId: string;
  /** Base units (decimal string or bigint), > 0. SOVR has 18 decimals, BTC is in msat. */
  price: string | bigint;
  asset: string;
  description?: string;
  /**
   * Trusted HTML put at the top of the 402 page browsers get (the start of an article, the site's
   * header, a `<script src="<hub>/tollway.js">` pay button), so the page stays readable before payment.
   */
  teaser?: string | ((req: Request) => string);
  /** `resource.mimeType` of the challenge. */
  mimeType?: string;
  /** Which parts of the request a receipt is good for. Default `['method', 'path']`. */
  bind?: readonly BindPart[];
  /** `'single'` (default): each receipt opens the route once. `{windowSeconds}`: a pass for that long after payment (capped by the receipt's `exp`). */
  reuse?: Reuse;
  /** Where spent single-use receipts are remembered. Default: one in-memory store per process. */
  store?: ReceiptStore;
  /** On-chain payout (EVM address) for the standard `exact` entry; needs `chain` too, and asset SOVR. */
  payoutAddress?: string;
  chain?: ExactChainConfig;
  /**
   * An x402 facilitator that verifies and settles the standard `exact` entry: its URL (the hub's
   * is `<hub>/x402`) or a client. Needs `payoutAddress` and `chain`. Without it, `exact` proofs are
   * refused with `unsupported_scheme`. An `exact` payment opens the route once, whatever `reuse` says.
   */
  facilitator?: string | Facilitator;
  /** `maxTimeoutSeconds` of the challenge entries. Default 300. */
  maxTimeoutSeconds?: number;
  /** The public origin of this site (behind a proxy), e.g. `https://shop.example`. Default: from the request. */
  origin?: string;
  /** Full control over the resource URL the receipt is bound to. Overrides `origin`. */
  resourceUrl?: (req: Request) => string;
  /** Largest body read for a `body` binding, bytes. Default 1 MiB. */
  bodyLimit?: number;
  /** Allowed clock skew when checking `exp`. Default 5 s. */
  clockToleranceSeconds?: number;
  /** Milliseconds since the epoch; for tests. */
  now?: () => number;
  /** The hub's receipt keys. Default: a cached JWKS fetched from the hub, shared per hub URL. */
  keys?: KeySource;
  /**
   * Give the money back when the route fails (answers ≥ 400) after a single-use receipt was
   * accepted: the paywall asks the hub for a full refund with this merchant's API key (Idempotency-
   * Key `auto-refund:<transaction>`, so a retry never refunds twice). Not for access passes: one
   * failing request does not undo a pass that other requests use.
   */
  refundOnError?: { apiKey: string; fetch?: typeof fetch; onResult?: (r: { transaction: string; ok: boolean; status?: number; error?: string }) => void };
}

/** What price discovery reads from a paywall. */
export interface PaywallInfo {
  hub: string;
  merchantId: string;
  price: string;
  asset: string;
  description: string;
  mimeType: string;
  bind: BindPart[];
  reuse: Reuse;
  /** The schemes listed in the challenge. */
  schemes: string[];
  network: string;
}

export type Paywall = RequestHandler & { readonly tollway: PaywallInfo };

/** `res.locals.tollway` after a good proof. */
export interface PaidRequest {
  transaction: string;
  amount: string;
  asset: string;
  rail: string;
  network: string;
  reuse: Reuse;
  receipt: ReceiptClaims;
}

/**
 * `res.locals.tollway` after a good `exact` proof (check `rail`). The route runs before settlement,
 * so `transaction` is empty while it runs; the paywall fills it in after settling.
 */
export interface PaidExactRequest {
  rail: 'exact';
  transaction: string;
  amount: string;
  asset: string;
  /** `eip155:<chainId>` */
  network: string;
  payer: string;
  reuse: 'single';
  receipt: null;
}

/** Marks the handlers `describeRoutes` recognizes. */
export const PAYWALL_INFO = 'tollway' as const;

async function refundAfterFailure(hub: string, transaction: string, auto: NonNullable<PaywallOptions['refundOnError']>): Promise<void> {
  const doFetch = auto.fetch ?? fetch;
  try {
    const res = await doFetch(`${hub.replace(/\/+$/, '')}/payments/${encodeURIComponent(transaction)}/refund`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${auto.apiKey}`, 'idempotency-key': `auto-refund:${transaction}` },
      body: JSON.stringify({ reason: 'the paid request failed' }),
    });
    await res.arrayBuffer();
    auto.onResult?.({ transaction, ok: res.ok, status: res.status });
  } catch (err) {
    auto.onResult?.({ transaction, ok: false, error: (err as Error).message });
  }
}

export function paywall(opts: PaywallOptions): Paywall {
  const spec = validate(opts);
  const { hub, price, bind } = spec;
  const issuer = hub;
  const network = hubNetwork(hub);
  const reuse: Reuse = opts.reuse ?? 'single';
  const store = opts.store ?? defaultReceiptStore;
  const keys = opts.keys ?? hubJwks(hub);
  const now = opts.now ?? Date.now;
  const tolerance = opts.clockToleranceSeconds ?? 5;
  const bodyLimit = opts.bodyLimit ?? 1024 * 1024;
  const description = opts.description ?? '';
  const mimeType = opts.mimeType ?? '';
  const origin = opts.origin?.replace(/\/+$/, '');
  const resourceUrl =
    opts.resourceUrl ?? ((req: Request) => `${origin ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`}${req.originalUrl}`);
  const facilitator = spec.facilitator;
  // The one entry an exact payment must be for; unlike the tollway entry it has nothing per-challenge.
  const exactEntry = facilitator ? paymentOptions(spec).find((o) => o.scheme === 'exact') : undefined;

  /** `reason` is a PaywallReason, or for `exact` proofs the facilitator's x402 reason code. */
  function challenge(req: Request, res: Response, reason: PaywallReason | (string & {}), detail?: string): void {
    const doc = challengeDocument(spec, { url: resourceUrl(req), description, mimeType }, reason);
    res.status(402);
    res.setHeader('PAYMENT-REQUIRED', encodePaymentRequired(doc));
    res.setHeader('Cache-Control', 'no-store');
    res.vary('Accept');
    res.vary('PAYMENT-SIGNATURE');
    res.vary('X-PAYMENT');
    exposeHeader(res, 'PAYMENT-REQUIRED');
    if (req.accepts(['json', 'html']) === 'html') {
      const teaser = typeof opts.teaser === 'function' ? opts.teaser(req) : opts.teaser;
      res.type('html').send(
        challengePage(doc, { price, asset: spec.asset, ...(reason !== 'payment_required' && detail ? { detail } : {}), ...(teaser ? { teaser } : {}) }),
      );
    } else {
      res.json({ ...doc, ...(detail ? { detail } : {}) });
    }
  }

  async function handle(req: Request, res: Response, next: NextFunction): Promise<void> {
    const v2Header = req.get('payment-signature');
    const v1Header = v2Header === undefined ? req.get('x-payment') : undefined;
    const header = v2Header ?? v1Header;
    if (header === undefined || header === '') return challenge(req, res, 'payment_required', 'this resource needs a payment');

    const read = readProof(header, v2Header !== undefined ? 'PAYMENT-SIGNATURE' : 'X-PAYMENT');
    if (!read.ok) return challenge(req, res, read.reason, read.detail);
    const { proof } = read;
    if (proof.scheme === 'exact' && proof.version === 2 && facilitator && exactEntry) return payExact(req, res, next, header, facilitator, exactEntry);
    if (proof.scheme !== 'tollway') return challenge(req, res, 'unsupported_scheme', `the ${proof.scheme} scheme is not settled here; pay with tollway`);
    const token = proof.payload.receipt;
    if (typeof token !== 'string') return challenge(req, res, 'malformed_proof', 'payload.receipt is missing');

    const t = now();
    const check = await verifyReceipt(token, keys, {
      issuer,
      merchantId: spec.merchantId,
      asset: spec.asset,
      price,
      now: t,
      clockToleranceSeconds: tolerance,
    });
    if (!check.ok) return challenge(req, res, check.reason, check.detail);
    const claims = check.claims;

    if (!claims.rqh) return challenge(req, res, 'binding_mismatch', 'the receipt is not bound to a request');
    const bodyHash = bind.includes('body') ? sha256Hex(await rawBody(req, bodyLimit)) : undefined;
    const expected = await requestHash({ method: req.method, url: resourceUrl(req), ...(bodyHash ? { bodyHash } : {}) }, bind);
    if (expected !== claims.rqh) {
      return challenge(req, res, 'binding_mismatch', `the receipt is for another request (${bind.join(', ')} must match)`);
    }

    if (reuse === 'single') {
      const fresh = await store.claim(`${claims.iss}#${claims.sub}`, (claims.exp + tolerance) * 1000);
      if (!fresh) return challenge(req, res, 'replayed', 'this receipt was already used');
    } else if (t >= (claims.iat + reuse.windowSeconds) * 1000) {
      return challenge(req, res, 'window_elapsed', `the access pass lasted ${reuse.windowSeconds} s after payment`);
    }

    // Paid content must not reach the next visitor from a shared cache; the route may still override.
    res.setHeader('Cache-Control', 'private');
    res.vary('PAYMENT-SIGNATURE');
    res.vary('X-PAYMENT');
    const answer = encodePaymentResponse({ success: true, transaction: claims.sub, network, amount: claims.amt });
    res.setHeader('PAYMENT-RESPONSE', answer);
    if (proof.version === 1) res.setHeader('X-PAYMENT-RESPONSE', answer);
    exposeHeader(res, proof.version === 1 ? 'PAYMENT-RESPONSE, X-PAYMENT-RESPONSE' : 'PAYMENT-RESPONSE');
    const paid: PaidRequest = { transaction: claims.sub, amount: claims.amt, asset: claims.asset, rail: claims.rail, network, reuse, receipt: claims };
    res.locals.tollway = paid;
    if (opts.refundOnError && reuse === 'single') {
      const auto = opts.refundOnError;
      res.once('finish', () => {
        if (res.statusCode >= 400) void refundAfterFailure(hub, claims.sub, auto);
      });
    }
    next();
  }

  /**
   * An x402 `exact` payment, in the reference middleware's order: verify, run the route with its
   * answer held back, settle only if it answered < 400, then send it with PAYMENT-RESPONSE.
   */
  async function payExact(req: Request, res: Response, next: NextFunction, header: string, f: Facilitator, entry: PaymentOption): Promise<void> {
    const read = readPaymentDocument(header);
    if (!read) return challenge(req, res, 'malformed_proof', 'PAYMENT-SIGNATURE is not an x402 version 2 payment payload');
    const a = read.accepted;
    const same = (x: string, y: string) => x.toLowerCase() === y.toLowerCase();
    if (a.network !== entry.network || a.amount !== entry.amount || !same(a.asset, entry.asset) || !same(a.payTo, entry.payTo)) {
      return challenge(req, res, 'no_matching_requirements', 'the payment is not for this route: network, amount, asset and payTo must be those of its exact entry');
    }
    // Our own entry, never the payer's echo of it, is what the payment is checked against.
    const requirements = entry as Record<string, unknown>;
    const verified = await f.verify(read.document, requirements);
    if (!verified.isValid) return challenge(req, res, verified.invalidReason ?? 'invalid_payment', verified.invalidMessage ?? 'the facilitator refused the payment');

    // Two requests carrying the same payment could both verify before either settles, and a
    // facilitator answers a repeated settle with the first result: only one may have the route.
    const auth = authorizationOf(read.document);
    if (!auth) return challenge(req, res, 'malformed_proof', 'payload.authorization is missing');
    const validBefore = Number(auth.validBefore);
    const expiresAt = Number.isFinite(validBefore) ? validBefore * 1000 + tolerance * 1000 : now() + spec.maxTimeoutSeconds * 1000;
    if (!(await store.claim(`exact:${entry.network}:${entry.asset}:${auth.from}:${auth.nonce}`.toLowerCase(), expiresAt))) {
      return challenge(req, res, 'replayed', 'this payment was already used');
    }

    res.setHeader('Cache-Control', 'private');
    res.vary('PAYMENT-SIGNATURE');
    res.vary('X-PAYMENT');
    const before = snapshotHeaders(res);
    const payer = verified.payer ?? auth.from;
    const paid: PaidExactRequest = { rail: 'exact', transaction: '', amount: entry.amount, asset: spec.asset, network: entry.network, payer, reuse: 'single', receipt: null };
    res.locals.tollway = paid;

    const held = await holdResponse(res, next);
    if (!held.ended) return held.discard(); // the client left before the route answered: nothing is settled
    if (held.status >= 400) return held.flush(); // a failed route costs nothing

    let settled;
    try {
      settled = await f.settle(read.document, requirements);
      // Sent but not yet mined when the facilitator answered: ask once more, as the reference
      // resource server does, before withholding content the payer may have paid for.
      if (!settled.success && settled.errorReason === 'settlement_pending' && settled.transaction) settled = await f.settle(read.document, requirements);
    } catch (err) {
      held.discard();
      restoreHeaders(res, before);
      throw err;
    }
    if (!settled.success) {
      held.discard();
      restoreHeaders(res, before);
      return challenge(req, res, settled.errorReason ?? 'settlement_failed', settled.errorMessage ?? 'the facilitator could not settle the payment');
    }
    paid.transaction = settled.transaction;
    res.setHeader('PAYMENT-RESPONSE', encodePaymentResponse({ success: true, transaction: settled.transaction, network: settled.network, payer: settled.payer ?? payer, amount: entry.amount }));
    exposeHeader(res, 'PAYMENT-RESPONSE');
    held.flush();
  }

  const middleware = ((req: Request, res: Response, next: NextFunction) => {
    // Express 4 does not catch rejected promises: every failure goes to next() here.
    handle(req, res, next).catch((err: unknown) => {
      if (err instanceof JwksUnavailableError) {
        res.status(503).setHeader('Retry-After', '5');
        res.type('application/problem+json').send(
          JSON.stringify({ type: 'https://tollway.dev/problems/hub-unavailable', title: 'Cannot verify payments right now', status: 503, detail: err.message }),
        );
        return;
      }
      if (err instanceof FacilitatorUnavailableError) {
        res.status(503).setHeader('Retry-After', '5');
        res.type('application/problem+json').send(
          JSON.stringify({ type: 'https://tollway.dev/problems/facilitator-unavailable', title: 'Cannot verify or settle payments right now', status: 503, detail: err.message }),
        );
        return;
      }
      if (err instanceof BodyTooLargeError) {
        res.status(413).type('application/problem+json');
        res.send(JSON.stringify({ type: 'https://tollway.dev/problems/body-too-large', title: 'Request body too large', status: 413, detail: err.message }));
        return;
      }
      next(err);
    });
  }) as Paywall;

  const info: PaywallInfo = {
    hub,
    merchantId: spec.merchantId,
    price: price.toString(),
    asset: spec.asset,
    description,
    mimeType,
    bind: [...bind],
    reuse,
    schemes: spec.payoutAddress && spec.chain ? ['tollway', 'exact'] : ['tollway'],
    network,
  };
  Object.defineProperty(middleware, PAYWALL_INFO, { value: Object.freeze(info), enumerable: true });
  return middleware;
}

function authorizationOf(doc: Record<string, unknown>): { from: string; nonce: string; validBefore: string } | undefined {
  const payload = doc.payload as { authorization?: Record<string, unknown> } | undefined;
  const a = payload?.authorization;
  if (!a || typeof a.from !== 'string' || typeof a.nonce !== 'string' || typeof a.validBefore !== 'string') return undefined;
  return { from: a.from, nonce: a.nonce, validBefore: a.validBefore };
}

type HeaderSnapshot = Record<string, number | string | string[] | undefined>;
const snapshotHeaders = (res: Response): HeaderSnapshot => ({ ...res.getHeaders() });

/** Puts the headers back as they were before the route ran (its cookies must not reach a 402). */
function restoreHeaders(res: Response, snapshot: HeaderSnapshot): void {
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  for (const [name, value] of Object.entries(snapshot)) if (value !== undefined) res.setHeader(name, value);
}

interface HeldResponse {
  /** The route called end(); false when the client left first. */
  ended: boolean;
  status: number;
  /** Sends what the route wrote, with the headers set since. */
  flush(): void;
  /** Drops it; the response is the caller's again. */
  discard(): void;
}

type Held = ['writeHead' | 'write' | 'end' | 'flushHeaders', unknown[]];

/** Runs the rest of the chain with everything it writes held back until flush() or discard(). */
function holdResponse(res: Response, next: NextFunction): Promise<HeldResponse> {
  const original = { writeHead: res.writeHead, write: res.write, end: res.end, flushHeaders: res.flushHeaders };
  const calls: Held[] = [];
  let explicitStatus: number | undefined;
  const restore = () => {
    res.writeHead = original.writeHead;
    res.write = original.write;
    res.end = original.end;
    res.flushHeaders = original.flushHeaders;
  };
  return new Promise((resolve) => {
    let answered = false;
    const answer = (ended: boolean) => {
      if (answered) return;
      answered = true;
      res.off('close', onClose);
      resolve({
        ended,
        status: explicitStatus ?? res.statusCode,
        flush() {
          restore();
          for (const [method, args] of calls) (original[method] as (...a: unknown[]) => unknown).apply(res, args);
        },
        discard: restore,
      });
    };
    const onClose = () => answer(false);
    res.writeHead = function (this: Response, ...args: unknown[]) {
      if (typeof args[0] === 'number') explicitStatus = args[0];
      calls.push(['writeHead', args]);
      return res;
    } as Response['writeHead'];
    res.write = function (...args: unknown[]) {
      calls.push(['write', args]);
      return true;
    } as Response['write'];
    res.end = function (...args: unknown[]) {
      calls.push(['end', args]);
      answer(true);
      return res;
    } as Response['end'];
    res.flushHeaders = function () {
      calls.push(['flushHeaders', []]);
    };
    res.on('close', onClose);
    next();
  });
}

function exposeHeader(res: Response, names: string): void {
  const current = res.getHeader('Access-Control-Expose-Headers');
  res.setHeader('Access-Control-Expose-Headers', current ? `${String(current)}, ${names}` : names);
}

/** Checks the options once, at start, so a typo fails loudly instead of at the first request. */
function validate(opts: PaywallOptions): ChallengeSpec & { facilitator?: Facilitator } {
  const fail = (m: string): never => {
    throw new TypeError(`paywall: ${m}`);
  };
  let hubUrl: URL;
  try {
    hubUrl = new URL(opts.hub);
  } catch {
    return fail('hub must be an absolute URL');
  }
  if (hubUrl.protocol !== 'http:' && hubUrl.protocol !== 'https:') fail('hub must be an http(s) URL');
  if (!opts.merchantId || typeof opts.merchantId !== 'string') fail('merchantId is required');
  let price: bigint;
  try {
    price = typeof opts.price === 'bigint' ? opts.price : parseAmount(opts.price);
  } catch {
    return fail('price must be a decimal string of base units');
  }
  if (price <= 0n) fail('price must be greater than zero');
  if (!(ASSET_NAMES as string[]).includes(opts.asset)) fail(`asset must be one of ${ASSET_NAMES.join(', ')}`);
  const bind = [...(opts.bind ?? DEFAULT_BIND)];
  if (bind.some((p) => !(BIND_PARTS as readonly string[]).includes(p))) fail(`bind lists only ${BIND_PARTS.join(', ')}`);
  const reuse = opts.reuse ?? 'single';
  if (reuse !== 'single' && !(typeof reuse === 'object' && Number.isInteger(reuse.windowSeconds) && reuse.windowSeconds > 0)) {
    fail("reuse is 'single' or {windowSeconds: a positive integer}");
  }
  if (opts.payoutAddress !== undefined && !/^0x[0-9a-fA-F]{40}$/.test(opts.payoutAddress)) fail('payoutAddress must be an EVM address');
  if (opts.payoutAddress && opts.chain) {
    if (opts.asset !== 'SOVR') fail('the exact (on-chain) entry pays in SOVR: set asset to SOVR');
    if (!Number.isInteger(opts.chain.chainId) || opts.chain.chainId <= 0) fail('chain.chainId must be a positive integer');
    if (!/^0x[0-9a-fA-F]{40}$/.test(opts.chain.tokenAddress)) fail('chain.tokenAddress must be an EVM address');
  }
  let facilitator: Facilitator | undefined;
  if (opts.facilitator !== undefined) {
    if (!opts.payoutAddress || !opts.chain) fail('facilitator settles the exact entry: give payoutAddress and chain too');
    if (typeof opts.facilitator === 'string') {
      try {
        facilitator = facilitatorClient(opts.facilitator);
      } catch {
        fail('facilitator must be an absolute http(s) URL or a facilitator client');
      }
    } else if (typeof opts.facilitator?.verify === 'function' && typeof opts.facilitator.settle === 'function') {
      facilitator = opts.facilitator;
    } else {
      fail('facilitator must be an absolute http(s) URL or a facilitator client');
    }
  }
  const maxTimeoutSeconds = opts.maxTimeoutSeconds ?? 300;
  if (!Number.isInteger(maxTimeoutSeconds) || maxTimeoutSeconds <= 0) fail('maxTimeoutSeconds must be a positive integer');
  return {
    hub: opts.hub.replace(/\/+$/, ''),
    merchantId: opts.merchantId,
    price: price!,
    asset: opts.asset,
    bind,
    maxTimeoutSeconds,
    ...(reuse !== 'single' ? { passSeconds: reuse.windowSeconds } : {}),
    ...(opts.payoutAddress ? { payoutAddress: opts.payoutAddress } : {}),
    ...(opts.chain ? { chain: opts.chain } : {}),
    ...(facilitator ? { facilitator } : {}),
  };
}
