import type { Request } from 'express';
import { parseIdempotencyKey } from '../../shared/api.js';
import { ProblemError } from '../../shared/problem.js';

// Routes and services share one zod-to-problem rule.
export { parse } from '../../shared/validate.js';

/** JSON bodies only: anything else is a 415 before it is looked at. */
export function jsonBody(req: Request): unknown {
  if (!req.is('application/json')) {
    throw new ProblemError('unsupported-media-type', 'send the body as application/json');
  }
  return req.body;
}

export function bearer(req: Request): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer[ ]+([^ ]+)$/i.exec(h.trim());
  return m?.[1];
}

/** The Idempotency-Key a state-changing call needs: 400 when missing or malformed. */
export function idempotencyKey(req: Request): string {
  const key = parseIdempotencyKey(req.get('idempotency-key'));
  if (key === undefined) throw new ProblemError('idempotency-key-missing', `${req.method} ${req.path} needs an Idempotency-Key header`);
  if (key === null) throw new ProblemError('idempotency-key-invalid', 'Idempotency-Key must be 1–255 printable characters, bare or quoted');
  return key;
}
