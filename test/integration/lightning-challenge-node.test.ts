/**
 * One challenge invoice, two payers: a hub balance pays it inside the ledger, and an outside wallet
 * tries to pay it at the hub's node too. Real hubs (SQLite and PostgreSQL) whose node is each
 * stand-in in turn (LND, CLN, LNbits), an outside wallet on the same simulated network:
 * - paid from a hub balance, the invoice is withdrawn at the node, so the outside wallet is refused
 *   (LND, CLN); LNbits cannot withdraw it, so the late outside payment is credited to the merchant
 *   as its own payment, once;
 * - an outside payment that settles at the node before the hub balance payment commits: exactly one
 *   counts (the hub balance is refused, or refunded);
 * - a withdrawal that did not reach the node is done after a restart;
 * - LNbits webhooks: a real one (HTTP, from the stand-in) credits; forged, replayed and junk ones
 *   change nothing.
 * The hub's settlement stream is kept silent, so that what credits is the look-up or the webhook
 * under test and not the stream. The ledger invariant holds after each.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClnNode } from '../../lightning/cln/index.js';
import { createLnbitsNode, type LnbitsNodeOptions } from '../../lightning/lnbits/index.js';
import { createLndNode } from '../../lightning/lnd/index.js';
import { type LightningNode, LightningNodeError } from '../../lightning/node.js';
import { startFakeCln } from '../../devnet/cln.js';
import { createSimulatedNetwork } from '../../devnet/lightning-network.js';
import { startFakeLnbits } from '../../devnet/lnbits.js';
import { startFakeLnd } from '../../devnet/lnd.js';
import { inboundTransferId, OUTSIDE_PAYER_ID } from '../../server/payments/challenge-invoices.js';
import { lightningConfig, lightningEnv } from '../../server/rails/lightning/config.js';
import { createLightningRail, type LightningRail } from '../../server/rails/lightning/index.js';
import type { RailParts } from '../../server/app.js';
import { z } from 'zod';
import { balances, createMerchant, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { LIGHTNING_PRICE as PRICE, startLightningShop } from '../helpers/lightning-merchant.js';
import { ENGINES, freshStore, type Engine, type TestStore } from '../helpers/stores.js';

type Kind = 'lnd' | 'cln' | 'lnbits';
const WEBHOOK = '/lightning/lnbits-webhook';

async function until<T>(f: () => Promise<T | undefined> | T | undefined, what: string, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The hub's node, with what the tests turn: a silent stream, look-ups or withdrawals that fail. */
interface Knobs {
  failLookups: number;
  cancelUnreachable: boolean;
}

async function world(kind: Kind) {
  const net = createSimulatedNetwork();
  const outsideLnd = await startFakeLnd({ lightningNetwork: net });
  const outside = createLndNode({ url: outsideLnd.url, macaroonHex: outsideLnd.macaroonHex });
  let inner: LightningNode;
  let close: () => Promise<void>;
  let lnbits: Awaited<ReturnType<typeof startFakeLnbits>> | undefined;
  const lnbitsOptions: LnbitsNodeOptions = { url: '', invoiceKey: '' };
  if (kind === 'lnd') {
    const lnd = await startFakeLnd({ lightningNetwork: net });
    inner = createLndNode({ url: lnd.url, macaroonHex: lnd.macaroonHex });
    close = () => lnd.close();
  } else if (kind === 'cln') {
    const cln = await startFakeCln({ lightningNetwork: net });
    inner = createClnNode({ url: cln.url, rune: cln.rune });
    close = () => cln.close();
  } else {
    lnbits = await startFakeLnbits({ lightningNetwork: net });
    Object.assign(lnbitsOptions, { url: lnbits.url, invoiceKey: lnbits.invoiceKey, adminKey: lnbits.adminKey });
    // Its webhook URL is set once the hub listens (the adapter reads it with every invoice).
    inner = createLnbitsNode(lnbitsOptions);
    const l = lnbits;
    close = () => l.close();
  }
  const knobs: Knobs = { failLookups: 0, cancelUnreachable: false };
  const node: LightningNode = {
    ...inner,
    // Silent: settlements reach the hub only by look-ups and webhooks, which is what is under test.
    async *followSettlements({ signal }) {
      await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
    },
    async lookupInvoice(h) {
      if (knobs.failLookups > 0) {
        knobs.failLookups--;
        throw new LightningNodeError('unreachable', 'test: no answer');
      }
      return inner.lookupInvoice(h);
    },
    async cancelInvoice(h) {
      if (knobs.cancelUnreachable) throw new LightningNodeError('unreachable', 'test: no answer');
      return inner.cancelInvoice(h);
    },
  };
  let rail: LightningRail | undefined;
  return {
    kind,
    inner,
    outside,
    knobs,
    lnbits,
    lnbitsOptions,
    rail: () => rail!,
    rails: (parts: RailParts) => ({
      lightning: (rail = createLightningRail({
        ...parts,
        node,
        options: { feeLimitMsat: 1000n, feeLimitPpm: 5000n, payTimeoutSeconds: 30, settleWaitMs: 300 },
        topupOptions: { expirySeconds: 3600, expiryCheckMs: 100, retryMs: 100 },
      })),
    }),
    async close() {
      await close();
      await outsideLnd.close();
    },
  };
}
type World = Awaited<ReturnType<typeof world>>;

const decodePaymentRequired = (h: string) =>
  JSON.parse(Buffer.from(h, 'base64').toString('utf8')) as {
    accepts: { extra: { challengeId: string; lightning?: { invoice: string; paymentHash: string } } }[];
  };

const CASES = (['lnd', 'cln', 'lnbits'] as const).flatMap((k) => ENGINES.map((e) => [k, e] as const));

describe.each(CASES)('a challenge invoice with two payers: the hub node is %s, on %s', (kind: Kind, engine: Engine) => {
  let w: World;
  let store: TestStore;
  let t: TestHub | undefined;
  let shop: Awaited<ReturnType<typeof startLightningShop>>;
  let merchantId: string;
  let s: Session;
  const cancels = kind !== 'lnbits';

  const start = async () => {
    t = await startTestHub(engine, { store, keepStore: true, rails: w.rails });
    if (kind === 'lnbits') w.lnbitsOptions.webhookUrl = `${t.url}${WEBHOOK}`;
    return t;
  };
  const hub = () => t!;
  const merchantNet = async () => {
    const r = await store.db.get<{ c: string | number; d: string | number }>(
      'SELECT credits_posted AS c, debits_posted AS d FROM ledger_accounts WHERE id = ?',
      [`merchant:${merchantId}:BTC`],
    );
    return BigInt(r?.c ?? 0) - BigInt(r?.d ?? 0);
  };
  const userBtc = async () => BigInt((await balances(hub().url, s)).BTC?.posted ?? '0');
  const paymentsOf = (challengeId: string) =>
    store.db.all<{ id: string; user_id: string; status: string }>(
      'SELECT id, user_id, status FROM payments WHERE challenge_id = ? ORDER BY created_at, id',
      [challengeId],
    );
  const nodeState = async (hash: string) =>
    (await store.db.get<{ node_state: string | null }>('SELECT node_state FROM challenge_invoices WHERE payment_hash = ?', [hash]))
      ?.node_state;
  const challenge = async () => {
    const res = await fetch(`${shop.url}/article`);
    expect(res.status).toBe(402);
    const entry = decodePaymentRequired(res.headers.get('payment-required')!).accepts[0]!;
    return { challengeId: entry.extra.challengeId, ...entry.extra.lightning! };
  };
  /** What the outside wallet's payment came to: succeeded, or refused by the hub's node. */
  const outsidePays = async (bolt11: string) => {
    const r = await w.outside.pay({ bolt11, feeLimitMsat: 1000n, timeoutSeconds: 10 }).catch((e: Error) => e);
    return r instanceof Error ? 'error' : r.state;
  };

  beforeAll(async () => {
    w = await world(kind);
    store = await freshStore(engine);
    await start();
    const m = await createMerchant(hub().url, `Two payers ${kind}`);
    merchantId = m.merchant.id;
    shop = await startLightningShop(hub().url, merchantId, m.apiKey);
    s = await signIn(hub().url);
    await fund(hub().url, s, '1000000', 'BTC');
  });
  afterEach(async () => {
    await expectLedgerBalanced(store.db);
  });
  afterAll(async () => {
    await shop?.close();
    await t?.stop();
    await store?.cleanup();
    await w?.close();
  });

  it(`paid from a hub balance, then the outside wallet tries: ${cancels ? 'refused, the invoice withdrawn at the node' : 'credited to the merchant once, as its own payment'}`, async () => {
    const inv = await challenge();
    const merchantBefore = await merchantNet();
    const userBefore = await userBtc();
    const res = await pay(hub().url, s, `two-${kind}-${engine}`, { rail: 'lightning', payTo: inv.invoice, amount: PRICE, asset: 'BTC' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { status: string }).status).toBe('completed');
    await until(async () => ((await nodeState(inv.paymentHash)) === 'cancel' ? undefined : true), 'the node to answer');

    if (cancels) {
      expect(await nodeState(inv.paymentHash)).toBe('closed');
      const atNode = await w.inner.lookupInvoice(inv.paymentHash);
      // LND keeps it canceled; CLN deleted it.
      expect(atNode === undefined || atNode.state === 'canceled').toBe(true);
      expect(await outsidePays(inv.invoice)).not.toBe('succeeded');
      await w.rail().topups!.reconcile();
      expect(await merchantNet()).toBe(merchantBefore + BigInt(PRICE));
      expect(await paymentsOf(inv.challengeId)).toEqual([expect.objectContaining({ user_id: s.user.id, status: 'completed' })]);
    } else {
      expect(await nodeState(inv.paymentHash)).toBe('watch');
      expect(await outsidePays(inv.invoice)).toBe('succeeded');
      // The webhook (or, without it, the look-up on the next reconnect) credits it once.
      await until(async () => ((await merchantNet()) === merchantBefore + 2n * BigInt(PRICE) ? true : undefined), 'the late credit');
      await w.rail().topups!.reconcile();
      await w.rail().topups!.applySettlement({ paymentHash: inv.paymentHash, amountPaidMsat: BigInt(PRICE), settledAt: 1 });
      expect(await merchantNet()).toBe(merchantBefore + 2n * BigInt(PRICE));
      const rows = await paymentsOf(inv.challengeId);
      expect(rows).toHaveLength(2);
      expect(rows.map((r) => [r.user_id, r.status]).sort()).toEqual(
        [
          [OUTSIDE_PAYER_ID, 'completed'],
          [s.user.id, 'completed'],
        ].sort(),
      );
      expect(await nodeState(inv.paymentHash)).toBe('closed');
    }
    const credits = await store.db.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM ledger_transfers WHERE id = ?', [
      inboundTransferId(inv.paymentHash),
    ]);
    expect(Number(credits?.n)).toBe(cancels ? 0 : 1);
    // The hub balance paid once either way.
    expect(await userBtc()).toBe(userBefore - BigInt(PRICE));
  });

  it('settled at the node before the hub heard: the hub balance payment is refused, the outside one counts', async () => {
    const inv = await challenge();
    const merchantBefore = await merchantNet();
    const userBefore = await userBtc();
    expect(await outsidePays(inv.invoice)).toBe('succeeded');
    const res = await pay(hub().url, s, `before-${kind}-${engine}`, { rail: 'lightning', payTo: inv.invoice, amount: PRICE, asset: 'BTC' });
    expect(res.status).toBe(409);
    expect(res.headers.get('content-type')).toMatch(/problem\+json/);
    expect(await merchantNet()).toBe(merchantBefore + BigInt(PRICE));
    expect(await userBtc()).toBe(userBefore);
    expect(await paymentsOf(inv.challengeId)).toEqual([expect.objectContaining({ user_id: OUTSIDE_PAYER_ID, status: 'completed' })]);
  });

  it('settled at the node while the hub balance payment commits: exactly one counts, the hub balance is refunded', async () => {
    // No webhook for this one (LNbits): it would tell the hub before the payment, which is the case above.
    const hook = w.lnbitsOptions.webhookUrl;
    delete w.lnbitsOptions.webhookUrl;
    const inv = await challenge();
    if (hook) w.lnbitsOptions.webhookUrl = hook;
    const merchantBefore = await merchantNet();
    const userBefore = await userBtc();
    expect(await outsidePays(inv.invoice)).toBe('succeeded');
    // The hub's look-up before the payment gets no answer: it commits, and learns of the race from
    // the node right after (the withdrawal, or for LNbits the look-up, says settled).
    w.knobs.failLookups = 1;
    const res = await pay(hub().url, s, `race-${kind}-${engine}`, { rail: 'lightning', payTo: inv.invoice, amount: PRICE, asset: 'BTC' });
    expect(res.status).toBe(200);
    const mine = (await res.json()) as { transactionId: string };
    await until(async () => ((await paymentsOf(inv.challengeId)).length === 2 ? true : undefined), 'the race to be settled');
    const rows = await paymentsOf(inv.challengeId);
    expect(rows.find((r) => r.id === mine.transactionId)).toMatchObject({ user_id: s.user.id, status: 'refunded' });
    expect(rows.find((r) => r.id !== mine.transactionId)).toMatchObject({ user_id: OUTSIDE_PAYER_ID, status: 'completed' });
    expect(await merchantNet()).toBe(merchantBefore + BigInt(PRICE));
    expect(await userBtc()).toBe(userBefore);
    const receipt = (await (await fetch(`${hub().url}/challenges/${inv.challengeId}?merchant=${merchantId}`)).json()) as {
      status: string;
      transactionId: string;
    };
    expect(receipt).toMatchObject({ status: 'paid', transactionId: rows.find((r) => r.id !== mine.transactionId)!.id });
    // The payer sees it refunded; a replay of the request answers what it answered (the same payment).
    const seen = await fetch(`${hub().url}/payments/${mine.transactionId}`, { headers: { authorization: `Bearer ${s.accessToken}` } });
    expect(((await seen.json()) as { status: string }).status).toBe('refunded');
    const again = await pay(hub().url, s, `race-${kind}-${engine}`, { rail: 'lightning', payTo: inv.invoice, amount: PRICE, asset: 'BTC' });
    expect(((await again.json()) as { transactionId: string }).transactionId).toBe(mine.transactionId);
    // Notices and look-ups again change nothing.
    await w.rail().topups!.reconcile();
    await w.rail().topups!.applySettlement({ paymentHash: inv.paymentHash, amountPaidMsat: BigInt(PRICE), settledAt: 1 });
    expect(await merchantNet()).toBe(merchantBefore + BigInt(PRICE));
    expect(await userBtc()).toBe(userBefore);
  });

  it.runIf(cancels)('a withdrawal that did not reach the node is done by the look-ups when the hub starts again', async () => {
    const inv = await challenge();
    const merchantBefore = await merchantNet();
    w.knobs.cancelUnreachable = true;
    const res = await pay(hub().url, s, `restart-${kind}-${engine}`, {
      rail: 'lightning',
      payTo: inv.invoice,
      amount: PRICE,
      asset: 'BTC',
    });
    expect(res.status).toBe(200);
    expect(await nodeState(inv.paymentHash)).toBe('cancel');
    expect(await w.inner.lookupInvoice(inv.paymentHash)).toMatchObject({ state: 'open' });
    await hub().stop();
    t = undefined;
    w.knobs.cancelUnreachable = false;
    await start();
    await until(async () => ((await nodeState(inv.paymentHash)) === 'closed' ? true : undefined), 'the withdrawal on start');
    const atNode = await w.inner.lookupInvoice(inv.paymentHash);
    expect(atNode === undefined || atNode.state === 'canceled').toBe(true);
    expect(await outsidePays(inv.invoice)).not.toBe('succeeded');
    expect(await merchantNet()).toBe(merchantBefore + BigInt(PRICE));
    expect(await paymentsOf(inv.challengeId)).toEqual([expect.objectContaining({ user_id: s.user.id, status: 'completed' })]);
    // The shop kept the old hub's address: it must follow.
    await shop.close();
    const m = await createMerchant(hub().url, `Two payers again ${kind}`);
    merchantId = m.merchant.id;
    shop = await startLightningShop(hub().url, merchantId, m.apiKey);
  });

  it.runIf(kind === 'lnbits')(
    "LNbits webhooks: the stand-in's real webhook credits a top-up; forged, replayed and junk ones change nothing",
    async () => {
      const url = hub().url;
      const post = (body: string, type = 'application/json') =>
        fetch(`${url}${WEBHOOK}`, { method: 'POST', headers: { 'content-type': type }, body });
      const topup = async (key: string) => {
        const r = await fetch(`${url}/topups`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${s.accessToken}`, 'idempotency-key': key },
          body: JSON.stringify({ asset: 'BTC', amount: '5000' }),
        });
        expect(r.status).toBe(200);
        return (await r.json()) as { topupId: string; bolt11: string; paymentHash: string };
      };
      const status = async (id: string) =>
        (
          (await (await fetch(`${url}/topups/${id}`, { headers: { authorization: `Bearer ${s.accessToken}` } })).json()) as {
            status: string;
          }
        ).status;
      const before = await userBtc();

      // Forged: a body that says an open invoice was paid, and one for an invoice nobody issued.
      const open = await topup(`hook-open-${engine}`);
      const claim = { payment_hash: open.paymentHash, status: 'success', amount: 5_000_000, paid: true };
      for (const body of [
        JSON.stringify(claim),
        JSON.stringify(JSON.stringify(claim)),
        JSON.stringify({ payment_hash: 'ab'.repeat(32) }),
      ]) {
        const r = await post(body);
        expect(r.status).toBe(200);
        expect(await r.json()).toEqual({ received: true });
      }
      expect(await status(open.topupId)).toBe('open');
      expect(await userBtc()).toBe(before);

      // Real: the outside wallet pays; LNbits POSTs its (double-encoded) webhook to the hub, which credits.
      const paid = await topup(`hook-paid-${engine}`);
      expect(await outsidePays(paid.bolt11)).toBe('succeeded');
      await until(async () => ((await status(paid.topupId)) === 'credited' ? true : undefined), 'the webhook credit');
      expect(await userBtc()).toBe(before + 5000n);
      const sent = w.lnbits!.paymentsOut().length;
      expect(sent).toBe(0);

      // Replayed: the same body again (as LNbits sends it) changes nothing.
      const details = (await (
        await fetch(`${w.lnbitsOptions.url}/api/v1/payments/${paid.paymentHash}`, { headers: { 'X-Api-Key': w.lnbitsOptions.invoiceKey } })
      ).json()) as { details: unknown };
      for (let i = 0; i < 3; i++) expect((await post(JSON.stringify(JSON.stringify(details.details)))).status).toBe(200);
      expect(await userBtc()).toBe(before + 5000n);
      const credits = await store.db.get<{ n: number | string }>("SELECT COUNT(*) AS n FROM ledger_transfers WHERE id LIKE 'topup:%'");
      expect(Number(credits?.n)).toBe(1);

      // Junk: a clear problem, nothing changed, never a 500.
      for (const [body, type, code] of [
        ['not json', 'application/json', 400],
        ['{"payment_hash": "xyz"}', 'application/json', 400],
        ['"not an object inside"', 'application/json', 400],
        ['[1, 2]', 'application/json', 400],
        ['payment_hash=ab', 'text/plain', 415],
        [`{"a":${'['.repeat(40)}${']'.repeat(40)}}`, 'application/json', 400],
      ] as const) {
        const r = await post(body, type);
        expect(r.status, body).toBe(code);
        expect(r.headers.get('content-type')).toMatch(/problem\+json/);
      }
      expect(await status(open.topupId)).toBe('open');
      expect(await userBtc()).toBe(before + 5000n);
    },
  );

  it.runIf(kind !== 'lnbits')('a hub whose node is not LNbits has no webhook to take', async () => {
    const r = await fetch(`${hub().url}${WEBHOOK}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ payment_hash: 'ab'.repeat(32) }),
    });
    expect(r.status).toBe(404);
    expect(r.headers.get('content-type')).toMatch(/problem\+json/);
  });
});

describe('TOLLWAY_LNBITS_WEBHOOK_URL', () => {
  const env = (e: Record<string, string>) => lightningConfig(z.object(lightningEnv).parse(e));
  it('registers the hub route under the given address with every invoice; unset, none', () => {
    const base = {
      TOLLWAY_LIGHTNING_NODE: 'lnbits',
      TOLLWAY_LNBITS_URL: 'https://lnbits.example',
      TOLLWAY_LNBITS_ADMIN_KEY: 'a'.repeat(32),
    };
    expect(env({ ...base, TOLLWAY_LNBITS_WEBHOOK_URL: 'https://hub.example/' })?.lnbitsWebhookUrl).toBe(`https://hub.example${WEBHOOK}`);
    expect(env(base)?.lnbitsWebhookUrl).toBeUndefined();
    expect(() => env({ TOLLWAY_LIGHTNING_NODE: 'lnd', TOLLWAY_LNBITS_WEBHOOK_URL: 'https://hub.example' })).toThrow(
      /TOLLWAY_LNBITS_WEBHOOK_URL/,
    );
  });
});
