/** paywall({lightning: true}) without a hub: its options, and a 402 that still goes out when the hub issues no invoice. */
import { describe, expect, it } from 'vitest';
import { paywallCore } from '../../merchant/paywall-core.js';

const base = { hub: 'https://hub.example', merchantId: 'm_abcdefghijkl', price: '21000', asset: 'BTC', lightning: true };
const entryOf = (h: string) =>
  (JSON.parse(Buffer.from(h, 'base64').toString('utf8')) as { accepts: { scheme: string; extra: Record<string, unknown> }[] }).accepts[0]!;

describe('paywall({lightning: true})', () => {
  it('needs BTC and the merchant API key', () => {
    expect(() => paywallCore({ ...base, apiKey: 'k', asset: 'SOVR' })).toThrow(/asset to BTC/);
    expect(() => paywallCore({ ...base })).toThrow(/apiKey/);
  });

  it('asks the hub for an invoice of this challenge and puts it in the tollway entry', async () => {
    const asked: { url: string; auth: string | null; body: Record<string, unknown> }[] = [];
    const core = paywallCore({
      ...base,
      apiKey: 'key-1',
      fetch: (async (url: string, init: RequestInit) => {
        asked.push({ url, auth: new Headers(init.headers).get('authorization'), body: JSON.parse(String(init.body)) });
        return new Response(
          JSON.stringify({ bolt11: 'lnbcrt210n1example', paymentHash: 'ab'.repeat(32), expiresAt: '2030-01-01T00:00:00.000Z' }),
        );
      }) as typeof fetch,
    });
    const a = await core.handle({ method: 'GET', url: '/article?x=1', headers: { host: 'shop.example' } });
    expect(a.kind).toBe('challenge');
    const entry = entryOf((a as { headers: Record<string, string> }).headers['PAYMENT-REQUIRED']!);
    expect(entry.extra.lightning).toEqual({
      invoice: 'lnbcrt210n1example',
      paymentHash: 'ab'.repeat(32),
      expiresAt: '2030-01-01T00:00:00.000Z',
    });
    expect(asked).toEqual([
      {
        url: 'https://hub.example/merchants/m_abcdefghijkl/invoices',
        auth: 'Bearer key-1',
        body: {
          challengeId: entry.extra.challengeId,
          asset: 'BTC',
          amount: '21000',
          resource: { url: 'http://shop.example/article?x=1', method: 'GET' },
          bind: ['method', 'path'],
        },
      },
    ]);
  });

  it('sends the 402 without an invoice when the hub cannot issue one, and says why', async () => {
    const errors: string[] = [];
    const core = paywallCore({
      ...base,
      apiKey: 'key-1',
      fetch: (async () => new Response('{"type":"lightning-unavailable"}', { status: 503 })) as unknown as typeof fetch,
      onLightningError: (e) => errors.push(e.message),
    });
    const a = await core.handle({ method: 'GET', url: '/article', headers: {} });
    expect(a.kind).toBe('challenge');
    expect((a as { status: number }).status).toBe(402);
    expect(entryOf((a as { headers: Record<string, string> }).headers['PAYMENT-REQUIRED']!).extra.lightning).toBeUndefined();
    expect(errors).toEqual(['the hub answered 503 to the invoice request']);
  });

  it('asks for at most the rate limit of invoices per client and in all; past it the 402 goes out without one', async () => {
    let asked = 0;
    const errors: string[] = [];
    const core = paywallCore({
      ...base,
      apiKey: 'key-1',
      lightningRateLimit: { perMinute: 5, burst: 3, total: { perMinute: 10, burst: 4 } },
      onLightningError: (e) => errors.push(e.message),
      fetch: (async () => {
        asked++;
        return new Response(
          JSON.stringify({ bolt11: 'lnbcrt210n1example', paymentHash: 'ab'.repeat(32), expiresAt: '2030-01-01T00:00:00.000Z' }),
        );
      }) as unknown as typeof fetch,
    });
    const from = async (ip: string) => {
      const a = await core.handle({ method: 'GET', url: '/article', headers: {}, ip });
      expect((a as { status: number }).status).toBe(402);
      return entryOf((a as { headers: Record<string, string> }).headers['PAYMENT-REQUIRED']!).extra.lightning !== undefined;
    };
    // One client: its burst of 3, then none; the 402s still go out.
    const one = [];
    for (let i = 0; i < 1000; i++) one.push(await from('203.0.113.7'));
    expect(one.filter(Boolean)).toHaveLength(3);
    expect(one.slice(0, 3)).toEqual([true, true, true]);
    // Many clients: the total's burst (4, one left) bounds them together.
    const many = [];
    for (let i = 0; i < 100; i++) many.push(await from(`198.51.100.${i}`));
    expect(many.filter(Boolean)).toHaveLength(1);
    expect(asked).toBe(4);
    expect(errors[errors.length - 1]).toMatch(/rate limit reached \(total\)/);
    expect(errors.filter((e) => e.includes('(client)'))).toHaveLength(997);
  });

  it('with lightningRateLimit: false, every 402 asks for its invoice', async () => {
    let asked = 0;
    const core = paywallCore({
      ...base,
      apiKey: 'key-1',
      lightningRateLimit: false,
      fetch: (async () => {
        asked++;
        return new Response(
          JSON.stringify({ bolt11: 'lnbcrt210n1example', paymentHash: 'ab'.repeat(32), expiresAt: '2030-01-01T00:00:00.000Z' }),
        );
      }) as unknown as typeof fetch,
    });
    for (let i = 0; i < 50; i++) await core.handle({ method: 'GET', url: '/article', headers: {}, ip: '203.0.113.7' });
    expect(asked).toBe(50);
  });
});
