import { Router } from 'express';
import { DeleteAllowanceQuery, FaucetRequest, PutAllowanceRequest } from '../../shared/api.js';
import { ProblemError } from '../../shared/problem.js';
import { requireUser } from './auth-routes.js';
import type { AuthedUser, HttpDeps } from './deps.js';
import { jsonBody, parse } from './validate.js';

export function accountRoutes(deps: HttpDeps): Router {
  const r = Router();
  const authed = requireUser(deps);
  r.get('/accounts/me', authed, async (_req, res) => {
    const user = res.locals.user as AuthedUser;
    res.json({ user, balances: await deps.wallets.balances(user.id) });
  });
  r.get('/allowances', authed, async (_req, res) => {
    res.json(await deps.allowances.list((res.locals.user as AuthedUser).id));
  });
  r.put('/allowances', authed, async (req, res) => {
    const body = parse(PutAllowanceRequest, jsonBody(req), 'body');
    res.json(await deps.allowances.put((res.locals.user as AuthedUser).id, body));
  });
  r.delete('/allowances', authed, async (req, res) => {
    const q = parse(DeleteAllowanceQuery, req.query, 'query');
    if (!(await deps.allowances.remove((res.locals.user as AuthedUser).id, q.site, q.payee ?? null, q.asset)))
      throw new ProblemError('not-found', 'no such allowance');
    res.status(204).end();
  });
  // Outside dev mode the route does not exist at all (404 from the fallback).
  if (deps.config.dev) {
    r.post('/dev/faucet', authed, async (req, res) => {
      const user = res.locals.user as AuthedUser;
      const body = parse(FaucetRequest, jsonBody(req), 'body');
      await deps.wallets.faucet(user.id, body.asset, BigInt(body.amount));
      res.json({ user, balances: await deps.wallets.balances(user.id) });
    });
  }
  return r;
}
