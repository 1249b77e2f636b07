import { describe, expect, it } from 'vitest';
import { tEn } from '../helpers/i18n-en.js';
import { createHubClient } from '../../extension/background/hub-client.js';

const session = { url: 'http://127.0.0.1:8402', accessToken: 'at_1' };
const body = { rail: 'internal' as const, payTo: 'm_1', amount: '1500', asset: 'SOVR' };
const json = (status: number, value: unknown) =>
  new Response(JSON.stringify(value), { status, headers: { 'content-type': 'application/json' } });
const paymentJson = {
  transactionId: 'pay_1',
  status: 'completed',
  rail: 'internal',
  payTo: 'm_1',
  amount: '1500',
  asset: 'SOVR',
  resource: null,
  description: null,
  failureReason: null,
  receipt: { token: 'eyJ' },
  createdAt: 'x',
  updatedAt: 'x',
};

describe('hub client', () => {
  it('posts the payment with the bearer token and the Idempotency-Key', async () => {
    const seen: { url: string; init: RequestInit }[] = [];
    const client = createHubClient({
      t: tEn,
      fetch: async (url, init) => (seen.push({ url: String(url), init: init! }), json(200, paymentJson)),
    });
    const out = await client.pay(session, 'tollway-k', body);
    expect(out).toEqual({ kind: 'answered', payment: paymentJson });
    expect(seen[0]!.url).toBe('http://127.0.0.1:8402/payments');
    expect(seen[0]!.init.headers).toMatchObject({ authorization: 'Bearer at_1', 'idempotency-key': 'tollway-k' });
    expect(JSON.parse(String(seen[0]!.init.body))).toEqual(body);
  });
  it('tells refusals (nothing paid) from unknown outcomes (replay the key)', async () => {
    const answer = (res: Response | Error) =>
      createHubClient({ t: tEn, fetch: async () => (res instanceof Error ? Promise.reject(res) : res) }).pay(session, 'k', body);
    expect(
      await answer(
        json(400, {
          type: 'https://tollway.dev/problems/insufficient-funds',
          title: 'Insufficient funds',
          status: 400,
          detail: 'need 1500',
        }),
      ),
    ).toEqual({
      kind: 'refused',
      status: 400,
      type: 'https://tollway.dev/problems/insufficient-funds',
      message: 'need 1500',
    });
    expect((await answer(json(401, {}))).kind).toBe('refused');
    for (const r of [
      json(409, {}),
      json(500, {}),
      json(503, {}),
      json(429, {}),
      new Error('ECONNREFUSED'),
      new Response('not json', { status: 200 }),
      json(200, { ...paymentJson, amount: 1500 }),
    ])
      expect((await answer(r)).kind).toBe('retry');
  });
});
