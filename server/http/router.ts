import { depositRoutes } from './deposit-routes.js';
import { ilpRoutes } from './ilp-routes.js';
import { topupRoutes } from './topup-routes.js';
import cors from 'cors';
import express, { type Express } from 'express';
import helmet from 'helmet';
import { accountRoutes } from './account-routes.js';
import { authRoutes } from './auth-routes.js';
import type { HttpDeps } from './deps.js';
import { jsonBodyParser } from './json-body.js';
import { lnbitsWebhookRoutes } from './lnbits-webhook-routes.js';
import { merchantRoutes } from './merchant-routes.js';
import { opsRoutes } from './ops-routes.js';
import { paymentRoutes } from './payment-routes.js';
import { errorHandler, notFound } from './problem.js';
import { requestLog } from './request-log.js';
import { snippetRoutes } from './snippet-routes.js';
import { x402Routes } from './x402-routes.js';

/** The hub's HTTP surface. Thin: it validates, calls a service, and shapes the answer. */
export function createHttpApp(deps: HttpDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // API answers are not cached by validators; hashing every body for an ETag is wasted work.
  app.set('etag', false);
  app.set('trust proxy', false);
  app.set('query parser', 'simple');

  app.use(requestLog(deps.logger, deps.metrics));
  // The headers that matter for a JSON API; the page-oriented rest of helmet's defaults cost a
  // header write per response for nothing a browser uses on JSON.
  app.use(
    helmet({
      contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
      crossOriginEmbedderPolicy: false,
      crossOriginOpenerPolicy: false,
      originAgentCluster: false,
      xDnsPrefetchControl: false,
      xDownloadOptions: false,
      xPermittedCrossDomainPolicies: false,
      xXssProtection: false,
    }),
  );
  const allowed = new Set(deps.config.corsOrigins);
  const corsMiddleware = cors({
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
  });
  // Only browsers send Origin; calls from servers and the extension's worker without one skip CORS.
  app.use((req, res, next) => (req.headers.origin ? corsMiddleware(req, res, next) : next()));
  // LNbits' webhook parses its own body (a JSON string since LNbits 1.1), so it comes first.
  app.use(lnbitsWebhookRoutes(deps));
  // Size, encoding and nesting depth are checked on the raw bytes before anything parses them.
  app.use(jsonBodyParser({ limit: deps.config.bodyLimit }));

  // Payments first: the router tries every route mounted before the one that matches, and
  // POST /payments is the hot path. No other router has a path under /payments, so the order
  // decides nothing else.
  app.use(paymentRoutes(deps));
  app.use(opsRoutes(deps));
  app.use(snippetRoutes());
  app.use(authRoutes(deps));
  app.use(accountRoutes(deps));
  app.use(merchantRoutes(deps));
  app.use(x402Routes(deps));
  app.use(depositRoutes(deps));
  app.use(topupRoutes(deps));
  app.use(ilpRoutes(deps));
  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
