/**
 * Price discovery: which routes cost what, without triggering a 402. `describeRoutes` walks an
 * Express app or router (Express 5, and Express 4 as far as its mount paths can be read back), a
 * Hono app (its `routes`), or takes an explicit list; `openApiPaths` turns the same list into
 * OpenAPI `paths` with an `x-payment` extension per operation; `priceList` (Express) and
 * `priceListHono` (./hono.ts) serve the JSON, e.g. at `/.well-known/tollway.json`.
 *
 * Every way the kit asks for payment is listed: paywall() routes as they always were (no
 * `protocol`: x402 with Tollway receipts), l402() ones marked `protocol: "l402"`, paymentScheme()
 * ones `protocol: "payment"`, and an offer() route once, `protocol: "offer"`, with what each of
 * its dialects costs under `offers`. The middlewares are recognised by the info they carry, the
 * same for Express and Hono.
 */
import { METHODS } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import { L402_INFO, type L402Info } from './l402-core.js';
import { PAYWALL_INFO, type Paywall, type PaywallInfo, type Reuse } from './middleware.js';
import { OFFER_INFO, type OfferDialect, type OfferInfo } from './offer-core.js';
import { PAYMENT_SCHEME_INFO, type PaymentSchemeInfo } from './payment-scheme-core.js';

/** A paywall() route (x402 with Tollway receipts). */
export interface X402PaidRoute {
  /** Upper-case HTTP method, or `*` for a paywall mounted with `app.use`. */
  method: string;
  /** Express path pattern, e.g. `/article/:id`. */
  path: string;
  price: { amount: string; asset: string };
  description: string;
  mimeType: string;
  hub: string;
  merchantId: string;
  network: string;
  schemes: string[];
  bind: string[];
  reuse: Reuse;
}

/** An l402() route: pay its Lightning invoice, then `Authorization: L402 <macaroon>:<preimage>`. */
export interface L402PaidRoute {
  protocol: 'l402';
  method: string;
  path: string;
  /** Millisatoshi, asset BTC. */
  price: { amount: string; asset: 'BTC' };
  description: string;
  service: string;
  tier: number;
  /** How long a paid token opens the route. */
  validSeconds: number;
  capabilities: string[];
  /** The prefix a token opens; absent: the path that was paid for. */
  pathPrefix?: string;
  /** The request parts a token is bound to (`bind`, as receipts). */
  bind: string[];
  /** `single`: a token opens one request; otherwise any number until it expires. */
  reuse: Reuse;
}

/** A paymentScheme() route: pay the challenge's invoice, then `Authorization: Payment <credential>`. */
export interface PaymentPaidRoute {
  protocol: 'payment';
  method: string;
  path: string;
  /** Millisatoshi (a whole number of sats), asset BTC. */
  price: { amount: string; asset: 'BTC' };
  description: string;
  /** The charge's payment method and intent, as the challenge names them. */
  paymentMethod: 'lightning';
  intent: 'charge';
  /** How long a challenge (and its invoice) can be paid. */
  expiresSeconds: number;
}

/** An offer() route: one 402 carrying each of `dialects`; `offers` says what each costs. */
export interface OfferPaidRoute {
  protocol: 'offer';
  method: string;
  path: string;
  /** The x402 entry's price when there is one, else the first dialect's; each dialect's own is in `offers`. */
  price: { amount: string; asset: string };
  description: string;
  /** In the order their challenges are sent: payment, l402, x402. */
  dialects: OfferDialect[];
  offers: { payment?: PaymentPaidRoute; l402?: L402PaidRoute; x402?: X402PaidRoute };
}

export type PaidRoute = X402PaidRoute | L402PaidRoute | PaymentPaidRoute | OfferPaidRoute;

export interface PriceList {
  tollway: 1;
  routes: PaidRoute[];
}

export type RouteSource = unknown | readonly { method: string; path: string; paywall: Paywall | PaywallInfo | RequestHandler }[];

interface LayerLike {
  handle?: unknown;
  route?: { path?: unknown; stack?: LayerLike[]; methods?: Record<string, boolean> };
  method?: string;
  rawPath?: unknown;
  regexp?: RegExp & { fast_slash?: boolean };
  name?: string;
}

const ALL_METHODS = METHODS.filter((m) => m !== 'CONNECT');

/** A middleware's info with what it is for; one object per info, so that walk() groups one middleware under several methods. */
type RouteInfo =
  | { kind: 'x402'; info: PaywallInfo }
  | { kind: 'l402'; info: L402Info }
  | { kind: 'payment'; info: PaymentSchemeInfo }
  | { kind: 'offer'; info: OfferInfo };

const KINDS = [
  ['offer', OFFER_INFO],
  ['payment', PAYMENT_SCHEME_INFO],
  ['l402', L402_INFO],
  ['x402', PAYWALL_INFO],
] as const;
const tagged = new WeakMap<object, RouteInfo>();

const infoOf = (fn: unknown): RouteInfo | undefined => {
  if (typeof fn !== 'function') return undefined;
  for (const [kind, key] of KINDS) {
    if (!(key in fn)) continue;
    const info = (fn as unknown as Record<string, object>)[key]!;
    let t = tagged.get(info);
    if (!t) tagged.set(info, (t = { kind, info } as RouteInfo));
    return t;
  }
  return undefined;
};

function x402Route(method: string, path: string, info: PaywallInfo): X402PaidRoute {
  return {
    method,
    path,
    price: { amount: info.price, asset: info.asset },
    description: info.description,
    mimeType: info.mimeType,
    hub: info.hub,
    merchantId: info.merchantId,
    network: info.network,
    schemes: [...info.schemes],
    bind: [...info.bind],
    reuse: info.reuse,
  };
}

function l402Route(method: string, path: string, info: L402Info): L402PaidRoute {
  return {
    protocol: 'l402',
    method,
    path,
    price: { amount: info.price, asset: 'BTC' },
    description: info.description,
    service: info.service,
    tier: info.tier,
    validSeconds: info.validSeconds,
    capabilities: [...info.capabilities],
    ...(info.pathPrefix !== undefined ? { pathPrefix: info.pathPrefix } : {}),
    bind: [...info.bind],
    reuse: info.singleUse ? 'single' : { windowSeconds: info.validSeconds },
  };
}

function paymentRoute(method: string, path: string, info: PaymentSchemeInfo): PaymentPaidRoute {
  return {
    protocol: 'payment',
    method,
    path,
    price: { amount: info.price, asset: info.asset },
    description: info.description,
    paymentMethod: info.method,
    intent: info.intent,
    expiresSeconds: info.expiresSeconds,
  };
}

function offerRoute(method: string, path: string, info: OfferInfo): OfferPaidRoute {
  const offers: OfferPaidRoute['offers'] = {};
  if (info.payment) offers.payment = paymentRoute(method, path, info.payment);
  if (info.l402) offers.l402 = l402Route(method, path, info.l402);
  if (info.x402) offers.x402 = x402Route(method, path, info.x402);
  const description = [info.x402, info.l402, info.payment].find((i) => i?.description)?.description ?? '';
  const headline = offers.x402 ?? offers[info.dialects[0]!]!;
  return { protocol: 'offer', method, path, price: { ...headline.price }, description, dialects: [...info.dialects], offers };
}

function toRoute(method: string, path: string, r: RouteInfo): PaidRoute {
  const m = method.toUpperCase();
  switch (r.kind) {
    case 'x402':
      return x402Route(m, path, r.info);
    case 'l402':
      return l402Route(m, path, r.info);
    case 'payment':
      return paymentRoute(m, path, r.info);
    case 'offer':
      return offerRoute(m, path, r.info);
  }
}

const joinPath = (prefix: string, path: string): string => {
  const joined = `${prefix.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
  return joined.length > 1 ? joined.replace(/\/+$/, '') || '/' : '/';
};

/** The mount path of a `use` layer: Express 5 keeps it; Express 4 only has a regexp to read back. */
function mountPath(layer: LayerLike): string | undefined {
  if (typeof layer.rawPath === 'string') return layer.rawPath;
  const re = layer.regexp;
  if (!re) return undefined;
  if (re.fast_slash) return '/';
  // Express 4 (path-to-regexp 0.1): ^\/api\/?(?=\/|$)
  const m = /^\^((?:\\\/[A-Za-z0-9_.~-]+)+)\\\/\?\(\?=\\\/\|\$\)$/i.exec(re.source);
  return m ? m[1]!.replace(/\\\//g, '/') : undefined;
}

function stackOf(source: unknown): LayerLike[] | undefined {
  const s = source as { stack?: unknown; router?: { stack?: unknown }; _router?: { stack?: unknown } } | undefined;
  if (!s || (typeof s !== 'function' && typeof s !== 'object')) return undefined;
  if (Array.isArray(s.stack)) return s.stack as LayerLike[];
  // Express 4 keeps the router at _router; Express 5 creates app.router lazily on first access.
  if (s._router && Array.isArray(s._router.stack)) return s._router.stack as LayerLike[];
  if ('router' in s && s.router && Array.isArray(s.router.stack)) return s.router.stack as LayerLike[];
  return undefined;
}

function walk(stack: LayerLike[], prefix: string, out: PaidRoute[], depth: number): void {
  if (depth > 16) return;
  for (const layer of stack) {
    if (layer.route) {
      const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
      // One paywall may sit under several methods (Express 5's app.all adds a layer per method).
      const byPaywall = new Map<RouteInfo, Set<string>>();
      for (const inner of layer.route.stack ?? []) {
        const info = infoOf(inner.handle);
        if (!info) continue;
        const set = byPaywall.get(info) ?? new Set<string>();
        byPaywall.set(info, set);
        const methods = inner.method ? [inner.method] : Object.keys(layer.route.methods ?? {}).filter((m) => m !== '_all');
        if (!methods.length || layer.route.methods?._all) set.add('*');
        for (const m of methods) set.add(m.toUpperCase());
      }
      for (const [info, set] of byPaywall) {
        const methods = set.has('*') || ALL_METHODS.every((m) => set.has(m)) ? ['*'] : [...set];
        for (const p of paths) {
          if (typeof p !== 'string') continue;
          for (const m of methods) out.push(toRoute(m, joinPath(prefix, p), info));
        }
      }
      continue;
    }
    const info = infoOf(layer.handle);
    const mount = mountPath(layer);
    if (info) {
      if (mount !== undefined) out.push(toRoute('*', joinPath(prefix, mount === '/' ? '/*' : `${mount}/*`), info));
      continue;
    }
    const inner = stackOf(layer.handle);
    if (inner && mount !== undefined) walk(inner, joinPath(prefix, mount), out, depth + 1);
  }
}

/** A Hono app's routes (`app.routes`: each handler and middleware with its method and full path), or undefined. */
function honoRoutes(source: unknown): { method: string; path: string; handler: unknown }[] | undefined {
  const routes = (source as { routes?: unknown } | undefined)?.routes;
  if (!Array.isArray(routes) || stackOf(source)) return undefined;
  const ok = routes.every((r) => r && typeof r.method === 'string' && typeof r.path === 'string' && 'handler' in r);
  return ok ? (routes as { method: string; path: string; handler: unknown }[]) : undefined;
}

/** Hono lists a middleware once per route it guards; `ALL` (app.use, app.all) is any method. */
function walkHono(routes: { method: string; path: string; handler: unknown }[], out: PaidRoute[]): void {
  const seen = new Map<RouteInfo, Set<string>>();
  for (const r of routes) {
    const info = infoOf(r.handler);
    if (!info) continue;
    const method = r.method.toUpperCase() === 'ALL' ? '*' : r.method;
    const mine = seen.get(info) ?? new Set<string>();
    seen.set(info, mine);
    if (mine.has(`${method} ${r.path}`)) continue;
    mine.add(`${method} ${r.path}`);
    out.push(toRoute(method, r.path, info));
  }
}

/** Every paid route of an Express app or router, a Hono app, or an explicit list. */
export function describeRoutes(source: RouteSource): PriceList {
  const routes: PaidRoute[] = [];
  if (Array.isArray(source)) {
    for (const r of source as { method: string; path: string; paywall: Paywall | PaywallInfo | RequestHandler }[]) {
      const info = infoOf(r.paywall) ?? { kind: 'x402' as const, info: r.paywall as PaywallInfo };
      routes.push(toRoute(r.method, r.path, info));
    }
  } else {
    const hono = honoRoutes(source);
    const stack = hono ? undefined : stackOf(source);
    if (hono) walkHono(hono, routes);
    else if (stack) walk(stack, '/', routes, 0);
    else throw new TypeError('describeRoutes: pass an Express app, a Router, a Hono app, or a list of {method, path, paywall}');
  }
  return { tollway: 1, routes };
}

/** `/article/:id` → `/article/{id}`. */
const openApiPath = (p: string): string => p.replace(/:([A-Za-z0-9_]+)\??/g, '{$1}');

/**
 * OpenAPI `paths` for the paid routes: each operation carries `x-payment` (what a payment costs and
 * where to pay) and a documented 402 answer. Merge it into the site's own document.
 */
export function openApiPaths(source: RouteSource): Record<string, Record<string, unknown>> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of describeRoutes(source).routes) {
    const methods = r.method === '*' ? ['get', 'post', 'put', 'patch', 'delete'] : [r.method.toLowerCase()];
    const item = (paths[openApiPath(r.path)] ??= {});
    for (const m of methods) item[m] = operation(r);
  }
  return paths;
}

function operation(r: PaidRoute): Record<string, unknown> {
  if (!('protocol' in r)) return x402Operation(r);
  switch (r.protocol) {
    case 'l402':
      return l402Operation(r);
    case 'payment':
      return paymentOperation(r);
    case 'offer':
      return offerOperation(r);
  }
}

/** One operation offering several dialects: each one's x-payment under `offers`, the 402 carrying every challenge. */
function offerOperation(r: OfferPaidRoute): Record<string, unknown> {
  const parts = r.dialects.map((d) => ({ dialect: d, op: operation(r.offers[d]!) as OperationLike }));
  const headers: Record<string, unknown> = {};
  const responses: Record<string, unknown> = {};
  for (const { op } of parts) {
    for (const [status, answer] of Object.entries(op.responses)) {
      if (status === '402') Object.assign(headers, answer.headers);
      else responses[status] ??= answer;
    }
  }
  if (headers['WWW-Authenticate'])
    headers['WWW-Authenticate'] = {
      description: `One challenge per Lightning dialect (${r.dialects.filter((d) => d !== 'x402').join(', ')}), comma-joined, Payment first`,
      schema: { type: 'string' },
    };
  return {
    ...(r.description ? { summary: r.description } : {}),
    'x-payment': {
      protocol: 'offer',
      dialects: r.dialects,
      offers: Object.fromEntries(parts.map(({ dialect, op }) => [dialect, op['x-payment']])),
    },
    responses: {
      ...responses,
      '402': {
        description: `Payment required, in any of ${r.dialects.join(', ')}: ${r.dialects.map((d) => `${r.offers[d]!.price.amount} ${r.offers[d]!.price.asset}`).join(' / ')} (base units). Retry with the credential of the one paid.`,
        headers,
      },
    },
  };
}

type OperationLike = { 'x-payment': unknown; responses: Record<string, { headers: Record<string, unknown> }> };

function paymentOperation(r: PaymentPaidRoute): Record<string, unknown> {
  return {
    ...(r.description ? { summary: r.description } : {}),
    'x-payment': {
      protocol: 'payment',
      amount: r.price.amount,
      asset: 'BTC',
      unit: 'msat',
      method: r.paymentMethod,
      intent: r.intent,
      expiresSeconds: r.expiresSeconds,
    },
    responses: {
      '402': {
        description: `Payment required: a Lightning invoice for ${r.price.amount} msat; pay it, then retry with Authorization: Payment <base64url credential: the challenge echoed, payload.preimage>. A refused credential is a 402 with a fresh challenge and a paymentauth.org problem.`,
        headers: {
          'WWW-Authenticate': {
            description:
              'Payment id="…", realm="…", method="lightning", intent="charge", request="<base64url JSON {amount, currency: sat, methodDetails: {invoice, paymentHash, network}}>", expires="…"',
            schema: { type: 'string' },
          },
        },
      },
    },
  };
}

function x402Operation(r: X402PaidRoute): Record<string, unknown> {
  return {
    ...(r.description ? { summary: r.description } : {}),
    'x-payment': {
      protocol: 'x402',
      x402Version: 2,
      schemes: r.schemes,
      network: r.network,
      amount: r.price.amount,
      asset: r.price.asset,
      payTo: r.merchantId,
      hub: r.hub,
      bind: r.bind,
      reuse: r.reuse,
    },
    responses: {
      '402': {
        description: `Payment required: ${r.price.amount} ${r.price.asset} (base units). The challenge is in the PAYMENT-REQUIRED header; retry with PAYMENT-SIGNATURE.`,
        headers: {
          'PAYMENT-REQUIRED': { description: 'base64 of the x402 version 2 PaymentRequired document', schema: { type: 'string' } },
        },
      },
    },
  };
}

function l402Operation(r: L402PaidRoute): Record<string, unknown> {
  const answer = (description: string) => ({
    description,
    headers: {
      'WWW-Authenticate': {
        description: 'L402 version="0", token="<base64 macaroon>", macaroon="<the same>", invoice="<BOLT 11>"',
        schema: { type: 'string' },
      },
    },
  });
  return {
    ...(r.description ? { summary: r.description } : {}),
    'x-payment': {
      protocol: 'l402',
      amount: r.price.amount,
      asset: 'BTC',
      unit: 'msat',
      service: r.service,
      tier: r.tier,
      validSeconds: r.validSeconds,
      ...(r.capabilities.length ? { capabilities: r.capabilities } : {}),
      ...(r.pathPrefix !== undefined ? { pathPrefix: r.pathPrefix } : {}),
      bind: r.bind,
      reuse: r.reuse,
    },
    responses: {
      '402': answer(
        `Payment required: a Lightning invoice for ${r.price.amount} msat; pay it, then retry with Authorization: L402 <macaroon>:<preimage>.`,
      ),
      '401': answer('The L402 credential was refused (wrong preimage, caveat not met, spent); a fresh challenge is attached.'),
    },
  };
}

/** A handler serving `describeRoutes(source)`; read at each request, so routes added later show up. */
export function priceList(source: RouteSource): RequestHandler {
  return (_req: Request, res: Response) => {
    res.setHeader('Cache-Control', 'public, max-age=60');
    res.json(describeRoutes(source));
  };
}
