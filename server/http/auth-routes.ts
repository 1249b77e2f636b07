import { Router, type RequestHandler } from 'express';
import { RefreshRequest, SiweLoginRequest } from '../../shared/api.js';
import { ProblemError } from '../../shared/problem.js';
import { clientKey } from '../auth/client-key.js';
import type { AuthedUser, HttpDeps } from './deps.js';
import { bearer, jsonBody, parse } from './validate.js';

/** Puts the signed-in user on `res.locals.user`, or answers 401. */
export function requireUser(deps: Pick<HttpDeps, 'auth'>): RequestHandler {
  return async (req, res, next) => {
    const token = bearer(req);
    if (!token) throw new ProblemError('unauthorized', 'send an access token: Authorization: Bearer <token>');
    const v = await deps.auth.verifyAccessToken(token);
    res.locals.user = { id: v.userId, address: v.address } satisfies AuthedUser;
    next();
  };
}

export function authRoutes(deps: HttpDeps): Router {
  const r = Router();
  r.get('/auth/nonce', async (req, res) => {
    // The peer address ('trust proxy' is off, so a client can't pick it with X-Forwarded-For).
    const client = clientKey(req.socket.remoteAddress);
    try {
      res.set('Cache-Control', 'no-store').json(await deps.auth.nonce(client));
    } catch (err) {
      // The 429 says when to come back: when the oldest unused nonce lapses.
      if (err instanceof ProblemError && typeof err.extra.retryAfter === 'number') res.set('Retry-After', String(err.extra.retryAfter));
      throw err;
    }
  });
  r.post('/auth/siwe', async (req, res) => {
    const body = parse(SiweLoginRequest, jsonBody(req), 'body');
    res.set('Cache-Control', 'no-store').json(await deps.auth.loginWithSiwe(body.message, body.signature));
  });
  r.post('/auth/refresh', async (req, res) => {
    const body = parse(RefreshRequest, jsonBody(req), 'body');
    res.set('Cache-Control', 'no-store').json(await deps.auth.refresh(body.refreshToken));
  });
  r.post('/auth/logout', async (req, res) => {
    const body = parse(RefreshRequest, jsonBody(req), 'body');
    await deps.auth.logout(body.refreshToken);
    res.status(204).end();
  });
  return r;
}
