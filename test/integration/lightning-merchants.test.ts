/**
 * Merchants paid by any Lightning wallet (`paywall({lightning: true})`), through a real hub whose
 * Lightning rail runs against the stand-in LND, with a second stand-in node on the same simulated
 * network as the "outside wallet": the 402 carries an invoice of the hub's node for that
 * challenge; the outside wallet pays it and the merchant is credited once, the receipt for that
 * challenge is issued and opens the page; a hub balance pays the same kind of invoice inside the
 * ledger with nothing routed (and the invoice is withdrawn at the node); duplicate settlement
 * notices credit once; an expired invoice pays nobody. The ledger invariant holds after each.
 */
import { io } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodePaymentSignature } from '../../shared/challenge.js';
import { inboundTransferId, OUTSIDE_PAYER_ID } from '../../server/payments/challenge-invoices.js';
import { createMerchant, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { LIGHTNING_PRICE as PRICE, lightningWorld, startLightningShop, type LightningWorld } from '../helpers/lightning-merchant.js';
import { ENGINES, freshStore, type Engine, type TestStore } from '../helpers/stores.js';

const decodePaymentRequired = (h: string) =>
  JSON.parse(Buffer.from(h, 'base64').toString('utf8')) as { resource: { url: string }; accepts: Record<string, unknown>[] };

async function until<T>(f: () => Promise<T | undefined> | T | undefined, what: string, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

type Entry = { scheme: string; payTo: string; extra: { challengeId: string; lightning?: { invoice: string; paymentHash: string } } };

describe.each(ENGINES)('merchants paid by any Lightning wallet, on %s', (engine: Engine) => {
  let w: LightningWorld;
  let t: TestHub;
  let shop: Awaited<ReturnType<typeof startLightningShop>>;
  let merchantId: string;
  let apiKey: string;
  let s: Session;

  const merchantBtc = async () => {
    const r = await t.store.db.get<{ c: string | number; d: string | number }>(
      'SELECT credits_posted AS c, debits_posted AS d FROM ledger_accounts WHERE id = ?',
      [`merchant:${merchantId}:BTC`],
    );
    return BigInt(r?.c ?? 0) - BigInt(r?.d ?? 0);
  };
  const challengeFrom = async (res: Response) => {
    expect(res.status).toBe(402);
    const doc = decodePaymentRequired(res.headers.get('payment-required')!);
    const entry = doc.accepts.find((a) => a.scheme === 'tollway') as unknown as Entry;
    return { doc, entry };
  };
  const receiptOf = async (challengeId: string) =>
    (await fetch(`${t.url}/challenges/${challengeId}?merchant=${merchantId}`)).json() as Promise<{
      status: string;
      receipt?: string;
      transactionId?: string;
    }>;
  const paymentsOf = (challengeId: string) =>
    t.store.db.all<{ id: string; user_id: string; status: string; amount: string | number }>(
      'SELECT id, user_id, status, amount FROM payments WHERE challenge_id = ?',
      [challengeId],
    );

  beforeAll(async () => {
    w = await lightningWorld(3600);
    t = await startTestHub(engine, { rails: w.rails });
    const m = await createMerchant(t.url, 'Lightning shop');
    merchantId = m.merchant.id;
    apiKey = m.apiKey;
    shop = await startLightningShop(t.url, merchantId, m.apiKey);
    s = await signIn(t.url);
    await fund(t.url, s, '1000000', 'BTC');
  });
  afterEach(async () => {
    await expectLedgerBalanced(t.store.db);
  });
  afterAll(async () => {
    await shop?.close();
    await t?.stop();
    await w?.close();
  });

  it('an outside wallet pays the invoice in the 402: the merchant is credited once, and the receipt for that challenge opens the page', async () => {
    const { doc, entry } = await challengeFrom(await fetch(`${shop.url}/article`));
    const ln = entry.extra.lightning!;
    expect(ln.invoice).toMatch(/^lnbcrt|^lntb|^lnbc/);
    expect(w.hubLnd.invoiceState(ln.paymentHash)).toBe('OPEN');
    // The page holding the challenge hears it on the socket.
    const sock = io(`${t.url}/challenges`, {
      auth: { challengeId: entry.extra.challengeId, merchantId },
      transports: ['websocket'],
      forceNew: true,
    });
    const heard = new Promise<unknown>((r) => sock.on('challengeStatus', r));
    expect(await receiptOf(entry.extra.challengeId)).toEqual({ challengeId: entry.extra.challengeId, status: 'open' });
    const before = await merchantBtc();

    const paid = await w.outside.pay({ bolt11: ln.invoice, feeLimitMsat: 1000n, timeoutSeconds: 10 });
    expect(paid.state).toBe('succeeded');
    expect(await heard).toEqual({ challengeId: entry.extra.challengeId, status: 'completed' });
    sock.close();
    const r = await until(async () => {
      const x = await receiptOf(entry.extra.challengeId);
      return x.status === 'paid' ? x : undefined;
    }, 'the receipt');
    expect(r.receipt).toMatch(/^ey/);
    expect((await merchantBtc()) - before).toBe(BigInt(PRICE));
    const rows = await paymentsOf(entry.extra.challengeId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: r.transactionId, user_id: OUTSIDE_PAYER_ID, status: 'completed' });

    // Duplicate notices (a replayed stream, a look-up) change nothing.
    const topups = w.rail().topups!;
    const notice = { paymentHash: ln.paymentHash, amountPaidMsat: BigInt(PRICE), settledAt: Math.floor(Date.now() / 1000) };
    expect(await Promise.all([topups.applySettlement(notice), topups.applySettlement(notice)])).toEqual([
      'already-credited',
      'already-credited',
    ]);
    await topups.reconcile();
    expect((await merchantBtc()) - before).toBe(BigInt(PRICE));
    expect(await paymentsOf(entry.extra.challengeId)).toHaveLength(1);
    const credits = await t.store.db.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM ledger_transfers WHERE id = ?', [
      inboundTransferId(ln.paymentHash),
    ]);
    expect(Number(credits?.n)).toBe(1);

    // The retry with the receipt is the page, once.
    const proof = encodePaymentSignature({ resource: doc.resource, accepted: entry, payload: { receipt: r.receipt } } as never);
    const page = await fetch(`${shop.url}/article`, { headers: { 'PAYMENT-SIGNATURE': proof } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('The whole article');
    expect((await fetch(`${shop.url}/article`, { headers: { 'PAYMENT-SIGNATURE': proof } })).status).toBe(402);

    // Its payer has no hub balance: the hub cannot give the money back.
    const refund = await fetch(`${t.url}/payments/${r.transactionId}/refund`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}`, 'idempotency-key': `refund-${engine}` },
      body: JSON.stringify({}),
    });
    expect(refund.status).toBe(409);
    expect((await merchantBtc()) - before).toBe(BigInt(PRICE));
  });

  it('settles once when notices, and a hub balance paying the same invoice, race for it', async () => {
    for (let round = 0; round < 3; round++) {
      const { entry } = await challengeFrom(await fetch(`${shop.url}/article`));
      const ln = entry.extra.lightning!;
      const before = await merchantBtc();
      const notice = { paymentHash: ln.paymentHash, amountPaidMsat: BigInt(PRICE), settledAt: Math.floor(Date.now() / 1000) };
      const topups = w.rail().topups!;
      const [a, b, own] = await Promise.all([
        topups.applySettlement(notice),
        topups.applySettlement({ ...notice, paymentHash: notice.paymentHash.toUpperCase() }),
        pay(t.url, s, `race-${engine}-${round}`, { rail: 'lightning', payTo: ln.invoice, amount: PRICE, asset: 'BTC' }),
      ]);
      // The notices are one settlement: at most one of them credits.
      expect([a, b].filter((x) => x === 'credited').length).toBeLessThanOrEqual(1);
      if (own.status !== 200) expect(own.status).toBe(409);
      // Exactly one payment counts: when the hub balance committed first, the settlement that
      // raced it is credited and the hub balance refunded (docs/lightning.md).
      const rows = await until(async () => {
        const r = await paymentsOf(entry.extra.challengeId);
        return r.filter((p) => p.status === 'completed').length === 1 ? r : undefined;
      }, 'the race to settle');
      expect(rows.filter((p) => p.status === 'completed')).toHaveLength(1);
      expect(rows.filter((p) => p.status === 'refunded').length).toBe(rows.length - 1);
      expect((await merchantBtc()) - before).toBe(BigInt(PRICE));
      expect((await receiptOf(entry.extra.challengeId)).status).toBe('paid');
    }
  });

  it('a hub balance pays such an invoice inside the ledger: no node payment, the same receipt', async () => {
    const { entry } = await challengeFrom(await fetch(`${shop.url}/article`));
    const ln = entry.extra.lightning!;
    const before = await merchantBtc();
    const sentBefore = w.hubLnd.sendRequests();
    const body = { rail: 'lightning', payTo: ln.invoice, amount: PRICE, asset: 'BTC' };
    const res = await pay(t.url, s, `own-${engine}`, body);
    expect(res.status).toBe(200);
    const p = (await res.json()) as { status: string; transactionId: string; receipt: { token?: string } };
    expect(p.status).toBe('completed');
    expect(w.hubLnd.sendRequests()).toBe(sentBefore);
    // Withdrawn at the node, so that no outside wallet can pay it too.
    await until(() => (w.hubLnd.invoiceState(ln.paymentHash) === 'CANCELED' ? true : undefined), 'the invoice to be withdrawn');
    expect((await w.outside.pay({ bolt11: ln.invoice, feeLimitMsat: 1000n, timeoutSeconds: 10 })).state).toBe('failed');
    expect((await merchantBtc()) - before).toBe(BigInt(PRICE));
    const r = await receiptOf(entry.extra.challengeId);
    expect(r).toMatchObject({ status: 'paid', transactionId: p.transactionId, receipt: p.receipt.token });
    // The same key replays; another key cannot pay it twice.
    const again = await pay(t.url, s, `own-${engine}`, body);
    expect(((await again.json()) as { transactionId: string }).transactionId).toBe(p.transactionId);
    const twice = await pay(t.url, s, `own2-${engine}`, body);
    expect(twice.status).toBe(409);
    expect((await merchantBtc()) - before).toBe(BigInt(PRICE));
    const rows = await paymentsOf(entry.extra.challengeId);
    expect(rows).toEqual([expect.objectContaining({ user_id: s.user.id, status: 'completed' })]);
    // The page opens with it.
    const proof = encodePaymentSignature({ accepted: entry, payload: { receipt: p.receipt.token } } as never);
    expect((await fetch(`${shop.url}/article`, { headers: { 'PAYMENT-SIGNATURE': proof } })).status).toBe(200);
  });

  it('the merchant API issues one invoice per challenge, and only with its key', async () => {
    const body = {
      challengeId: 'ch_abcdefghijkl',
      asset: 'BTC',
      amount: '5000',
      resource: { url: 'https://shop.example/a', method: 'GET' },
      bind: ['method', 'path'],
    };
    const m = await createMerchant(t.url, 'Another');
    const post = (key: string, b: unknown = body) =>
      fetch(`${t.url}/merchants/${m.merchant.id}/invoices`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify(b),
      });
    expect((await post('wrong')).status).toBe(401);
    const a = (await (await post(m.apiKey)).json()) as { bolt11: string; status: string };
    const b = (await (await post(m.apiKey)).json()) as { bolt11: string };
    expect(a.status).toBe('open');
    expect(b.bolt11).toBe(a.bolt11);
    expect((await post(m.apiKey, { ...body, amount: '6000' })).status).toBe(400);
    expect((await fetch(`${t.url}/challenges/ch_abcdefghijkl?merchant=${merchantId}`)).status).toBe(404);
  });
});

describe('an expired challenge invoice', () => {
  let w: LightningWorld;
  let t: TestHub;
  let s: Session;
  beforeAll(async () => {
    w = await lightningWorld(1);
    t = await startTestHub('sqlite', { rails: w.rails });
    s = await signIn(t.url);
    await fund(t.url, s, '1000000', 'BTC');
  });
  afterAll(async () => {
    await t?.stop();
    await w?.close();
  });

  it('pays nobody: the outside wallet is refused, a hub balance too, and it is marked expired', async () => {
    const m = await createMerchant(t.url, 'Slow shop');
    const shop = await startLightningShop(t.url, m.merchant.id, m.apiKey);
    try {
      const res = await fetch(`${shop.url}/article`);
      const entry = decodePaymentRequired(res.headers.get('payment-required')!).accepts[0] as unknown as Entry;
      const ln = entry.extra.lightning!;
      await new Promise((r) => setTimeout(r, 2100));
      const paid = await w.outside.pay({ bolt11: ln.invoice, feeLimitMsat: 1000n, timeoutSeconds: 10 }).catch((e: Error) => e);
      expect(paid instanceof Error || paid.state === 'failed').toBe(true);
      const own = await pay(t.url, s, 'late', { rail: 'lightning', payTo: ln.invoice, amount: PRICE, asset: 'BTC' });
      expect(own.status).toBe(400);
      expect(((await own.json()) as { type: string }).type).toMatch(/invoice-expired/);
      await until(async () => {
        const r = (await (await fetch(`${t.url}/challenges/${entry.extra.challengeId}?merchant=${m.merchant.id}`)).json()) as {
          status: string;
        };
        return r.status === 'expired' ? r : undefined;
      }, 'expired');
      const credited = await t.store.db.get<{ c: string | number }>('SELECT credits_posted AS c FROM ledger_accounts WHERE id = ?', [
        `merchant:${m.merchant.id}:BTC`,
      ]);
      expect(BigInt(credited?.c ?? 0)).toBe(0n);
      expect(await t.store.db.all('SELECT id FROM payments WHERE challenge_id = ?', [entry.extra.challengeId])).toEqual([]);
      await expectLedgerBalanced(t.store.db);
    } finally {
      await shop.close();
    }
  });
});

describe.each(ENGINES)('a challenge invoice settled while the hub was down, on %s', (engine: Engine) => {
  let w: LightningWorld;
  let store: TestStore;
  let t: TestHub | undefined;
  beforeAll(async () => {
    w = await lightningWorld();
    store = await freshStore(engine);
  });
  afterAll(async () => {
    await t?.stop();
    await store?.cleanup();
    await w?.close();
  });

  it('is credited once when the hub starts again (its stream replay or look-up), and not again after another restart', async () => {
    t = await startTestHub(engine, { store, keepStore: true, rails: w.rails });
    const m = await createMerchant(t.url, 'Restarting shop');
    const shop = await startLightningShop(t.url, m.merchant.id, m.apiKey);
    const res = await fetch(`${shop.url}/article`);
    await shop.close();
    const entry = decodePaymentRequired(res.headers.get('payment-required')!).accepts[0] as unknown as Entry;
    const ln = entry.extra.lightning!;
    await t.stop();
    t = undefined;

    // The hub is down: its node takes the payment and nobody listens.
    expect((await w.outside.pay({ bolt11: ln.invoice, feeLimitMsat: 1000n, timeoutSeconds: 10 })).state).toBe('succeeded');
    const credited = async () =>
      BigInt(
        (
          await store.db.get<{ c: string | number }>('SELECT credits_posted AS c FROM ledger_accounts WHERE id = ?', [
            `merchant:${m.merchant.id}:BTC`,
          ])
        )?.c ?? 0,
      );
    expect(await credited()).toBe(0n);

    for (let restart = 0; restart < 2; restart++) {
      t = await startTestHub(engine, { store, keepStore: true, rails: w.rails });
      const url = t.url;
      const r = await until(async () => {
        const x = (await (await fetch(`${url}/challenges/${entry.extra.challengeId}?merchant=${m.merchant.id}`)).json()) as {
          status: string;
          receipt?: string;
        };
        return x.status === 'paid' ? x : undefined;
      }, 'the credit on start');
      expect(r.receipt).toMatch(/^ey/);
      expect(await credited()).toBe(BigInt(PRICE));
      expect(await store.db.all('SELECT id FROM payments WHERE challenge_id = ?', [entry.extra.challengeId])).toHaveLength(1);
      await expectLedgerBalanced(store.db);
      await t.stop();
      t = undefined;
    }
  });
});
