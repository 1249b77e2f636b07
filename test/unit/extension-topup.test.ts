/**
 * Add funds in the extension: the popup's view logic (the amount in sats, the status line), the
 * worker's QR encoder (checked module for module against a reference encoder's output), and the
 * worker following a top-up: asked once under one key, the QR drawn, credited by the socket event,
 * never moved back by a late or replayed one.
 */
import { tEn } from '../helpers/i18n-en.js';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { lightningUri, type Topup } from '../../shared/topups.js';
import { encodeQr, qrPath } from '../../extension/background/qr.js';
import { createTopups } from '../../extension/background/topups.js';
import type { HubSession } from '../../extension/common/state.js';
import { parseSats, type StoredTopup, TOPUP_KEY, topupStatusText } from '../../extension/common/topup.js';
import { MemoryStorage } from '../helpers/memory-storage.js';

describe('parseSats', () => {
  it('turns sats into msat exactly', () => {
    expect(parseSats('1000', tEn)).toEqual({ ok: true, value: 1_000_000n });
    expect(parseSats(' 21 ', tEn)).toEqual({ ok: true, value: 21_000n });
    expect(parseSats('0.5', tEn)).toEqual({ ok: true, value: 500n });
    expect(parseSats('.001', tEn)).toEqual({ ok: true, value: 1n });
    expect(parseSats('007', tEn)).toEqual({ ok: true, value: 7000n });
    expect(parseSats('2100000000000000', tEn)).toEqual({ ok: true, value: 2_100_000_000_000_000_000n });
  });
  it('refuses what is not an amount of sats', () => {
    for (const bad of ['', '0', '0.000', '0.0001', '-5', '1e3', '1,5', 'abc', '12345678901234567', '1.2.3', '0x10']) {
      const r = parseSats(bad, tEn);
      expect(r.ok, bad).toBe(false);
    }
  });
});

const topup = (over: Partial<Topup> = {}): Topup => ({
  topupId: 'top_AAAAAAAAAAAAAAAA',
  status: 'open',
  asset: 'BTC',
  amount: '1500000',
  creditedAmount: null,
  bolt11: 'lnbcrt15u1pexample',
  paymentHash: 'ab'.repeat(32),
  expiresAt: '2026-12-07T00:00:00.000Z',
  creditedAt: null,
  createdAt: '2026-12-06T23:00:00.000Z',
  updatedAt: '2026-12-06T23:00:00.000Z',
  ...over,
});
const stored = (over: Partial<StoredTopup> = {}): StoredTopup => ({
  hubUrl: 'http://hub.test',
  userId: 'u1',
  idempotencyKey: 'k',
  amount: '1500000',
  status: 'open',
  topup: topup(),
  qr: null,
  error: null,
  updatedAt: 0,
  ...over,
});

describe('topupStatusText', () => {
  it('says where the top-up stands, in sats', () => {
    expect(topupStatusText(stored({ status: 'sending', topup: null }), tEn, 'en-US')).toBe('Asking the hub for an invoice…');
    expect(topupStatusText(stored({ status: 'sending', topup: null, error: 'hub answered 503' }), tEn, 'en-US')).toBe(
      'Asking the hub for an invoice… (hub answered 503)',
    );
    expect(topupStatusText(stored(), tEn, 'en-US')).toBe('Waiting for 1,500 sats (0.000015 BTC)…');
    expect(
      topupStatusText(stored({ status: 'credited', topup: topup({ status: 'credited', creditedAmount: '2000000' }) }), tEn, 'en-US'),
    ).toBe('Credited 2,000 sats (0.00002 BTC).');
    expect(topupStatusText(stored({ status: 'expired' }), tEn, 'en-US')).toBe('Expired unpaid: nothing was added.');
    expect(topupStatusText(stored({ status: 'failed', topup: null, error: 'validation-error: too much' }), tEn, 'en-US')).toBe(
      'Refused: validation-error: too much',
    );
  });
});

describe('encodeQr', () => {
  // Reference: the `qrcode` Python package (8.2) at level M with the same mask, rows of 0/1 joined
  // by newlines, sha256. The invoice is a fixed regtest BOLT 11 upper-cased as a lightning: URI.
  const INVOICE =
    'LIGHTNING:LNBCRT25U1P43TELRPP5WJJZSG270K09YWYXQY27HLKNKV25NRMPA6C7FDE2FVE3TJ3AST7QSP5HRTESPP42DH3GALSQE3HZPXLMK79NL0F0EQYZXPH755N36MJX2QSDPC23HKCMRHV9UJQAR0WQKH2UPQW3HHQHMPVF3KGETXVA5XJ6NTD3KKUMMSXQYZ5VQCQZZS9QYPQSQ2DVUMHY8ZY8XRLUJF2343QKXP9EXQY6DT60PUH2J5XWF782Y7U949T9W73YQAQ7E0KZV4QZJVW7F4Y9SM0DU69634TDEJWJR65NMFVCPL7QQAQ';
  const cases: [string, number, number, string][] = [
    ['HELLO WORLD', 0, 1, '83d76f36239756fc557dc381512baad05726203ad76d8f14820ec93a51bdd8ee'],
    ['hello, world', 3, 1, 'f1f0e7dc07cb516cce2fe595c73790eebec890f7117be7eb54be5231b2e5ee53'],
    [INVOICE, 5, 11, 'de7c48c09100bf229235c88f6b5760821ba34c030eb0c75f84d92c520a529fd6'],
    ['https://example.com/é', 4, 2, 'b07de9569749c1960e9c3881f78eeeb6c2675f018b807ab61091cf1c89068a67'],
  ];
  it.each(cases)('encodes %j module for module like the reference', (text, mask, version, sha) => {
    const qr = encodeQr(text, { mask });
    expect(qr.version).toBe(version);
    expect(qr.size).toBe(17 + 4 * version);
    const rows = qr.modules.map((r) => r.map((d) => (d ? '1' : '0')).join('')).join('\n');
    expect(createHash('sha256').update(rows).digest('hex')).toBe(sha);
  });

  it('picks a mask itself, keeps the finder patterns, and draws each dark run once', () => {
    const qr = encodeQr(lightningUri('lnbcrt1u1pexample'));
    expect(qr.mask).toBeGreaterThanOrEqual(0);
    expect(qr.mask).toBeLessThan(8);
    expect(qr.modules[0]!.slice(0, 7).every(Boolean)).toBe(true);
    const path = qrPath(qr);
    const dark = qr.modules.flat().filter(Boolean).length;
    const drawn = [...path.matchAll(/h(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    expect(drawn).toBe(dark);
  });

  it('refuses text longer than any QR code holds', () => {
    expect(() => encodeQr('x'.repeat(3000))).toThrow(RangeError);
  });
});

describe('the worker following a top-up', () => {
  const session: HubSession = { url: 'http://hub.test', accessToken: 'at', user: { id: 'u1', address: '0xabc' } };

  function setup(answers: ((req: Request) => Response)[]) {
    const local = new MemoryStorage();
    const calls: Request[] = [];
    let credited = 0;
    const fetchFn = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const req = new Request(input, init);
      calls.push(req);
      const answer = answers.shift();
      if (!answer) throw new Error('no answer scripted');
      return answer(req);
    }) as typeof fetch;
    const topups = createTopups({
      t: tEn,
      local,
      fetch: fetchFn,
      session: async () => session,
      newId: () => 'fixed',
      onCredited: async () => void credited++,
    });
    return { local, calls, topups, credited: () => credited, peek: () => local.peek(TOPUP_KEY) as StoredTopup };
  }
  const json = (body: unknown, status = 200) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

  it('asks once under one key, stores the invoice with its QR code, and turns credited on the socket event', async () => {
    const t = setup([() => json(topup())]);
    const r = await t.topups.create('1500000');
    expect(r?.status).toBe('open');
    const req = t.calls[0]!;
    expect(req.method).toBe('POST');
    expect(new URL(req.url).pathname).toBe('/topups');
    expect(req.headers.get('idempotency-key')).toBe('tollway-topup-fixed');
    expect(await req.json()).toEqual({ asset: 'BTC', amount: '1500000' });
    const s = t.peek();
    expect(s.qr?.size).toBe(encodeQr(lightningUri(topup().bolt11)).size);
    expect(s.qr?.path).toBe(qrPath(encodeQr(lightningUri(topup().bolt11))));

    const credited = { ...topup({ status: 'credited', creditedAmount: '1500000' }), previousStatus: 'open' as const, seq: 7 };
    await t.topups.applyUpdate(credited);
    expect(t.peek().status).toBe('credited');
    expect(t.credited()).toBe(1);
    // A replayed event, and an older picture, change nothing.
    await t.topups.applyUpdate(credited);
    await t.topups.applyUpdate({ ...topup(), previousStatus: null, seq: 3 });
    expect(t.peek().status).toBe('credited');
    expect(t.credited()).toBe(1);
    // Another top-up's event is not this one's.
    await t.topups.applyUpdate({ ...credited, topupId: 'top_BBBBBBBBBBBBBBBB', status: 'expired' });
    expect(t.peek().status).toBe('credited');
  });

  it('keeps the request when the hub did not answer and sends it again, same key, when the popup opens', async () => {
    const t = setup([() => json({ type: 'x', status: 503 }, 503), () => json(topup())]);
    expect((await t.topups.create('1500000'))?.status).toBe('sending');
    expect(t.peek().error).toMatch(/503/);
    await t.topups.refresh();
    expect(t.peek().status).toBe('open');
    expect(t.calls.map((c) => c.headers.get('idempotency-key'))).toEqual(['tollway-topup-fixed', 'tollway-topup-fixed']);
  });

  it('shows a refusal, and looks an open top-up up when the popup opens', async () => {
    const refused = setup([
      () => json({ type: 'https://tollway.dev/problems/unsupported-rail', title: 'x', status: 400, detail: 'no lightning' }, 400),
    ]);
    expect((await refused.topups.create('1000'))?.status).toBe('failed');
    expect(refused.peek().error).toBe('unsupported-rail: no lightning');

    const t = setup([() => json(topup()), () => json(topup({ status: 'expired' }))]);
    await t.topups.create('1500000');
    await t.topups.refresh();
    expect(new URL(t.calls[1]!.url).pathname).toBe('/topups/top_AAAAAAAAAAAAAAAA');
    expect(t.peek().status).toBe('expired');
    expect(t.credited()).toBe(0);
  });
});
