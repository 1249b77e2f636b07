import { Router, type Request } from 'express';
import { ProblemError } from '../../shared/problem.js';
import { createX402Facilitator, type X402Facilitator } from '../x402/service.js';
import type { HttpDeps } from './deps.js';
import { bearer, jsonBody } from './validate.js';

/**
 * `/x402/supported`, `/x402/verify`, `/x402/settle`: the hub as an x402 facilitator for SOVR, so
 * that any x402 resource server (the merchant kit, `@x402/express`) can name `<hub>/x402` as its
 * facilitator URL. Open to every caller by default, as the reference facilitators are: a payment
 * moves only what its payer signed, to whom they signed it. What an open facilitator costs is gas,
 * so TOLLWAY_X402_FACILITATOR=merchants asks verify and settle for a merchant API key (Bearer), and
 * `off` turns all three paths off. `supported` stays open: it only says what the hub settles.
 */
export function x402Routes(deps: HttpDeps): Router {
  const r = Router();
  const facilitator: X402Facilitator | undefined = deps.facilitator ? createX402Facilitator(deps.facilitator, deps.logger) : undefined;
  const on = (req: Request): X402Facilitator => {
    if (!facilitator)
      throw new ProblemError('not-found', `no x402 facilitator on this hub (the SOVR rail is off): ${req.method} ${req.path}`);
    return facilitator;
  };
  r.get('/x402/supported', async (req, res) => {
    res.set('Cache-Control', 'public, max-age=60').json(await on(req).supported());
  });
  const allowed = async (req: Request): Promise<void> => {
    if (deps.config.x402Facilitator === 'merchants') await deps.merchants.byApiKey(bearer(req));
  };
  r.post('/x402/verify', async (req, res) => {
    const f = on(req);
    await allowed(req);
    res.set('Cache-Control', 'no-store').json(await f.verify(jsonBody(req)));
  });
  r.post('/x402/settle', async (req, res) => {
    const f = on(req);
    await allowed(req);
    res.set('Cache-Control', 'no-store').json(await f.settle(jsonBody(req)));
  });
  return r;
}
