import { Router } from 'express';
import { FaucetRequest } from '../../shared/api.js';
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
