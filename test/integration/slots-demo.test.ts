/**
 * The demo shop's publication slots, wired as `npm start` wires them: the local Lightning network
 * of devnet/local-lightning.ts (the shop's node issues the token invoices; the outside wallet pays
 * them through `hub dev-pay <bolt11>`, run here in-process as the command runs it), slots() at
 * /slots with its store in a SQLite file, the page with the join dialog, and publishing behind
 * requireSlot(). The hub-bought token is paid from a hub balance, as the extension would.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLndNode } from '../../lightning/lnd/index.js';
import { PUBLICATION_FEE_MSAT } from '../../merchant/demo/slots.js';
import { startDemoShop, type RunningShop } from '../../merchant/demo/shop.js';
import { startLocalLightning, type LocalLightning } from '../../devnet/local-lightning.js';
import { runDevPay } from '../../server/dev-pay.js';
import { encodePaymentSignature, parsePaymentRequired } from '../../shared/challenge.js';
import { PROBLEM_BASE } from '../../shared/problem.js';
import { createMerchant, fund, pay, signIn, startTestHub, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';

const text = () => {
  let s = '';
  return Object.assign(
    new Writable({
      write(chunk, _enc, cb) {
        s += String(chunk);
        cb();
      },
    }),
    { text: () => s },
  );
};

describe('the demo shop sells publication slots', () => {
  let dir: string;
  let ln: LocalLightning;
  let t: TestHub;
  let shop: RunningShop;
  let merchantId: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tollway-slots-demo-'));
    ln = await startLocalLightning({ walletPort: 0, host: '127.0.0.1', dataDir: dir });
    t = await startTestHub('sqlite');
    const m = await createMerchant(t.url, 'Demo shop');
    merchantId = m.merchant.id;
    shop = await startDemoShop({
      hub: t.url,
      merchantId,
      apiKey: m.apiKey,
      port: 0,
      lightning: {
        node: createLndNode({ url: ln.shopNode.url, macaroonHex: ln.shopNode.macaroonHex }),
        slotsStore: join(dir, 'demo-slots.sqlite'),
      },
    });
  });
  afterEach(async () => {
    await expectLedgerBalanced(t.store.db);
  });
  afterAll(async () => {
    await shop?.close();
    await t?.stop();
    await ln?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const publish = (slotId: string, commitment = 'ab'.repeat(32)) =>
    fetch(`${shop.url}/publication/commitments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'slot-id': slotId },
      body: JSON.stringify({ commitment }),
    });
  const spend = async (tokenId: string, slotId = 0) =>
    (await (
      await fetch(`${shop.url}/slots/spendtoken`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token_id: tokenId, slot_id: slotId }),
      })
    ).json()) as { slot_id: number; expiry_date: string };

  it('serves the API at /slots and the page with the join dialog', async () => {
    expect(await (await fetch(`${shop.url}/slots/feerate`)).json()).toEqual({ fee_rate_per_month_in_msat: Number(PUBLICATION_FEE_MSAT) });
    const page = await (await fetch(`${shop.url}/publication`)).text();
    expect(page).toContain(`<script src="${t.url}/tollway.js" data-slots="/slots"></script>`);
    expect(await (await fetch(`${shop.url}/`)).text()).toContain('<a href="/publication">Publication slots</a>');
  });

  it('a token paid with `hub dev-pay` from the outside wallet buys a slot to publish in', async () => {
    const refused = await publish('1');
    expect(refused.status).toBe(402);
    expect(((await refused.json()) as { type: string }).type).toBe(`${PROBLEM_BASE}slot-required`);

    const init = (await (await fetch(`${shop.url}/slots/token/init/${PUBLICATION_FEE_MSAT}`)).json()) as {
      token_id: string;
      lightning_invoice: { bolt11: string };
    };
    expect(await (await fetch(`${shop.url}/slots/token/verify/${init.token_id}`)).json()).toEqual({ amount: 0, confirmed: false });
    const out = text();
    const err = text();
    expect(await runDevPay([init.lightning_invoice.bolt11], { TOLLWAY_DATA_DIR: dir }, out, err)).toBe(0);
    expect(err.text()).toBe('');
    expect(await (await fetch(`${shop.url}/slots/token/verify/${init.token_id}`)).json()).toEqual({
      amount: Number(PUBLICATION_FEE_MSAT),
      confirmed: true,
    });

    const slot = await spend(init.token_id);
    const ok = await publish(String(slot.slot_id));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ slot_id: slot.slot_id, commitment: 'ab'.repeat(32), expiry_date: slot.expiry_date });
    expect(await (await fetch(`${shop.url}/publication`)).text()).toContain(`slot ${slot.slot_id}: <code>${'ab'.repeat(32)}</code>`);

    // A bad commitment or body is the client's mistake: 400, never 500.
    expect((await publish(String(slot.slot_id), 'not hex')).status).toBe(400);
    const broken = await fetch(`${shop.url}/publication/commitments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'slot-id': String(slot.slot_id) },
      body: '{"commitment": ',
    });
    expect(broken.status).toBe(400);
    expect(broken.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('a token bought through the hub (as the extension pays it) renews the slot', async () => {
    const s = await signIn(t.url);
    await fund(t.url, s, String(10n * PUBLICATION_FEE_MSAT), 'BTC');
    const first = (await (await fetch(`${shop.url}/slots/slotexpiry/1`)).json()) as { expiry_date: string };
    const challenge = await fetch(`${shop.url}/slots/token/buy/${PUBLICATION_FEE_MSAT}`);
    expect(challenge.status).toBe(402);
    const parsed = parsePaymentRequired(challenge.headers.get('payment-required')!);
    if (!parsed.ok) throw new Error(parsed.error.message);
    const entry = parsed.value.accepts.find((a) => a.scheme === 'tollway')!;
    const paid = await pay(t.url, s, randomUUID(), {
      rail: 'internal',
      payTo: entry.payTo,
      amount: entry.amount,
      asset: entry.asset,
      requirement: entry,
      resource: { url: parsed.value.resource!.url, method: 'GET' },
    });
    const receipt = ((await paid.json()) as { receipt: { token: string } }).receipt.token;
    const bought = await fetch(`${shop.url}/slots/token/buy/${PUBLICATION_FEE_MSAT}`, {
      headers: { 'PAYMENT-SIGNATURE': encodePaymentSignature({ accepted: entry, payload: { receipt } }) },
    });
    expect(bought.status).toBe(200);
    const { token_id } = (await bought.json()) as { token_id: string };
    const renewed = await spend(token_id, 1);
    expect(Date.parse(renewed.expiry_date)).toBe(Date.parse(first.expiry_date) + 30 * 86_400_000);
  });
});
