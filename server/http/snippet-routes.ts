import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Router } from 'express';

/**
 * The page snippet, read once when the hub starts: built from merchant/snippet/*.ts by
 * `npm run build:snippet` and committed, so the hub needs no build step to serve it.
 */
export const SNIPPET_FILE = new URL('../../merchant/snippet/tollway.js', import.meta.url);

/**
 * `GET /tollway.js`: the pay-button snippet merchants put on their pages with
 * `<script src="<hub>/tollway.js" data-merchant="…" data-price="…" data-asset="SOVR">`.
 * Cacheable (a strong ETag, revalidated after 10 minutes), loadable from any site: helmet's
 * `Cross-Origin-Resource-Policy: same-origin` would block it in other origins' pages.
 */
export function snippetRoutes(source: string | Buffer = readFileSync(SNIPPET_FILE)): Router {
  const body = Buffer.isBuffer(source) ? source : Buffer.from(source, 'utf8');
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  const r = Router();
  r.get('/tollway.js', (req, res) => {
    res.setHeader('Content-Type', 'text/javascript; charset=utf-8');
    res.setHeader('Cache-Control', 'public, max-age=600, stale-while-revalidate=86400');
    res.setHeader('ETag', etag);
    res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
    res.setHeader('Access-Control-Allow-Origin', '*');
    const match = req.get('if-none-match');
    if (match?.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)) {
      res.status(304).end();
      return;
    }
    res.setHeader('Content-Length', String(body.length));
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  return r;
}
