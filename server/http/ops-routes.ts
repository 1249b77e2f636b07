import { Router } from 'express';
import { ProblemError } from '../../shared/problem.js';
import type { HttpDeps } from './deps.js';

export function opsRoutes(deps: HttpDeps): Router {
  const r = Router();
  r.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  r.get('/readyz', async (_req, res) => {
    if (!(await deps.ready().catch(() => false))) throw new ProblemError('not-ready', 'database unreachable or migrations pending');
    res.json({ status: 'ready' });
  });
  r.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  r.get('/.well-known/jwks.json', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(deps.auth.jwks());
  });
  r.get('/openapi.json', (_req, res) => void res.json(deps.openapi()));
  r.get('/rails', async (_req, res) => {
    res.set('Cache-Control', 'public, max-age=60').json(await deps.rails());
  });
  return r;
}
