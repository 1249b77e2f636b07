/**
 * Price discovery: which routes cost what, without triggering a 402. `describeRoutes` walks an
 * Express app or router (Express 5, and Express 4 as far as its mount paths can be read back) or
 * takes an explicit list; `openApiPaths` turns the same list into OpenAPI `paths` with an
 * `x-payment` extension per operation; `priceList` serves the JSON, e.g. at
 * `/.well-known/tollway.json`. Routes behind l402() are listed beside paywall() ones, marked
 * `protocol: "l402"`.
 */
import { METHODS } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import { L402_INFO, type L402Info } from './l402.js';
import { PAYWALL_INFO, type Paywall, type PaywallInfo, type Reuse } from './middleware.js';

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

export type PaidRoute = X402PaidRoute | L402PaidRoute;

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

type RouteInfo = PaywallInfo | (L402Info & { [L402_INFO]: true });

const infoOf = (fn: unknown): RouteInfo | undefined => {
  if (typeof fn !== 'function') return undefined;
  const f = fn as unknown as Record<string, unknown>;
  if (PAYWALL_INFO in fn) return f[PAYWALL_INFO] as PaywallInfo;
  // Tagged so that toRoute tells the two apart; the tag is a key no PaywallInfo has.
  if (L402_INFO in fn) return l402Tagged(f[L402_INFO] as L402Info);
  return undefined;
};

// One tagged object per l402() info, so that walk() groups one middleware under several methods.
const tagged = new WeakMap<L402Info, RouteInfo>();
function l402Tagged(info: L402Info): RouteInfo {
  let t = tagged.get(info);
  if (!t) tagged.set(info, (t = { ...info, [L402_INFO]: true }));
  return t;
}

function toRoute(method: string, path: string, info: RouteInfo): PaidRoute {
  if (L402_INFO in info) {
    return {
      protocol: 'l402',
      method: method.toUpperCase(),
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
  return {
    method: method.toUpperCase(),
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

/** Every paid route of an Express app or router, or of an explicit list. */
export function describeRoutes(source: RouteSource): PriceList {
  const routes: PaidRoute[] = [];
  if (Array.isArray(source)) {
    for (const r of source as { method: string; path: string; paywall: Paywall | PaywallInfo | RequestHandler }[]) {
      const info = infoOf(r.paywall) ?? (r.paywall as PaywallInfo);
      routes.push(toRoute(r.method, r.path, info));
    }
  } else {
    const stack = stackOf(source);
    if (!stack) throw new TypeError('describeRoutes: pass an Express app, a Router, or a list of {method, path, paywall}');
    walk(stack, '/', routes, 0);
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
    for (const m of methods) item[m] = 'protocol' in r ? l402Operation(r) : x402Operation(r);
  }
  return paths;
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
