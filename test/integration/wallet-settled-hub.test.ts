/**
 * The hub's books for payments the person's own wallet settles (the wallet rail), on both engines
 * over real HTTP: recorded pending from the signed authorization, finished by the wallet's
 * settlement report, listed and streamed like any payment, charged to budgets per token, and
 * never moving a hub account.
 */
import { Wallet } from 'ethers';
import { io, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Payment, PaymentStatusUpdate } from '../../shared/api.js';
import { tokenAsset } from '../../shared/wallet-payments.js';
import { balances, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced, rowCounts } from '../helpers/invariant.js';
import { ENGINES } from '../helpers/stores.js';
import { signTransfer, walletPaymentBody, type TokenRef } from '../helpers/usdc-payer.js';

// No chain is needed here: the hub checks signatures off-chain (the x402 test settles for real).
const USDC: TokenRef = { chainId: 84532, address: '0x036CbD53842c5426634e7929541eC2318f3dCF7e', name: 'USDC', version: '2' };
const ASSET = tokenAsset(USDC.chainId, USDC.address);
const SHOP = Wallet.createRandom().address;
const TX = `0x${'ab'.repeat(32)}`;

describe.each(ENGINES)('wallet-settled payments at the hub on %s', (engine) => {
  let t: TestHub;
  let alice: Session;
  let bob: Session;
  let k = 0;
  const key = () => `wallet-${engine}-${++k}`;
  const auth = (s: Session) => ({ 'content-type': 'application/json', authorization: `Bearer ${s.accessToken}` });
  const settle = (s: Session, id: string, body: unknown) =>
    fetch(`${t.url}/payments/${id}/settlement`, { method: 'POST', headers: auth(s), body: JSON.stringify(body) });
  const ledgerRows = async () => {
    const c = await rowCounts(t.store.db);
    return { transfers: c.ledger_transfers, accounts: c.ledger_accounts };
  };
  const signAs = (s: Session, value = 10_000n, to = SHOP) => signTransfer(s.wallet, USDC, to, value);

  beforeAll(async () => {
    t = await startTestHub(engine);
    alice = await signIn(t.url);
    bob = await signIn(t.url);
    await fund(t.url, alice, '1000');
  });
  afterEach(async () => expectLedgerBalanced(t.store.db));
  afterAll(async () => t?.stop());

  it('records a pending payment, completes it with the settlement transaction, streams both, and moves no hub account', async () => {
    const socket: Socket = io(t.url, {
      auth: { token: alice.accessToken },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    const updates: PaymentStatusUpdate[] = [];
    const two = new Promise<void>((resolve) =>
      socket.on('paymentStatusUpdate', (u: PaymentStatusUpdate) => {
        if (u.rail === 'wallet' && !updates.some((x) => x.seq === u.seq)) updates.push(u);
        if (updates.length === 2) resolve();
      }),
    );
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    const before = { ledger: await ledgerRows(), balances: await balances(t.url, alice) };

    const signed = await signAs(alice);
    const res = await pay(t.url, alice, key(), walletPaymentBody(USDC, signed, { description: 'an article' }));
    expect(res.status).toBe(200);
    const p = (await res.json()) as Payment;
    expect(p).toMatchObject({ status: 'pending', rail: 'wallet', payTo: SHOP, amount: '10000', asset: ASSET, receipt: {} });

    const done = await settle(alice, p.transactionId, { status: 'completed', transaction: TX });
    expect(done.status).toBe(200);
    const completed = (await done.json()) as Payment;
    expect(completed.status).toBe('completed');
    // The hub saw no money move: it records the transaction and vouches for nothing (no receipt token).
    expect(completed.receipt).toEqual({ transactionHash: TX });

    await two;
    socket.disconnect();
    expect(updates.map((u) => [u.status, u.previousStatus])).toEqual([
      ['pending', null],
      ['completed', 'pending'],
    ]);
    expect(updates[1]!.receipt.transactionHash).toBe(TX);

    const list = (await (await fetch(`${t.url}/payments`, { headers: auth(alice) })).json()) as { data: Payment[] };
    expect(list.data.find((x) => x.transactionId === p.transactionId)).toMatchObject({ status: 'completed', asset: ASSET });
    expect(await ledgerRows()).toEqual(before.ledger);
    expect(await balances(t.url, alice)).toEqual(before.balances);
  });

  it('answers the same report again as it is, and refuses a contradicting one', async () => {
    const p = (await (await pay(t.url, alice, key(), walletPaymentBody(USDC, await signAs(alice)))).json()) as Payment;
    expect((await settle(alice, p.transactionId, { status: 'completed', transaction: TX })).status).toBe(200);
    const again = await settle(alice, p.transactionId, { status: 'completed', transaction: TX.toUpperCase().replace('0X', '0x') });
    expect(again.status).toBe(200);
    expect(((await again.json()) as Payment).receipt.transactionHash).toBe(TX);
    const other = await settle(alice, p.transactionId, { status: 'completed', transaction: `0x${'cd'.repeat(32)}` });
    expect(other.status).toBe(409);
    expect(other.headers.get('content-type')).toContain('application/problem+json');
    expect(((await other.json()) as { type: string }).type).toMatch(/settlement-conflict$/);
    expect((await settle(alice, p.transactionId, { status: 'failed', reason: 'x' })).status).toBe(409);

    const q = (await (await pay(t.url, alice, key(), walletPaymentBody(USDC, await signAs(alice)))).json()) as Payment;
    const failed = await settle(alice, q.transactionId, { status: 'failed', reason: 'the facilitator refused: insufficient_funds' });
    expect(await failed.json()).toMatchObject({ status: 'failed', failureReason: 'the facilitator refused: insufficient_funds' });
    expect((await settle(alice, q.transactionId, { status: 'completed', transaction: TX })).status).toBe(409);
  });

  it('replays under the same Idempotency-Key and records one signed authorization once', async () => {
    const signed = await signAs(alice);
    const k1 = key();
    const first = (await (await pay(t.url, alice, k1, walletPaymentBody(USDC, signed))).json()) as Payment;
    const replay = await pay(t.url, alice, k1, walletPaymentBody(USDC, signed));
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(((await replay.json()) as Payment).transactionId).toBe(first.transactionId);
    expect((await pay(t.url, alice, k1, walletPaymentBody(USDC, signed, { description: 'other' }))).status).toBe(422);

    const before = await rowCounts(t.store.db);
    const twice = await pay(t.url, alice, key(), walletPaymentBody(USDC, signed));
    expect(twice.status).toBe(409);
    expect(await twice.json()).toMatchObject({ transactionId: first.transactionId });
    expect(await rowCounts(t.store.db)).toEqual(before);
  });

  it('records one payment when the same authorization arrives under several keys at once', async () => {
    const signed = await signAs(alice);
    const answers = await Promise.all(Array.from({ length: 6 }, () => pay(t.url, alice, key(), walletPaymentBody(USDC, signed))));
    expect(answers.map((r) => r.status).sort()).toEqual([200, 409, 409, 409, 409, 409]);
    const rows = await t.store.db.all<{ n: number | string }>('SELECT COUNT(*) AS n FROM wallet_payments WHERE nonce = ?', [
      signed.nonce.toLowerCase(),
    ]);
    expect(Number(rows[0]!.n)).toBe(1);
  });

  it('refuses, storing nothing, an authorization that is not the payer’s or not this payment', async () => {
    const before = await rowCounts(t.store.db);
    const mine = await signAs(alice);
    const refusals: [unknown, number, string][] = [
      // Bob sends Alice's signed authorization as his own payment.
      [walletPaymentBody(USDC, mine), 400, 'payer'],
      [
        {
          ...walletPaymentBody(USDC, mine),
          amount: '10001',
          authorization: { ...walletPaymentBody(USDC, mine).authorization, value: '10001' },
        },
        400,
        'signature',
      ],
      [{ ...walletPaymentBody(USDC, mine), amount: '9999' }, 400, 'value'],
      [{ ...walletPaymentBody(USDC, mine), payTo: Wallet.createRandom().address }, 400, 'recipient'],
      [walletPaymentBody({ ...USDC, name: 'USD Coin' }, mine), 400, 'signature'],
      [walletPaymentBody({ ...USDC, chainId: 8453 }, mine), 400, 'signature'],
      [{ ...walletPaymentBody(USDC, mine), authorization: undefined }, 400, 'missing'],
      [{ ...walletPaymentBody(USDC, mine), authorization: { ...mine } }, 400, 'malformed'],
    ];
    for (const [i, [body, status, reason]] of refusals.entries()) {
      const who = i === 0 ? bob : alice;
      const res = await pay(t.url, who, key(), body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(((await res.json()) as { reason?: string }).reason).toBe(reason);
    }
    // A token asset on a hub rail, a hub asset on the wallet rail, a mixed-case token address.
    for (const body of [
      { rail: 'internal', payTo: 'nobody', amount: '1', asset: ASSET },
      { ...walletPaymentBody(USDC, mine), asset: 'SOVR' },
      { ...walletPaymentBody(USDC, mine), asset: `eip155:84532/erc20:${USDC.address}` },
    ]) {
      const res = await pay(t.url, alice, key(), body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(((await res.json()) as { type: string }).type).toMatch(/validation-error$/);
    }
    expect(await rowCounts(t.store.db)).toEqual(before);
  });

  it('shows each person only their own, and takes settlement reports from the payer only', async () => {
    const p = (await (await pay(t.url, alice, key(), walletPaymentBody(USDC, await signAs(alice)))).json()) as Payment;
    expect((await fetch(`${t.url}/payments/${p.transactionId}`, { headers: auth(bob) })).status).toBe(404);
    const list = (await (await fetch(`${t.url}/payments`, { headers: auth(bob) })).json()) as { data: Payment[] };
    expect(list.data.some((x) => x.transactionId === p.transactionId)).toBe(false);
    expect((await settle(bob, p.transactionId, { status: 'completed', transaction: TX })).status).toBe(404);
    expect((await fetch(`${t.url}/payments/${p.transactionId}`, { headers: auth(alice) }).then((r) => r.json())) as Payment).toMatchObject({
      status: 'pending',
    });
    // A payment the hub settles itself takes no report.
    const shop = await fetch(`${t.url}/merchants`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer test-admin-token-0123456789' },
      body: JSON.stringify({ name: 'hub shop' }),
    }).then((r) => r.json() as Promise<{ merchant: { id: string } }>);
    const internal = (await (
      await pay(t.url, alice, key(), { rail: 'internal', payTo: shop.merchant.id, amount: '5', asset: 'SOVR' })
    ).json()) as Payment;
    expect((await settle(alice, internal.transactionId, { status: 'failed', reason: 'no' })).status).toBe(409);
    for (const bad of [
      {},
      { status: 'completed' },
      { status: 'completed', transaction: '0x12' },
      { status: 'failed', reason: '' },
      { status: 'done' },
    ]) {
      const res = await settle(alice, p.transactionId, bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
    }
  });

  it('charges auto-payments to the site’s budget for this token and payee, and refuses one over it', async () => {
    const site = 'https://news.example';
    const put = await fetch(`${t.url}/allowances`, {
      method: 'PUT',
      headers: auth(alice),
      body: JSON.stringify({ site, payee: SHOP, asset: ASSET, amount: '15000', period: 'day' }),
    });
    expect(put.status).toBe(200);
    const ok = await pay(t.url, alice, key(), walletPaymentBody(USDC, await signAs(alice), { allowance: { site } }));
    expect(ok.status).toBe(200);
    const before = await rowCounts(t.store.db);
    const over = await pay(t.url, alice, key(), walletPaymentBody(USDC, await signAs(alice), { allowance: { site } }));
    expect(over.status).toBe(403);
    expect(await over.json()).toMatchObject({ remaining: '5000' });
    const elsewhere = await pay(
      t.url,
      alice,
      key(),
      walletPaymentBody(USDC, await signAs(alice, 1n, Wallet.createRandom().address), { allowance: { site } }),
    );
    expect(((await elsewhere.json()) as { type: string }).type).toMatch(/allowance-payee-mismatch$/);
    expect(await rowCounts(t.store.db)).toEqual(before);
    const list = (await (await fetch(`${t.url}/allowances`, { headers: auth(alice) })).json()) as {
      data: { asset: string; spent: string }[];
    };
    expect(list.data.find((a) => a.asset === ASSET)).toMatchObject({ spent: '10000' });
  });

  it('leaves a pending payment pending across a restart, for the wallet to report after it', async () => {
    const p = (await (await pay(t.url, alice, key(), walletPaymentBody(USDC, await signAs(alice)))).json()) as Payment;
    const store = t.store;
    await t.hub.close();
    t = await startTestHub(engine, { store });
    alice = await signIn(t.url, alice.wallet);
    const after = (await (await fetch(`${t.url}/payments/${p.transactionId}`, { headers: auth(alice) })).json()) as Payment;
    expect(after.status).toBe('pending');
    expect(await (await settle(alice, p.transactionId, { status: 'completed', transaction: TX })).json()).toMatchObject({
      status: 'completed',
    });
  });
});
