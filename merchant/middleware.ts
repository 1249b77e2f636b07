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
import { rawBody } from './body.js';
import { KIT_CORE } from './core-contract.js';
import { sendCoreChallenge, setCoreHeaders } from './express-answer.js';
import { paywallCore, type PaywallCoreOptions, type PaywallInfo } from './paywall-core.js';

export { paywallCore, prefersHtml, LIST_HEADERS } from './paywall-core.js';
export type {
  PaidExactRequest,
  PaidRequest,
  PaywallChallenge,
  PaywallCore,
  PaywallCoreOptions,
  PaywallDeliver,
  PaywallHeaders,
  PaywallInfo,
  PaywallPaid,
  PaywallRequest,
  Reuse,
} from './paywall-core.js';

/** The paywall's options; `teaser` and `resourceUrl` get the Express request. */
export type PaywallOptions = PaywallCoreOptions<Request>;

export type Paywall = RequestHandler & { readonly tollway: PaywallInfo };

/** Marks the handlers `describeRoutes` recognizes. */
export const PAYWALL_INFO = 'tollway' as const;

/** The Express adapter: maps req/res onto the core (./paywall-core.ts). */
export function paywall(opts: PaywallOptions): Paywall {
  const core = paywallCore(opts);

  async function handle(req: Request, res: Response, next: NextFunction): Promise<void> {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers))
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    const answer = await core.handle({
      method: req.method,
      url: req.originalUrl,
      headers,
      body: (limit) => rawBody(req, limit),
      protocol: req.protocol,
      ...(req.ip ? { ip: req.ip } : {}),
      prefersHtml: req.accepts(['json', 'html']) === 'html',
      native: req,
    });
    if (answer.kind === 'challenge') return sendCoreChallenge(res, answer);

    setCoreHeaders(res, answer.responseHeaders);
    res.locals.tollway = answer.locals;
    const { settle, finished } = answer;
    if (finished) res.once('finish', () => finished(res.statusCode));
    if (!settle) return next();

    // x402 exact: the route's answer is held back until the payment is settled.
    const before = snapshotHeaders(res);
    const held = await holdResponse(res, next);
    if (!held.ended) return held.discard(); // the client left before the route answered: nothing is settled
    let settled;
    try {
      settled = await settle(held.status);
    } catch (err) {
      held.discard();
      restoreHeaders(res, before);
      throw err;
    }
    if (settled.kind === 'challenge') {
      held.discard();
      restoreHeaders(res, before); // the route's cookies must not reach a 402
      return sendCoreChallenge(res, settled);
    }
    setCoreHeaders(res, settled.headers);
    held.flush();
  }

  const middleware = ((req: Request, res: Response, next: NextFunction) => {
    // Express 4 does not catch rejected promises: every failure goes to next() here.
    handle(req, res, next).catch(next);
  }) as Paywall;
  Object.defineProperty(middleware, PAYWALL_INFO, { value: core.info, enumerable: true });
  Object.defineProperty(middleware, KIT_CORE, { value: core }); // for offer()
  return middleware;
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
    res.write = ((...args: unknown[]) => {
      calls.push(['write', args]);
      return true;
    }) as Response['write'];
    res.end = ((...args: unknown[]) => {
      calls.push(['end', args]);
      answer(true);
      return res;
    }) as Response['end'];
    res.flushHeaders = () => {
      calls.push(['flushHeaders', []]);
    };
    res.on('close', onClose);
    next();
  });
}
