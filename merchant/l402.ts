/**
 * L402: charge for a route in Lightning, the way Aperture does, with real macaroons.
 *
 * @example
 * ```ts
 * import { l402 } from './merchant/l402.js';
 * import { createLndNode } from './lightning/index.js';
 *
 * const node = createLndNode({ url: 'https://127.0.0.1:8080', macaroonHex, tlsCert }); // any LightningNode
 * // 2 sat per call; a paid token opens the API for an hour.
 * app.get(
 *   '/api/quote',
 *   // rootKeySecret: 32+ random bytes (hex or base64), the same in every process and across restarts.
 *   l402({ node, price: 2000n, service: 'quotes', validSeconds: 3600, rootKeySecret: process.env.L402_ROOT_KEY_SECRET! }),
 *   handler,
 * );
 * ```
 *
 * Without a credential the route answers `402` with
 * `WWW-Authenticate: L402 version="0", token="<macaroon>", macaroon="<macaroon>", invoice="<bolt11>"`
 * (both parameter names, so L402 and older LSAT clients read it). The macaroon's identifier is
 * `uint16 version 0 ‖ payment hash ‖ 32-byte random token id`; it carries the caveats
 * `services=<service>:<tier>`, `<service>_valid_until=<unix seconds>`, and what was paid for:
 * `<service>_path_prefix`, `<service>_method`, `<service>_amount_msat`, with `<service>_uses=1`
 * (singleUse) and `<service>_bind=<parts>:<hash>` (bind) when asked for. Its root key is
 * `HMAC-SHA256(rootKeySecret, "tollway/l402 root key v0" ‖ identifier)`: nothing is stored per
 * challenge, any process holding the same secret verifies the token (a restart included), and
 * changing the secret voids every token issued under the old one. (With `rootKeys` instead, each
 * macaroon gets a random root key kept in that store, and deleting it revokes the one token.)
 *
 * Invoices cost the merchant's node something, so issuing them is rate limited: a token bucket per
 * client (by default the client's IP, an IPv6 address by its /64) and one for all clients
 * together, in memory, with at most `maxClients` clients tracked (least recently seen dropped
 * first). Over the limit the route answers `429` with `Retry-After` and an
 * `application/problem+json` body of type `rate-limited`; no invoice, no macaroon. A request with
 * a good credential never touches the limiter.
 *
 * The client pays the invoice and retries with `Authorization: L402 <macaroon>:<hex preimage>`
 * (`LSAT` and a base64 preimage are read too). The middleware checks the HMAC chain with the root
 * key (libmacaroons' chain: natively for the kit's own v2 macaroons, by the `macaroon` library for
 * anything else), `sha256(preimage) == payment hash`, and the caveats against the request (each
 * repetition may only narrow; unknown ones are skipped), then claims a single-use token's id in
 * the receipt store. A credential that fails is 401 with a fresh challenge; one that cannot be
 * read at all is a fresh 402. docs/protocols.md §3 has the caveats and their checks.
 *
 * This file is the Express adapter; the checks are the framework-neutral core's (./l402-core.ts),
 * which `l402Hono()` (./hono.ts) adapts to Hono.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { withCore } from './core-contract.js';
import { expressCoreRequest, sendCoreChallenge, setCoreHeaders } from './express-answer.js';
import { L402_INFO, type L402CoreOptions, l402Core } from './l402-core.js';
import { clientKeyOf, DEFAULT_RATE_LIMIT, type RateDecision, type RateLimiter, type RateLimitOptions, rateLimiter } from './rate-limit.js';

export {
  L402_INFO,
  l402Core,
  memoryRootKeyStore,
  parseL402Authorization,
  underPathPrefix,
  type L402Adapter,
  type L402Core,
  type L402CoreOptions,
  type L402Info,
  type L402Invoices,
  type L402Node,
  type L402Paid,
  type RootKeyStore,
} from './l402-core.js';

/** l402()'s options; `memo` and the rate limit's `key` get the Express request. */
export type L402Options = L402CoreOptions<Request>;

/** How fast invoices may be issued (rate-limit.ts), each client known by its Express request. */
export type L402RateLimitOptions = RateLimitOptions<Request>;
export type L402RateDecision = RateDecision;
export type L402RateLimiter = RateLimiter<Request>;
export const DEFAULT_L402_RATE_LIMIT = DEFAULT_RATE_LIMIT;

/** IPv4 as is (IPv4-mapped IPv6 unwrapped); IPv6 as its /64, e.g. `2001:db8:0:1::/64`. */
export const l402ClientKey = (req: Pick<Request, 'ip' | 'socket'>): string => clientKeyOf(req.ip ?? req.socket?.remoteAddress);

export const l402RateLimiter = (o: L402RateLimitOptions): L402RateLimiter => rateLimiter(o, l402ClientKey);

/** The Express adapter: the route runs with `res.locals.l402` for a good credential. */
export function l402(opts: L402Options): RequestHandler {
  const core = l402Core(opts, { clientKey: l402ClientKey });
  const middleware = (req: Request, res: Response, next: NextFunction) => {
    // Express 4 does not catch rejected promises: every failure goes to next() here.
    (async () => {
      const answer = await core.handle(expressCoreRequest(req));
      if (answer.kind === 'challenge') return sendCoreChallenge(res, answer);
      res.locals.l402 = answer.locals;
      setCoreHeaders(res, answer.responseHeaders);
      next();
    })().catch(next);
  };
  return withCore(middleware, core, L402_INFO, core.info);
}
