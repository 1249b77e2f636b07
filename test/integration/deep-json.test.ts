/**
 * Hostile JSON: a body nested thousands of levels deep used to overflow the stack in the
 * idempotency fingerprint (a 500). Every JSON route now refuses such a body before anything
 * parses it: a 400 problem, nothing written, and the hub keeps answering.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH } from '../../server/http/json-body.js';
import { ADMIN_TOKEN, createMerchant, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced, rowCounts } from '../helpers/invariant.js';
import { ENGINES } from '../helpers/stores.js';

interface Problem {
  type: string;
  status: number;
  detail?: string;
}

/** `"[[[…]]]"` (as JSON text), `levels` arrays inside one another. */
const nested = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);

describe.each(ENGINES)('deeply nested JSON on %s', (engine) => {
  let t: TestHub;
  let s: Session;
  let merchantId: string;
  let n = 0;

  beforeAll(async () => {
    t = await startTestHub(engine);
    s = await signIn(t.url);
    merchantId = (await createMerchant(t.url)).merchant.id;
    await fund(t.url, s, '1000000');
  });
  afterAll(async () => t?.stop());

  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${t.url}${path}`, {
      method: path === '/allowances' ? 'PUT' : 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${s.accessToken}`,
        'idempotency-key': `deep-${engine}-${++n}`,
        ...headers,
      },
      body,
    });
  const payment = (extra: Record<string, unknown> = {}) => ({
    rail: 'internal',
    payTo: merchantId,
    amount: '10',
    asset: 'SOVR',
    resource: { url: 'https://shop.example/a', method: 'GET' },
    ...extra,
  });
  /** A payment whose requirement.extra nests `depth` levels in all (the body itself is level 1). */
  const paymentNested = (depth: number) => {
    const requirement = { scheme: 'tollway', network: 'tollway:x', amount: '10', asset: 'SOVR', payTo: merchantId, extra: { deep: '@' } };
    // body (1) → requirement (2) → extra (3) → depth - 3 arrays.
    return JSON.stringify(payment({ requirement })).replace('"@"', nested(depth - 3));
  };

  const expectRefused = async (res: Response, status = 400) => {
    const text = await res.text();
    expect(res.status, text).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const p = JSON.parse(text) as Problem;
    expect(p.type).toMatch(/^https:\/\/tollway\.dev\/problems\//);
    expect(p.status).toBe(status);
    return p;
  };

  it('refuses 20,000 levels on POST /payments with a 400 problem, writes nothing, and keeps serving', async () => {
    const before = await rowCounts(t.store.db);
    const body = JSON.stringify(payment({ authorization: { a: '@' } })).replace('"@"', nested(20_000));
    const p = await expectRefused(await post('/payments', body));
    expect(p.type).toBe('https://tollway.dev/problems/validation-error');
    expect(p.detail).toMatch(/levels deep/);
    expect(await rowCounts(t.store.db)).toEqual(before);
    // Still up, and still paying.
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    expect((await pay(t.url, s, `deep-after-${engine}`, payment())).status).toBe(200);
    await expectLedgerBalanced(t.store.db);
  });

  it('refuses it on every JSON route, before authentication or validation', async () => {
    const deep = `{"x":${nested(20_000)}}`;
    const before = await rowCounts(t.store.db);
    const routes: [string, Record<string, string>?][] = [
      ['/dev/faucet'],
      ['/allowances'],
      ['/merchants', { authorization: `Bearer ${ADMIN_TOKEN}` }],
      ['/auth/siwe'],
      ['/auth/refresh'],
      ['/payments/pay_nope/refund', { authorization: 'Bearer sk_nope' }],
      ['/x402/verify'],
      ['/x402/settle'],
      ['/deposits'],
    ];
    for (const [path, headers] of routes) {
      const p = await expectRefused(await post(path, deep, headers));
      expect(p.type, path).toBe('https://tollway.dev/problems/validation-error');
    }
    // A top-level array is as deep as an object.
    await expectRefused(await post('/payments', nested(5_000)));
    expect(await rowCounts(t.store.db)).toEqual(before);
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  });

  it(`takes ${MAX_JSON_DEPTH} levels, refuses one more, and does not count brackets inside strings`, async () => {
    const ok = await post('/payments', paymentNested(MAX_JSON_DEPTH));
    expect(ok.status, await ok.clone().text()).toBe(200);
    const before = await rowCounts(t.store.db);
    const p = await expectRefused(await post('/payments', paymentNested(MAX_JSON_DEPTH + 1)));
    expect(p.detail).toMatch(new RegExp(`${MAX_JSON_DEPTH} levels`));
    expect(await rowCounts(t.store.db)).toEqual(before);
    // Brackets, quotes and backslashes in a string are text, not structure.
    const text = await post('/payments', JSON.stringify(payment({ description: `\\"${'[{'.repeat(240)}` })));
    expect(text.status, await text.clone().text()).toBe(200);
    await expectLedgerBalanced(t.store.db);
  });

  it('refuses JSON that is not UTF-8 (its bytes cannot be checked) with a 415 problem', async () => {
    const before = await rowCounts(t.store.db);
    const utf16 = Buffer.from(`\ufeff${JSON.stringify(payment())}`, 'utf16le');
    const res = await fetch(`${t.url}/payments`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json; charset=utf-16le',
        authorization: `Bearer ${s.accessToken}`,
        'idempotency-key': `deep-utf16-${engine}`,
      },
      body: utf16,
    });
    const p = await expectRefused(res, 415);
    expect(p.type).toBe('https://tollway.dev/problems/unsupported-media-type');
    expect(await rowCounts(t.store.db)).toEqual(before);
  });

  it('still refuses a body over the size limit with a 413 problem', async () => {
    const p = await expectRefused(await post('/payments', JSON.stringify(payment({ description: 'x'.repeat(100_000) }))), 413);
    expect(p.type).toBe('https://tollway.dev/problems/payload-too-large');
  });
});
