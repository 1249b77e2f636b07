/**
 * POST /lightning/lnbits-webhook on its own: what reaches the hub's node from a body (the payment
 * hash, nothing a forger could add), both body shapes LNbits sends, the light overall limit, and a
 * node that cannot be asked. The whole path (a real LNbits stand-in, a real hub, the ledger) is in
 * test/integration/lightning-challenge-node.test.ts.
 */
import express from 'express';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LightningNodeError } from '../../lightning/node.js';
import { createLogger } from '../../server/logger.js';
import { LNBITS_WEBHOOK_PATH, lnbitsWebhookRoutes } from '../../server/http/lnbits-webhook-routes.js';
import { errorHandler, notFound } from '../../server/http/problem.js';

const HASH = 'AB'.repeat(32);
let server: Server | undefined;

async function start(hint: (body: unknown) => Promise<'credited' | 'not-settled'>, opts?: { perSecond?: number; burst?: number }) {
  const app = express();
  app.use(lnbitsWebhookRoutes({ lnbitsWebhook: hint }, opts));
  app.use(notFound);
  app.use(errorHandler(createLogger('silent')));
  server = createServer(app);
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${LNBITS_WEBHOOK_PATH}`;
  return (body: string) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
}

afterEach(async () => {
  await new Promise((r) => server?.close(r));
  server = undefined;
});

describe('the LNbits webhook route', () => {
  it('passes on only the payment hash, lower-cased, from either body shape; the answer says nothing of the payment', async () => {
    const seen: unknown[] = [];
    let answer: 'credited' | 'not-settled' = 'credited';
    const post = await start(async (b) => {
      seen.push(b);
      return answer;
    });
    const payment = { payment_hash: HASH, amount: 999_999_000, status: 'success', preimage: '00'.repeat(32) };
    const a = await post(JSON.stringify(payment));
    answer = 'not-settled';
    const b = await post(JSON.stringify(JSON.stringify(payment)));
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(await a.json()).toEqual(await b.json());
    expect(seen).toEqual([{ payment_hash: HASH.toLowerCase() }, { payment_hash: HASH.toLowerCase() }]);
  });

  it('refuses past the overall limit with 429 and Retry-After, before asking the node', async () => {
    let asked = 0;
    const post = await start(
      async () => {
        asked++;
        return 'not-settled';
      },
      { perSecond: 0.001, burst: 2 },
    );
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 4; i++) {
      last = await post(JSON.stringify({ payment_hash: HASH }));
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 429, 429]);
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(last!.headers.get('content-type')).toMatch(/problem\+json/);
    expect(asked).toBe(2);
  });

  it('answers 503 as a problem when the node cannot be asked', async () => {
    const post = await start(async () => {
      throw new LightningNodeError('unreachable', 'no answer');
    });
    const r = await post(JSON.stringify({ payment_hash: HASH }));
    expect(r.status).toBe(503);
    expect(r.headers.get('content-type')).toMatch(/problem\+json/);
  });
});
