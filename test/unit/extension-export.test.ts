/**
 * CSV export pages through the hub's payment list to the end: against a real hub (SQLite) with
 * more payments than one page (and more than the popup keeps), through the extension's own hub
 * client with real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tEn } from '../helpers/i18n-en.js';
import { allPayments, EXPORT_PAGE, exportCsv } from '../../extension/background/export.js';
import { createHubApi } from '../../extension/background/hub-api.js';
import { CSV_COLUMNS } from '../../extension/common/csv.js';
import { PAYMENTS_SHOWN } from '../../extension/common/state.js';
import { createMerchant, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';

const COUNT = 2 * EXPORT_PAGE + 17;

describe('CSV export of every payment', () => {
  let hub: TestHub;
  let s: Session;
  let other: Session;

  beforeAll(async () => {
    hub = await startTestHub('sqlite');
    [s, other] = await Promise.all([signIn(hub.url), signIn(hub.url)]);
    await fund(hub.url, s, '1000000');
    await fund(hub.url, other, '1000');
    const { merchant } = await createMerchant(hub.url);
    for (let i = 0; i < COUNT; i++) {
      const res = await pay(hub.url, s, `k-${i}`, {
        rail: 'internal',
        payTo: merchant.id,
        amount: String(i + 1),
        asset: 'SOVR',
        resource: { url: `https://shop.example/a/${i}`, method: 'GET' },
      });
      expect(res.status).toBe(200);
    }
    // Someone else's payment never shows up in this person's export.
    expect((await pay(hub.url, other, 'k-other', { rail: 'internal', payTo: merchant.id, amount: '5', asset: 'SOVR' })).status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    await hub?.stop();
  });

  it(`pages through all ${COUNT} payments (more than the ${PAYMENTS_SHOWN} the popup keeps), each once, newest first`, async () => {
    const api = createHubApi({ t: tEn, fetch });
    const session = { url: hub.url, accessToken: s.accessToken };
    const calls: string[] = [];
    const counting = {
      paymentsPage: (x: typeof session, cursor: string | null, limit: number) => (
        calls.push(cursor ?? 'first'), api.paymentsPage(x, cursor, limit)
      ),
    };
    const list = await allPayments(counting, session, tEn);
    expect(list).toHaveLength(COUNT);
    expect(new Set(list.map((p) => p.transactionId)).size).toBe(COUNT);
    expect(list.map((p) => p.amount)).toEqual(Array.from({ length: COUNT }, (_, i) => String(COUNT - i)));
    expect(calls).toHaveLength(Math.ceil(COUNT / EXPORT_PAGE));

    const csv = await exportCsv(api, session, tEn);
    const lines = csv.split('\r\n');
    expect(lines[0]).toBe(CSV_COLUMNS.join(','));
    expect(lines.at(-1)).toBe('');
    expect(lines).toHaveLength(COUNT + 2);
    expect(lines.filter((l) => l.includes('https://shop.example/a/0,'))).toHaveLength(1);
  });

  it('stops on a hub that repeats its cursor instead of looping', async () => {
    let n = 0;
    const p = (
      await allPayments(
        { paymentsPage: async () => (n++, { data: [], nextCursor: 'same' }) },
        { url: hub.url, accessToken: s.accessToken },
        tEn,
      )
    ).length;
    expect([p, n]).toEqual([0, 1]);
    const loop = { paymentsPage: async (_s: unknown, cursor: string | null) => ({ data: [], nextCursor: cursor ?? 'c1' }) };
    expect(await allPayments(loop, { url: hub.url, accessToken: 'x' }, tEn)).toEqual([]);
  });
});
