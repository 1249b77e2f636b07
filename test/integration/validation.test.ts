import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMerchant, fund, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced, rowCounts } from '../helpers/invariant.js';
import { ENGINES } from '../helpers/stores.js';

interface Case {
  name: string;
  body?: string | null;
  headers?: Record<string, string | null>;
  method?: string;
  path?: string;
  status: number;
}

describe.each(ENGINES)('bad input on %s', (engine) => {
  let t: TestHub;
  let s: Session;
  let merchantId: string;
  let counter = 0;
  beforeAll(async () => {
    t = await startTestHub(engine);
    s = await signIn(t.url);
    merchantId = (await createMerchant(t.url)).merchant.id;
    await fund(t.url, s, '1000000');
  });
  afterAll(async () => t?.stop());

  const good = () => ({
    rail: 'internal',
    payTo: merchantId,
    amount: '100',
    asset: 'SOVR',
    resource: { url: 'https://a.example/x', method: 'GET' },
  });
  const withBody = (patch: Record<string, unknown>) => JSON.stringify({ ...good(), ...patch });
  const without = (k: string) => {
    const b: Record<string, unknown> = good();
    delete b[k];
    return JSON.stringify(b);
  };

  const cases = (): Case[] => [
    { name: 'amount as a JSON number', body: withBody({ amount: 100 }), status: 400 },
    { name: 'negative amount', body: withBody({ amount: '-100' }), status: 400 },
    { name: 'fractional amount', body: withBody({ amount: '1.5' }), status: 400 },
    { name: 'exponent amount', body: withBody({ amount: '1e3' }), status: 400 },
    { name: 'zero amount', body: withBody({ amount: '0' }), status: 400 },
    { name: 'leading zeros', body: withBody({ amount: '0100' }), status: 400 },
    { name: '80-digit amount', body: withBody({ amount: '9'.repeat(80) }), status: 400 },
    { name: 'amount above 2^256-1', body: withBody({ amount: ((1n << 256n) + 1n).toString() }), status: 400 },
    { name: 'amount with spaces', body: withBody({ amount: ' 100' }), status: 400 },
    { name: 'hex amount', body: withBody({ amount: '0x64' }), status: 400 },
    { name: 'empty amount', body: withBody({ amount: '' }), status: 400 },
    { name: 'amount null', body: withBody({ amount: null }), status: 400 },
    { name: 'unknown field', body: withBody({ tip: '1' }), status: 400 },
    {
      name: 'unknown field in resource',
      body: withBody({ resource: { url: 'https://a.example/x', method: 'GET', extra: 1 } }),
      status: 400,
    },
    { name: 'unknown rail', body: withBody({ rail: 'paypal' }), status: 400 },
    { name: 'unknown asset', body: withBody({ asset: 'DOGE' }), status: 400 },
    { name: 'missing amount', body: without('amount'), status: 400 },
    { name: 'missing payTo', body: without('payTo'), status: 400 },
    { name: 'missing rail', body: without('rail'), status: 400 },
    { name: 'payTo a number', body: withBody({ payTo: 42 }), status: 400 },
    { name: 'unknown merchant', body: withBody({ payTo: 'm_doesnotexist' }), status: 400 },
    { name: 'resource URL not http', body: withBody({ resource: { url: 'javascript:alert(1)', method: 'GET' } }), status: 400 },
    { name: 'resource URL relative', body: withBody({ resource: { url: '/x', method: 'GET' } }), status: 400 },
    { name: 'bodyHash not hex', body: withBody({ resource: { url: 'https://a.example/x', method: 'POST', bodyHash: 'zz' } }), status: 400 },
    {
      name: 'requirement disagrees with amount',
      body: withBody({ requirement: { scheme: 'tollway', network: 'tollway:x', amount: '1', asset: 'SOVR', payTo: merchantId } }),
      status: 400,
    },
    { name: 'description too long', body: withBody({ description: 'x'.repeat(501) }), status: 400 },
    { name: 'body is an array', body: '[]', status: 400 },
    { name: 'body is a string', body: '"hello"', status: 400 },
    { name: 'body is null', body: 'null', status: 400 },
    { name: 'malformed JSON', body: '{"rail": "internal",', status: 400 },
    { name: 'empty body', body: '', status: 400 },
    { name: 'huge body', body: JSON.stringify({ ...good(), description: 'x'.repeat(200_000) }), status: 413 },
    { name: 'text/plain body', body: withBody({}), headers: { 'content-type': 'text/plain' }, status: 415 },
    { name: 'missing Idempotency-Key', body: withBody({}), headers: { 'idempotency-key': null }, status: 400 },
    { name: 'empty Idempotency-Key', body: withBody({}), headers: { 'idempotency-key': '""' }, status: 400 },
    { name: '256-character Idempotency-Key', body: withBody({}), headers: { 'idempotency-key': 'k'.repeat(256) }, status: 400 },
    { name: 'missing Authorization', body: withBody({}), headers: { authorization: null }, status: 401 },
    { name: 'Authorization not Bearer', body: withBody({}), headers: { authorization: 'Basic YTpi' }, status: 401 },
    { name: 'garbage token', body: withBody({}), headers: { authorization: 'Bearer abc.def.ghi' }, status: 401 },
    { name: 'unknown route', method: 'GET', path: '/nope', status: 404 },
    { name: 'list with limit 0', method: 'GET', path: '/payments?limit=0', status: 400 },
    { name: 'list with limit twice', method: 'GET', path: '/payments?limit=1&limit=2', status: 400 },
    { name: 'list with a forged cursor', method: 'GET', path: '/payments?cursor=bm9wZQ', status: 400 },
    { name: 'list with an unknown parameter', method: 'GET', path: '/payments?sort=asc', status: 400 },
    {
      name: 'faucet with a negative amount',
      method: 'POST',
      path: '/dev/faucet',
      body: JSON.stringify({ asset: 'SOVR', amount: '-1' }),
      status: 400,
    },
    {
      name: 'merchant without a name',
      method: 'POST',
      path: '/merchants',
      body: JSON.stringify({}),
      headers: { authorization: 'Bearer test-admin-token-0123456789' },
      status: 400,
    },
    {
      name: 'siwe with a short signature',
      method: 'POST',
      path: '/auth/siwe',
      body: JSON.stringify({ message: 'x', signature: '0x12' }),
      status: 400,
    },
    {
      name: 'refresh with an unknown token',
      method: 'POST',
      path: '/auth/refresh',
      body: JSON.stringify({ refreshToken: 'rt_nope' }),
      status: 401,
    },
  ];

  it('answers every malformed request with a 4xx problem and writes nothing', async () => {
    const all = cases();
    expect(all.length).toBeGreaterThanOrEqual(30);
    const before = await rowCounts(t.store.db);
    for (const c of all) {
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        authorization: `Bearer ${s.accessToken}`,
        'idempotency-key': `bad-${engine}-${++counter}`,
      };
      for (const [k, v] of Object.entries(c.headers ?? {})) {
        if (v === null) delete headers[k];
        else headers[k] = v;
      }
      const method = c.method ?? 'POST';
      const res = await fetch(`${t.url}${c.path ?? '/payments'}`, {
        method,
        headers,
        body: method === 'GET' ? undefined : (c.body ?? undefined),
      });
      const text = await res.text();
      expect(res.status, `${c.name}: ${text}`).toBe(c.status);
      expect(res.headers.get('content-type'), c.name).toMatch(/^application\/problem\+json/);
      const p = JSON.parse(text) as { type: string; title: string; status: number };
      expect(p.type, c.name).toMatch(/^https:\/\/tollway\.dev\/problems\//);
      expect(p.status, c.name).toBe(c.status);
    }
    expect(await rowCounts(t.store.db)).toEqual(before);
    await expectLedgerBalanced(t.store.db);
  });
});
