/**
 * The Tollway demo shop: a small Express site that charges for an article and for a JSON API route
 * with the merchant kit's `paywall()`, lists its prices at `/.well-known/tollway.json`, and receives
 * the hub's signed webhooks.
 *
 * - `GET /articles/:slug` (0.002 SOVR, an access pass for 10 minutes): before payment a browser
 *   gets the 402 page with the article's opening and the `<script src="<hub>/tollway.js">` pay
 *   button; after payment the whole article. With `interledger`, its tollway entry also names the
 *   hub's `ilp` rail and the shop's wallet address: payable from the person's Interledger wallet.
 * - `GET /api/quote?id=` (0.0005 SOVR, single use, bound to the query): a JSON quote. An unknown
 *   id is a 404 after payment, and `refundOnError` gives the money back. With `exact`, any x402
 *   client can pay it in SOVR on chain too (the standard `exact` entry, settled by a facilitator).
 * - `GET /lightning/articles/:slug` (21 sats), with `lightning`: the hub's `tollway` entry in BTC,
 *   L402 and the "Payment" scheme in one 402 (./lightning.ts).
 * - `GET /publication` and `/slots/…`, with `lightning`: publication slots bought with prepaid
 *   tokens, the merchant kit's slots() (./slots.ts).
 * - `POST /webhooks/tollway`: Standard Webhooks, verified with the merchant's `whsec_…` secret.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { Webhook } from 'standardwebhooks';
import { displayPrice } from '../challenge.js';
import { paywall, type PaidRequest } from '../middleware.js';
import { priceList } from '../discovery.js';
import { type DemoLightning, LIGHTNING_ARTICLE_PRICE_MSAT, mountLightningArticles } from './lightning.js';
import { mountPublicationSlots, PUBLICATION_FEE_MSAT } from './slots.js';
import { ProblemError, type ProblemCode } from '@tollway/shared/problem.js';

/** 0.002 SOVR per article (18 decimals). */
export const ARTICLE_PRICE = '2000000000000000';
/** 0.0005 SOVR per API call. */
export const API_PRICE = '500000000000000';
export const ARTICLE_PASS_SECONDS = 600;

export interface DemoShopOptions {
  /** The hub's public URL (its TOLLWAY_PUBLIC_URL: the `iss` of receipts). */
  hub: string;
  merchantId: string;
  /** The merchant's API key: the API route refunds through the hub when it fails after payment. */
  apiKey: string;
  /** The merchant's `whsec_…` secret; without it `/webhooks/tollway` is off. */
  webhookSecret?: string;
  /** Where the pay-button snippet is loaded from. Default `<hub>/tollway.js`. */
  snippetUrl?: string;
  /** The shop's public origin, when behind a proxy. Default: from each request. */
  origin?: string;
  /** Called for every verified webhook (logs, tests). */
  onWebhook?: (event: WebhookEvent) => void;
  /**
   * Also take plain x402 payments on the API route: the standard `exact` entry paying SOVR on chain
   * to `payoutAddress`, verified and settled by `facilitator` (the hub's is `<hub>/x402`).
   */
  exact?: { payoutAddress: string; chainId: number; tokenAddress: string; facilitator: string };
  /** Also sell the articles for sats at `/lightning/articles/:slug`, with invoices from this node. */
  lightning?: DemoLightning;
  /**
   * The shop's Interledger wallet address (the one the merchant registered at the hub): the
   * articles may then be paid on the hub's `ilp` rail, approved on the person's own wallet.
   */
  interledger?: { walletAddress: string };
}

export interface WebhookEvent {
  id: string;
  type: string;
  timestamp: string;
  data: {
    transactionId?: string;
    status?: string;
    rail?: string;
    amount?: string;
    asset?: string;
    resource?: { url?: string } | null;
  };
}

interface Article {
  title: string;
  byline: string;
  teaser: string[];
  rest: string[];
}

export const ARTICLES: Record<string, Article> = {
  'toll-roads': {
    title: 'A short history of toll roads',
    byline: 'The Tollway desk',
    teaser: [
      'Long before the web, people paid small sums to pass: a coin at a bridge, a fee at a turnpike gate.',
      'The idea was simple. Whoever built the road asked those who used it for a little, at the moment of use.',
    ],
    rest: [
      'Turnpike trusts in eighteenth-century England financed thousands of miles of road this way. The gates were a nuisance, and the sums were small, but the roads got built.',
      'The web grew up the other way round: free to pass, paid for by advertising. HTTP even kept a status code for the alternative, 402 Payment Required, "reserved for future use".',
      'With a wallet in the browser and a receipt the site can check on its own, that future use is a click: the site answers 402 with its price, the wallet asks you once, and the page opens.',
      'This article was that click. Thank you for reading it.',
    ],
  },
  'http-402': {
    title: 'HTTP 402, at last',
    byline: 'The Tollway desk',
    teaser: ['Status code 402 sat unused for a quarter of a century. Here is what it takes to use it.'],
    rest: [
      'A server that wants payment answers 402 with a PAYMENT-REQUIRED header: what it costs, in which asset, and where to pay.',
      "The client pays, gets a signed receipt, and asks again with PAYMENT-SIGNATURE. The server checks the receipt offline, against the hub's public keys, and serves the content.",
      'No account at the site, no card form, no redirect: one approval in the wallet.',
    ],
  },
};

const QUOTES: Record<string, { text: string; author: string }> = {
  '1': { text: 'The best way to predict the future is to invent it.', author: 'Alan Kay' },
  '2': { text: 'Simplicity is prerequisite for reliability.', author: 'Edsger W. Dijkstra' },
  '3': { text: 'Make it work, make it right, make it fast.', author: 'Kent Beck' },
};

const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const STYLE = `body{font:17px/1.6 Georgia,serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#222}
header.shop{font:600 14px system-ui,sans-serif;letter-spacing:.04em;text-transform:uppercase;color:#4b3fd8;margin-bottom:2rem}
header.shop a{color:inherit;text-decoration:none}
.byline{color:#666;font-style:italic}
code,pre{font:14px ui-monospace,monospace;background:#f4f4f8;border-radius:4px}
pre{padding:.75rem;overflow:auto}
.paid{font:14px system-ui,sans-serif;color:#256029;background:#eef8ee;border-radius:6px;padding:.5rem .75rem}`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · Tollway demo shop</title>
<style>${STYLE}</style>
</head>
<body>
<header class="shop"><a href="/">Tollway demo shop</a></header>
${body}
</body>
</html>
`;
}

/** The 402 page's part above the paywall: the article's opening, then `extra` (the pay-button script…). */
function teaserHtml(req: Request, extra: string): string {
  const a = ARTICLES[String(req.params.slug)]!;
  return `<header class="shop" style="font:600 14px system-ui,sans-serif;text-transform:uppercase;color:#4b3fd8"><a href="/" style="color:inherit;text-decoration:none">Tollway demo shop</a></header>
<article class="teaser">
<h1 style="font-family:Georgia,serif">${esc(a.title)}</h1>
<p class="byline" style="color:#666;font-style:italic">${esc(a.byline)}</p>
${a.teaser.map((p) => `<p style="font-family:Georgia,serif">${esc(p)}</p>`).join('\n')}
<p style="color:#888">…</p>
</article>
${extra}
<hr>`;
}

/** The whole article, and `paidLine` (HTML) saying how it was paid. */
function articleHtml(slug: string, paidLine: string): string {
  const a = ARTICLES[slug]!;
  return page(
    a.title,
    `<article>
<h1>${esc(a.title)}</h1>
<p class="byline">${esc(a.byline)}</p>
${[...a.teaser, ...a.rest].map((p) => `<p>${esc(p)}</p>`).join('\n')}
</article>
<p class="paid" id="tollway-paid">${paidLine}</p>`,
  );
}

export function createDemoShop(opts: DemoShopOptions): Express {
  const hub = opts.hub.replace(/\/+$/, '');
  const snippetUrl = opts.snippetUrl ?? `${hub}/tollway.js`;
  const common = { hub, merchantId: opts.merchantId, asset: 'SOVR', ...(opts.origin ? { origin: opts.origin } : {}) };
  const events: WebhookEvent[] = [];
  const seen = new Set<string>();

  const app = express();
  app.disable('x-powered-by');

  app.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));

  app.get('/', (_req, res) => {
    const list = Object.entries(ARTICLES)
      .map(
        ([slug, a]) =>
          `<li><a href="/articles/${esc(slug)}">${esc(a.title)}</a> · ${esc(displayPrice(BigInt(ARTICLE_PRICE), 'SOVR'))}</li>`,
      )
      .join('\n');
    const recent = events
      .slice(-10)
      .reverse()
      .map(
        (e) =>
          `<li><code>${esc(e.type)}</code> ${esc(e.data.transactionId ?? '')} ${esc(e.data.amount ? displayPrice(BigInt(e.data.amount), e.data.asset ?? 'SOVR') : '')}</li>`,
      )
      .join('\n');
    res.type('html').send(
      page(
        'Welcome',
        `<h1>Welcome to the demo shop</h1>
<p>Everything here costs a little, paid in one click with the Tollway extension.</p>
<h2>Articles</h2>
<ul>
${list}
</ul>
<p>One payment opens an article for ${ARTICLE_PASS_SECONDS / 60} minutes.</p>${
          opts.interledger
            ? `\n<p>Or pay them from an Interledger wallet: link it at the hub (<code>PUT /ilp/wallet</code>), pay on the <code>ilp</code> rail and approve on your wallet's own page. The money goes to the shop's wallet, <code>${esc(opts.interledger.walletAddress)}</code>.</p>`
            : ''
        }${
          opts.lightning
            ? `\n<h2>Over Lightning</h2>\n<p>The same articles for ${LIGHTNING_ARTICLE_PRICE_MSAT / 1000n} sats: ${Object.keys(ARTICLES)
                .map((slug) => `<a href="/lightning/articles/${esc(slug)}"><code>/lightning/articles/${esc(slug)}</code></a>`)
                .join(
                  ', ',
                )}. Pay with the extension (L402, the Payment scheme, or your hub balance) or from any Lightning wallet by QR code.</p>
<p><a href="/publication">Publication slots</a>: ${PUBLICATION_FEE_MSAT / 1000n} sats a month, paid ahead with a prepaid token (<code>/slots/feerate</code>, <code>/slots/token/init/:value</code>, …).</p>`
            : ''
        }
<h2>API</h2>
<p><code>GET /api/quote?id=1</code> answers JSON for ${esc(displayPrice(BigInt(API_PRICE), 'SOVR'))} a call
(ids 1–3; any other id is a 404 after payment, refunded automatically).
Prices for agents: <a href="/.well-known/tollway.json"><code>/.well-known/tollway.json</code></a>.</p>
<h2>Payments received</h2>
${opts.webhookSecret ? (recent ? `<ul>\n${recent}\n</ul>` : "<p>None yet: the hub's signed webhooks show up here.</p>") : '<p>Webhooks are off (no secret configured).</p>'}`,
      ),
    );
  });

  const knownArticle = (req: Request, res: Response, next: NextFunction) => {
    if (Object.hasOwn(ARTICLES, String(req.params.slug))) return next();
    res.status(404).type('html').send(page('Not found', '<h1>No such article</h1><p><a href="/">Back to the shop</a></p>'));
  };

  app.get(
    '/articles/:slug',
    knownArticle,
    paywall({
      ...common,
      price: ARTICLE_PRICE,
      description: 'An article from the Tollway demo shop',
      mimeType: 'text/html',
      reuse: { windowSeconds: ARTICLE_PASS_SECONDS },
      ...(opts.interledger ? { interledger: { walletAddress: opts.interledger.walletAddress } } : {}),
      teaser: (req) =>
        teaserHtml(
          req,
          `<script src="${esc(snippetUrl)}" data-merchant="${esc(opts.merchantId)}" data-price="${ARTICLE_PRICE}" data-asset="SOVR" data-description="${esc(ARTICLES[String(req.params.slug)]!.title)}"></script>`,
        ),
    }),
    (req, res) => {
      const paid = res.locals.tollway as PaidRequest;
      const until = new Date((paid.receipt.iat + ARTICLE_PASS_SECONDS) * 1000);
      res
        .type('html')
        .send(
          articleHtml(
            String(req.params.slug),
            `Paid ${esc(displayPrice(BigInt(paid.amount), paid.asset))} · transaction <code>${esc(paid.transaction)}</code> · your pass lasts until ${esc(until.toISOString().slice(11, 16))} UTC.`,
          ),
        );
    },
  );

  app.get(
    '/api/quote',
    paywall({
      ...common,
      price: API_PRICE,
      description: 'A quote, as JSON',
      mimeType: 'application/json',
      bind: ['method', 'path', 'query'],
      refundOnError: { apiKey: opts.apiKey },
      ...(opts.exact
        ? {
            payoutAddress: opts.exact.payoutAddress,
            chain: { chainId: opts.exact.chainId, tokenAddress: opts.exact.tokenAddress },
            facilitator: opts.exact.facilitator,
          }
        : {}),
    }),
    (req, res) => {
      const paid = res.locals.tollway as PaidRequest;
      const id = typeof req.query.id === 'string' ? req.query.id : '1';
      const quote = QUOTES[id];
      if (!quote) {
        sendProblem(res, 'not-found', 'no such quote', { refund: 'the payment is refunded automatically', transaction: paid.transaction });
        return;
      }
      res.json({ id, ...quote, paid: { transaction: paid.transaction, amount: paid.amount, asset: paid.asset } });
    },
  );

  if (opts.lightning) {
    mountLightningArticles(app, opts.lightning, {
      hub,
      merchantId: opts.merchantId,
      apiKey: opts.apiKey,
      ...(opts.origin ? { origin: opts.origin } : {}),
      knownArticle,
      teaser: (req) =>
        teaserHtml(
          req,
          `<script src="${esc(snippetUrl)}" data-merchant="${esc(opts.merchantId)}" data-price="${LIGHTNING_ARTICLE_PRICE_MSAT}" data-asset="BTC" data-description="${esc(ARTICLES[String(req.params.slug)]!.title)}"></script>`,
        ),
      article: articleHtml,
    });
    mountPublicationSlots(app, {
      node: opts.lightning.node,
      ...(opts.lightning.slotsStore ? { store: opts.lightning.slotsStore } : {}),
      hub,
      merchantId: opts.merchantId,
      ...(opts.origin ? { origin: opts.origin } : {}),
      snippetUrl,
      page,
    });
  }

  app.get('/.well-known/tollway.json', priceList(app));

  if (opts.webhookSecret) {
    const verifier = new Webhook(opts.webhookSecret);
    app.post('/webhooks/tollway', express.raw({ type: () => true, limit: '256kb' }), (req, res) => {
      let event: Omit<WebhookEvent, 'id'>;
      try {
        const body = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
        event = verifier.verify(body, req.headers as Record<string, string>) as Omit<WebhookEvent, 'id'>;
      } catch {
        sendProblem(res, 'validation-error', 'the webhook signature is not valid');
        return;
      }
      const id = String(req.get('webhook-id'));
      if (!seen.has(id)) {
        seen.add(id);
        const e = { id, ...event };
        events.push(e);
        if (events.length > 100) events.shift();
        opts.onWebhook?.(e);
      }
      res.status(204).end();
    });
  }

  app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return void res.end();
    sendProblem(res, 'internal', err.message);
  });
  return app;
}

/** The demo's errors are RFC 9457 problems from the shared catalogue, like the hub's. */
function sendProblem(res: Response, code: ProblemCode, detail: string, extra: Record<string, unknown> = {}): void {
  const problem = new ProblemError(code, detail, extra);
  res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem.toProblem()));
}

export interface RunningShop {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Starts the shop on `host:port` (port 0: any free one). */
export async function startDemoShop(opts: DemoShopOptions & { port: number; host?: string }): Promise<RunningShop> {
  const app = createDemoShop(opts);
  const host = opts.host ?? '127.0.0.1';
  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    server,
    close() {
      closing ??= new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      });
      return closing;
    },
  };
}
