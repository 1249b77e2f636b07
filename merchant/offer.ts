/**
 * One route, several ways to pay: x402 (`paywall()`), L402 (`l402()`) and the "Payment" scheme
 * (`paymentScheme()`) in a single 402.
 *
 * @example
 * ```ts
 * app.get('/api/quote', offer({
 *   x402: paywall({ hub, merchantId, price: '2000', asset: 'BTC' }),
 *   l402: l402({ node, price: 2000n, service: 'quotes', validSeconds: 3600, rootKeySecret }),
 *   payment: paymentScheme({ node, price: 2000n, secret }),
 * }), handler);
 * ```
 *
 * A request that carries a credential goes to the one middleware it is for, which alone decides
 * (and answers a bad one its own way): `Authorization: Payment …` to `payment`, `Authorization:
 * L402|LSAT …` to `l402`, `PAYMENT-SIGNATURE` or `X-PAYMENT` to `x402`. For a request with none,
 * each middleware's core is asked for its challenge, and the 402s are sent as one: every header
 * of each (`WWW-Authenticate` as one comma-joined list, Payment first), x402's body (the JSON
 * document, or the HTML page for browsers), else the first one's. Each
 * middleware that issues invoices issues one per unpaid request, so a 402 with both L402 and
 * Payment costs two invoices. A middleware that answers something else (429, 503) is left out of
 * the 402; when none answered 402, the first answer is sent as it was.
 *
 * The middlewares must be the kit's own (they carry their cores): the merging is ./offer-core.ts,
 * shared with `offerHono()` (./hono.ts).
 *
 * Payment comes first in `WWW-Authenticate` because Alby's `fetchWithMpp` reads a joined value
 * only when it starts with `Payment` (and takes the last value of each parameter, which the L402
 * challenge after it does not name).
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { expressCoreRequest, sendCoreChallenge } from './express-answer.js';
import { OFFER_INFO, offerCore } from './offer-core.js';

export { OFFER_DIALECTS, OFFER_INFO, offerCore, type OfferCore, type OfferDialect, type OfferInfo } from './offer-core.js';

export interface OfferOptions {
  /** A `paywall()`. */
  x402?: RequestHandler;
  /** An `l402()`. */
  l402?: RequestHandler;
  /** A `paymentScheme()`. */
  payment?: RequestHandler;
}

export function offer(opts: OfferOptions): RequestHandler {
  const core = offerCore<Request>(opts);
  const middleware = (req: Request, res: Response, next: NextFunction) => {
    const dialect = core.credentialFor(req.headers as Record<string, string | undefined>);
    if (dialect) return opts[dialect]!(req, res, next);
    core
      .challenge(expressCoreRequest(req))
      .then((answer) => sendCoreChallenge(res, answer))
      .catch(next);
  };
  return Object.defineProperty(middleware, OFFER_INFO, { value: core.info, enumerable: true });
}
