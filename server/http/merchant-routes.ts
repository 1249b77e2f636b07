import { Router } from 'express';
import { CreateMerchantRequest, ListPaymentsQuery, ListWebhookDeliveriesQuery, SetWebhookRequest } from '../../shared/api.js';
import { ChallengeStatusQuery, CreateChallengeInvoiceRequest } from '../../shared/challenge-invoices.js';
import { CHALLENGE_ID_PATTERN } from '../../shared/challenge.js';
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

  // Lightning for any wallet: an invoice of the hub's node for one of the merchant's challenges.
  r.post('/merchants/:id/invoices', async (req, res) => {
    const merchant = await deps.merchants.authenticate(bearer(req), String(req.params.id));
    const body = parse(CreateChallengeInvoiceRequest, jsonBody(req), 'body');
    if (!deps.challengeInvoices) throw new ProblemError('unsupported-rail', 'the lightning rail is not enabled on this hub');
    res.json(await deps.challengeInvoices.create(merchant.id, body));
  });
  // The page holding the challenge asks whether it was paid and takes the receipt. Knowing the
  // (random) challenge id is the capability, as on the /challenges socket; the receipt opens only
  // the request it is bound to, once.
  r.get('/challenges/:challengeId', async (req, res) => {
    const id = String(req.params.challengeId);
    const q = parse(ChallengeStatusQuery, req.query, 'query');
    const found = CHALLENGE_ID_PATTERN.test(id) ? await deps.challengeInvoices?.status(q.merchant, id) : undefined;
    if (!found) throw new ProblemError('not-found', 'no invoice for this challenge');
    res.set('Cache-Control', 'no-store').json(found);
  });

  // Webhooks: the endpoint, the delivery log (newest first, each with its attempts), redelivery.
  r.get('/merchants/:id/webhook', async (req, res) => {
    const merchant = await deps.merchants.authenticate(bearer(req), String(req.params.id));
    res.json(await deps.merchants.webhooks.endpoint(merchant.id));
  });
  r.put('/merchants/:id/webhook', async (req, res) => {
    const merchant = await deps.merchants.authenticate(bearer(req), String(req.params.id));
    const body = parse(SetWebhookRequest, jsonBody(req), 'body');
    res.json(await deps.merchants.webhooks.setEndpoint(merchant.id, body.url));
  });
  r.get('/merchants/:id/webhook-deliveries', async (req, res) => {
    const merchant = await deps.merchants.authenticate(bearer(req), String(req.params.id));
    const q = parse(ListWebhookDeliveriesQuery, req.query, 'query');
    res.json(await deps.merchants.webhooks.list(merchant.id, q.cursor, q.limit));
  });
  r.get('/merchants/:id/webhook-deliveries/:deliveryId', async (req, res) => {
    const merchant = await deps.merchants.authenticate(bearer(req), String(req.params.id));
    res.json(await deps.merchants.webhooks.get(merchant.id, String(req.params.deliveryId)));
  });
  r.post('/merchants/:id/webhook-deliveries/:deliveryId/redeliver', async (req, res) => {
    const merchant = await deps.merchants.authenticate(bearer(req), String(req.params.id));
    res.status(202).json(await deps.merchants.webhooks.redeliver(merchant.id, String(req.params.deliveryId)));
  });
  return r;
}
