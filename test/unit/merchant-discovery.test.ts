import express from 'express';
import { describe, expect, it } from 'vitest';
import { describeRoutes, l402, openApiPaths, paywall } from '../../merchant/index.js';

const base = { hub: 'https://hub.example', merchantId: 'm_1', asset: 'SOVR' };
const ok: express.RequestHandler = (_req, res) => void res.send('ok');

function shop() {
  const app = express();
  app.get('/article/:id', paywall({ ...base, price: '1500', description: 'An article' }), ok);
  app.get('/free', ok);
  const api = express.Router();
  api.post('/summarize', paywall({ ...base, price: '1000', bind: ['method', 'path', 'body'], reuse: { windowSeconds: 600 } }), ok);
  api.get('/free', ok);
  app.use('/api', api);
  app.all('/any', paywall({ ...base, price: '5' }), ok);
  app.use('/premium', paywall({ ...base, price: '99' }));
  return app;
}

describe('describeRoutes', () => {
  it('finds every paid route of an Express app, including mounted routers', () => {
    const list = describeRoutes(shop());
    expect(list.tollway).toBe(1);
    const brief = list.routes.map((r) => `${r.method} ${r.path} ${r.price.amount}`);
    expect(brief).toEqual(['GET /article/:id 1500', 'POST /api/summarize 1000', '* /any 5', '* /premium/* 99']);
    expect(list.routes[1]).toEqual({
      method: 'POST',
      path: '/api/summarize',
      price: { amount: '1000', asset: 'SOVR' },
      description: '',
      mimeType: '',
      hub: 'https://hub.example',
      merchantId: 'm_1',
      network: 'tollway:https://hub.example',
      schemes: ['tollway'],
      bind: ['method', 'path', 'body'],
      reuse: { windowSeconds: 600 },
    });
  });

  it('takes an explicit list too', () => {
    const p = paywall({ ...base, price: '7' });
    expect(describeRoutes([{ method: 'get', path: '/x', paywall: p }]).routes).toEqual([
      expect.objectContaining({ method: 'GET', path: '/x', price: { amount: '7', asset: 'SOVR' } }),
    ]);
  });

  it('reads Express 4 apps, whose mount paths are only regexps', () => {
    const p = paywall({ ...base, price: '3' });
    const express4Like = {
      _router: {
        stack: [
          { regexp: Object.assign(/^\/?(?=\/|$)/i, { fast_slash: true }), handle: function query() {} },
          {
            regexp: /^\/api\/v1\/?(?=\/|$)/i,
            handle: {
              stack: [
                {
                  route: {
                    path: '/things/:id',
                    methods: { get: true },
                    stack: [
                      { method: 'get', handle: p },
                      { method: 'get', handle: ok },
                    ],
                  },
                },
              ],
            },
          },
        ],
      },
    };
    expect(describeRoutes(express4Like).routes.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /api/v1/things/:id']);
  });

  it('refuses what it cannot read', () => {
    expect(() => describeRoutes(42)).toThrow(TypeError);
  });
});

describe('openApiPaths', () => {
  it('documents each paid operation with x-payment and a 402', () => {
    const paths = openApiPaths(shop());
    const op = paths['/article/{id}']!.get as {
      summary?: string;
      'x-payment'?: unknown;
      responses: Record<string, { headers: Record<string, unknown> }>;
    };
    expect(op.summary).toBe('An article');
    expect(op['x-payment']).toEqual({
      protocol: 'x402',
      x402Version: 2,
      schemes: ['tollway'],
      network: 'tollway:https://hub.example',
      amount: '1500',
      asset: 'SOVR',
      payTo: 'm_1',
      hub: 'https://hub.example',
      bind: ['method', 'path'],
      reuse: 'single',
    });
    expect(op.responses['402']!.headers['PAYMENT-REQUIRED']).toBeTruthy();
    expect(Object.keys(paths['/any']!)).toEqual(['get', 'post', 'put', 'patch', 'delete']);
    expect(paths['/free']).toBeUndefined();
  });
});

describe('l402() routes in price discovery', () => {
  const node = { createInvoice: async () => ({ bolt11: 'lnbcrt20n1x', paymentHash: '00'.repeat(32), expiresAt: 0 }) };
  const secret = 'ab'.repeat(32);
  function shopWithL402() {
    const app = express();
    app.get('/article/:id', paywall({ ...base, price: '1500' }), ok);
    app.get('/api/quote', l402({ node, price: 2000n, service: 'quotes', validSeconds: 3600, rootKeySecret: secret, memo: 'A quote' }), ok);
    const api = express.Router();
    api.post(
      '/sign',
      l402({
        node,
        price: 5000n,
        service: 'signer',
        validSeconds: 60,
        rootKeySecret: secret,
        singleUse: true,
        bind: ['method', 'path', 'body'],
      }),
      ok,
    );
    app.use('/v1', api);
    app.use('/files', l402({ node, price: 1000n, service: 'files', validSeconds: 600, rootKeySecret: secret, pathPrefix: '/files' }));
    return app;
  }

  it('lists them beside paywall() routes, marked l402, with service, reuse and binding', () => {
    const routes = describeRoutes(shopWithL402()).routes;
    expect(routes.map((r) => `${r.method} ${r.path} ${r.price.amount} ${r.price.asset}`)).toEqual([
      'GET /article/:id 1500 SOVR',
      'GET /api/quote 2000 BTC',
      'POST /v1/sign 5000 BTC',
      '* /files/* 1000 BTC',
    ]);
    expect(routes[0]).not.toHaveProperty('protocol');
    expect(routes[1]).toEqual({
      protocol: 'l402',
      method: 'GET',
      path: '/api/quote',
      price: { amount: '2000', asset: 'BTC' },
      description: 'A quote',
      service: 'quotes',
      tier: 0,
      validSeconds: 3600,
      capabilities: [],
      bind: [],
      reuse: { windowSeconds: 3600 },
    });
    expect(routes[2]).toMatchObject({ service: 'signer', reuse: 'single', bind: ['method', 'path', 'body'] });
    expect(routes[3]).toMatchObject({ service: 'files', pathPrefix: '/files' });
  });

  it('documents them in OpenAPI with an l402 x-payment and the 402 and 401 answers', () => {
    const paths = openApiPaths(shopWithL402());
    const op = paths['/api/quote']!.get as {
      summary?: string;
      'x-payment': unknown;
      responses: Record<string, { headers: Record<string, unknown> }>;
    };
    expect(op.summary).toBe('A quote');
    expect(op['x-payment']).toEqual({
      protocol: 'l402',
      amount: '2000',
      asset: 'BTC',
      unit: 'msat',
      service: 'quotes',
      tier: 0,
      validSeconds: 3600,
      bind: [],
      reuse: { windowSeconds: 3600 },
    });
    expect(Object.keys(op.responses)).toEqual(['401', '402']);
    expect(op.responses['402']!.headers['WWW-Authenticate']).toBeTruthy();
    expect((paths['/v1/sign']!.post as { 'x-payment': { reuse: unknown } })['x-payment'].reuse).toBe('single');
    expect((paths['/article/{id}']!.get as { 'x-payment': { protocol: string } })['x-payment'].protocol).toBe('x402');
  });
});
