import { randomUUID } from 'node:crypto';
import cors from 'cors';
import express, { type Express } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import { accountRoutes } from './account-routes.js';
import { authRoutes } from './auth-routes.js';
import type { HttpDeps } from './deps.js';
import { merchantRoutes } from './merchant-routes.js';
import { opsRoutes } from './ops-routes.js';
import { paymentRoutes } from './payment-routes.js';
import { errorHandler, notFound } from './problem.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The hub's HTTP surface. Thin: it validates, calls a service, and shapes the answer. */
export function createHttpApp(deps: HttpDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.set('query parser', 'simple');

  app.use(
    pinoHttp({
      logger: deps.logger,
      genReqId: (req, res) => {
        const given = req.headers['x-request-id'];
        const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      // Health probes and metrics scrapes would drown the log.
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/metrics' },
      serializers: {
        req: (req) => ({ id: req.id, method: req.method, url: req.url }),
        res: (res) => ({ statusCode: res.statusCode }),
      },
    }),
  );
  app.use((req, res, next) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const route = (req.route?.path as string | undefined) ?? 'unmatched';
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      deps.metrics.httpDuration.observe({ method: req.method, route, status: `${Math.floor(res.statusCode / 100)}xx` }, seconds);
    });
    next();
  });
  app.use(helmet());
  const allowed = new Set(deps.config.corsOrigins);
  app.use(
    cors({
      origin: (origin, cb) => {
        // The extension (any id: people load it unpacked), configured sites, and in dev any local page.
        const ok =
          !origin ||
          origin.startsWith('chrome-extension://') ||
          allowed.has(origin) ||
          (deps.config.dev && /^https?:\/\/(localhost|127\.0\.0\.1)(:\d+)?$/.test(origin));
        cb(null, ok);
      },
      exposedHeaders: ['Idempotent-Replayed', 'X-Request-Id'],
      allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Request-Id'],
      maxAge: 600,
    }),
  );
  app.use(express.json({ limit: deps.config.bodyLimit, strict: true, type: ['application/json', 'application/*+json'] }));

  app.use(opsRoutes(deps));
  app.use(authRoutes(deps));
  app.use(accountRoutes(deps));
  app.use(paymentRoutes(deps));
  app.use(merchantRoutes(deps));
  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
