/**
 * Amounts at the ledger's limit (2^256-1 per balance). The dev faucet used to take any amount:
 * one call near 2^256 filled the faucet account's debits, after which the ledger refused every
 * faucet call for everyone with `overflows_debits_posted`, thrown as a plain error (a 500). Now
 * one call gives at most a million whole units, and any ledger refusal a request causes (on the
 * faucet, a payment, a refund, a deposit) is a problem the caller can read, never a 500.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAUCET_MAX_WHOLE_UNITS } from '../../shared/api.js';
import { balances, createMerchant, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced, rowCounts } from '../helpers/invariant.js';
import { ENGINES } from '../helpers/stores.js';

interface Problem {
  type: string;
  status: number;
  detail?: string;
  errors?: { path: string; message: string }[];
}

const MAX = (1n << 256n) - 1n;
const SOVR = 10n ** 18n;

describe.each(ENGINES)('amounts at the ledger limit on %s', (engine) => {
  let t: TestHub;
  let merchantId: string;

  beforeAll(async () => {
    t = await startTestHub(engine);
    merchantId = (await createMerchant(t.url)).merchant.id;
  });
  afterAll(async () => t?.stop());

  const faucet = (s: Session, amount: string, asset = 'SOVR') =>
    fetch(`${t.url}/dev/faucet`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${s.accessToken}` },
      body: JSON.stringify({ asset, amount }),
    });

  it('refuses a faucet amount near 2^256 with a 4xx problem, and the faucet keeps working for everyone else', async () => {
    const mallory = await signIn(t.url);
    const before = await rowCounts(t.store.db);
    for (const amount of [MAX, MAX - 1n, 1n << 255n, FAUCET_MAX_WHOLE_UNITS * SOVR + 1n]) {
      const res = await faucet(mallory, amount.toString());
      const p = (await res.json()) as Problem;
      expect(res.status, JSON.stringify(p)).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(p.type).toBe('https://tollway.dev/problems/validation-error');
      expect(p.errors?.[0]?.path).toBe('amount');
    }
    expect(await rowCounts(t.store.db)).toEqual(before);
    expect((await balances(t.url, mallory)).SOVR?.posted).toBe('0');

    // Another user, then the same one, still get test money: nothing was poisoned.
    const alice = await signIn(t.url);
    await fund(t.url, alice, '1000');
    expect((await balances(t.url, alice)).SOVR?.posted).toBe('1000');
    // The per-call maximum itself is fine, for each asset.
    expect((await faucet(mallory, (FAUCET_MAX_WHOLE_UNITS * SOVR).toString())).status).toBe(200);
    expect((await faucet(mallory, (FAUCET_MAX_WHOLE_UNITS * 10n ** 11n).toString(), 'BTC')).status).toBe(200);
    await fund(t.url, alice, '1');
    expect((await balances(t.url, alice)).SOVR?.posted).toBe('1001');
    await expectLedgerBalanced(t.store.db);
  });

  it('answers a payment that would overflow a balance with 422 amount-too-large, storing nothing', async () => {
    const alice = await signIn(t.url);
    await fund(t.url, alice, '1000');
    const resource = { url: 'https://shop.example/a', method: 'GET' };
    // The merchant holds something, so paying it 2^256-1 more would overflow its credits.
    expect(
      (await pay(t.url, alice, `small-${engine}`, { rail: 'internal', payTo: merchantId, amount: '10', asset: 'SOVR', resource })).status,
    ).toBe(200);
    const before = await rowCounts(t.store.db);
    for (const amount of [MAX, MAX - 5n]) {
      const res = await pay(t.url, alice, `huge-${engine}-${amount}`, {
        rail: 'internal',
        payTo: merchantId,
        amount: amount.toString(),
        asset: 'SOVR',
        resource,
      });
      const p = (await res.json()) as Problem;
      expect(res.status, JSON.stringify(p)).toBe(422);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(p.type).toBe('https://tollway.dev/problems/amount-too-large');
    }
    expect(await rowCounts(t.store.db)).toEqual(before);
    // An ordinary shortfall is still insufficient-funds.
    const short = await pay(t.url, alice, `short-${engine}`, {
      rail: 'internal',
      payTo: merchantId,
      amount: '100000',
      asset: 'SOVR',
      resource,
    });
    expect([short.status, ((await short.json()) as Problem).type]).toEqual([400, 'https://tollway.dev/problems/insufficient-funds']);
    expect(
      (await pay(t.url, alice, `after-${engine}`, { rail: 'internal', payTo: merchantId, amount: '1', asset: 'SOVR', resource })).status,
    ).toBe(200);
    await expectLedgerBalanced(t.store.db);
  });
});
