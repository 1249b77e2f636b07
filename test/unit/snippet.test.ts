/**
 * The pure parts of the page snippet (merchant/snippet/*.ts, bundled into the tollway.js the hub
 * serves; test/unit/snippet-build.test.ts proves the served file is their build). Their output is
 * checked against the codecs the hub and the middleware use, so the snippet cannot drift from the
 * wire format.
 */
import { describe, expect, it } from 'vitest';
import { PaymentRequirement } from '../../shared/api.js';
import { formatUnits } from '../../shared/amount.js';
import { encodePaymentRequired, encodePaymentSignature, parsePaymentSignature, PaymentOption } from '../../shared/challenge.js';
import { readProof } from '../../merchant/proof.js';
import * as boot from '../../merchant/snippet/boot.js';
import * as challenges from '../../merchant/snippet/challenge.js';
import * as config from '../../merchant/snippet/config.js';
import type { Config } from '../../merchant/snippet/config.js';
import * as polling from '../../merchant/snippet/polling.js';

const snippet = { ...boot, ...config, ...challenges, ...polling };

const SRC = 'https://hub.example/tollway.js';
const PAGE = 'https://shop.example/articles/1?x=1#top';
const ok = (attrs: Record<string, string | undefined>, src = SRC, page = PAGE): Config => {
  const r = snippet.readConfig(attrs, src, page);
  if (!r.ok) throw new Error(r.error);
  return r.config;
};

describe('snippet: amounts', () => {
  it('formats base units like the hub, without floating point', () => {
    expect(snippet.formatAmount('1500000000000000', 'SOVR')).toBe('0.0015 SOVR');
    expect(snippet.formatAmount('2000000000000000000', 'SOVR')).toBe('2 SOVR');
    expect(snippet.formatAmount('1', 'SOVR')).toBe('0.000000000000000001 SOVR');
    expect(snippet.formatAmount('123456789012345678901234567890', 'SOVR')).toBe('123456789012.34567890123456789 SOVR');
    expect(snippet.formatAmount('100000000000', 'BTC')).toBe('1 BTC');
    expect(snippet.formatAmount('42', 'XYZ')).toBe('42 XYZ');
    for (const v of ['0', '7', '10', '999999999999999999', '1000000000000000001', '31415926535897932384626']) {
      for (const [asset, d] of Object.entries(snippet.DECIMALS)) {
        expect(snippet.formatAmount(v, asset)).toBe(`${formatUnits(BigInt(v), d)} ${asset}`);
      }
    }
  });
});

describe('snippet: settings from the script element', () => {
  it('reads the attributes, takes the hub from its own src and the resource from the page', () => {
    const c = ok({ merchant: ' m_1 ', price: '001500', asset: 'sovr', description: 'An article' });
    expect(c).toEqual({
      hub: 'https://hub.example',
      merchant: 'm_1',
      price: '1500',
      asset: 'SOVR',
      description: 'An article',
      resource: 'https://shop.example/articles/1?x=1',
      label: 'Pay 0.0000000000000015 SOVR with Tollway',
      target: '',
      installUrl: '',
    });
  });

  it('keeps a hub mounted under a path, an explicit hub, a relative resource, a label', () => {
    expect(snippet.hubFromSrc('https://h.example/pay/tollway.js?v=2#x')).toBe('https://h.example/pay');
    expect(ok({ merchant: 'm', price: '1' }, 'http://127.0.0.1:8402/tollway.js').hub).toBe('http://127.0.0.1:8402');
    expect(ok({ merchant: 'm', price: '1', hub: 'https://other.example/' }).hub).toBe('https://other.example');
    expect(ok({ merchant: 'm', price: '1', resource: '/api/x' }).resource).toBe('https://shop.example/api/x');
    expect(ok({ merchant: 'm', price: '1', label: 'Unlock' }).label).toBe('Unlock');
    expect(ok({ merchant: 'm', price: '1', installUrl: 'https://get.example' }).installUrl).toBe('https://get.example');
    expect(ok({ merchant: 'm', price: '1', installUrl: 'javascript:alert(1)' }).installUrl).toBe('');
  });

  it('refuses what it cannot charge', () => {
    const err = (attrs: Record<string, string | undefined>, src = SRC) => {
      const r = snippet.readConfig(attrs, src, PAGE);
      return r.ok ? 'ok' : r.error;
    };
    expect(err({ price: '1' })).toMatch(/data-merchant/);
    expect(err({ merchant: 'm' })).toMatch(/data-price/);
    expect(err({ merchant: 'm', price: '0' })).toMatch(/data-price/);
    expect(err({ merchant: 'm', price: '1.5' })).toMatch(/data-price/);
    expect(err({ merchant: 'm', price: '-1' })).toMatch(/data-price/);
    expect(err({ merchant: 'm', price: '1e18' })).toMatch(/data-price/);
    expect(err({ merchant: 'm', price: '1', asset: 'DOGE' })).toMatch(/data-asset/);
    expect(err({ merchant: 'm', price: '1' }, 'not a url')).toMatch(/hub/);
    expect(err({ merchant: 'm', price: '1', hub: 'ftp://h.example' })).toMatch(/http/);
  });
});

describe('snippet: challenges and proofs', () => {
  it('builds a challenge whose entry the codec and the hub accept', () => {
    const c = snippet.buildChallenge(ok({ merchant: 'm_1', price: '1500', description: 'Art' }));
    expect(c).toEqual({
      x402Version: 2,
      resource: { url: 'https://shop.example/articles/1?x=1', description: 'Art', mimeType: 'text/html' },
      accepts: [
        {
          scheme: 'tollway',
          network: 'tollway:https://hub.example',
          amount: '1500',
          asset: 'SOVR',
          payTo: 'm_1',
          maxTimeoutSeconds: 300,
          extra: { hub: 'https://hub.example', bind: ['method', 'path'] },
        },
      ],
    });
    expect(PaymentOption.safeParse(c.accepts[0]).success).toBe(true);
    expect(PaymentRequirement.safeParse(c.accepts[0]).success).toBe(true);
  });

  it('decodes the PAYMENT-REQUIRED header the middleware sends, and the embedded JSON', () => {
    const doc = {
      resource: { url: 'https://shop.example/ä', description: 'Ünïcode ✓', mimeType: 'text/html' },
      accepts: [
        { scheme: 'exact', network: 'eip155:1', amount: '5', asset: '0x' + '1'.repeat(40), payTo: '0x' + '2'.repeat(40) },
        {
          scheme: 'tollway',
          network: 'tollway:https://hub.example',
          amount: '5',
          asset: 'SOVR',
          payTo: 'm_1',
          extra: { hub: 'https://hub.example' },
        },
      ],
    };
    const decoded = snippet.decodeChallenge(encodePaymentRequired(doc));
    expect(decoded).toEqual({ x402Version: 2, ...doc });
    expect(snippet.decodeChallenge(JSON.stringify({ x402Version: 2, ...doc }), true)).toEqual(decoded);
    expect(snippet.pickEntry(decoded, 'm_1')).toEqual(doc.accepts[1]);
    expect(snippet.pickEntry(decoded, 'm_other')).toEqual(doc.accepts[1]);
    for (const bad of [
      undefined,
      '',
      '%%%',
      btoa('not json'),
      btoa('{"x402Version":1,"accepts":[{}]}'),
      btoa('{"x402Version":2,"accepts":[]}'),
      btoa('\xff\xfe'),
    ]) {
      expect(snippet.decodeChallenge(bad)).toBeNull();
    }
    expect(snippet.pickEntry({ x402Version: 2, accepts: [{ scheme: 'exact', payTo: 'x' }] }, 'x')).toBeNull();
  });

  it('encodes a PAYMENT-SIGNATURE the middleware reads, identical to the shared codec', () => {
    const challenge = snippet.buildChallenge(ok({ merchant: 'm_1', price: '1500', description: 'Ünïcode ✓' }));
    const entry = challenge.accepts[0]!;
    const header = snippet.encodeProof(challenge, entry, 'eyJhbGciOi.x.y');
    expect(header).toBe(
      encodePaymentSignature({ resource: challenge.resource as never, accepted: entry as never, payload: { receipt: 'eyJhbGciOi.x.y' } }),
    );
    const parsed = parsePaymentSignature(header);
    expect(parsed.ok && parsed.value.payload).toEqual({ receipt: 'eyJhbGciOi.x.y' });
    const read = readProof(header, 'PAYMENT-SIGNATURE');
    expect(read.ok && read.proof).toEqual({
      version: 2,
      scheme: 'tollway',
      network: 'tollway:https://hub.example',
      payload: { receipt: 'eyJhbGciOi.x.y' },
    });
  });

  it('takes the receipt out of what the extension answers', () => {
    expect(snippet.receiptToken({ receipt: 'a.b.c' })).toBe('a.b.c');
    expect(snippet.receiptToken({ receipt: { token: 'a.b.c', transactionHash: '0x1' } })).toBe('a.b.c');
    expect(snippet.receiptToken('a.b.c')).toBe('a.b.c');
    expect(snippet.receiptToken({ receipt: {} })).toBeNull();
    expect(snippet.receiptToken(undefined)).toBeNull();
  });
});

describe('snippet: waiting without the extension', () => {
  it('polls every 2 s, backing off to 15 s', () => {
    const delays = Array.from({ length: 10 }, (_, i) => snippet.pollDelay(i));
    expect(delays[0]).toBe(2000);
    expect(delays[1]).toBe(3000);
    expect(delays.every((d, i) => i === 0 || d >= delays[i - 1]!)).toBe(true);
    expect(Math.max(...delays)).toBe(15000);
  });

  it('polls only once a minute while the hub socket listens for the challenge', () => {
    expect(snippet.pollDelay(0, true)).toBe(60000);
    expect(snippet.pollDelay(0, false)).toBe(2000);
  });

  it('listens for the challenge id of the tollway entry, and only a well-formed one', () => {
    const doc = (extra: unknown) => ({
      x402Version: 2,
      accepts: [
        { scheme: 'exact', payTo: '0xabc', extra: { challengeId: 'ch_exactexact' } },
        { scheme: 'tollway', payTo: 'm_1', amount: '1', asset: 'SOVR', extra },
      ],
    });
    expect(snippet.challengeIdOf(doc({ challengeId: 'ch_AbC123_-xyzXYZ00' }), 'm_1')).toBe('ch_AbC123_-xyzXYZ00');
    expect(snippet.challengeIdOf(doc({ challengeId: 'ch_x' }), 'm_1')).toBeNull();
    expect(snippet.challengeIdOf(doc({ challengeId: 'ch_<script>alert(1)' }), 'm_1')).toBeNull();
    expect(snippet.challengeIdOf(doc({}), 'm_1')).toBeNull();
    expect(snippet.challengeIdOf(null, 'm_1')).toBeNull();
  });

  it("tells the hub socket the challenge's merchant too (the entry's payTo), so another merchant's payment cannot open the page", () => {
    const doc = (payTo: unknown) => ({
      x402Version: 2,
      accepts: [{ scheme: 'tollway', payTo, amount: '1', asset: 'SOVR', extra: { challengeId: 'ch_AbC123_-xyzXYZ00' } }],
    });
    expect(snippet.challengeKeyOf(doc('m_shop1'), 'm_shop1')).toEqual({ challengeId: 'ch_AbC123_-xyzXYZ00', merchantId: 'm_shop1' });
    // The entry the page pays is what counts, whatever data-merchant says.
    expect(snippet.challengeKeyOf(doc('m_shop2'), 'm_shop1')).toEqual({ challengeId: 'ch_AbC123_-xyzXYZ00', merchantId: 'm_shop2' });
    expect(snippet.challengeKeyOf(doc('m_a:b'), 'm_a:b')).toBeNull();
    expect(snippet.challengeKeyOf(doc(42), 'm_1')).toBeNull();
    expect(snippet.challengeKeyOf(doc('0xabc'), '0xabc')).toBeNull();
  });

  it('reloads once the 402 is gone, and falls back to GET when HEAD is not allowed', () => {
    expect(snippet.pollVerdict(402, 'HEAD')).toBe('waiting');
    expect(snippet.pollVerdict(200, 'HEAD')).toBe('paid');
    expect(snippet.pollVerdict(304, 'GET')).toBe('paid');
    expect(snippet.pollVerdict(405, 'HEAD')).toBe('retry-get');
    expect(snippet.pollVerdict(405, 'GET')).toBe('waiting');
    expect(snippet.pollVerdict(503, 'GET')).toBe('waiting');
    expect(snippet.pollVerdict(0, 'GET')).toBe('waiting');
  });

  it('does nothing outside a browser', () => {
    expect(() => snippet.boot(null, undefined)).not.toThrow();
    expect(snippet.VERSION).toBe('1');
  });
});
