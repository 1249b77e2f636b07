import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, createMerchant, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { badId, dbFingerprint, FUZZ_RUNS, fuzzParams, jsonBody, rawBody } from './kit.js';

/**
 * Every hub endpoint, hit with generated hostile requests over real HTTP against a real hub on
 * SQLite. Properties: never a 5xx; every error is application/problem+json with a `type`; and a
 * refused request changes no row of any table (checked by a fingerprint of the whole database
 * before and after each request). Bodies come only from generators that can never be valid, so
 * every write-capable request here must be refused.
 */

type Auth = 'none' | 'garbage' | 'user' | 'foreignUser' | 'merchant' | 'foreignMerchant' | 'wrongAdmin' | 'forgedJwt';
interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string; // :id / :challengeId / :deliveryId are filled from generated ids
  /** Writes when it succeeds whatever the body (a sign-in nonce is issued by a bare GET). */
  writesOnSuccess?: true;
}

const ROUTES: Route[] = [
  { method: 'GET', path: '/accounts/me' },
  { method: 'GET', path: '/allowances' },
  { method: 'PUT', path: '/allowances' },
  { method: 'DELETE', path: '/allowances' },
  { method: 'POST', path: '/dev/faucet' },
  { method: 'GET', path: '/auth/nonce', writesOnSuccess: true },
  { method: 'POST', path: '/auth/siwe' },
  { method: 'POST', path: '/auth/refresh' },
  { method: 'POST', path: '/auth/logout' },
  { method: 'POST', path: '/deposits' },
  { method: 'GET', path: '/deposits/:id' },
  { method: 'POST', path: '/topups' },
  { method: 'GET', path: '/topups/:id' },
  { method: 'GET', path: '/ilp/wallet' },
  { method: 'PUT', path: '/ilp/wallet' },
  { method: 'DELETE', path: '/ilp/wallet' },
  { method: 'GET', path: '/ilp/finish' },
  { method: 'GET', path: '/ilp/grants' },
  { method: 'DELETE', path: '/ilp/grants/:id' },
  { method: 'GET', path: '/ilp/payments/:id' },
  { method: 'POST', path: '/merchants/:id/invoices' },
  { method: 'GET', path: '/challenges/:challengeId' },
  { method: 'POST', path: '/lightning/lnbits-webhook' },
  { method: 'POST', path: '/merchants' },
  { method: 'GET', path: '/merchants/:id/payments' },
  { method: 'GET', path: '/merchants/:id/webhook' },
  { method: 'PUT', path: '/merchants/:id/webhook' },
  { method: 'GET', path: '/merchants/:id/webhook-deliveries' },
  { method: 'GET', path: '/merchants/:id/webhook-deliveries/:deliveryId' },
  { method: 'POST', path: '/merchants/:id/webhook-deliveries/:deliveryId/redeliver' },
  { method: 'POST', path: '/payments' },
  { method: 'GET', path: '/payments' },
  { method: 'GET', path: '/payments/:id' },
  { method: 'POST', path: '/payments/:id/refund' },
  { method: 'POST', path: '/payments/:id/settlement' },
  { method: 'GET', path: '/x402/supported' },
  { method: 'POST', path: '/x402/verify' },
  { method: 'POST', path: '/x402/settle' },
  { method: 'GET', path: '/rails' },
  { method: 'GET', path: '/.well-known/jwks.json' },
  { method: 'GET', path: '/openapi.json' },
  { method: 'GET', path: '/healthz' },
  { method: 'GET', path: '/readyz' },
  { method: 'GET', path: '/metrics' },
  { method: 'GET', path: '/tollway.js' },
  { method: 'GET', path: '/no-such-route' },
];

const FORGED_JWT = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"sub":"usr_x","exp":99999999999}').toString('base64url')}.`;

let t: TestHub;
let me: Session;
let other: Session;
let shop: { merchant: { id: string }; apiKey: string };
let otherShop: { merchant: { id: string }; apiKey: string };
let paymentId: string;
const stats = { requests: 0, byStatus: new Map<number, number>(), ms: 0 };

beforeAll(async () => {
  t = await startTestHub('sqlite');
  me = await signIn(t.url);
  other = await signIn(t.url);
  shop = await createMerchant(t.url, 'Fuzz shop');
  otherShop = await createMerchant(t.url, 'Other shop');
  await fund(t.url, me, '1000');
  const res = await pay(t.url, me, 'fuzz-setup-1', {
    rail: 'internal',
    payTo: shop.merchant.id,
    amount: '10',
    asset: 'SOVR',
    resource: { url: 'https://shop.example/a', method: 'GET' },
  });
  const body = (await res.json()) as { id?: string; payment?: { id: string } };
  if (res.status >= 300) throw new Error(`setup payment failed: ${res.status}`);
  paymentId = body.payment?.id ?? body.id ?? 'pay_unknown';
  // The setup payment's outbox row is published in the background; wait until the database is
  // still, so a later change can only come from a fuzzed request.
  let last = '';
  for (let still = 0; still < 5; ) {
    await new Promise((r) => setTimeout(r, 100));
    const now = await dbFingerprint(t.store.db);
    still = now === last ? still + 1 : 0;
    last = now;
  }
});

afterAll(async () => {
  const perSec = stats.requests / (stats.ms / 1000 || 1);
  console.log(
    `fuzz http: ${stats.requests} requests in ${(stats.ms / 1000).toFixed(1)} s (${perSec.toFixed(0)}/s); statuses ${JSON.stringify(Object.fromEntries([...stats.byStatus].sort()))}`,
  );
  await t?.stop();
});

function authHeader(a: Auth): string | undefined {
  switch (a) {
    case 'none':
      return undefined;
    case 'garbage':
      // fetch sends only byte strings; Latin-1 bytes past ASCII are the worst a header can carry.
      return 'Bearer \u00ff\u00e9.\u0080 Basic Og==';
    case 'user':
      return `Bearer ${me.accessToken}`;
    case 'foreignUser':
      return `Bearer ${other.accessToken}`;
    case 'merchant':
      return `Bearer ${shop.apiKey}`;
    case 'foreignMerchant':
      return `Bearer ${otherShop.apiKey}`;
    case 'wrongAdmin':
      return `Bearer ${ADMIN_TOKEN}x`;
    case 'forgedJwt':
      return `Bearer ${FORGED_JWT}`;
  }
}

const request = fc.record({
  route: fc.constantFrom(...ROUTES),
  auth: fc.constantFrom<Auth>('none', 'garbage', 'user', 'foreignUser', 'merchant', 'foreignMerchant', 'wrongAdmin', 'forgedJwt'),
  // Real ids (own, foreign) reach past "not found" into ownership and validation checks.
  id: fc.oneof(badId, fc.constantFrom('real-merchant', 'foreign-merchant', 'real-payment')),
  deliveryId: badId,
  body: fc.oneof(
    jsonBody.map((v) => ({ kind: 'json' as const, v })),
    rawBody.map((v) => ({ kind: 'raw' as const, v })),
  ),
  contentType: fc.constantFrom(
    'application/json',
    'application/json; charset=latin1',
    'text/plain',
    'application/x-www-form-urlencoded',
    '',
    'application/json; charset=utf-16',
  ),
  idempotencyKey: fc.option(
    fc.oneof(
      fc.string({ unit: 'binary', maxLength: 300 }).map(encodeURIComponent),
      fc.constantFrom('', ' ', 'k'.repeat(1000), 'valid-key-123'),
    ),
    {
      nil: undefined,
    },
  ),
});

function resolveId(id: string): string {
  if (id === 'real-merchant') return shop.merchant.id;
  if (id === 'foreign-merchant') return otherShop.merchant.id;
  if (id === 'real-payment') return paymentId;
  return id;
}

describe('fuzz: every hub endpoint', () => {
  it('covers every operation the hub describes in /openapi.json', async () => {
    const doc = (await (await fetch(`${t.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const described = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter((m) => ['get', 'post', 'put', 'delete', 'patch'].includes(m))
        .map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    const fuzzed = new Set(ROUTES.map((r) => `${r.method} ${r.path}`));
    expect(described.filter((op) => !fuzzed.has(op))).toEqual([]);
  });

  it('never answers 5xx, always problem+json on error, and a refused request writes nothing', async () => {
    const runs = FUZZ_RUNS;
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const path = r.route.path.replace(':challengeId', r.id).replace(':id', resolveId(r.id)).replace(':deliveryId', r.deliveryId);
        const headers: Record<string, string> = {};
        const auth = authHeader(r.auth);
        if (auth) headers.authorization = auth;
        if (r.contentType) headers['content-type'] = r.contentType;
        if (r.idempotencyKey !== undefined) headers['idempotency-key'] = r.idempotencyKey;
        let body: string | Uint8Array<ArrayBuffer> | undefined;
        if (r.route.method !== 'GET')
          body =
            r.body.kind === 'json'
              ? (JSON.stringify(r.body.v) ?? 'undefined')
              : typeof r.body.v === 'string'
                ? r.body.v
                : new Uint8Array(r.body.v);

        const before = await dbFingerprint(t.store.db);
        const started = performance.now();
        const res = await fetch(`${t.url}${path}`, { method: r.route.method, headers, body });
        const text = await res.text();
        stats.ms += performance.now() - started;
        stats.requests++;
        stats.byStatus.set(res.status, (stats.byStatus.get(res.status) ?? 0) + 1);
        const after = await dbFingerprint(t.store.db);

        expect(res.status, `${r.route.method} ${path} → ${text.slice(0, 300)}`).toBeLessThan(500);
        if (res.status >= 400) {
          expect(res.headers.get('content-type') ?? '', `${r.route.method} ${path}`).toMatch(/^application\/problem\+json/);
          const problem = JSON.parse(text) as { type?: unknown };
          expect(typeof problem.type).toBe('string');
        }
        // Generated bodies are never valid, so nothing may be written by any of them.
        if (!(r.route.writesOnSuccess && res.status < 300))
          expect(after, `${r.route.method} ${path} (${res.status}) wrote to the database`).toBe(before);
      }),
      fuzzParams(runs),
    );
    await expectLedgerBalanced(t.store.db);
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  });
});
