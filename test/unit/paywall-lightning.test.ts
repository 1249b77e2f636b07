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
});
