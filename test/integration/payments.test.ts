import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requestHash } from '../../shared/binding.js';
import { balances, createMerchant, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced, rowCounts } from '../helpers/invariant.js';
import { ENGINES } from '../helpers/stores.js';

const SOVR = (n: bigint) => (n * 10n ** 18n).toString();

describe.each(ENGINES)('payments on %s', (engine) => {
  let t: TestHub;
  let alice: Session;
  let bob: Session;
  let merchantId: string;
  let apiKey: string;
  let n = 0;
  const key = () => `key-${engine}-${++n}`;
  const body = (amount = SOVR(1n), extra: Record<string, unknown> = {}) => ({
    rail: 'internal',
    payTo: merchantId,
    amount,
    asset: 'SOVR',
    resource: { url: 'https://shop.example/article/1?x=1', method: 'GET' },
    ...extra,
  });

  beforeAll(async () => {
    t = await startTestHub(engine);
    alice = await signIn(t.url);
    bob = await signIn(t.url);
    const m = await createMerchant(t.url);
    merchantId = m.merchant.id;
    apiKey = m.apiKey;
    await fund(t.url, alice, SOVR(1000n));
  });
  afterEach(async () => expectLedgerBalanced(t.store.db));
  afterAll(async () => t?.stop());

  it('pays a merchant on the internal rail and returns a receipt that verifies offline', async () => {
    const before = await balances(t.url, alice);
    const res = await pay(
      t.url,
      alice,
      key(),
      body(SOVR(2n), {
        requirement: {
          scheme: 'tollway',
          network: `tollway:${t.url}`,
          amount: SOVR(2n),
          asset: 'SOVR',
          payTo: merchantId,
          extra: { bind: ['method', 'path', 'query'] },
        },
      }),
    );
    expect(res.status).toBe(200);
    const p = (await res.json()) as { transactionId: string; status: string; receipt: { token: string }; amount: string };
    expect(p.status).toBe('completed');
    expect(p.amount).toBe(SOVR(2n));
    const after = await balances(t.url, alice);
    expect(BigInt(after.SOVR!.available)).toBe(BigInt(before.SOVR!.available) - 2n * 10n ** 18n);

    const jwks = createLocalJWKSet(await (await fetch(`${t.url}/.well-known/jwks.json`)).json());
    const { payload, protectedHeader } = await jwtVerify(p.receipt.token, jwks, {
      issuer: t.url,
      audience: merchantId,
      algorithms: ['ES256'],
    });
    expect(protectedHeader.kid).toBeTruthy();
    expect(payload).toMatchObject({
      sub: p.transactionId,
      amt: SOVR(2n),
      asset: 'SOVR',
      rail: 'internal',
      res: 'https://shop.example/article/1?x=1',
      mth: 'GET',
    });
    expect(payload.rqh).toBe(await requestHash({ method: 'GET', url: 'https://shop.example/article/1?x=1' }, ['method', 'path', 'query']));
    expect(payload.exp! - payload.iat!).toBe(3600);

    const got = await fetch(`${t.url}/payments/${p.transactionId}`, { headers: { authorization: `Bearer ${alice.accessToken}` } });
    expect(await got.json()).toEqual(p);
  });

  it('refuses insufficient funds with problem type insufficient-funds and stores nothing', async () => {
    const before = await rowCounts(t.store.db);
    const res = await pay(t.url, bob, key(), body(SOVR(5n)));
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(((await res.json()) as { type: string }).type).toBe('https://tollway.dev/problems/insufficient-funds');
    // Bob's wallet account may not exist yet and must not be created by a refused payment either.
    expect(await rowCounts(t.store.db)).toEqual(before);
  });

  it('100 parallel requests with one key make exactly one payment and one transfer', async () => {
    const k = key();
    const before = await rowCounts(t.store.db);
    const results = await Promise.all(Array.from({ length: 100 }, () => pay(t.url, alice, k, body(SOVR(3n)))));
    const statuses = results.map((r) => r.status);
    expect(statuses.every((s) => s === 200 || s === 409)).toBe(true);
    const bodies = await Promise.all(results.map((r) => r.json() as Promise<{ transactionId?: string; type?: string }>));
    const ids = new Set(bodies.filter((_, i) => statuses[i] === 200).map((b) => b.transactionId));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.status === 200 && r.headers.get('idempotent-replayed') !== 'true')).toHaveLength(1);
    for (const [i, b] of bodies.entries())
      if (statuses[i] === 409) expect(b.type).toBe('https://tollway.dev/problems/idempotency-key-in-flight');
    const after = await rowCounts(t.store.db);
    expect(after.payments - before.payments).toBe(1);
    expect(after.idempotency_keys - before.idempotency_keys).toBe(1);
    // The internal rail settles in one posted transfer.
    expect(after.ledger_transfers - before.ledger_transfers).toBe(1);

    const replay = await pay(t.url, alice, `"${k}"`, body(SOVR(3n)));
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(((await replay.json()) as { transactionId: string }).transactionId).toBe([...ids][0]);
  });

  it('a reused key with another body is 422 and changes nothing', async () => {
    const k = key();
    expect((await pay(t.url, alice, k, body(SOVR(1n)))).status).toBe(200);
    const before = await rowCounts(t.store.db);
    const res = await pay(t.url, alice, k, body(SOVR(2n)));
    expect(res.status).toBe(422);
    expect(((await res.json()) as { type: string }).type).toBe('https://tollway.dev/problems/idempotency-key-reused');
    expect(await rowCounts(t.store.db)).toEqual(before);
  });

  it('scopes keys to the caller: the same key from another user is another payment', async () => {
    await fund(t.url, bob, SOVR(10n));
    const k = key();
    const a = (await (await pay(t.url, alice, k, body())).json()) as { transactionId: string };
    const b = (await (await pay(t.url, bob, k, body())).json()) as { transactionId: string };
    expect(a.transactionId).not.toBe(b.transactionId);
  });

  it('shows each user only their own payments', async () => {
    const p = (await (await pay(t.url, alice, key(), body())).json()) as { transactionId: string };
    const asBob = await fetch(`${t.url}/payments/${p.transactionId}`, { headers: { authorization: `Bearer ${bob.accessToken}` } });
    expect(asBob.status).toBe(404);
    const list = (await (
      await fetch(`${t.url}/payments?limit=100`, { headers: { authorization: `Bearer ${bob.accessToken}` } })
    ).json()) as { data: { transactionId: string }[] };
    expect(list.data.map((x) => x.transactionId)).not.toContain(p.transactionId);
  });

  it('pages through a user’s payments with a cursor, newest first, without gaps or repeats', async () => {
    const carol = await signIn(t.url);
    await fund(t.url, carol, SOVR(100n));
    const made: string[] = [];
    for (let i = 0; i < 7; i++)
      made.push(((await (await pay(t.url, carol, key(), body(SOVR(1n)))).json()) as { transactionId: string }).transactionId);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `?limit=3&cursor=${cursor}` : '?limit=3';
      const page = (await (await fetch(`${t.url}/payments${q}`, { headers: { authorization: `Bearer ${carol.accessToken}` } })).json()) as {
        data: { transactionId: string }[];
        nextCursor: string | null;
      };
      seen.push(...page.data.map((x) => x.transactionId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual([...made].sort());
    expect(new Set(seen).size).toBe(7);
  });

  it('lets a merchant list what it was paid with its API key, and nobody else', async () => {
    const res = await fetch(`${t.url}/merchants/${merchantId}/payments`, { headers: { authorization: `Bearer ${apiKey}` } });
    expect(res.status).toBe(200);
    const list = (await res.json()) as { data: { payTo: string }[] };
    expect(list.data.length).toBeGreaterThan(0);
    expect(list.data.every((p) => p.payTo === merchantId)).toBe(true);
    expect((await fetch(`${t.url}/merchants/${merchantId}/payments`, { headers: { authorization: 'Bearer tw_sk_wrong' } })).status).toBe(
      401,
    );
    const other = await createMerchant(t.url, 'Other');
    expect(
      (await fetch(`${t.url}/merchants/${merchantId}/payments`, { headers: { authorization: `Bearer ${other.apiKey}` } })).status,
    ).toBe(403);
    expect(
      (
        await fetch(`${t.url}/merchants`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer nope-nope-nope-nope' },
          body: '{"name":"x"}',
        })
      ).status,
    ).toBe(401);
  });

  it('answers readiness, metrics and the API description', async () => {
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${t.url}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/tollway_payments_total\{status="completed"\} \d+/);
    expect(metrics).toContain('tollway_http_request_duration_seconds_bucket');
    const doc = (await (await fetch(`${t.url}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
      components: { schemas: Record<string, unknown> };
    };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/payments', '/auth/siwe', '/accounts/me', '/merchants']));
    expect(doc.components.schemas.CreatePaymentRequest).toBeTruthy();
  });
});
