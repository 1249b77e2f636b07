import { Router } from 'express';
import { CreatePaymentRequest, ListPaymentsQuery, RefundRequest } from '../../shared/api.js';
import { ProblemError } from '../../shared/problem.js';
import { SettlementReport } from '../../shared/wallet-payments.js';
import { requireUser } from './auth-routes.js';
import type { AuthedUser, HttpDeps } from './deps.js';
import { bearer, idempotencyKey, jsonBody, parse } from './validate.js';

export function paymentRoutes(deps: HttpDeps): Router {
  const r = Router();
  const authed = requireUser(deps);

  r.post('/payments', authed, async (req, res) => {
    const user = res.locals.user as AuthedUser;
    const key = idempotencyKey(req);
    const raw = jsonBody(req);
    const body = parse(CreatePaymentRequest, raw, 'body');
    const out = await deps.payments.create(user, key, body, raw);
    if (out.replayed) res.set('Idempotent-Replayed', 'true');
    res.status(out.status);
    if (out.json === undefined) return void res.json(out.body);
    // What res.json does, minus serialising a body the service serialised already.
    if (!res.get('Content-Type')) res.set('Content-Type', 'application/json');
    res.send(out.json);
  });

  // The person's wallet says how a payment it settled itself ended (wallet rail). Reporting the same
  // outcome twice answers the same, so a retry needs no Idempotency-Key.
  r.post('/payments/:id/settlement', authed, async (req, res) => {
    const user = res.locals.user as AuthedUser;
    const body = parse(SettlementReport, jsonBody(req), 'body');
    res.json(await deps.payments.recordSettlement(user.id, String(req.params.id).slice(0, 100), body));
  });

  // The merchant paid gives money back (merchant API key, not a user token).
  r.post('/payments/:id/refund', async (req, res) => {
    const merchant = await deps.merchants.byApiKey(bearer(req));
    const key = idempotencyKey(req);
    const raw = jsonBody(req);
    const body = parse(RefundRequest, raw, 'body');
    const out = await deps.payments.refund(merchant.id, String(req.params.id).slice(0, 100), key, body, raw);
    if (out.replayed) res.set('Idempotent-Replayed', 'true');
    res.status(out.status).json(out.body);
  });

  r.get('/payments', authed, async (req, res) => {
    const user = res.locals.user as AuthedUser;
    const q = parse(ListPaymentsQuery, req.query, 'query');
    res.json(await deps.payments.listForUser(user.id, q.cursor, q.limit));
  });

  r.get('/payments/:id', authed, async (req, res) => {
    const user = res.locals.user as AuthedUser;
    // Another user's payment is indistinguishable from one that does not exist.
    const p = await deps.payments.get(user.id, String(req.params.id).slice(0, 100));
    if (!p) throw new ProblemError('not-found', 'no such payment');
    res.json(p);
  });
  return r;
}
