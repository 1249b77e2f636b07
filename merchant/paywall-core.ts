/**
 * The paywall's framework-neutral core: everything `paywall()` (Express, ./middleware.ts) and
 * `paywallHono()` (./hono.ts) do, minus the framework. An adapter describes the request, asks
 * `handle()`, and either sends the challenge it gets back or runs the route:
 *
 * ```ts
 * const core = paywallCore({ hub, merchantId, price: '1000', asset: 'SOVR' });
 * const answer = await core.handle({ method, url: '/path?query', headers, body: bytesOrReader, protocol: 'https' });
 * if (answer.kind === 'challenge') → send answer.status, answer.headers, answer.html ?? JSON(answer.body)
 * else → run the route with answer.locals, add answer.responseHeaders to its answer;
 *        with answer.settle (x402 `exact`): hold the route's answer, `await answer.settle(status)`,
 *        then send the held answer plus the headers it returns, or the challenge it returns instead;
 *        with answer.finished: call it with the status once the answer is sent (refundOnError).
 * ```
 *
 * `handle()` and `settle()` resolve to a challenge for every failure a client can cause or that
 * paying again would not fix (402 with a reason; 413, 503 problem+json from shared/problem.ts),
 * and reject only on configuration errors (e.g. `BodyUnavailableError`), which adapters hand to
 * the framework's error handling.
 */
import { parseAmount } from '@tollway/shared/amount.js';
import { ASSET_NAMES } from '@tollway/shared/assets.js';
import { BIND_PARTS, DEFAULT_BIND, requestHash, type BindPart } from '@tollway/shared/binding.js';
import { encodePaymentRequired, encodePaymentResponse, type PaymentOption } from '@tollway/shared/challenge.js';
import { ProblemError, type ProblemCode } from '@tollway/shared/problem.js';
import { BodyTooLargeError, sha256Hex } from './body.js';
import { type CoreChallenge, type CoreHeaders, type CoreRequest, LIST_HEADERS } from './core-contract.js';
import { challengeDocument, challengePage, hubNetwork, paymentOptions, type ChallengeSpec, type ExactChainConfig } from './challenge.js';
import { facilitatorClient, FacilitatorUnavailableError, type Facilitator } from './facilitator.js';
import { hubJwks, JwksUnavailableError, type KeySource } from './jwks.js';
import { addLightningInvoice } from './lightning-invoice.js';
import { readPaymentDocument, readProof } from './proof.js';
import { clientKeyOf, type RateLimiter, type RateLimitOptions, rateLimiterFrom } from './rate-limit.js';
import { verifyReceipt, type PaywallReason, type ReceiptClaims } from './receipt.js';
import { defaultReceiptStore, type ReceiptStore } from './store.js';

export type Reuse = 'single' | { windowSeconds: number };

/**
 * The paywall's options. `N` is the framework's own request (Express `Request`, Hono `Context`),
 * handed to the `teaser` and `resourceUrl` callbacks as their first argument.
 */
export interface PaywallCoreOptions<N = unknown> {
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
  teaser?: string | ((req: N, request: PaywallRequest<N>) => string);
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
  /**
   * Lightning for any wallet: every 402 also carries an invoice of the hub's node for that challenge
   * (the tollway entry's `extra.lightning`), asked of the hub with `apiKey`. Whoever pays it, a phone
   * wallet scanning the pay button's QR code or the extension from a hub balance, the hub credits
   * this merchant and issues the standard receipt for the challenge. Needs asset BTC.
   */
  lightning?: boolean;
  /**
   * Interledger: the tollway entry names the hub's `ilp` rail and this wallet address (its
   * `extra.interledger`), so a person may pay from their own Interledger wallet, approving on its
   * consent page. The hub pays the wallet address registered for the merchant (`POST /merchants`
   * `walletAddress`); the receipt is the same as for every rail.
   */
  interledger?: { walletAddress: string };
  /** This merchant's API key at the hub (from `POST /merchants`); needed by `lightning`. */
  apiKey?: string;
  /** The fetch the paywall asks the hub with (`lightning`); default the global one. */
  fetch?: typeof fetch;
  /** Told when the hub could not issue a challenge's invoice (the 402 then goes out without it). */
  onLightningError?: (err: Error) => void;
  /**
   * How many of those invoices one client (by `ip`) and all clients together may cause: each is an
   * invoice at the hub's node and a row at the hub, asked for by requests nobody authenticated.
   * Past it the 402 goes out without an invoice (still payable from a hub balance), and
   * `onLightningError` is told. Default 60 a minute per client (burst 20), 600 in all (burst 100);
   * `false`: none.
   */
  lightningRateLimit?: RateLimitOptions<PaywallRequest> | RateLimiter<PaywallRequest> | false;
  /** `maxTimeoutSeconds` of the challenge entries. Default 300. */
  maxTimeoutSeconds?: number;
  /** The public origin of this site (behind a proxy), e.g. `https://shop.example`. Default: from the request. */
  origin?: string;
  /** Full control over the resource URL the receipt is bound to. Overrides `origin`. */
  resourceUrl?: (req: N, request: PaywallRequest<N>) => string;
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
  refundOnError?: {
    apiKey: string;
    fetch?: typeof fetch;
    onResult?: (r: { transaction: string; ok: boolean; status?: number; error?: string }) => void;
  };
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

/** `res.locals.tollway` (Express), `c.get('tollway')` (Hono) after a good proof. */
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
 * The same after a good `exact` proof (check `rail`). The route runs before settlement, so
 * `transaction` is empty while it runs; the paywall fills it in after settling.
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

/** The request, as an adapter describes it (the same for every core: ./core-contract.ts). */
export type PaywallRequest<N = unknown> = CoreRequest<N>;

/** Response headers, named as sent. Those in `LIST_HEADERS` add to a value already set. */
export type PaywallHeaders = CoreHeaders;

export { LIST_HEADERS };

/** Answer this instead of running the route: a 402 challenge, or a 413 / 503 problem. */
export type PaywallChallenge = CoreChallenge;

/** Run the route. */
export interface PaywallPaid {
  kind: 'paid';
  /** What the route sees: `res.locals.tollway`, `c.get('tollway')`. */
  locals: PaidRequest | PaidExactRequest;
  /** Add to the route's answer (PAYMENT-RESPONSE, Cache-Control: private, Vary …). */
  responseHeaders: PaywallHeaders;
  /**
   * x402 `exact` only: hold the route's answer back, then call with its status. `deliver`: send
   * the held answer with `headers` added (PAYMENT-RESPONSE when settled; none when the route
   * answered ≥ 400, which settles nothing). A challenge: drop the held answer (and the headers the
   * route set) and send this instead.
   */
  settle?: (routeStatus: number) => Promise<PaywallDeliver | PaywallChallenge>;
  /** Call once the route's answer is sent (refunds a single-use receipt when it is ≥ 400). */
  finished?: (routeStatus: number) => void;
}

export interface PaywallDeliver {
  kind: 'deliver';
  headers: PaywallHeaders;
}

export interface PaywallCore<N = unknown> {
  readonly info: PaywallInfo;
  handle(req: PaywallRequest<N>): Promise<PaywallChallenge | PaywallPaid>;
}

/** The match of `accept` with `json` and `html`, as Express's `req.accepts(['json', 'html'])` decides it. */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const ranges = accept.split(',').map((part, o) => {
    const [range = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    const [type = '', subtype = ''] = range.split('/');
    return { type, subtype, q: q ? Number(q.slice(2)) : 1, o };
  });
  const match = (type: string, subtype: string) => {
    let best: { q: number; s: number; o: number } | undefined;
    for (const r of ranges) {
      if ((r.type !== type && r.type !== '*') || (r.subtype !== subtype && r.subtype !== '*')) continue;
      const s = (r.type === type ? 4 : 0) + (r.subtype === subtype ? 2 : 0);
      if (!best || s > best.s || (s === best.s && (r.q > best.q || (r.q === best.q && r.o < best.o))))
        best = { q: Number.isFinite(r.q) ? r.q : 0, s, o: r.o };
    }
    return best && best.q > 0 ? best : undefined;
  };
  const json = match('application', 'json');
  const html = match('text', 'html');
  if (!html) return false;
  if (!json) return true;
  return html.q > json.q || (html.q === json.q && (html.s > json.s || (html.s === json.s && html.o < json.o)));
}

const problem = (code: ProblemCode, detail: string, headers: PaywallHeaders = {}): PaywallChallenge => ({
  kind: 'challenge',
  status: new ProblemError(code).status,
  headers,
  contentType: 'application/problem+json',
  body: new ProblemError(code, detail).toProblem() as unknown as Record<string, unknown>,
});

/** The failures that are answers rather than errors: 503 (retry later), 413. */
function problemFor(err: unknown): PaywallChallenge | undefined {
  if (err instanceof JwksUnavailableError) return problem('hub-unavailable', err.message, { 'Retry-After': '5' });
  if (err instanceof FacilitatorUnavailableError) return problem('facilitator-unavailable', err.message, { 'Retry-After': '5' });
  if (err instanceof BodyTooLargeError) return problem('payload-too-large', err.message);
  return undefined;
}

async function refundAfterFailure(hub: string, transaction: string, auto: NonNullable<PaywallCoreOptions['refundOnError']>): Promise<void> {
  const doFetch = auto.fetch ?? fetch;
  try {
    const res = await doFetch(`${hub.replace(/\/+$/, '')}/payments/${encodeURIComponent(transaction)}/refund`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${auto.apiKey}`,
        'idempotency-key': `auto-refund:${transaction}`,
      },
      body: JSON.stringify({ reason: 'the paid request failed' }),
    });
    await res.arrayBuffer();
    auto.onResult?.({ transaction, ok: res.ok, status: res.status });
  } catch (err) {
    auto.onResult?.({ transaction, ok: false, error: (err as Error).message });
  }
}

/** Builds the paywall from its options (checked here, once: a typo fails at start). */
export function paywallCore<N = unknown>(opts: PaywallCoreOptions<N>): PaywallCore<N> {
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
  const resourceUrl = (req: PaywallRequest<N>): string =>
    opts.resourceUrl
      ? opts.resourceUrl(req.native as N, req)
      : `${origin ?? `${req.protocol ?? 'http'}://${req.headers.host ?? 'localhost'}`}${req.url}`;
  const facilitator = spec.facilitator;
  // The one entry an exact payment must be for; unlike the tollway entry it has nothing per-challenge.
  const exactEntry = facilitator ? paymentOptions(spec).find((o) => o.scheme === 'exact') : undefined;
  const lightning = opts.lightning
    ? {
        hub,
        merchantId: spec.merchantId,
        apiKey: opts.apiKey!,
        ...(opts.fetch ? { fetch: opts.fetch } : {}),
        ...(opts.onLightningError ? { onError: opts.onLightningError } : {}),
      }
    : undefined;
  const invoiceLimiter = lightning ? rateLimiterFrom(opts.lightningRateLimit, (r: PaywallRequest) => clientKeyOf(r.ip)) : undefined;

  /** `reason` is a PaywallReason, or for `exact` proofs the facilitator's x402 reason code. */
  async function challenge(req: PaywallRequest<N>, reason: PaywallReason | (string & {}), detail?: string): Promise<PaywallChallenge> {
    const doc = challengeDocument(spec, { url: resourceUrl(req), description, mimeType }, reason);
    const allowed = invoiceLimiter?.take(invoiceLimiter.key(req), Date.now()) ?? { ok: true };
    if (lightning && !allowed.ok)
      lightning.onError?.(new Error(`invoice rate limit reached (${allowed.scope}); this 402 goes out without one`));
    if (lightning && allowed.ok) {
      await addLightningInvoice(lightning, {
        doc,
        method: req.method,
        bind,
        ...(bind.includes('body') ? { bodyHash: sha256Hex(await bodyOf(req)) } : {}),
        ...(description ? { description } : {}),
      });
    }
    const answer: PaywallChallenge = {
      kind: 'challenge',
      status: 402,
      headers: {
        'PAYMENT-REQUIRED': encodePaymentRequired(doc),
        'Cache-Control': 'no-store',
        Vary: 'Accept, PAYMENT-SIGNATURE, X-PAYMENT',
        'Access-Control-Expose-Headers': 'PAYMENT-REQUIRED',
      },
      contentType: 'application/json',
      body: { ...doc, ...(detail ? { detail } : {}) },
    };
    if (req.prefersHtml ?? prefersHtml(req.headers.accept)) {
      const teaser = typeof opts.teaser === 'function' ? opts.teaser(req.native as N, req) : opts.teaser;
      answer.html = challengePage(doc, {
        price,
        asset: spec.asset,
        ...(reason !== 'payment_required' && detail ? { detail } : {}),
        ...(teaser ? { teaser } : {}),
      });
    }
    return answer;
  }

  // A body reader may be called once; a challenge with an invoice may need the body after the check did.
  const bodies = new WeakMap<PaywallRequest<N>, Promise<Uint8Array>>();
  function bodyOf(req: PaywallRequest<N>): Promise<Uint8Array> {
    let p = bodies.get(req);
    if (!p) bodies.set(req, (p = readBody(req)));
    return p;
  }
  async function readBody(req: PaywallRequest<N>): Promise<Uint8Array> {
    const b = req.body;
    if (b === undefined) return new Uint8Array(0);
    if (typeof b === 'function') return b(bodyLimit);
    if (b.length > bodyLimit) throw new BodyTooLargeError(`request body over ${bodyLimit} bytes`);
    return b;
  }

  async function handle(req: PaywallRequest<N>): Promise<PaywallChallenge | PaywallPaid> {
    const v2Header = req.headers['payment-signature'];
    const v1Header = v2Header === undefined ? req.headers['x-payment'] : undefined;
    const header = v2Header ?? v1Header;
    if (header === undefined || header === '') return challenge(req, 'payment_required', 'this resource needs a payment');

    const read = readProof(header, v2Header !== undefined ? 'PAYMENT-SIGNATURE' : 'X-PAYMENT');
    if (!read.ok) return challenge(req, read.reason, read.detail);
    const { proof } = read;
    if (proof.scheme === 'exact' && proof.version === 2 && facilitator && exactEntry) return payExact(req, header, facilitator, exactEntry);
    if (proof.scheme !== 'tollway')
      return challenge(req, 'unsupported_scheme', `the ${proof.scheme} scheme is not settled here; pay with tollway`);
    const token = proof.payload.receipt;
    if (typeof token !== 'string') return challenge(req, 'malformed_proof', 'payload.receipt is missing');

    const t = now();
    const check = await verifyReceipt(token, keys, {
      issuer,
      merchantId: spec.merchantId,
      asset: spec.asset,
      price,
      now: t,
      clockToleranceSeconds: tolerance,
    });
    if (!check.ok) return challenge(req, check.reason, check.detail);
    const claims = check.claims;

    if (!claims.rqh) return challenge(req, 'binding_mismatch', 'the receipt is not bound to a request');
    const bodyHash = bind.includes('body') ? sha256Hex(await bodyOf(req)) : undefined;
    const expected = await requestHash({ method: req.method, url: resourceUrl(req), ...(bodyHash ? { bodyHash } : {}) }, bind);
    if (expected !== claims.rqh)
      return challenge(req, 'binding_mismatch', `the receipt is for another request (${bind.join(', ')} must match)`);

    if (reuse === 'single') {
      const fresh = await store.claim(`${claims.iss}#${claims.sub}`, (claims.exp + tolerance) * 1000);
      if (!fresh) return challenge(req, 'replayed', 'this receipt was already used');
    } else if (t >= (claims.iat + reuse.windowSeconds) * 1000) {
      return challenge(req, 'window_elapsed', `the access pass lasted ${reuse.windowSeconds} s after payment`);
    }

    const answer = encodePaymentResponse({ success: true, transaction: claims.sub, network, amount: claims.amt });
    const paid: PaywallPaid = {
      kind: 'paid',
      locals: {
        transaction: claims.sub,
        amount: claims.amt,
        asset: claims.asset,
        rail: claims.rail,
        network,
        reuse,
        receipt: claims,
      } satisfies PaidRequest,
      responseHeaders: {
        // Paid content must not reach the next visitor from a shared cache; the route may still override.
        'Cache-Control': 'private',
        Vary: 'PAYMENT-SIGNATURE, X-PAYMENT',
        'PAYMENT-RESPONSE': answer,
        ...(proof.version === 1 ? { 'X-PAYMENT-RESPONSE': answer } : {}),
        'Access-Control-Expose-Headers': proof.version === 1 ? 'PAYMENT-RESPONSE, X-PAYMENT-RESPONSE' : 'PAYMENT-RESPONSE',
      },
    };
    const auto = opts.refundOnError;
    if (auto && reuse === 'single') {
      paid.finished = (status) => {
        if (status >= 400) void refundAfterFailure(hub, claims.sub, auto);
      };
    }
    return paid;
  }

  /**
   * An x402 `exact` payment, in the reference middleware's order: verify, run the route with its
   * answer held back, settle only if it answered < 400, then send it with PAYMENT-RESPONSE.
   */
  async function payExact(
    req: PaywallRequest<N>,
    header: string,
    f: Facilitator,
    entry: PaymentOption,
  ): Promise<PaywallChallenge | PaywallPaid> {
    const read = readPaymentDocument(header);
    if (!read) return challenge(req, 'malformed_proof', 'PAYMENT-SIGNATURE is not an x402 version 2 payment payload');
    const a = read.accepted;
    const same = (x: string, y: string) => x.toLowerCase() === y.toLowerCase();
    if (a.network !== entry.network || a.amount !== entry.amount || !same(a.asset, entry.asset) || !same(a.payTo, entry.payTo)) {
      return challenge(
        req,
        'no_matching_requirements',
        'the payment is not for this route: network, amount, asset and payTo must be those of its exact entry',
      );
    }
    // Our own entry, never the payer's echo of it, is what the payment is checked against.
    const requirements = entry as Record<string, unknown>;
    const verified = await f.verify(read.document, requirements);
    if (!verified.isValid)
      return challenge(req, verified.invalidReason ?? 'invalid_payment', verified.invalidMessage ?? 'the facilitator refused the payment');

    // Two requests carrying the same payment could both verify before either settles, and a
    // facilitator answers a repeated settle with the first result: only one may have the route.
    const auth = authorizationOf(read.document);
    if (!auth) return challenge(req, 'malformed_proof', 'payload.authorization is missing');
    const validBefore = Number(auth.validBefore);
    const expiresAt = Number.isFinite(validBefore) ? validBefore * 1000 + tolerance * 1000 : now() + spec.maxTimeoutSeconds * 1000;
    if (!(await store.claim(`exact:${entry.network}:${entry.asset}:${auth.from}:${auth.nonce}`.toLowerCase(), expiresAt))) {
      return challenge(req, 'replayed', 'this payment was already used');
    }

    const payer = verified.payer ?? auth.from;
    const locals: PaidExactRequest = {
      rail: 'exact',
      transaction: '',
      amount: entry.amount,
      asset: spec.asset,
      network: entry.network,
      payer,
      reuse: 'single',
      receipt: null,
    };
    let settling: Promise<PaywallDeliver | PaywallChallenge> | undefined;
    const settle = async (routeStatus: number): Promise<PaywallDeliver | PaywallChallenge> => {
      if (routeStatus >= 400) return { kind: 'deliver', headers: {} }; // a failed route costs nothing
      let settled;
      try {
        settled = await f.settle(read.document, requirements);
        // Sent but not yet mined when the facilitator answered: ask once more, as the reference
        // resource server does, before withholding content the payer may have paid for.
        if (!settled.success && settled.errorReason === 'settlement_pending' && settled.transaction)
          settled = await f.settle(read.document, requirements);
      } catch (err) {
        const p = problemFor(err);
        if (p) return p;
        throw err;
      }
      if (!settled.success)
        return challenge(
          req,
          settled.errorReason ?? 'settlement_failed',
          settled.errorMessage ?? 'the facilitator could not settle the payment',
        );
      locals.transaction = settled.transaction;
      const answer = encodePaymentResponse({
        success: true,
        transaction: settled.transaction,
        network: settled.network,
        payer: settled.payer ?? payer,
        amount: entry.amount,
      });
      return { kind: 'deliver', headers: { 'PAYMENT-RESPONSE': answer, 'Access-Control-Expose-Headers': 'PAYMENT-RESPONSE' } };
    };
    return {
      kind: 'paid',
      locals,
      responseHeaders: { 'Cache-Control': 'private', Vary: 'PAYMENT-SIGNATURE, X-PAYMENT' },
      // Once per payment, whatever an adapter does.
      settle: (status) => (settling ??= settle(status)),
    };
  }

  const info: PaywallInfo = Object.freeze({
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
  });

  return {
    info,
    async handle(req) {
      try {
        return await handle(req);
      } catch (err) {
        const p = problemFor(err);
        if (p) return p;
        throw err;
      }
    },
  };
}

function authorizationOf(doc: Record<string, unknown>): { from: string; nonce: string; validBefore: string } | undefined {
  const payload = doc.payload as { authorization?: Record<string, unknown> } | undefined;
  const a = payload?.authorization;
  if (!a || typeof a.from !== 'string' || typeof a.nonce !== 'string' || typeof a.validBefore !== 'string') return undefined;
  return { from: a.from, nonce: a.nonce, validBefore: a.validBefore };
}

/** Checks the options once, at start, so a typo fails loudly instead of at the first request. */
function validate(opts: PaywallCoreOptions<never>): ChallengeSpec & { facilitator?: Facilitator } {
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
  if (opts.lightning) {
    if (opts.asset !== 'BTC') fail('lightning invoices are in BTC: set asset to BTC (price in msat)');
    if (!opts.apiKey || typeof opts.apiKey !== 'string') fail("lightning needs apiKey: the merchant's API key at the hub");
  }
  if (opts.interledger !== undefined) {
    let u: URL | undefined;
    try {
      u = new URL(opts.interledger.walletAddress);
    } catch {}
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) fail('interledger.walletAddress must be an http(s) wallet address URL');
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
    ...(opts.interledger ? { interledger: { walletAddress: opts.interledger.walletAddress } } : {}),
  };
}
