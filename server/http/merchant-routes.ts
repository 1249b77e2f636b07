import { Router } from 'express';
import { CreateMerchantRequest, ListPaymentsQuery } from '../../shared/api.js';
import { ProblemError } from '../../shared/problem.js';
import { secretEquals } from '../auth/merchants.js';
import type { HttpDeps } from './deps.js';
import { bearer, jsonBody, parse } from './validate.js';

export function merchantRoutes(deps: HttpDeps): Router {
  const r = Router();
  r.post('/merchants', async (req, res) => {
    const token = bearer(req);
    if (!deps.config.adminToken) throw new ProblemError('forbidden', 'merchant registration is off: set TOLLWAY_ADMIN_TOKEN');
    if (!token) throw new ProblemError('unauthorized', 'send the admin token: Authorization: Bearer <token>');
    if (!secretEquals(token, deps.config.adminToken)) throw new ProblemError('invalid-token', 'wrong admin token');
    const body = parse(CreateMerchantRequest, jsonBody(req), 'body');
    res.status(201).json(await deps.merchants.create(body));
  });
  r.get('/merchants/:id/payments', async (req, res) => {
    const merchant = await deps.merchants.authenticate(bearer(req), String(req.params.id));
    const q = parse(ListPaymentsQuery, req.query, 'query');
    res.json(await deps.payments.listForMerchant(merchant.id, q.cursor, q.limit));
  });
  return r;
}
