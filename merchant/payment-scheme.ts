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
 *
 * This file is the Express adapter of the framework-neutral core (./payment-scheme-core.ts), which
 * `paymentSchemeHono()` (./hono.ts) adapts to Hono.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { withCore } from './core-contract.js';
import { expressCoreRequest, sendCoreChallenge, setCoreHeaders } from './express-answer.js';
import { l402ClientKey } from './l402.js';
import { PAYMENT_SCHEME_INFO, type PaymentSchemeCoreOptions, paymentSchemeCore } from './payment-scheme-core.js';

export {
  PAYMENT_SCHEME_INFO,
  paymentSchemeCore,
  type PaymentProblemCode,
  type PaymentSchemeCore,
  type PaymentSchemeCoreOptions,
  type PaymentSchemeInfo,
  type PaymentSchemePaid,
} from './payment-scheme-core.js';

/** paymentScheme()'s options; `realm`, `routeKey` and the rate limit's `key` get the Express request. */
export type PaymentSchemeOptions = PaymentSchemeCoreOptions<Request>;

/** Express middleware: the route runs with `res.locals.payment` only for a good `Authorization: Payment` credential. */
export function paymentScheme(opts: PaymentSchemeOptions): RequestHandler {
  const core = paymentSchemeCore(opts, { clientKey: l402ClientKey });
  const middleware = (req: Request, res: Response, next: NextFunction) => {
    (async () => {
      const answer = await core.handle(expressCoreRequest(req));
      if (answer.kind === 'challenge') return sendCoreChallenge(res, answer);
      res.locals.payment = answer.locals;
      setCoreHeaders(res, answer.responseHeaders);
      next();
    })().catch(next);
  };
  return withCore(middleware, core, PAYMENT_SCHEME_INFO, core.info);
}
