import { describe, expect, it } from 'vitest';
import { AmountString, formatAmount, formatUnits, MAX_AMOUNT, parseAmount, PositiveAmountString } from '../../shared/amount.js';
import { CreatePaymentRequest, parseIdempotencyKey } from '../../shared/api.js';
import { bindingInput, requestHash } from '../../shared/binding.js';
import { ProblemError } from '../../shared/problem.js';
import { fingerprint } from '../../server/core/idempotency.js';

describe('amounts', () => {
  it('round-trips every size up to 2^256-1 exactly', () => {
    for (const v of [0n, 1n, 10n ** 18n + 1n, 2n ** 53n + 1n, MAX_AMOUNT]) expect(parseAmount(formatAmount(v))).toBe(v);
  });
  it('refuses what is not a plain decimal of base units', () => {
    for (const s of ['-1', '1.0', '1e3', '0x10', ' 1', '1 ', '', '01', '+1', '١٢', (MAX_AMOUNT + 1n).toString(), '9'.repeat(79)]) {
      expect(() => parseAmount(s), s).toThrow(RangeError);
      expect(AmountString.safeParse(s).success, s).toBe(false);
    }
  });
  it('keeps zero out of positive amounts', () => {
    expect(AmountString.safeParse('0').success).toBe(true);
    expect(PositiveAmountString.safeParse('0').success).toBe(false);
  });
  it('shows whole units without floating point', () => {
    expect(formatUnits(1_500_000_000_000_000_000n, 18)).toBe('1.5');
    expect(formatUnits(1n, 18)).toBe('0.000000000000000001');
    expect(formatUnits(MAX_AMOUNT, 18)).toBe('115792089237316195423570985008687907853269984665640564039457.584007913129639935');
  });
});

describe('Idempotency-Key', () => {
  it('accepts bare and RFC 8941 quoted forms as the same key', () => {
    expect(parseIdempotencyKey('abc-123')).toBe('abc-123');
    expect(parseIdempotencyKey('"abc-123"')).toBe('abc-123');
    expect(parseIdempotencyKey('k'.repeat(255))).toBe('k'.repeat(255));
  });
  it('tells missing from invalid', () => {
    expect(parseIdempotencyKey(undefined)).toBeUndefined();
    for (const bad of ['', '""', 'k'.repeat(256), 'a"b', 'tab\there', 'é']) expect(parseIdempotencyKey(bad), bad).toBeNull();
  });
});

describe('request fingerprint', () => {
  it('ignores key order but not values', () => {
    expect(fingerprint({ a: 1, b: { c: '2', d: [1, 2] } })).toBe(fingerprint({ b: { d: [1, 2], c: '2' }, a: 1 }));
    expect(fingerprint({ a: '1' })).not.toBe(fingerprint({ a: 1 }));
    expect(fingerprint({ a: [1, 2] })).not.toBe(fingerprint({ a: [2, 1] }));
  });
});

describe('request binding', () => {
  const req = { method: 'post', url: 'https://shop.example/a/b?x=1&y=2', bodyHash: 'AB'.repeat(32) };
  it('joins the listed parts in a fixed order whatever the list order', () => {
    expect(bindingInput(req, ['body', 'query', 'method', 'path'])).toBe(`POST\n/a/b\nx=1&y=2\n${'ab'.repeat(32)}`);
    expect(bindingInput(req, ['path', 'method'])).toBe('POST\n/a/b');
  });
  it('hashes to base64url sha256', async () => {
    // sha256("GET\n/") = known vector computed independently with node:crypto.
    const { createHash } = await import('node:crypto');
    expect(await requestHash({ method: 'GET', url: 'https://x.example/' })).toBe(createHash('sha256').update('GET\n/').digest('base64url'));
  });
  it('treats a missing body as the empty body', () => {
    expect(bindingInput({ method: 'GET', url: 'https://x.example/' }, ['body'])).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });
});

describe('payment request schema', () => {
  const ok = { rail: 'internal', payTo: 'm_1', amount: '5', asset: 'SOVR' };
  it('is strict about unknown fields and defaults the method', () => {
    expect(CreatePaymentRequest.safeParse({ ...ok, extra: 1 }).success).toBe(false);
    const r = CreatePaymentRequest.parse({ ...ok, resource: { url: 'https://a.example/' } });
    expect(r.resource?.method).toBe('GET');
  });
});

describe('problems', () => {
  it('carry a stable type URI and status', () => {
    const p = new ProblemError('insufficient-funds', 'too poor').toProblem('/payments');
    expect(p).toEqual({
      type: 'https://tollway.dev/problems/insufficient-funds',
      title: 'Insufficient funds',
      status: 400,
      detail: 'too poor',
      instance: '/payments',
    });
  });
});
