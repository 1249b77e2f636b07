import { describe, expect, it } from 'vitest';
import { createPasses, matchPass, passOf, receiptExp, reuseWindow } from '../../extension/background/passes.js';
import { KEYS, type Pass } from '../../extension/common/state.js';
import { HUB, request, tollwayOption, x402Challenge } from '../helpers/extension-fixtures.js';
import { MemoryStorage } from '../helpers/memory-storage.js';

const NOW = Date.parse('2025-03-10T12:00:00Z');
const jwt = (claims: object) => `eyJhbGciOiJFUzI1NiJ9.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;

const pass = (over: Partial<Pass> = {}): Pass => ({
  transactionId: 'pay_1',
  payTo: 'm_shop',
  url: 'https://shop.example/a',
  method: 'GET',
  createdAt: NOW - 60_000,
  exp: NOW / 1000 + 3600,
  header: { name: 'PAYMENT-SIGNATURE', value: 'proof' },
  spent: false,
  ...over,
});
const want = (over: Partial<{ payTo: string; url: string; method: string; windowSeconds: number }> = {}) => ({
  payTo: 'm_shop',
  url: 'https://shop.example/a',
  method: 'GET',
  windowSeconds: 600,
  ...over,
});

describe('access passes: the matching rule', () => {
  it('matches the same merchant, resource and method while the window and the receipt last', () => {
    expect(matchPass([pass()], want(), NOW)).toMatchObject({ transactionId: 'pay_1' });
    expect(matchPass([pass()], want({ url: 'https://shop.example/a#comments', method: 'get' }), NOW)).not.toBeNull();
  });
  it('does not match another merchant, resource or method, a spent pass, an elapsed window or an expired receipt', () => {
    expect(matchPass([pass()], want({ payTo: 'm_other' }), NOW)).toBeNull();
    expect(matchPass([pass()], want({ url: 'https://shop.example/b' }), NOW)).toBeNull();
    expect(matchPass([pass()], want({ url: 'https://shop.example/a?page=2' }), NOW)).toBeNull();
    expect(matchPass([pass()], want({ method: 'POST' }), NOW)).toBeNull();
    expect(matchPass([pass({ spent: true })], want(), NOW)).toBeNull();
    // createdAt + windowSeconds must be ahead: 60 s ago with a 60 s window is over.
    expect(matchPass([pass()], want({ windowSeconds: 60 }), NOW)).toBeNull();
    expect(matchPass([pass()], want({ windowSeconds: 61 }), NOW)).not.toBeNull();
    expect(matchPass([pass({ exp: NOW / 1000 })], want(), NOW)).toBeNull();
  });
  it('prefers the most recent of several', () => {
    expect(
      matchPass(
        [pass({ transactionId: 'old', createdAt: NOW - 300_000 }), pass({ transactionId: 'new', createdAt: NOW - 1000 })],
        want(),
        NOW,
      )?.transactionId,
    ).toBe('new');
  });
  it('reads the window only from a positive whole `extra.reuse.windowSeconds`', () => {
    expect(reuseWindow(tollwayOption({ extra: { reuse: { windowSeconds: 600 } } }))).toBe(600);
    for (const extra of [
      undefined,
      {},
      { reuse: 'single' },
      { reuse: {} },
      { reuse: { windowSeconds: 0 } },
      { reuse: { windowSeconds: 1.5 } },
      { reuse: { windowSeconds: '600' } },
    ])
      expect(reuseWindow(tollwayOption({ extra: extra as never }))).toBeNull();
    expect(reuseWindow(null)).toBeNull();
  });
  it('reads exp from the receipt without trusting anything else in it', () => {
    expect(receiptExp(jwt({ exp: 1700000000, sub: 'pay_1' }))).toBe(1700000000);
    expect(receiptExp(jwt({ sub: 'x' }))).toBeNull();
    expect(receiptExp('garbage')).toBeNull();
    expect(receiptExp('a.!!!.c')).toBeNull();
  });
});

describe('access passes: what is kept', () => {
  const option = tollwayOption({ extra: { hub: HUB, challengeId: 'c', reuse: { windowSeconds: 600 } } });
  const completed = (token = jwt({ exp: NOW / 1000 + 3600 })) =>
    request({
      status: 'completed',
      url: 'https://shop.example/a#top',
      challenge: x402Challenge([option]),
      payment: {
        rail: 'internal',
        payTo: 'm_shop',
        amount: '1500',
        asset: 'SOVR',
        resource: { url: 'https://shop.example/a', method: 'GET' },
        requirement: option,
      },
      result: {
        transactionId: 'pay_9',
        status: 'completed',
        rail: 'internal',
        payTo: 'm_shop',
        amount: '1500',
        asset: 'SOVR',
        resource: null,
        description: null,
        failureReason: null,
        receipt: { token },
        createdAt: new Date(NOW).toISOString(),
        updatedAt: new Date(NOW).toISOString(),
      },
    });

  it('a completed payment for a pass option keeps its proof; single-use ones and ones without a receipt do not', () => {
    expect(passOf(completed())).toMatchObject({
      transactionId: 'pay_9',
      payTo: 'm_shop',
      url: 'https://shop.example/a',
      method: 'GET',
      createdAt: NOW,
      exp: NOW / 1000 + 3600,
      header: { name: 'PAYMENT-SIGNATURE' },
      spent: false,
    });
    const single = completed();
    single.payment!.requirement = tollwayOption();
    expect(passOf(single)).toBeNull();
    expect(passOf({ ...completed(), status: 'submitted' })).toBeNull();
    expect(passOf(completed('not-a-jwt'))).toBeNull();
  });

  it('are kept in session storage only, found, spent once, and dropped when expired', async () => {
    const session = new MemoryStorage();
    let now = NOW;
    const store = createPasses({ session, now: () => now });
    await store.record(completed());
    await store.record(completed());
    expect((session.peek(KEYS.passes) as Pass[]).map((p) => p.transactionId)).toEqual(['pay_9']);
    expect(await store.find(want())).toMatchObject({ transactionId: 'pay_9' });
    await store.spend('pay_9');
    expect(await store.find(want())).toBeNull();
    expect((session.peek(KEYS.passes) as Pass[])[0]!.spent).toBe(true);
    now = NOW + 3601_000;
    await store.spend('pay_9');
    const later = completed(jwt({ exp: now / 1000 + 10 }));
    await store.record({ ...later, result: { ...later.result!, transactionId: 'pay_10' } });
    expect((session.peek(KEYS.passes) as Pass[]).map((p) => p.transactionId)).toEqual(['pay_10']);
  });
});
