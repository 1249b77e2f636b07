/**
 * Price discovery of a Hono app (describeRoutes reads `app.routes`): the kit's Hono middlewares
 * found under every method and mount, each listed once, with the same entries as on Express.
 */
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { l402Hono, offerHono, paymentSchemeHono, paywallHono } from '../../merchant/hono.js';
import { describeRoutes } from '../../merchant/index.js';

const node = { createInvoice: async () => ({ bolt11: 'lnbcrt20n1x', paymentHash: '00'.repeat(32), expiresAt: 0 }) };
const base = { hub: 'https://hub.example', merchantId: 'm_1', asset: 'SOVR' };
const secret = 'ab'.repeat(32);

describe('describeRoutes on a Hono app', () => {
  it('lists paywall, l402, Payment and offer routes, across sub-apps and app.use, once each', () => {
    const app = new Hono();
    const article = paywallHono({ ...base, price: '1500', description: 'An article' });
    app.get('/article/:id', article, (c) => c.text('ok'));
    app.get('/free', (c) => c.text('free'));
    const api = new Hono();
    api.post('/quote', l402Hono({ node, price: 2000n, service: 'quotes', validSeconds: 60, rootKeySecret: secret }), (c) => c.text('ok'));
    api.get('/tick', paymentSchemeHono({ node, price: 3000n, secret }), (c) => c.text('ok'));
    app.route('/v1', api);
    app.use('/files/*', l402Hono({ node, price: 1000n, service: 'files', validSeconds: 600, rootKeySecret: secret, pathPrefix: '/files' }));
    app.get(
      '/both',
      offerHono({
        x402: paywallHono({ ...base, asset: 'BTC', price: '4000' }),
        payment: paymentSchemeHono({ node, price: 4000n, secret }),
      }),
      (c) => c.text('ok'),
    );
    // The same middleware on two routes is listed on both.
    app.get('/article-again/:id', article, (c) => c.text('ok'));

    const routes = describeRoutes(app).routes;
    expect(routes.map((r) => `${'protocol' in r ? r.protocol : 'x402'} ${r.method} ${r.path} ${r.price.amount} ${r.price.asset}`)).toEqual([
      'x402 GET /article/:id 1500 SOVR',
      'l402 POST /v1/quote 2000 BTC',
      'payment GET /v1/tick 3000 BTC',
      'l402 * /files/* 1000 BTC',
      'offer GET /both 4000 BTC',
      'x402 GET /article-again/:id 1500 SOVR',
    ]);
    expect(routes[4]).toMatchObject({
      dialects: ['payment', 'x402'],
      offers: { payment: { price: { amount: '4000' } }, x402: { schemes: ['tollway'] } },
    });
    expect(routes[4]).not.toHaveProperty('offers.l402');
  });

  it('refuses an offer of middlewares that are not the kit’s', () => {
    expect(() => offerHono({ l402: (async () => undefined) as never })).toThrow(TypeError);
    expect(() => offerHono({})).toThrow(RangeError);
  });
});
