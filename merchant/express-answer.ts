/**
 * The Express side of ./core-contract.ts, shared by the Express adapters of every core: the
 * request described for a core, and a core's challenge or headers put on the response.
 */
import type { Request, Response } from 'express';
import { rawBody } from './body.js';
import { type CoreChallenge, type CoreHeaders, type CoreRequest, LIST_HEADERS } from './core-contract.js';

export function expressCoreRequest(req: Request): CoreRequest<Request> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers))
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  return {
    method: req.method,
    url: req.originalUrl || req.url,
    headers,
    body: (limit) => rawBody(req, limit),
    protocol: req.protocol,
    ...(req.ip ? { ip: req.ip } : {}),
    prefersHtml: req.accepts(['json', 'html']) === 'html',
    native: req,
  };
}

/** Sets `headers`; those in LIST_HEADERS add to what is already there (a CORS middleware's list, …). */
export function setCoreHeaders(res: Response, headers: CoreHeaders): void {
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower === 'vary') res.vary(value);
    else if (LIST_HEADERS.has(lower)) {
      const current = res.getHeader(name);
      res.setHeader(name, current ? `${String(current)}, ${value}` : value);
    } else res.setHeader(name, value);
  }
}

export function sendCoreChallenge(res: Response, answer: CoreChallenge): void {
  res.status(answer.status);
  setCoreHeaders(res, answer.headers);
  if (answer.html !== undefined) res.type('html').send(answer.html);
  else if (answer.contentType === 'application/json') res.json(answer.body);
  else res.type(answer.contentType).send(JSON.stringify(answer.body));
}
