import { createHmac } from 'node:crypto';
import { io as connect } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMerchant, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced, rowCounts } from '../helpers/invariant.js';

/**
 * Attacks the outside review tried that no other test kept (see docs/security.md for the rest and
 * the tests that keep them). Each asserts the refusal and that nothing changed: same row counts and
 * a balanced ledger.
 */

let t: TestHub;
let alice: Session;
let mallory: Session;
let shop: { merchant: { id: string }; apiKey: string };
let rival: { merchant: { id: string }; apiKey: string };
let alicePayment: string;

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

beforeAll(async () => {
  t = await startTestHub('sqlite');
  alice = await signIn(t.url);
  mallory = await signIn(t.url);
  shop = await createMerchant(t.url, 'Shop');
  rival = await createMerchant(t.url, 'Rival');
  await fund(t.url, alice, '100');
  const res = await pay(t.url, alice, 'attack-setup', {
    rail: 'internal',
    payTo: shop.merchant.id,
    amount: '10',
    asset: 'SOVR',
    resource: { url: 'https://shop.example/a', method: 'GET' },
  });
  expect(res.status).toBeLessThan(300);
  const body = (await res.json()) as { id?: string; payment?: { id: string } };
  alicePayment = body.payment?.id ?? (body.id as string);
});
afterAll(async () => t?.stop());

async function refusedWithoutChange(send: () => Promise<Response>, statuses: number[]): Promise<void> {
  const before = await rowCounts(t.store.db);
  const res = await send();
  expect(statuses, `${res.status} ${await res.clone().text()}`).toContain(res.status);
  expect(res.headers.get('content-type') ?? '').toMatch(/^application\/problem\+json/);
  expect(await rowCounts(t.store.db)).toEqual(before);
  await expectLedgerBalanced(t.store.db);
}

describe('forged access tokens', () => {
  const accessClaims = () => {
    const [, payload] = alice.accessToken.split('.');
    return JSON.parse(Buffer.from(payload as string, 'base64url').toString()) as Record<string, unknown>;
  };
  const forgeries = () => {
    const claims = accessClaims();
    const jwks = '{"keys":[]}';
    return {
      'alg none': `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`,
      'HS256 keyed with the public JWKS': (() => {
        const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
        return `${head}.${createHmac('sha256', jwks).update(head).digest('base64url')}`;
      })(),
      'claims swapped under a real signature': (() => {
        const [h, , s] = alice.accessToken.split('.');
        return `${h}.${b64({ ...claims, sub: 'usr_mallory' })}.${s}`;
      })(),
      expired: (() => {
        const [h, , s] = alice.accessToken.split('.');
        return `${h}.${b64({ ...claims, exp: 1 })}.${s}`;
      })(),
    };
  };
  it('are refused on HTTP, and a payment with one writes nothing', async () => {
    for (const [name, token] of Object.entries(forgeries())) {
      await refusedWithoutChange(
        () =>
          fetch(`${t.url}/payments`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              authorization: `Bearer ${token}`,
              'idempotency-key': `forged-${name.replace(/\W/g, '')}`,
            },
            body: JSON.stringify({
              rail: 'internal',
              payTo: shop.merchant.id,
              asset: 'SOVR',
              amount: '1',
              resource: { url: 'https://shop.example/a', method: 'GET' },
            }),
          }),
        [401],
      );
    }
  });
  it('are refused on the socket', async () => {
    for (const token of [...Object.values(forgeries()), undefined, '']) {
      const s = connect(t.url, {
        auth: token === undefined ? {} : { token },
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
      });
      const outcome = await new Promise<string>((resolve) => {
        s.once('connect', () => resolve('connected'));
        s.once('connect_error', () => resolve('refused'));
      });
      s.close();
      expect(outcome).toBe('refused');
    }
  });
});

describe('IDOR', () => {
  it("another user's payment is not found", async () => {
    const res = await fetch(`${t.url}/payments/${alicePayment}`, { headers: { authorization: `Bearer ${mallory.accessToken}` } });
    expect(res.status).toBe(404);
  });
  it('another merchant cannot refund a payment, nor can its payer', async () => {
    for (const key of [rival.apiKey, alice.accessToken, mallory.accessToken]) {
      await refusedWithoutChange(
        () =>
          fetch(`${t.url}/payments/${alicePayment}/refund`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'idempotency-key': `idor-${key.slice(-6)}` },
            body: JSON.stringify({}),
          }),
        [401, 403, 404],
      );
    }
  });
  it("another merchant's payments, webhook and deliveries are refused", async () => {
    for (const path of ['payments', 'webhook', 'webhook-deliveries', 'webhook-deliveries/whd_x', 'webhook-deliveries/whd_x/redeliver']) {
      const method = path.endsWith('redeliver') ? 'POST' : 'GET';
      await refusedWithoutChange(
        () => fetch(`${t.url}/merchants/${shop.merchant.id}/${path}`, { method, headers: { authorization: `Bearer ${rival.apiKey}` } }),
        [401, 403, 404],
      );
    }
  });
});

describe('malformed and overflowing amounts', () => {
  const amounts: unknown[] = ['1e3', '-1', '0x10', '01', (2n ** 256n).toString(), '9'.repeat(79), '1.5', 1.5, 10, ''];
  for (const [path, extra] of [
    ['/payments', { rail: 'internal', asset: 'SOVR', resource: { url: 'https://shop.example/a', method: 'GET' } }],
    ['/dev/faucet', { asset: 'SOVR' }],
    ['/deposits', { asset: 'SOVR' }],
  ] as const) {
    it(`${path} refuses each and writes nothing`, async () => {
      for (const amount of amounts) {
        const body = { ...extra, ...(path === '/payments' ? { payTo: shop.merchant.id } : {}), amount };
        await refusedWithoutChange(
          () =>
            fetch(`${t.url}${path}`, {
              method: 'POST',
              headers: {
                'content-type': 'application/json',
                authorization: `Bearer ${alice.accessToken}`,
                'idempotency-key': `amt-${path.length}-${String(amount).slice(0, 20)}`,
              },
              body: JSON.stringify(body),
            }),
          [400, 404, 409, 422],
        );
      }
    });
  }
});

describe('oversized bodies', () => {
  it('are refused with 413 on every write endpoint before anything runs', async () => {
    const big = JSON.stringify({ amount: '1', pad: 'x'.repeat(70 * 1024) });
    for (const path of [
      '/payments',
      '/dev/faucet',
      '/deposits',
      '/auth/siwe',
      '/merchants',
      '/x402/verify',
      '/x402/settle',
      `/payments/${alicePayment}/refund`,
    ]) {
      await refusedWithoutChange(
        () =>
          fetch(`${t.url}${path}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${alice.accessToken}` },
            body: big,
          }),
        [413],
      );
    }
  });
});
