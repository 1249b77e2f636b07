import { describe, expect, it } from 'vitest';
import { encodePaymentRequired } from '../../shared/challenge.js';
import type { Payment } from '../../shared/api.js';
import type { Seen402 } from '../../extension/background/approvals.js';
import { createHoldings, PURCHASE_CLAIM_MS } from '../../extension/background/holdings.js';
import {
  absoluteTime,
  DAY_MS,
  expiryState,
  passEnds,
  readHoldings,
  relativeTime,
  slotsApiOf,
  type Holding,
} from '../../extension/common/holdings.js';
import { KEYS, type ApprovalRequest, type HubSession } from '../../extension/common/state.js';
import { writeRequestList } from '../../extension/common/storage.js';
import { request, tollwayOption } from '../helpers/extension-fixtures.js';
import { tEn } from '../helpers/i18n-en.js';
import { MemoryStorage } from '../helpers/memory-storage.js';

const NOW = Date.parse('2026-03-10T12:00:00Z');
const SITE = 'https://shop.example';
const API = `${SITE}/slots`;
const FEE = 300_000;
const MONTH_MS = 30 * DAY_MS;

describe('holdings: how an expiry reads', () => {
  it('is active, expires soon within a day, expired at its time', () => {
    expect(expiryState(NOW + DAY_MS + 1, NOW)).toBe('active');
    expect(expiryState(NOW + DAY_MS, NOW)).toBe('soon');
    expect(expiryState(NOW + 1, NOW)).toBe('soon');
    expect(expiryState(NOW, NOW)).toBe('expired');
    expect(expiryState(NOW - DAY_MS, NOW)).toBe('expired');
  });

  it("ends a pass at the earlier of the receipt's exp and the merchant's pass window", () => {
    // Receipt valid an hour, window ten minutes: the window ends it.
    expect(passEnds({ createdAt: NOW, exp: NOW / 1000 + 3600, windowSeconds: 600 })).toBe(NOW + 600_000);
    // Window a day, receipt an hour: the receipt ends it.
    expect(passEnds({ createdAt: NOW, exp: NOW / 1000 + 3600, windowSeconds: 86_400 })).toBe(NOW + 3_600_000);
    // Kept before the window was recorded: only the receipt is known.
    expect(passEnds({ createdAt: NOW, exp: NOW / 1000 + 3600 })).toBe(NOW + 3_600_000);
  });

  it('says the time left in the largest whole unit, in the locale, and the date in the locale', () => {
    expect(relativeTime(NOW + 29 * DAY_MS, NOW, 'en')).toBe('in 29 days');
    expect(relativeTime(NOW + DAY_MS, NOW, 'en')).toBe('tomorrow');
    expect(relativeTime(NOW + 5 * 3_600_000, NOW, 'en')).toBe('in 5 hours');
    expect(relativeTime(NOW - 3 * 60_000, NOW, 'en')).toBe('3 minutes ago');
    expect(relativeTime(NOW + 29 * DAY_MS, NOW, 'de')).toBe('in 29 Tagen');
    expect(absoluteTime(NOW, 'en-US', 'UTC')).toBe('Mar 10, 2026, 12:00 PM');
    expect(absoluteTime(NOW, 'de-DE', 'UTC')).toBe('10.03.2026, 12:00');
  });

  it('knows a slots API by its token purchase URL, and nothing else', () => {
    expect(slotsApiOf(`${API}/token/buy/600000`)).toBe(API);
    expect(slotsApiOf(`${SITE}/token/buy/1?x=1#y`)).toBe(SITE);
    expect(slotsApiOf(`${API}/token/init/600000`)).toBeNull();
    expect(slotsApiOf(`${API}/token/buy/-1`)).toBeNull();
    expect(slotsApiOf('ftp://shop.example/token/buy/1')).toBeNull();
    expect(slotsApiOf('not a url')).toBeNull();
  });
});

/** The site's slots API as the kit answers it, in memory: one slot, tokens bought with a receipt. */
function slotsSite(expiry: number) {
  const slots = new Map<number, number>([[1, expiry]]);
  const tokens = new Map<string, { value: number; spent: boolean }>();
  const calls: string[] = [];
  let clock = NOW;
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
  const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input));
    const headers = new Headers(init?.headers);
    calls.push(`${init?.method ?? 'GET'} ${url.pathname}`);
    if (url.pathname === '/slots/feerate') return json(200, { fee_rate_per_month_in_msat: FEE });
    const expiryMatch = /^\/slots\/slotexpiry\/(\d+)$/.exec(url.pathname);
    if (expiryMatch) {
      const at = slots.get(Number(expiryMatch[1]));
      return at === undefined
        ? json(404, { type: 'https://tollway.dev/problems/not-found' })
        : json(200, { expiry_date: new Date(at).toISOString() });
    }
    const buy = /^\/slots\/token\/buy\/(\d+)$/.exec(url.pathname);
    if (buy) {
      const value = Number(buy[1]);
      const proof = headers.get('payment-signature');
      if (!proof) {
        const option = tollwayOption({ amount: String(value), asset: 'BTC', payTo: 'm_slots' });
        return json(402, {}, { 'payment-required': encodePaymentRequired({ resource: { url: url.href }, accepts: [option] }) });
      }
      // One receipt, one token: the same receipt again answers the same token.
      const tokenId = `tok-${proof.length}-${value}`;
      if (!tokens.has(tokenId)) tokens.set(tokenId, { value, spent: false });
      return json(200, { amount: value, confirmed: true, token_id: tokenId, value });
    }
    if (url.pathname === '/slots/spendtoken' && init?.method === 'POST') {
      const body = JSON.parse(String(init.body)) as { token_id: string; slot_id: number };
      const token = tokens.get(body.token_id);
      if (!token) return json(404, { type: 'https://tollway.dev/problems/not-found' });
      if (token.spent) return json(409, { type: 'https://tollway.dev/problems/token-spent', detail: 'spent' });
      token.spent = true;
      const from = Math.max(clock, slots.get(body.slot_id)!);
      const to = from + Math.floor((token.value * MONTH_MS) / FEE);
      slots.set(body.slot_id, to);
      return json(200, { token_id: body.token_id, slot_id: body.slot_id, expiry_date: new Date(to).toISOString() });
    }
    return json(404, {});
  }) as typeof globalThis.fetch;
  return { fetch, slots, tokens, calls, move: (to: number) => (clock = to) };
}

const SESSION: HubSession = { url: 'http://127.0.0.1:8402', accessToken: 'at' };

function payment(tx: string, amount: string, receipt: Payment['receipt']): Payment {
  return {
    transactionId: tx,
    status: 'completed',
    rail: 'internal',
    payTo: 'm_slots',
    amount,
    asset: 'BTC',
    resource: null,
    description: null,
    failureReason: null,
    receipt,
    createdAt: new Date(NOW).toISOString(),
    updatedAt: new Date(NOW).toISOString(),
  } as Payment;
}

/** A completed purchase of a token at `url`, as the approvals service finishes it. */
function purchase(id: string, tx: string, url: string, over: Partial<ApprovalRequest> = {}): ApprovalRequest {
  const value = /\/(\d+)$/.exec(url)?.[1] ?? '1000';
  const option = tollwayOption({ amount: value, asset: 'BTC', payTo: 'm_slots' });
  return request({
    id,
    site: SITE,
    tabId: -1,
    frameType: 'xmlhttprequest',
    url,
    status: 'completed',
    createdAt: NOW,
    updatedAt: NOW,
    payment: { rail: 'internal', payTo: 'm_slots', amount: value, asset: 'BTC', resource: { url, method: 'GET' }, requirement: option },
    result: payment(tx, value, { token: `receipt-of-${tx}` }),
    ...over,
  });
}

function world(expiry = NOW + 10 * DAY_MS) {
  const site = slotsSite(expiry);
  const local = new MemoryStorage();
  const session = new MemoryStorage();
  const added: Seen402[] = [];
  const lookups: string[] = [];
  let changes = 0;
  const holdings = createHoldings({
    t: tEn,
    local,
    session,
    fetch: site.fetch,
    add: async (seen) => {
      added.push(seen);
      return { id: `req-${added.length}`, added: true };
    },
    hubSession: async () => SESSION,
    lookupPayment: async (_s, tx) => {
      lookups.push(tx);
      return payment(tx, String(FEE), { token: `receipt-of-${tx}` });
    },
    onChange: async () => void changes++,
    now: () => NOW,
  });
  const history = (requests: ApprovalRequest[]) => local.set({ [KEYS.history]: writeRequestList(requests) });
  const held = () => readHoldings(local.peek(KEYS.holdings));
  return { site, local, session, added, lookups, holdings, history, held, changes: () => changes };
}

const SENDER = { origin: SITE, url: `${SITE}/publication#join`, title: 'Publication' };

describe('holdings: learning the slot a person holds', () => {
  it('keeps the slot the page names when its own purchase from that site stands behind it, with the expiry from the API', async () => {
    const w = world(NOW + 60 * DAY_MS);
    await w.history([purchase('r1', 'pay_1', `${API}/token/buy/${2 * FEE}`)]);
    expect(await w.holdings.reported(SENDER, { tokenId: 'tok-a', slotId: 1 })).toBe(true);
    expect(w.held()).toEqual([
      {
        key: `${API}#1`,
        site: SITE,
        api: API,
        slotId: 1,
        page: `${SITE}/publication`,
        title: 'Publication',
        feeRatePerMonthMsat: String(FEE),
        expiresAt: NOW + 60 * DAY_MS,
        checkedAt: NOW,
        transactions: ['pay_1'],
      },
    ]);
    // The token id (a bearer secret) is in session storage, never in local.
    expect(w.session.peek(KEYS.slotTokens)).toEqual([{ key: `${API}#1`, tokenId: 'tok-a', at: NOW }]);
    expect(JSON.stringify([...w.local.data.values()])).not.toContain('tok-a');
    expect(w.changes()).toBe(1);
  });

  it('keeps nothing on the page word alone: no purchase, another site, an old one, or one already claimed', async () => {
    const w = world();
    expect(await w.holdings.reported(SENDER, { tokenId: 't', slotId: 1 })).toBe(false);
    await w.history([
      purchase('r1', 'pay_other', `https://other.example/slots/token/buy/${FEE}`, { site: 'https://other.example' }),
      purchase('r2', 'pay_old', `${API}/token/buy/${FEE}`, { updatedAt: NOW - PURCHASE_CLAIM_MS - 1 }),
      purchase('r3', 'pay_article', `${SITE}/article`),
      purchase('r4', 'pay_failed', `${API}/token/buy/${FEE}`, { status: 'failed' }),
    ]);
    expect(await w.holdings.reported(SENDER, { tokenId: 't', slotId: 1 })).toBe(false);
    await w.history([purchase('r5', 'pay_5', `${API}/token/buy/${FEE}`)]);
    expect(await w.holdings.reported(SENDER, { tokenId: 't', slotId: 1 })).toBe(true);
    // The same purchase cannot be claimed for a second slot.
    w.site.slots.set(2, NOW + DAY_MS * 40);
    expect(await w.holdings.reported(SENDER, { tokenId: 't2', slotId: 2 })).toBe(false);
    expect(w.held().map((h) => h.slotId)).toEqual([1]);
  });

  it('keeps nothing for a slot the site does not know', async () => {
    const w = world();
    await w.history([purchase('r1', 'pay_1', `${API}/token/buy/${FEE}`)]);
    await expect(w.holdings.reported(SENDER, { tokenId: 't', slotId: 99 })).rejects.toThrow('shop.example refused');
    expect(w.held()).toEqual([]);
  });
});

describe('holdings: Renew', () => {
  async function holding(w: ReturnType<typeof world>): Promise<Holding> {
    await w.history([purchase('r0', 'pay_0', `${API}/token/buy/${FEE}`)]);
    await w.holdings.reported(SENDER, { tokenId: 'tok-first', slotId: 1 });
    return w.held()[0]!;
  }

  it('queues a month’s token as a request from the slot’s site, then spends it on the slot: the expiry moves by a month', async () => {
    const w = world();
    const h = await holding(w);
    await w.holdings.renew(h.key);
    expect(w.added).toEqual([
      expect.objectContaining({ site: SITE, tabOrigin: SITE, method: 'GET', url: `${API}/token/buy/${FEE}`, frameType: 'xmlhttprequest' }),
    ]);
    expect(w.added[0]!.challenge.x402?.accepts[0]).toMatchObject({ amount: String(FEE), asset: 'BTC', payTo: 'm_slots' });
    expect(w.held()[0]!.renewal).toMatchObject({ requestId: 'req-1', status: 'waiting' });
    // Nothing is bought or spent before the payment completes.
    expect(w.site.tokens.size).toBe(0);
    // Asked again while the person has not decided: still one request.
    w.holdings.finished([]);

    w.holdings.finished([purchase('req-1', 'pay_renew', `${API}/token/buy/${FEE}`)]);
    await expect.poll(() => w.held()[0]!.renewal).toBeUndefined();
    const after = w.held()[0]!;
    expect(after.expiresAt).toBe(h.expiresAt + MONTH_MS);
    expect(after.renewed).toEqual({ from: h.expiresAt, to: h.expiresAt + MONTH_MS, at: NOW });
    expect(after.transactions).toEqual(['pay_renew', 'pay_0']);
    expect(w.site.slots.get(1)).toBe(h.expiresAt + MONTH_MS);
    expect([...w.site.tokens.values()]).toEqual([{ value: FEE, spent: true }]);
  });

  it('extends an expired slot from now, as the API does', async () => {
    const w = world(NOW + 10 * DAY_MS);
    const h = await holding(w);
    w.site.slots.set(1, NOW - 5 * DAY_MS);
    await w.holdings.refresh();
    expect(w.held()[0]!.expiresAt).toBe(NOW - 5 * DAY_MS);
    await w.holdings.renew(h.key);
    w.holdings.finished([purchase('req-1', 'pay_renew', `${API}/token/buy/${FEE}`)]);
    await expect.poll(() => w.held()[0]!.expiresAt).toBe(NOW + MONTH_MS);
  });

  it('a rejected renewal says so and changes no expiry', async () => {
    const w = world();
    const h = await holding(w);
    await w.holdings.renew(h.key);
    w.holdings.finished([purchase('req-1', 'x', `${API}/token/buy/${FEE}`, { status: 'rejected', result: null, error: null })]);
    await expect.poll(() => w.held()[0]!.renewal?.status).toBe('failed');
    expect(w.held()[0]!.renewal?.error).toBe('the renewal was not approved');
    expect(w.held()[0]!.expiresAt).toBe(h.expiresAt);
    expect(w.site.tokens.size).toBe(0);
  });

  it('a worker stopped after the payment finishes the renewal at wake-up, with the receipt from the hub, once', async () => {
    const w = world();
    const h = await holding(w);
    await w.holdings.renew(h.key);
    // The request completed while no worker listened: the history has it, without its receipt.
    const done = purchase('req-1', 'pay_renew', `${API}/token/buy/${FEE}`);
    await w.history([{ ...done, result: { ...done.result!, receipt: {} } }]);
    await w.holdings.resume();
    expect(w.lookups).toEqual(['pay_renew']);
    expect(w.held()[0]!.expiresAt).toBe(h.expiresAt + MONTH_MS);
    expect(w.held()[0]!.renewal).toBeUndefined();
    // Once: nothing waits any more, so a second wake-up buys and spends nothing.
    await w.holdings.resume();
    expect(w.site.slots.get(1)).toBe(h.expiresAt + MONTH_MS);
  });

  it('a token spent by an earlier try that stopped before storing the answer: the slot’s expiry is read instead', async () => {
    const w = world();
    const h = await holding(w);
    await w.holdings.renew(h.key);
    const done = purchase('req-1', 'pay_renew', `${API}/token/buy/${FEE}`);
    // The earlier try: the same receipt bought the token and spent it.
    w.holdings.finished([done]);
    await expect.poll(() => w.held()[0]!.renewal).toBeUndefined();
    const first = w.held()[0]!.expiresAt;
    // As if it stopped before storing the answer, and the request is finished again: the same
    // receipt gets the same token, already spent; the expiry is read, not moved a second time.
    await w.local.set({
      [KEYS.holdings]: w
        .held()
        .map((x) => ({ ...x, expiresAt: h.expiresAt, renewal: { requestId: 'req-1', url: done.url, status: 'waiting', at: NOW } })),
    });
    w.holdings.finished([done]);
    await expect.poll(() => w.held()[0]!.renewal).toBeUndefined();
    expect(w.held()[0]!.expiresAt).toBe(first);
    expect(w.site.slots.get(1)).toBe(first);
  });

  it('refuses to renew a slot it does not hold', async () => {
    const w = world();
    await expect(w.holdings.renew(`${API}#5`)).rejects.toThrow('That slot is not among the slots you hold');
    expect(w.added).toEqual([]);
  });
});
