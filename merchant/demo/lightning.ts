/**
 * The demo shop's Lightning article: `GET /lightning/articles/:slug` for 21 sats, offered three
 * ways in one 402 (`offer()`): the hub's `tollway` entry in BTC (paid from a hub balance, e.g. one
 * topped up over Lightning), L402 and the "Payment" scheme (invoices from the shop's own node). An
 * L402 token opens the article for ten minutes.
 *
 * Without the extension, the 402 page shows the L402 invoice as a QR code for any wallet (locally:
 * the outside wallet's dev page), asks the shop whether it settled, and once it has, loads the
 * article with the token and the preimage. `GET /lightning/invoice-status?invoice=` answers that
 * question, preimage included: for a demo only (anyone holding the invoice learns the preimage; the
 * L402 token it goes with stays with the page that got the 402).
 */
import { randomBytes } from 'node:crypto';
import type { Express, Request, RequestHandler, Response } from 'express';
import { decodeInvoice } from '@tollway/lightning/invoice.js';
import type { LightningNode } from '@tollway/lightning/node.js';
import { encodeQr, qrPath } from '../../extension/background/qr.js';
import { l402, type L402Paid } from '../l402.js';
import type { PaidRequest } from '../middleware.js';
import { offer } from '../offer.js';
import { paymentScheme, type PaymentSchemePaid } from '../payment-scheme.js';
import { paywall } from '../middleware.js';

/** 21 sats, in millisatoshi (the hub's BTC unit, and L402's and Payment's). */
export const LIGHTNING_ARTICLE_PRICE_MSAT = 21_000n;
export const LIGHTNING_PASS_SECONDS = 600;

export interface DemoLightning {
  /** The shop's own node: issues the L402 and Payment invoices, and says when one settled. */
  node: Pick<LightningNode, 'createInvoice' | 'lookupInvoice'>;
  /** Signs L402 tokens and Payment challenge ids (32+ bytes). Default: random per process. */
  secret?: string;
}

export interface LightningArticleDeps {
  hub: string;
  merchantId: string;
  origin?: string;
  /** A 404 for unknown slugs, else next(). */
  knownArticle: RequestHandler;
  /** The teaser HTML of the 402 page, with `extra` after it. */
  teaser(req: Request, extra: string): string;
  /** The whole article, with a line saying how it was paid. */
  article(slug: string, paidLine: string): string;
}

const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The 402 page's "pay from any wallet" part: runs in the browser, same origin as the shop. */
const QR_FLOW = `<section id="ln-pay" style="font:15px system-ui,sans-serif">
<h2 style="font-size:18px">Or pay from any Lightning wallet</h2>
<p id="ln-status">Getting an invoice…</p>
<div id="ln-qr"></div>
<textarea id="ln-invoice" readonly style="width:100%;height:5rem;font:12px ui-monospace,monospace;display:none"></textarea>
</section>
<script>
(async () => {
  const status = document.getElementById('ln-status');
  const r = await fetch(location.href, { headers: { accept: 'application/json' } });
  const m = /L402 [^]*?macaroon="([^"]+)",\\s*invoice="([^"]+)"/.exec(r.headers.get('www-authenticate') || '');
  if (!m) { status.textContent = 'No Lightning invoice offered.'; return; }
  const [, macaroon, invoice] = m;
  const box = document.getElementById('ln-invoice');
  box.value = invoice; box.style.display = 'block';
  document.getElementById('ln-qr').innerHTML = await (await fetch('/lightning/qr.svg?text=' + encodeURIComponent('lightning:' + invoice.toUpperCase()))).text();
  status.textContent = 'Scan or copy the invoice and pay it; this page opens the article when it is paid.';
  for (;;) {
    await new Promise((t) => setTimeout(t, 1000));
    const s = await (await fetch('/lightning/invoice-status?invoice=' + encodeURIComponent(invoice))).json().catch(() => ({}));
    if (s.state === 'expired' || s.state === 'canceled') { status.textContent = 'The invoice expired: reload for another.'; return; }
    if (!s.preimage) continue;
    const page = await fetch(location.href, { headers: { accept: 'text/html', authorization: 'L402 ' + macaroon + ':' + s.preimage } });
    document.open(); document.write(await page.text()); document.close();
    return;
  }
})();
</script>`;

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
        teaser: (req) => deps.teaser(req, QR_FLOW),
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
          : `Paid ${sats} from your Tollway balance · transaction <code>${esc(t?.transaction ?? '')}</code>.`;
      res.type('html').send(deps.article(slug, line));
    },
  );

  app.get('/lightning/qr.svg', (req, res) => {
    const text = typeof req.query.text === 'string' ? req.query.text : '';
    if (!text || text.length > 2048) return void res.status(400).type('text/plain').send('text: 1 to 2048 characters\n');
    const qr = encodeQr(text);
    const size = qr.size + 8;
    res
      .type('image/svg+xml')
      .send(
        `<svg xmlns="http://www.w3.org/2000/svg" viewBox="-4 -4 ${size} ${size}" width="240" height="240" shape-rendering="crispEdges" role="img" aria-label="Invoice QR code"><rect x="-4" y="-4" width="${size}" height="${size}" fill="#fff"/><path d="${qrPath(qr)}" fill="#000"/></svg>`,
      );
  });

  app.get('/lightning/invoice-status', async (req, res, next) => {
    try {
      const raw = typeof req.query.invoice === 'string' ? req.query.invoice : '';
      let hash: string;
      try {
        hash = decodeInvoice(raw).paymentHash;
      } catch {
        return void res.status(400).json({ error: 'invoice: a BOLT 11 invoice of this shop' });
      }
      const status = await node.lookupInvoice(hash);
      if (!status) return void res.status(404).json({ error: 'not an invoice of this shop' });
      res.set('cache-control', 'no-store').json({ state: status.state, ...(status.preimage ? { preimage: status.preimage } : {}) });
    } catch (err) {
      next(err);
    }
  });
}
