/**
 * A small shop for the real-browser tests: `/paid/…` answers 402 with a `tollway` challenge naming
 * the hub and a real merchant, and serves the article when `PAYMENT-SIGNATURE` carries a receipt it
 * accepts. It verifies the receipt JWT itself with jose against the hub's JWKS (issuer, audience =
 * merchant id, typ, resource and method), without the merchant middleware.
 *
 * `/pass/…` advertises an access pass (`extra.reuse.windowSeconds`, 600 s) and accepts the same
 * receipt again inside it; `/pass-once/…` advertises one too but takes each receipt only once (a
 * merchant that changed its mind: the wallet must stop showing it and ask).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { parsePaymentSignature } from '../../shared/challenge.js';

export const PRICE = '1500';
export const PASS_SECONDS = 600;

export interface Shop {
  url: string;
  server: Server;
  /** Every proof the shop was shown, with its verdict. */
  proofs: { path: string; ok: boolean; reason?: string; sub?: string }[];
  close(): Promise<void>;
}

export async function startShop(hubUrl: string, merchantId: string): Promise<Shop> {
  const jwks = createRemoteJWKSet(new URL('/.well-known/jwks.json', hubUrl));
  const proofs: Shop['proofs'] = [];

  const pass = (path: string) => path.startsWith('/pass/') || path.startsWith('/pass-once/');
  const usedOnce = new Set<string>();
  const challengeFor = (host: string, path: string) => ({
    x402Version: 2,
    resource: { url: `http://${host}${path}`, description: `Article ${path}`, mimeType: 'text/html' },
    accepts: [
      {
        scheme: 'tollway',
        network: `tollway:${hubUrl}`,
        amount: PRICE,
        asset: 'SOVR',
        payTo: merchantId,
        maxTimeoutSeconds: 300,
        extra: { hub: hubUrl, challengeId: `ch_${path}`, ...(pass(path) ? { reuse: { windowSeconds: PASS_SECONDS } } : {}) },
      },
    ],
  });

  async function verify(header: string, url: string, method: string): Promise<{ ok: true; sub: string } | { ok: false; reason: string }> {
    const proof = parsePaymentSignature(header);
    if (!proof.ok) return { ok: false, reason: proof.error.message };
    if (proof.value.accepted.payTo !== merchantId || proof.value.accepted.amount !== PRICE)
      return { ok: false, reason: 'not the option offered' };
    const token = proof.value.payload.receipt;
    if (typeof token !== 'string') return { ok: false, reason: 'no receipt' };
    try {
      const { payload } = await jwtVerify(token, jwks, { issuer: hubUrl, audience: merchantId, typ: 'tollway-receipt+jwt' });
      if (payload.res !== url || payload.mth !== method)
        return { ok: false, reason: `receipt for ${String(payload.mth)} ${String(payload.res)}` };
      if (payload.amt !== PRICE) return { ok: false, reason: 'wrong amount' };
      return { ok: true, sub: String(payload.sub) };
    } catch (e) {
      return { ok: false, reason: (e as Error).message };
    }
  }

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (url.pathname === '/page') {
        const paths = url.searchParams.getAll('fetch');
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(`<!doctype html><title>shop</title><script>${paths.map((p) => `fetch(${JSON.stringify(p)});`).join('')}</script>`);
        return;
      }
      if (url.pathname.startsWith('/paid/') || pass(url.pathname)) {
        const header = req.headers['payment-signature'];
        if (typeof header === 'string') {
          let v = await verify(header, `http://${req.headers.host}${url.pathname}`, req.method ?? 'GET');
          if (v.ok && url.pathname.startsWith('/pass-once/')) {
            if (usedOnce.has(v.sub)) v = { ok: false, reason: 'receipt already used' };
            else usedOnce.add(v.sub);
          }
          proofs.push({ path: url.pathname, ...v });
          if (v.ok) {
            res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'no-store' });
            res.end(`<!doctype html><title>paid</title><h1 id="paid">Paid article ${url.pathname}</h1><p id="receipt">${v.sub}</p>`);
            return;
          }
        }
        const challenge = challengeFor(req.headers.host ?? '127.0.0.1', url.pathname);
        res.writeHead(402, {
          'content-type': 'application/json',
          'cache-control': 'no-store',
          'payment-required': Buffer.from(JSON.stringify(challenge)).toString('base64'),
        });
        res.end('{}');
        return;
      }
      res.writeHead(404).end();
    })().catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    proofs,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
