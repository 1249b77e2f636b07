import express, { type Router } from 'express';
import { z } from 'zod';
import { ProblemError } from '../../shared/problem.js';
import { LNBITS_WEBHOOK_PATH } from '../rails/lightning/config.js';
import type { HttpDeps } from './deps.js';
import { MAX_JSON_DEPTH, nestsDeeperThan } from './json-body.js';
import { parse } from './validate.js';

export { LNBITS_WEBHOOK_PATH };

/**
 * What the hub reads of the body: the payment hash and nothing else. LNbits does not sign its
 * webhooks, so the amount or status a body claims are never believed.
 */
export const LnbitsWebhookBody = z
  .object({ payment_hash: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 32 bytes of hex') })
  .describe('An LNbits Payment (or, since LNbits 1.1, a JSON string of one): only `payment_hash` is read');

export interface LnbitsWebhookOptions {
  /** Webhooks accepted per second, sustained, from everyone together. Default 20. */
  perSecond?: number;
  /** How many may come at once (the bucket). Default 200. */
  burst?: number;
}

/**
 * `POST /lightning/lnbits-webhook`, unauthenticated because LNbits cannot authenticate itself.
 *
 * The body is only a hint: the hub asks its own node about the payment it names, and credits only
 * what the node says, once per payment hash (the top-up's or challenge invoice's own idempotency).
 * A forged body (an unknown or unpaid invoice) and a replayed one change nothing, and every
 * well-formed body gets the same answer, so the route tells nobody whether an invoice is paid.
 *
 * It has its own body parser: LNbits 1.1 on sends a JSON string that holds the Payment's JSON,
 * which the hub's strict parser (objects and arrays only) refuses. A light limit for everyone
 * together keeps junk from turning into node look-ups; a webhook refused by it is not lost, since
 * the settlement stream and its look-ups find every settlement anyway.
 */
export function lnbitsWebhookRoutes(deps: Pick<HttpDeps, 'lnbitsWebhook'>, opts: LnbitsWebhookOptions = {}): Router {
  const router = express.Router();
  const perSecond = opts.perSecond ?? 20;
  const burst = opts.burst ?? 200;
  let tokens = burst;
  let at = Date.now();

  const body = express.json({
    limit: '64kb',
    strict: false,
    type: ['application/json', 'application/*+json'],
    verify(_req, _res, buf, encoding) {
      if (encoding !== 'utf-8' && encoding !== 'utf8') throw new ProblemError('unsupported-media-type', 'send JSON as UTF-8');
      if (nestsDeeperThan(buf, MAX_JSON_DEPTH))
        throw new ProblemError('validation-error', `the body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep`);
    },
  });

  router.post(
    LNBITS_WEBHOOK_PATH,
    (_req, res, next) => {
      const now = Date.now();
      tokens = Math.min(burst, tokens + ((now - at) / 1000) * perSecond);
      at = now;
      if (tokens < 1) {
        const retryAfter = Math.max(1, Math.ceil((1 - tokens) / perSecond));
        res.set('Retry-After', String(retryAfter));
        return next(
          new ProblemError('rate-limited', 'too many LNbits webhooks; the settlement stream still finds every payment', { retryAfter }),
        );
      }
      tokens -= 1;
      next();
    },
    body,
    async (req, res) => {
      if (!deps.lnbitsWebhook) throw new ProblemError('not-found', "this hub's Lightning node is not LNbits");
      if (!req.is('application/json') && !req.is('application/*+json'))
        throw new ProblemError('unsupported-media-type', 'send the body as application/json');
      const hint = parse(LnbitsWebhookBody, unwrap(req.body), 'body');
      try {
        await deps.lnbitsWebhook({ payment_hash: hint.payment_hash.toLowerCase() });
      } catch (err) {
        if (err instanceof RangeError) throw new ProblemError('validation-error', err.message);
        throw new ProblemError('lightning-unavailable', "the hub's Lightning node could not be asked about this payment");
      }
      res.json({ received: true });
    },
  );
  return router;
}

/** LNbits 1.1 on: a JSON string holding the Payment's JSON; before, the object itself. */
function unwrap(body: unknown): unknown {
  if (typeof body !== 'string') return body;
  try {
    return JSON.parse(body) as unknown;
  } catch {
    throw new ProblemError('validation-error', 'the body is a string that holds no JSON');
  }
}
