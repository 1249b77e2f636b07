import { Router } from 'express';
import { ProblemError } from '../../shared/problem.js';
import { CreateTopupRequest, TOPUP_ID_PATTERN } from '../../shared/topups.js';
import type { TopupsApi } from '../rails/types.js';
import { requireUser } from './auth-routes.js';
import type { AuthedUser, HttpDeps } from './deps.js';
import { idempotencyKey, jsonBody, parse } from './validate.js';

/** `POST /topups`, `GET /topups/:id`: BTC into the person's hub balance, paid to an invoice of the hub's node. */
export function topupRoutes(deps: Pick<HttpDeps, 'auth' | 'payments'>): Router {
  const r = Router();
  const authed = requireUser(deps);

  function topups(): TopupsApi {
    const t = deps.payments.topups();
    if (!t) throw new ProblemError('unsupported-rail', 'top-ups need the lightning rail, which is not enabled on this hub');
    return t;
  }

  r.post('/topups', authed, async (req, res) => {
    const user = res.locals.user as AuthedUser;
    const api = topups();
    const key = idempotencyKey(req);
    const raw = jsonBody(req);
    const body = parse(CreateTopupRequest, raw, 'body');
    const out = await api.create(user, key, body, raw);
    if (out.replayed) res.set('Idempotent-Replayed', 'true');
    res.status(out.status).json(out.body);
  });

  r.get('/topups/:id', authed, async (req, res) => {
    const user = res.locals.user as AuthedUser;
    const id = String(req.params.id);
    // Another user's top-up is indistinguishable from one that does not exist.
    const t = TOPUP_ID_PATTERN.test(id) ? await topups().get(user.id, id) : undefined;
    if (!t) throw new ProblemError('not-found', 'no such top-up');
    res.json(t);
  });
  return r;
}
