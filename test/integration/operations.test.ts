import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { startHub } from '../../server/app.js';
import { manualClock } from '../../server/clock.js';
import { loadConfig } from '../../server/config.js';
import { createLogger } from '../../server/logger.js';
import { ADMIN_TOKEN, createMerchant, freePort, fund, pay, signIn, startTestHub, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { freshStore } from '../helpers/stores.js';

describe('operations', () => {
  const stops: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const s of stops.splice(0)) await s();
  });

  it('logs every request with an id and never a secret', async () => {
    let out = '';
    const sink = new Writable({
      write(chunk, _enc, cb) {
        out += chunk.toString();
        cb();
      },
    });
    const store = await freshStore('sqlite');
    const port = await freePort();
    const config = loadConfig({
      PORT: String(port),
      TOLLWAY_DEV: '1',
      TOLLWAY_ADMIN_TOKEN: ADMIN_TOKEN,
      TOLLWAY_DATA_DIR: store.env.TOLLWAY_DATA_DIR!,
      TOLLWAY_LOG_LEVEL: 'info',
    });
    const hub = await startHub({ config, db: store.db, logger: createLogger('info', sink) });
    stops.push(async () => {
      await hub.close();
      await store.cleanup();
    });
    const s = await signIn(hub.url);
    const m = await createMerchant(hub.url);
    await fund(hub.url, s, '1000');
    const res = await pay(hub.url, s, 'secret-key-value', { rail: 'internal', payTo: m.merchant.id, amount: '10', asset: 'SOVR' });
    const receipt = ((await res.json()) as { receipt: { token: string } }).receipt.token;
    await fetch(`${hub.url}/payments`, { headers: { authorization: `Bearer ${s.accessToken}`, 'x-request-id': 'trace-123' } });
    await new Promise((r) => setTimeout(r, 50));

    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const requests = lines.filter((l) => l.msg === 'request');
    expect(requests.length).toBeGreaterThanOrEqual(6);
    expect(requests.every((l) => typeof l.reqId === 'string' && typeof l.status === 'number')).toBe(true);
    expect(requests.some((l) => l.reqId === 'trace-123' && l.path === '/payments')).toBe(true);
    for (const secret of [s.accessToken, s.refreshToken, m.apiKey, m.webhookSecret, ADMIN_TOKEN, receipt, 'secret-key-value']) {
      expect(out.includes(secret), 'a secret reached the log').toBe(false);
    }
  });

  it('frees an Idempotency-Key after its 24 hours', async () => {
    const clock = manualClock(Date.now());
    const t: TestHub = await startTestHub('sqlite', { clock });
    stops.push(() => t.stop());
    const s = await signIn(t.url);
    const m = (await createMerchant(t.url)).merchant.id;
    await fund(t.url, s, '1000');
    const body = (amount: string) => ({ rail: 'internal', payTo: m, amount, asset: 'SOVR' });
    const first = (await (await pay(t.url, s, 'daily', body('10'))).json()) as { transactionId: string };
    expect((await pay(t.url, s, 'daily', body('20'))).status).toBe(422);
    clock.advance(24 * 3600 * 1000 + 1000);
    // The access token is older than its 15 minutes now: sign in again.
    const again = await signIn(t.url, s.wallet);
    const res = await pay(t.url, again, 'daily', body('20'));
    expect(res.status).toBe(200);
    expect(((await res.json()) as { transactionId: string }).transactionId).not.toBe(first.transactionId);
    await expectLedgerBalanced(t.store.db);
  });

  it('has no faucet outside dev mode', async () => {
    const t = await startTestHub('sqlite', { env: { TOLLWAY_DEV: '0' } });
    stops.push(() => t.stop());
    const s = await signIn(t.url);
    const res = await fetch(`${t.url}/dev/faucet`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${s.accessToken}` },
      body: JSON.stringify({ asset: 'SOVR', amount: '1' }),
    });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/problem\+json/);
  });

  it('allows the extension and configured origins by CORS, and no others', async () => {
    const t = await startTestHub('sqlite', { env: { TOLLWAY_DEV: '0', TOLLWAY_CORS_ORIGINS: 'https://shop.example' } });
    stops.push(() => t.stop());
    const origin = async (o: string) =>
      (
        await fetch(`${t.url}/payments`, {
          method: 'OPTIONS',
          headers: {
            origin: o,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'idempotency-key,authorization',
          },
        })
      ).headers.get('access-control-allow-origin');
    expect(await origin('chrome-extension://abcdefghijklmnop')).toBe('chrome-extension://abcdefghijklmnop');
    expect(await origin('https://shop.example')).toBe('https://shop.example');
    expect(await origin('https://evil.example')).toBeNull();
  });
});
