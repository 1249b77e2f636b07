import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const QUIET = new Set(['/healthz', '/metrics']);

/**
 * Request id (the caller's `X-Request-Id` when it is sane, else a new one, echoed back), one log
 * line per request, and the latency histogram. Hand-written rather than pino-http because that
 * builds a child logger and serialisers per request even when nothing is logged, which showed as
 * 6% of the hub's time under load. Only method, path (no query), status and time are logged:
 * never headers or bodies, which carry tokens.
 */
export function requestLog(logger: Logger, metrics: Metrics): RequestHandler {
  // prom-client hashes the label set on every observe(); the children are few, so keep them.
  const series = new Map<string, ReturnType<typeof metrics.httpDuration.labels>>();
  const histogram = (method: string, route: string, status: string) => {
    const key = `${method} ${route} ${status}`;
    let h = series.get(key);
    if (!h) series.set(key, (h = metrics.httpDuration.labels({ method, route, status })));
    return h;
  };
  return (req, res, next) => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', id);
    res.locals.requestId = id;
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const route = (req.route?.path as string | undefined) ?? 'unmatched';
      histogram(req.method, route, `${Math.floor(res.statusCode / 100)}xx`).observe(seconds);
      if (QUIET.has(req.path) || !logger.isLevelEnabled('info')) return;
      logger.info({ reqId: id, method: req.method, path: req.path, status: res.statusCode, ms: Math.round(seconds * 1e4) / 10 }, 'request');
    });
    next();
  };
}
