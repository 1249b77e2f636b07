/**
 * The demo shop's Lightning article: `GET /lightning/articles/:slug` for 21 sats, offered three
 * ways in one 402 (`offer()`): the hub's `tollway` entry in BTC (paid from a hub balance, e.g. one
 * topped up over Lightning), L402 and the "Payment" scheme (invoices from the shop's own node). An
 * L402 token opens the article for ten minutes.
 *
 * The tollway entry carries an invoice of the hub's node too (`paywall({lightning: true})`): without
 * the extension, the pay button shows it as a QR code for any wallet (locally: the outside wallet's
 * dev page), and the page opens with the receipt the hub issues once it is paid.
 */
import { randomBytes } from 'node:crypto';
import type { Express, Request, RequestHandler, Response } from 'express';
import type { LightningNode } from '@tollway/lightning/node.js';
import { l402, type L402Paid } from '../l402.js';
import type { PaidRequest } from '../middleware.js';
import { offer } from '../offer.js';
import { paymentScheme, type PaymentSchemePaid } from '../payment-scheme.js';
import { paywall } from '../middleware.js';

/** 21 sats, in millisatoshi (the hub's BTC unit, and L402's and Payment's). */
export const LIGHTNING_ARTICLE_PRICE_MSAT = 21_000n;
export const LIGHTNING_PASS_SECONDS = 600;

export interface DemoLightning {
  /** The shop's own node: issues the L402, Payment and slot-token invoices (and looks the latter up). */
  node: Pick<LightningNode, 'createInvoice' | 'lookupInvoice'>;
  /** Where the publication slots are kept (./slots.ts): a SQLite path or a postgres:// URL. Default: in memory. */
  slotsStore?: string;
  /** Signs L402 tokens and Payment challenge ids (32+ bytes). Default: random per process. */
  secret?: string;
}

export interface LightningArticleDeps {
  hub: string;
  merchantId: string;
  /** The merchant's API key: the hub issues the tollway entry's invoice for it. */
  apiKey: string;
  origin?: string;
  /** A 404 for unknown slugs, else next(). */
  knownArticle: RequestHandler;
  /** The teaser HTML of the 402 page (with the pay button). */
  teaser(req: Request): string;
  /** The whole article, with a line saying how it was paid. */
  article(slug: string, paidLine: string): string;
}

const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function mountLightningArticles(app: Express, lightning: DemoLightning, deps: LightningArticleDeps): void {
  const secret = lightning.secret ?? randomBytes(32).toString('hex');
  const price = LIGHTNING_ARTICLE_PRICE_MSAT;
  const { node } = lightning;
  const description = 'A Lightning article from the Tollway demo shop';

  app.get(
    '/lightning/articles/:slug',
    deps.knownArticle,
    offer({
      x402: paywall({
        hub: deps.hub,
        merchantId: deps.merchantId,
        ...(deps.origin ? { origin: deps.origin } : {}),
        asset: 'BTC',
        price: price.toString(),
        description,
        mimeType: 'text/html',
        reuse: { windowSeconds: LIGHTNING_PASS_SECONDS },
        teaser: deps.teaser,
        lightning: true,
        apiKey: deps.apiKey,
      }),
      l402: l402({ node, price, service: 'demo-shop', validSeconds: LIGHTNING_PASS_SECONDS, rootKeySecret: secret, description }),
      payment: paymentScheme({ node, price, secret, description }),
    }),
    (req: Request, res: Response) => {
      const slug = String(req.params.slug);
      const sats = `${price / 1000n} sats`;
      const l = res.locals.l402 as L402Paid | undefined;
      const p = res.locals.payment as PaymentSchemePaid | undefined;
      const t = res.locals.tollway as PaidRequest | undefined;
      const line = l
        ? `Paid ${sats} with L402 · payment hash <code>${esc(l.paymentHash)}</code> · the token opens this article for ${LIGHTNING_PASS_SECONDS / 60} minutes.`
        : p
          ? `Paid ${sats} with the Payment scheme · payment hash <code>${esc(p.paymentHash)}</code>.`
          : `Paid ${sats} through the hub · transaction <code>${esc(t?.transaction ?? '')}</code>.`;
      res.type('html').send(deps.article(slug, line));
    },
  );
}
