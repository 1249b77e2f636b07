/**
 * The paywall for Hono (v4): the same core as the Express `paywall()` (./paywall-core.ts), mapped
 * onto Hono's context. Same options, same challenge, same proofs; the route reads the payment with
 * `c.get('tollway')`.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { paywallHono } from './merchant/hono.js';
 *
 * const app = new Hono();
 * app.get('/article/:id', paywallHono({ hub, merchantId, price: '1500', asset: 'SOVR' }), (c) =>
 *   c.text(`paid by ${c.get('tollway').transaction}`));
 * ```
 *
 * A `body` binding reads the body through Hono (`c.req.arrayBuffer()`'s cache), so the route can
 * still call `c.req.json()`. With `facilitator`, an x402 `exact` payment is settled after the
 * route answered < 400 and before its answer leaves; a settlement that fails replaces the answer
 * with a fresh 402 that carries only the paywall's headers (none of the route's cookies).
 */
import type { Context, MiddlewareHandler } from 'hono';
import { BodyTooLargeError } from './body.js';
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

/** The paywall's options; `teaser` and `resourceUrl` get the Hono context. */
export type PaywallHonoOptions = PaywallCoreOptions<Context>;

export type PaywallHonoEnv = { Variables: { tollway: PaidRequest | PaidExactRequest } };

export type HonoPaywall = MiddlewareHandler<PaywallHonoEnv> & { readonly tollway: PaywallInfo };

export function paywallHono(opts: PaywallHonoOptions): HonoPaywall {
  const core = paywallCore<Context>(opts);

  const middleware: MiddlewareHandler<PaywallHonoEnv> = async (c, next) => {
    const url = new URL(c.req.url);
    const headers: Record<string, string> = {};
    c.req.raw.headers.forEach((value, name) => {
      headers[name] = value;
    });
    const answer = await core.handle({
      method: c.req.method,
      url: url.pathname + url.search,
      headers,
      body: (limit) => readBody(c, limit),
      protocol: url.protocol.replace(/:$/, ''),
      native: c,
    });
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

  return Object.defineProperty(middleware, 'tollway', { value: core.info, enumerable: true }) as HonoPaywall;
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
