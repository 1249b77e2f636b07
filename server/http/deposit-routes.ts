import type { Router } from 'express';
import { CreateDepositRequest, DEPOSIT_ID_PATTERN } from '../../shared/deposits.js';
import type { HttpDeps } from './deps.js';
import { moneyInRoutes } from './money-in-routes.js';

/** `POST /deposits`, `GET /deposits/:id`: SOVR from the person's wallet into their hub balance. */
export function depositRoutes(deps: Pick<HttpDeps, 'auth' | 'payments'>): Router {
  return moneyInRoutes(deps, {
    path: '/deposits',
    request: CreateDepositRequest,
    idPattern: DEPOSIT_ID_PATTERN,
    api: () => deps.payments.deposits(),
    unavailable: 'deposits need the sovr rail, which is not enabled on this hub',
    notFound: 'no such deposit',
  });
}
