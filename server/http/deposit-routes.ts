import { Router } from 'express';
import { CreateDepositRequest, DEPOSIT_ID_PATTERN } from '../../shared/deposits.js';
import { ProblemError } from '../../shared/problem.js';
import type { DepositsApi } from '../rails/types.js';
import { requireUser } from './auth-routes.js';
import type { AuthedUser, HttpDeps } from './deps.js';
import { idempotencyKey, jsonBody, parse } from './validate.js';

/** `POST /deposits`, `GET /deposits/:id`: SOVR from the person's wallet into their hub balance. */
export function depositRoutes(deps: Pick<HttpDeps, 'auth' | 'payments'>): Router {
  const r = Router();
  const authed = requireUser(deps);

  function deposits(): DepositsApi {
    const d = deps.payments.deposits();
    if (!d) throw new ProblemError('unsupported-rail', 'deposits need the sovr rail, which is not enabled on this hub');
    return d;
  }

  r.post('/deposits', authed, async (req, res) => {
    const user = res.locals.user as AuthedUser;
    const api = deposits();
    const key = idempotencyKey(req);
    const raw = jsonBody(req);
    const body = parse(CreateDepositRequest, raw, 'body');
    const out = await api.create(user, key, body, raw);
    if (out.replayed) res.set('Idempotent-Replayed', 'true');
    res.status(out.status).json(out.body);
  });

  r.get('/deposits/:id', authed, async (req, res) => {
    const user = res.locals.user as AuthedUser;
    const id = String(req.params.id);
    // Another user's deposit is indistinguishable from one that does not exist.
    const d = DEPOSIT_ID_PATTERN.test(id) ? await deposits().get(user.id, id) : undefined;
    if (!d) throw new ProblemError('not-found', 'no such deposit');
    res.json(d);
  });
  return r;
}
