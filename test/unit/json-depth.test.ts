/**
 * The guards against deeply nested JSON: the byte scan the body parser runs before parsing, and
 * the idempotency fingerprint, which must never recurse (and must not change: stored keys are
 * compared with it).
 */
import { describe, expect, it } from 'vitest';
import { nestsDeeperThan } from '../../server/http/json-body.js';
import { fingerprint } from '../../server/core/idempotency.js';

const utf8 = (s: string) => Buffer.from(s, 'utf8');
const nested = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);

describe('nestsDeeperThan', () => {
  it('counts arrays and objects inside one another', () => {
    expect(nestsDeeperThan(utf8('{}'), 1)).toBe(false);
    expect(nestsDeeperThan(utf8('{"a":[]}'), 1)).toBe(true);
    expect(nestsDeeperThan(utf8('{"a":[],"b":{},"c":[1,2]}'), 2)).toBe(false);
    expect(nestsDeeperThan(utf8(nested(32)), 32)).toBe(false);
    expect(nestsDeeperThan(utf8(nested(33)), 32)).toBe(true);
    expect(nestsDeeperThan(utf8(`{"a":${nested(100_000)}}`), 32)).toBe(true);
  });

  it('skips strings, escaped quotes and backslashes included, and multi-byte characters', () => {
    expect(nestsDeeperThan(utf8(JSON.stringify({ a: '[[[[{{{{' })), 1)).toBe(false);
    expect(nestsDeeperThan(utf8(JSON.stringify({ a: '\\"[[[[', b: 'x\\' })), 1)).toBe(false);
    expect(nestsDeeperThan(utf8(JSON.stringify({ a: '"', b: [[1]] })), 2)).toBe(true);
    expect(nestsDeeperThan(utf8(JSON.stringify({ 'k[': 'é€😀[', b: [] })), 2)).toBe(false);
  });
});

describe('fingerprint', () => {
  it('is what the recursive version computed, so stored keys still match their retries', () => {
    const sample = {
      rail: 'internal',
      payTo: 'm_x',
      amount: '100',
      asset: 'SOVR',
      resource: { url: 'https://a.example/x?q="1"', method: 'GET' },
      requirement: { extra: { bind: ['method', 'path'], n: [1, 2.5, -3e-7, true, false, null, { z: 'é\u2028', a: [] }], 'k\u0000': {} } },
      description: 'ünïcødé 🚀',
    };
    expect(fingerprint(sample)).toBe('054ae0a3f499006c9ade3a8b55acdc0f55235ceb6eafde168b1384893ac10851');
    expect(fingerprint({ paymentId: 'pay_1', body: {} })).toBe('9b013433b6e55e353ef44724722d4ad84f7520d501e4ba0fb8775c57ae7294be');
    expect(fingerprint([])).toBe('4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945');
    expect(fingerprint({ b: 1, a: [2, { d: 3, c: 4 }] })).toBe(fingerprint(JSON.parse('{"a":[2,{"c":4,"d":3}],"b":1}')));
    expect(fingerprint({ a: [1, 2] })).not.toBe(fingerprint({ a: [2, 1] }));
  });

  it('does not overflow the stack however deep the value nests', () => {
    const deep = JSON.parse(`{"a":${nested(200_000)}}`) as unknown;
    expect(fingerprint(deep)).toMatch(/^[0-9a-f]{64}$/);
  });
});
