/**
 * The kit on Hono (v4): the same framework-neutral cores as the Express middlewares, mapped onto
 * Hono's context. Same options, same challenges, same checks.
 *
 * - `paywallHono()` (./paywall-core.ts): the route reads the payment with `c.get('tollway')`.
 * - `l402Hono()` (./l402-core.ts): `c.get('l402')`.
 * - `paymentSchemeHono()` (./payment-scheme-core.ts): `c.get('payment')`, and the answer carries `Payment-Receipt`.
 * - `offerHono({x402, l402, payment})` (./offer-core.ts): several of them in one 402.
 * - `priceListHono(app)`: price discovery (./discovery.ts) of a Hono app's routes.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { l402Hono, offerHono, paymentSchemeHono, paywallHono, priceListHono } from './merchant/hono.js';
 *
 * const app = new Hono();
 * app.get('/article/:id', paywallHono({ hub, merchantId, price: '1500', asset: 'SOVR' }), (c) =>
 *   c.text(`paid by ${c.get('tollway').transaction}`));
 * app.get('/api/quote', l402Hono({ node, price: 2000n, service: 'quotes', validSeconds: 3600, rootKeySecret }), (c) =>
 *   c.json({ quote: 42, paid: c.get('l402') }));
 * app.get('/.well-known/tollway.json', priceListHono(app));
 * ```
 *
 * A `body` binding reads the body through Hono (`c.req.arrayBuffer()`'s cache), so the route can
 * still call `c.req.json()`. With `facilitator`, an x402 `exact` payment is settled after the
 * route answered < 400 and before its answer leaves; a settlement that fails replaces the answer
 * with a fresh 402 that carries only the paywall's headers (none of the route's cookies).
 *
 * The rate limits of l402 and the Payment scheme key on the client's address, which Hono knows only
 * on @hono/node-server (`c.env.incoming`); on other runtimes, or behind a proxy, give `rateLimit.key`.
 */
import type { IncomingMessage } from 'node:http';
import type { Context, Handler, MiddlewareHandler } from 'hono';
import { BodyTooLargeError } from './body.js';
import { type CorePaid, type CoreRequest, KIT_CORE, withCore } from './core-contract.js';
import { describeRoutes, type RouteSource } from './discovery.js';
import { L402_INFO, type L402CoreOptions, type L402Info, type L402Paid, l402Core } from './l402-core.js';
import { OFFER_INFO, type OfferInfo, offerCore } from './offer-core.js';
import {
  LIST_HEADERS,
  paywallCore,
  type PaidExactRequest,
  type PaidRequest,
  type PaywallChallenge,
  type PaywallCoreOptions,
  type PaywallHeaders,
  type PaywallInfo,
} from './paywall-core.js';
import {
  PAYMENT_SCHEME_INFO,
  type PaymentSchemeCoreOptions,
  type PaymentSchemeInfo,
  type PaymentSchemePaid,
  paymentSchemeCore,
} from './payment-scheme-core.js';
import { clientKeyOf } from './rate-limit.js';

/** The paywall's options; `teaser` and `resourceUrl` get the Hono context. */
export type PaywallHonoOptions = PaywallCoreOptions<Context>;

export type PaywallHonoEnv = { Variables: { tollway: PaidRequest | PaidExactRequest } };

export type HonoPaywall = MiddlewareHandler<PaywallHonoEnv> & { readonly tollway: PaywallInfo };

export function paywallHono(opts: PaywallHonoOptions): HonoPaywall {
  const core = paywallCore<Context>(opts);

  const middleware: MiddlewareHandler<PaywallHonoEnv> = async (c, next) => {
    const answer = await core.handle(honoCoreRequest(c));
    if (answer.kind === 'challenge') return respond(c, answer);

    c.set('tollway', answer.locals);
    await next(); // a route that throws has its onError answer in c.res by now

    let extra: PaywallHeaders = answer.responseHeaders;
    if (answer.settle) {
      const settled = await answer.settle(c.res.status);
      if (settled.kind === 'challenge') {
        c.res = undefined; // drop the route's answer and its headers (Hono would copy them over)
        c.res = challengeResponse(settled);
        return;
      }
      extra = { ...extra, ...settled.headers };
    }
    c.res = withHeaders(c.res, extra);
    answer.finished?.(c.res.status);
  };

  Object.defineProperty(middleware, KIT_CORE, { value: core }); // for offerHono()
  return Object.defineProperty(middleware, 'tollway', { value: core.info, enumerable: true }) as HonoPaywall;
}

/** l402()'s options; `memo` and the rate limit's `key` get the Hono context. */
export type L402HonoOptions = L402CoreOptions<Context>;
export type L402HonoEnv = { Variables: { l402: L402Paid } };
export type HonoL402 = MiddlewareHandler<L402HonoEnv> & { readonly [L402_INFO]: L402Info };

/** L402 (./l402.ts has what the tokens carry): the route runs with `c.get('l402')` for a good credential. */
export function l402Hono(opts: L402HonoOptions): HonoL402 {
  const core = l402Core(opts, { clientKey: honoClientKey });
  const middleware: MiddlewareHandler<L402HonoEnv> = async (c, next) => {
    const answer = await core.handle(honoCoreRequest(c));
    if (answer.kind === 'challenge') return respond(c, answer);
    await runPaid(c, next, 'l402', answer);
  };
  return withCore(middleware, core, L402_INFO, core.info) as HonoL402;
}

/** paymentScheme()'s options; `realm`, `routeKey` and the rate limit's `key` get the Hono context. */
export type PaymentSchemeHonoOptions = PaymentSchemeCoreOptions<Context>;
export type PaymentSchemeHonoEnv = { Variables: { payment: PaymentSchemePaid } };
export type HonoPaymentScheme = MiddlewareHandler<PaymentSchemeHonoEnv> & { readonly [PAYMENT_SCHEME_INFO]: PaymentSchemeInfo };

/** The "Payment" scheme (./payment-scheme.ts has the wire): the route runs with `c.get('payment')` for a good credential. */
export function paymentSchemeHono(opts: PaymentSchemeHonoOptions): HonoPaymentScheme {
  const core = paymentSchemeCore(opts, { clientKey: honoClientKey });
  const middleware: MiddlewareHandler<PaymentSchemeHonoEnv> = async (c, next) => {
    const answer = await core.handle(honoCoreRequest(c));
    if (answer.kind === 'challenge') return respond(c, answer);
    await runPaid(c, next, 'payment', answer);
  };
  return withCore(middleware, core, PAYMENT_SCHEME_INFO, core.info) as HonoPaymentScheme;
}

export interface OfferHonoOptions {
  /** A `paywallHono()`. */
  x402?: HonoPaywall;
  /** An `l402Hono()`. */
  l402?: HonoL402;
  /** A `paymentSchemeHono()`. */
  payment?: HonoPaymentScheme;
}

/** Whichever paid: `c.get('tollway')`, `c.get('l402')` or `c.get('payment')`. */
export type OfferHonoEnv = {
  Variables: { tollway: PaidRequest | PaidExactRequest; l402: L402Paid; payment: PaymentSchemePaid };
};
export type HonoOffer = MiddlewareHandler<OfferHonoEnv> & { readonly [OFFER_INFO]: OfferInfo };

/**
 * Several ways to pay in one 402, as `offer()` (./offer.ts) on Express: a credential goes to the
 * one middleware it is for; a request with none gets every challenge at once.
 */
export function offerHono(opts: OfferHonoOptions): HonoOffer {
  const core = offerCore<Context>(opts);
  const middleware: MiddlewareHandler<OfferHonoEnv> = async (c, next) => {
    const dialect = core.credentialFor({
      authorization: c.req.header('authorization'),
      'payment-signature': c.req.header('payment-signature'),
      'x-payment': c.req.header('x-payment'),
    });
    if (dialect) return (opts[dialect] as unknown as MiddlewareHandler<OfferHonoEnv>)(c, next);
    return respond(c, await core.challenge(honoCoreRequest(c)));
  };
  return Object.defineProperty(middleware, OFFER_INFO, { value: core.info, enumerable: true }) as HonoOffer;
}

/**
 * A handler serving price discovery for a Hono app (its `app.routes`, read at each request) or an
 * explicit list, e.g. at `/.well-known/tollway.json`.
 */
export function priceListHono(source: RouteSource): Handler {
  return (c) => {
    c.header('Cache-Control', 'public, max-age=60');
    return c.json(describeRoutes(source));
  };
}

/** The request as the cores take it. */
function honoCoreRequest(c: Context): CoreRequest<Context> {
  const url = new URL(c.req.url);
  const headers: Record<string, string> = {};
  c.req.raw.headers.forEach((value, name) => {
    headers[name] = value;
  });
  const ip = incomingOf(c)?.socket?.remoteAddress;
  return {
    method: c.req.method,
    url: url.pathname + url.search,
    headers,
    body: (limit) => readBody(c, limit),
    protocol: url.protocol.replace(/:$/, ''),
    ...(ip ? { ip } : {}),
    native: c,
  };
}

/** @hono/node-server's request, when the app runs on it. */
const incomingOf = (c: Context): IncomingMessage | undefined => (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;

/** The client's address (IPv6 by its /64), as l402ClientKey for Express. */
export const honoClientKey = (c: Context): string => clientKeyOf(incomingOf(c)?.socket?.remoteAddress);

/** Runs the route with `locals` under `name`, then adds the core's headers to its answer. */
async function runPaid<L>(c: Context, next: () => Promise<void>, name: string, answer: CorePaid<L>): Promise<void> {
  c.set(name as never, answer.locals as never);
  await next(); // a route that throws has its onError answer in c.res by now
  c.res = withHeaders(c.res, answer.responseHeaders);
}

/** The challenge through the context, keeping headers set before the paywall ran (CORS, …). */
function respond(c: Context, answer: PaywallChallenge): Response {
  for (const [name, value] of Object.entries(answer.headers))
    c.header(name, value, LIST_HEADERS.has(name.toLowerCase()) ? { append: true } : undefined);
  c.status(answer.status as Parameters<Context['status']>[0]);
  if (answer.html !== undefined) return c.html(answer.html);
  c.header('Content-Type', `${answer.contentType}; charset=UTF-8`);
  return c.body(JSON.stringify(answer.body));
}

function challengeResponse(answer: PaywallChallenge): Response {
  const headers = new Headers(answer.headers);
  headers.set('Content-Type', answer.html !== undefined ? 'text/html; charset=UTF-8' : `${answer.contentType}; charset=UTF-8`);
  return new Response(answer.html ?? JSON.stringify(answer.body), { status: answer.status, headers });
}

/**
 * The route's answer with the paywall's headers: list headers (Vary, …) added to, Cache-Control
 * only where the route set none (it may override, as with Express), the others set.
 */
function withHeaders(res: Response, add: PaywallHeaders): Response {
  const out = new Response(res.body, res); // the route's headers may be immutable (a fetch() answer)
  for (const [name, value] of Object.entries(add)) {
    const lower = name.toLowerCase();
    if (LIST_HEADERS.has(lower)) {
      const current = out.headers.get(name);
      const have = new Set((current ?? '').split(',').map((s) => s.trim().toLowerCase()));
      const missing = value
        .split(',')
        .map((s) => s.trim())
        .filter((v) => v && !have.has(v.toLowerCase()));
      if (missing.length) out.headers.set(name, current ? `${current}, ${missing.join(', ')}` : missing.join(', '));
    } else if (lower === 'cache-control') {
      if (!out.headers.has(name)) out.headers.set(name, value);
    } else out.headers.set(name, value);
  }
  return out;
}

/** Reads the body once, up to the limit, into Hono's body cache so the route can still read it. */
async function readBody(c: Context, limit: number): Promise<Uint8Array> {
  const declared = Number(c.req.header('content-length'));
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLargeError(`request body over ${limit} bytes`);
  const cache = c.req.bodyCache as Record<string, Promise<unknown> | undefined>;
  if (Object.keys(cache).length > 0 || !c.req.raw.body) return new Uint8Array(await c.req.arrayBuffer());
  const reader = c.req.raw.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new BodyTooLargeError(`request body over ${limit} bytes`);
    }
    chunks.push(value);
  }
  const buf = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    buf.set(chunk, at);
    at += chunk.byteLength;
  }
  cache.arrayBuffer = Promise.resolve(buf.buffer);
  return buf;
}
