import { describe, expect, it } from 'vitest';
import {
  encodeBase64Text,
  encodePaymentRequired,
  encodePaymentResponse,
  encodePaymentSignature,
  parsePaymentRequired,
  parsePaymentResponse,
  readChallenge,
} from '../../shared/challenge.js';
import { challengeDocument, challengePage, displayPrice, paymentOptions, type ChallengeSpec } from '../../merchant/challenge.js';
import { paywall, readProof } from '../../merchant/index.js';

const spec: ChallengeSpec = {
  hub: 'http://127.0.0.1:8402',
  merchantId: 'm_abc',
  price: 1500n,
  asset: 'SOVR',
  bind: ['method', 'path'],
  maxTimeoutSeconds: 300,
};
const resource = { url: 'https://shop.example/article/1', description: 'An article', mimeType: 'text/html' };

describe('PAYMENT-REQUIRED encoder', () => {
  it('round-trips through the reader the extension uses', () => {
    const doc = challengeDocument(spec, resource, 'payment_required');
    const parsed = parsePaymentRequired(encodePaymentRequired(doc));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value.version).toBe(2);
    expect(parsed.value.resource).toEqual(resource);
    expect(parsed.value.serverError).toBe('payment_required');
    expect(parsed.value.accepts).toEqual(doc.accepts);
    expect(parsed.value.skipped).toBe(0);
    // readChallenge sees it as a header of a 402 response
    const whole = readChallenge({ headers: [{ name: 'PAYMENT-REQUIRED', value: encodePaymentRequired(doc) }] });
    expect(whole.ok && whole.value.x402?.accepts[0]?.scheme).toBe('tollway');
  });

  it('lists the tollway entry, with the hub, a fresh challenge id and the binding', () => {
    const [a] = paymentOptions(spec);
    const [b] = paymentOptions(spec);
    expect(a).toMatchObject({
      scheme: 'tollway',
      network: 'tollway:http://127.0.0.1:8402',
      amount: '1500',
      asset: 'SOVR',
      payTo: 'm_abc',
      maxTimeoutSeconds: 300,
    });
    expect(a!.extra).toMatchObject({ hub: spec.hub, bind: ['method', 'path'] });
    expect(a!.extra!.challengeId).not.toBe(b!.extra!.challengeId);
    expect(paymentOptions(spec)).toHaveLength(1);
    // Single use (the default) says nothing; an access pass tells wallets they may present the receipt again.
    expect(a!.extra).not.toHaveProperty('reuse');
    expect(paymentOptions({ ...spec, passSeconds: 600 })[0]!.extra).toMatchObject({ reuse: { windowSeconds: 600 } });
  });

  it('adds the standard exact entry only with a payout address and a chain', () => {
    const payoutAddress = '0x209693Bc6afc0C5328bA36FaF03C514EF312287C';
    const chain = { chainId: 31337, tokenAddress: '0x5FbDB2315678afecb367f032d93F642f64180aa3' };
    expect(paymentOptions({ ...spec, payoutAddress })).toHaveLength(1);
    const [, exact] = paymentOptions({ ...spec, payoutAddress, chain });
    expect(exact).toEqual({
      scheme: 'exact',
      network: 'eip155:31337',
      amount: '1500',
      asset: chain.tokenAddress,
      payTo: payoutAddress,
      maxTimeoutSeconds: 300,
      extra: { name: 'SOVR', version: '1' },
    });
  });

  it('the HTML page escapes what it shows and embeds the challenge safely', () => {
    const doc = challengeDocument(spec, { ...resource, description: '<script>alert(1)</script>' });
    const html = challengePage(doc, { price: 1500n, asset: 'SOVR', detail: 'a "bad" <proof>' });
    expect(html).not.toContain('<script>alert(1)');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('a &quot;bad&quot; &lt;proof&gt;');
    const embedded = /<script type="application\/json" id="tollway-payment-required">(.*)<\/script>/.exec(html)![1]!;
    expect(embedded).not.toContain('<');
    expect(JSON.parse(embedded)).toEqual(doc);
  });

  it('shows prices in whole units without floating point', () => {
    expect(displayPrice(1_500_000_000_000_000_000n, 'SOVR')).toBe('1.5 SOVR');
    expect(displayPrice(1500n, 'BTC')).toBe('0.000000015 BTC');
    expect(displayPrice(7n, 'XYZ')).toBe('7 XYZ');
  });
});

describe('PAYMENT-RESPONSE', () => {
  it('round-trips and leaves absent fields out', () => {
    const h = encodePaymentResponse({ success: true, transaction: 'pay_1', network: 'tollway:http://h', amount: '1500' });
    expect(JSON.parse(Buffer.from(h, 'base64').toString())).toEqual({
      success: true,
      transaction: 'pay_1',
      network: 'tollway:http://h',
      amount: '1500',
    });
    const r = parsePaymentResponse(h);
    expect(r.ok && r.value).toEqual({ success: true, transaction: 'pay_1', network: 'tollway:http://h', amount: '1500' });
  });
  it('refuses garbage', () => {
    expect(parsePaymentResponse('%%%').ok).toBe(false);
    expect(parsePaymentResponse(encodeBase64Text('{"success":"yes"}')).ok).toBe(false);
  });
});

describe('reading proofs', () => {
  const accepted = paymentOptions(spec)[0]!;
  it('reads version 2 PAYMENT-SIGNATURE', () => {
    const r = readProof(encodePaymentSignature({ accepted, payload: { receipt: 'a.b.c' } }), 'PAYMENT-SIGNATURE');
    expect(r).toEqual({ ok: true, proof: { version: 2, scheme: 'tollway', network: accepted.network, payload: { receipt: 'a.b.c' } } });
  });
  it('reads version 1 X-PAYMENT', () => {
    const v1 = encodeBase64Text(JSON.stringify({ x402Version: 1, scheme: 'tollway', network: 'tollway:x', payload: { receipt: 'r' } }));
    expect(readProof(v1, 'X-PAYMENT')).toEqual({
      ok: true,
      proof: { version: 1, scheme: 'tollway', network: 'tollway:x', payload: { receipt: 'r' } },
    });
  });
  it.each([
    ['not base64', '%%%', 'malformed_proof'],
    ['not JSON', encodeBase64Text('hello'), 'malformed_proof'],
    ['a JSON list', encodeBase64Text('[1]'), 'malformed_proof'],
    ['v2 without accepted', encodeBase64Text('{"x402Version":2,"payload":{}}'), 'malformed_proof'],
    ['v1 without payload', encodeBase64Text('{"x402Version":1,"scheme":"tollway","network":"n"}'), 'malformed_proof'],
    ['version 3', encodeBase64Text('{"x402Version":3}'), 'unsupported_version'],
    ['no version', encodeBase64Text('{}'), 'unsupported_version'],
    ['too large', 'A'.repeat(70_000), 'malformed_proof'],
  ])('refuses %s', (_name, header, reason) => {
    const r = readProof(header, 'PAYMENT-SIGNATURE');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toBe(reason);
  });
});

describe('paywall options', () => {
  const base = { hub: 'http://127.0.0.1:8402', merchantId: 'm_1', price: '1500', asset: 'SOVR' };
  it('accepts good options and exposes what discovery reads', () => {
    const p = paywall({ ...base, price: 1500n, reuse: { windowSeconds: 60 }, description: 'x' });
    expect(p.tollway).toEqual({
      hub: 'http://127.0.0.1:8402',
      merchantId: 'm_1',
      price: '1500',
      asset: 'SOVR',
      description: 'x',
      mimeType: '',
      bind: ['method', 'path'],
      reuse: { windowSeconds: 60 },
      schemes: ['tollway'],
      network: 'tollway:http://127.0.0.1:8402',
    });
    expect(paywall({ ...base, hub: 'http://127.0.0.1:8402/' }).tollway.hub).toBe('http://127.0.0.1:8402');
  });
  it.each([
    ['a relative hub', { hub: '/hub' }],
    ['a non-http hub', { hub: 'ftp://hub' }],
    ['no merchant', { merchantId: '' }],
    ['a zero price', { price: '0' }],
    ['a fractional price', { price: '1.5' }],
    ['a negative bigint price', { price: -1n }],
    ['an unknown asset', { asset: 'DOGE' }],
    ['an unknown bind part', { bind: ['method', 'headers'] }],
    ['a bad window', { reuse: { windowSeconds: 0 } }],
    ['a bad payout address', { payoutAddress: '0x12' }],
    [
      'an exact entry for BTC',
      {
        asset: 'BTC',
        payoutAddress: '0x209693Bc6afc0C5328bA36FaF03C514EF312287C',
        chain: { chainId: 1, tokenAddress: '0x5FbDB2315678afecb367f032d93F642f64180aa3' },
      },
    ],
  ])('refuses %s at start', (_name, override) => {
    expect(() => paywall({ ...base, ...(override as object) } as never)).toThrow(/^paywall: /);
  });
});
