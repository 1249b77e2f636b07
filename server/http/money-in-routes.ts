import { Router } from 'express';
import type { z } from 'zod';
import { ProblemError } from '../../shared/problem.js';
import { requireUser } from './auth-routes.js';
import type { AuthedUser, HttpDeps } from './deps.js';
import { idempotencyKey, jsonBody, parse } from './validate.js';

/** A way money comes into a person's hub balance (SOVR deposits, Lightning top-ups), as its rail offers it. */
export interface MoneyInApi<Req, Out> {
  create(user: AuthedUser, key: string, body: Req, rawBody: unknown): Promise<{ status: number; body: Out; replayed: boolean }>;
  /** The user's own only. */
  get(userId: string, id: string): Promise<Out | undefined>;
}

export interface MoneyInRoutes<Req, Out> {
  /** `/deposits`: POST creates, GET `<path>/:id` reads. */
  path: string;
  request: z.ZodType<Req>;
  idPattern: RegExp;
  /** The rail's capability, or undefined when no enabled rail offers it. */
  api(): MoneyInApi<Req, Out> | undefined;
  /** The 422 detail when no enabled rail offers it. */
  unavailable: string;
  /** The 404 detail. */
  notFound: string;
}

/** `POST <path>` (Bearer, Idempotency-Key) and `GET <path>/:id`, the same for every way money comes in. */
export function moneyInRoutes<Req, Out>(deps: Pick<HttpDeps, 'auth'>, spec: MoneyInRoutes<Req, Out>): Router {
  const r = Router();
  const authed = requireUser(deps);

  function api(): MoneyInApi<Req, Out> {
    const a = spec.api();
    if (!a) throw new ProblemError('unsupported-rail', spec.unavailable);
    return a;
  }

  r.post(spec.path, authed, async (req, res) => {
    const user = res.locals.user as AuthedUser;
    const rail = api();
    const key = idempotencyKey(req);
    const raw = jsonBody(req);
    const body = parse(spec.request, raw, 'body');
    const out = await rail.create(user, key, body, raw);
    if (out.replayed) res.set('Idempotent-Replayed', 'true');
    res.status(out.status).json(out.body);
  });

  r.get(`${spec.path}/:id`, authed, async (req, res) => {
    const user = res.locals.user as AuthedUser;
    const id = String(req.params.id);
    // Another user's is indistinguishable from one that does not exist.
    const found = spec.idPattern.test(id) ? await api().get(user.id, id) : undefined;
    if (!found) throw new ProblemError('not-found', spec.notFound);
    res.json(found);
  });
  return r;
}
