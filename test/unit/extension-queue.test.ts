import { describe, expect, it } from 'vitest';
import { tEn } from '../helpers/i18n-en.js';
import { choosePayment } from '../../extension/background/choose.js';
import { challengeOf, notice, type HeadersReceived } from '../../extension/background/detect.js';
import { badgeText, decide, dedupeKey, enqueue, pendingOf, rejectPending, splitFinished } from '../../extension/background/queue.js';
import { countdown, displayAmount } from '../../extension/common/format.js';
import { HUB, request, tollwayOption, x402Challenge } from '../helpers/extension-fixtures.js';

const EXPIRED = tEn('worker_expired');

describe('approval queue', () => {
  it('keeps one active request per site and resource', () => {
    const a = request({ id: 'a', url: 'https://shop.example/a#top' });
    let q = enqueue([], a).active;
    const same = enqueue(q, request({ id: 'b', url: 'https://shop.example/a' }));
    expect(same.added).toBe(false);
    expect(same.request.id).toBe('a');
    q = enqueue(q, request({ id: 'c', site: 'https://other.example' })).active;
    q = enqueue(q, request({ id: 'd', url: 'https://shop.example/b' })).active;
    q = enqueue(q, request({ id: 'e', method: 'POST' })).active;
    expect(q.map((r) => r.id)).toEqual(['a', 'c', 'd', 'e']);
  });
  it('joins a repeat 402 to a payment already in flight, and queues anew once it finished', () => {
    const paying = [request({ id: 'a', status: 'paying' })];
    expect(enqueue(paying, request({ id: 'b' })).added).toBe(false);
    const done = [request({ id: 'a', status: 'completed' })];
    expect(enqueue(done, request({ id: 'b' })).added).toBe(true);
  });
  it('orders pending requests oldest first and counts them on the badge', () => {
    const q = [
      request({ id: 'late', createdAt: 3, url: 'https://shop.example/3' }),
      request({ id: 'early', createdAt: 1 }),
      request({ id: 'p', status: 'paying', url: 'https://shop.example/p' }),
    ];
    expect(pendingOf(q).map((r) => r.id)).toEqual(['early', 'late']);
    expect(badgeText(q)).toBe('2');
    expect(badgeText([])).toBe('');
    expect(badgeText(Array.from({ length: 120 }, (_, i) => request({ id: String(i), url: `https://shop.example/${i}` })))).toBe('99+');
  });
  it('decides a pending request once; approving needs a payable request', () => {
    const q = [request({ id: 'a' }), request({ id: 'u', url: 'https://shop.example/u', payment: null, unpayable: 'no' })];
    const approved = decide(q, 'a', true, 5, EXPIRED);
    expect(approved.request?.status).toBe('paying');
    expect(approved.request?.updatedAt).toBe(5);
    expect(decide(approved.active, 'a', false, 6, EXPIRED).request).toBeUndefined();
    expect(decide(q, 'u', true, 5, EXPIRED).request).toBeUndefined();
    expect(decide(q, 'u', false, 5, EXPIRED).request?.status).toBe('rejected');
    expect(decide(q, 'missing', false, 5, EXPIRED).request).toBeUndefined();
  });
  it('reject all leaves payments in flight alone, and finished requests split off', () => {
    const q = rejectPending([request({ id: 'a' }), request({ id: 'p', status: 'paying', url: 'https://shop.example/p' })], 9, 'closed');
    expect(q.map((r) => [r.id, r.status, r.error])).toEqual([
      ['a', 'rejected', 'closed'],
      ['p', 'paying', null],
    ]);
    const split = splitFinished(q);
    expect(split.active.map((r) => r.id)).toEqual(['p']);
    expect(split.finished.map((r) => r.id)).toEqual(['a']);
  });
  it('dedupes on site, method and URL without the fragment', () => {
    expect(dedupeKey({ site: 'https://a.example', method: 'get', url: 'https://b.example/x?y=1#z' })).toBe(
      'https://a.example GET https://b.example/x?y=1',
    );
  });
});

describe('choosing what to pay', () => {
  const req = { url: 'https://shop.example/a?x=1', method: 'GET' };
  it('pays the tollway option of the hub it is connected to, on the internal rail', () => {
    const exact = { scheme: 'exact', network: 'eip155:1', amount: '5', asset: '0xabc', payTo: '0xdef' };
    const choice = choosePayment(x402Challenge([exact, tollwayOption()]), req, `${HUB}/`, tEn);
    expect(choice.unpayable).toBeNull();
    expect(choice.payment).toEqual({
      rail: 'internal',
      payTo: 'm_shop',
      amount: '1500',
      asset: 'SOVR',
      resource: { url: req.url, method: 'GET' },
      requirement: tollwayOption(),
      description: 'Article',
    });
  });
  it('does not pay another hub, an unknown asset, on-chain or Lightning options', () => {
    for (const options of [
      [tollwayOption({ network: 'tollway:http://evil.example' })],
      [tollwayOption({ asset: 'USDC' })],
      [{ scheme: 'exact', network: 'eip155:1', amount: '5', asset: '0xabc', payTo: '0xdef' }],
    ]) {
      const c = choosePayment(x402Challenge(options), req, HUB, tEn);
      expect(c.payment).toBeNull();
      expect(c.unpayable).toMatch(/No option this wallet can pay yet/);
    }
    const l402 = choosePayment(
      {
        x402: null,
        l402: { kind: 'l402', scheme: 'L402', macaroon: 'm'.repeat(10), invoice: 'lnbc1xxxxxxxxx', amountMsat: null },
        problems: [],
      },
      req,
      HUB,
      tEn,
    );
    expect(l402.unpayable).toMatch(/Lightning/);
  });
  it('cannot pay before a hub is connected, and says why garbage cannot be paid', () => {
    expect(choosePayment(x402Challenge(), req, null, tEn).unpayable).toMatch(/not connected/);
    expect(choosePayment({ x402: null, l402: null, problems: [{ code: 'bad-json', message: 'not JSON' }] }, req, HUB, tEn).unpayable).toBe(
      'not JSON',
    );
  });
});

describe('noticing 402s', () => {
  const base: HeadersReceived = {
    statusCode: 402,
    url: 'https://api.example/x',
    method: 'GET',
    type: 'xmlhttprequest',
    tabId: 3,
    initiator: 'https://page.example',
    responseHeaders: [],
  };
  it('takes 402s from pages only, of the watched types', () => {
    expect(notice(base)?.site).toBe('https://page.example');
    expect(notice({ ...base, type: 'main_frame' })?.site).toBe('https://api.example');
    expect(notice({ ...base, statusCode: 200 })).toBeNull();
    expect(notice({ ...base, tabId: -1 })).toBeNull();
    expect(notice({ ...base, type: 'image' })).toBeNull();
    expect(notice({ ...base, initiator: 'null' })?.site).toBe('https://api.example');
  });
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64');
  const header = b64({ x402Version: 2, resource: { url: base.url }, accepts: [tollwayOption()] });
  it('reads the header challenge without asking again', async () => {
    let asked = 0;
    const seen = await challengeOf(
      notice({ ...base, responseHeaders: [{ name: 'payment-required', value: header }] })!,
      async () => (asked++, null),
    );
    expect(seen?.challenge.x402?.accepts).toHaveLength(1);
    expect(asked).toBe(0);
  });
  it('asks a GET again for a version 1 body, never a POST', async () => {
    const v1 = {
      x402Version: 1,
      accepts: [{ scheme: 'exact', network: 'base', maxAmountRequired: '7', resource: base.url, payTo: '0x1', asset: '0x2' }],
    };
    const seen = await challengeOf(notice(base)!, async () => ({ headers: [], body: JSON.stringify(v1) }));
    expect(seen?.challenge.x402?.version).toBe(1);
    let asked = 0;
    expect(await challengeOf(notice({ ...base, method: 'POST' })!, async () => (asked++, null))).toBeNull();
    expect(asked).toBe(0);
    expect(await challengeOf(notice(base)!, async () => ({ headers: [], body: '<html>pay me</html>' }))).toBeNull();
    expect(await challengeOf(notice(base)!, async () => Promise.reject(new Error('offline')))).toBeNull();
  });
  it('keeps an unreadable challenge, to show it as such', async () => {
    const seen = await challengeOf(notice({ ...base, responseHeaders: [{ name: 'PAYMENT-REQUIRED', value: '###' }] })!, async () => null);
    expect(seen?.challenge).toEqual({ x402: null, l402: null, problems: [{ code: 'bad-encoding', message: 'not base64' }] });
  });
});

describe('showing amounts', () => {
  it('in whole units of the asset, never through a float', () => {
    expect(displayAmount('1500000000000000001', 'SOVR')).toBe('1.500000000000000001 SOVR');
    expect(displayAmount('150000', 'BTC')).toBe('0.0000015 BTC');
    expect(displayAmount('10000', '0xabc')).toBe('10000 base units of 0xabc');
    expect(countdown(1000 + 61_500, 1000)).toBe('1:01');
    expect(countdown(0, 5000)).toBe('0:00');
  });
});

describe('expiry of pending requests', () => {
  it('expires after the option’s maxTimeoutSeconds (or the default), and refuses a late approve', async () => {
    const { expirePending, expiryOf, nextExpiry, decide, PENDING_TTL_SECONDS } = await import('../../extension/background/queue.js');
    const { tollwayOption } = await import('../helpers/extension-fixtures.js');
    const withTimeout = request({
      id: 't',
      createdAt: 1000,
      payment: { rail: 'internal', payTo: 'm', amount: '1', asset: 'SOVR', requirement: tollwayOption({ maxTimeoutSeconds: 60 }) },
    });
    const noTimeout = request({ id: 'n', createdAt: 2000, url: 'https://shop.example/n' });
    expect(expiryOf(withTimeout)).toBe(61_000);
    expect(expiryOf(noTimeout)).toBe(2000 + PENDING_TTL_SECONDS * 1000);
    expect(nextExpiry([noTimeout, withTimeout, request({ id: 'p', status: 'paying', createdAt: 0 })])).toBe(61_000);
    const out = expirePending([withTimeout, noTimeout], 61_000, EXPIRED);
    expect(out.expired).toBe(1);
    expect(out.active.map((r) => [r.id, r.status, r.error])).toEqual([
      ['t', 'rejected', EXPIRED],
      ['n', 'pending', null],
    ]);
    expect(decide([withTimeout], 't', true, 61_000, EXPIRED).request).toMatchObject({ status: 'rejected', error: EXPIRED });
    expect(decide([withTimeout], 't', true, 60_999, EXPIRED).request).toMatchObject({ status: 'paying' });
    expect(nextExpiry([])).toBeNull();
  });
});
