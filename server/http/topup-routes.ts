import type { Router } from 'express';
import { CreateTopupRequest, TOPUP_ID_PATTERN } from '../../shared/topups.js';
import type { HttpDeps } from './deps.js';
import { moneyInRoutes } from './money-in-routes.js';

/** `POST /topups`, `GET /topups/:id`: BTC into the person's hub balance, paid to an invoice of the hub's node. */
export function topupRoutes(deps: Pick<HttpDeps, 'auth' | 'payments'>): Router {
  return moneyInRoutes(deps, {
    path: '/topups',
    request: CreateTopupRequest,
    idPattern: TOPUP_ID_PATTERN,
    api: () => deps.payments.topups(),
    unavailable: 'top-ups need the lightning rail, which is not enabled on this hub',
    notFound: 'no such top-up',
  });
}
