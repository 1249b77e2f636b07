/**
 * The SOVR rail end to end: real hubs (SQLite and PostgreSQL) paying hub merchants on a real local
 * chain (hardhat node) with a real SOVR contract, through real HTTP, sockets and webhooks.
 * The person signs EIP-3009 authorizations with their own key; the hub's service wallet submits
 * them; the watcher reports the outcome. After every scenario the ledger must balance.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import { encryptKeystoreJson, Wallet } from 'ethers';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signCancelAuthorization, sovrDomain } from '../../contracts/eip712.js';
import { merchantAccountId } from '../../server/core/accounts.js';
import { chainWalletAccountId, type ServiceSigner } from '../../server/rails/sovr/index.js';
import { createMerchant, pay, signIn, type Session } from '../helpers/hub.js';
import { expectLedgerBalanced, rowCounts } from '../helpers/invariant.js';
import {
  getPayment,
  ledgerAccount,
  liveFeed,
  SOVR,
  untilPaymentStatus,
  useSovrChain,
  waitFor,
  type SovrHub as RailHub,
} from '../helpers/sovr.js';
import { ENGINES, freshStore, type Engine, type TestStore } from '../helpers/stores.js';

const EXPLORER = 'https://explorer.example/tx/{hash}';

type P = {
  transactionId: string;
  status: string;
  failureReason: string | null;
  receipt: { token?: string; transactionHash?: string; blockExplorerUrl?: string };
};
type Problem = { type: string; status: number; reason?: string; detail?: string };

const bed = useSovrChain();
const { person, authorize, relay, relayAuthorization, transactionsFrom } = bed;

interface SovrHub extends RailHub {
  merchant: { id: string; apiKey: string; webhookSecret: string };
}

async function startSovrHub(
  engine: Engine,
  opts: {
    store?: TestStore;
    keepStore?: boolean;
    service?: Wallet;
    signer?: ServiceSigner;
    treasury?: string;
    confirmations?: number;
    merchant?: SovrHub['merchant'];
    rpcUrl?: string;
  } = {},
): Promise<SovrHub> {
  const { confirmations, merchant: given, rpcUrl, ...hubOpts } = opts;
  const hub = await bed.startSovrHub(engine, {
    ...hubOpts,
    options: { confirmations: confirmations ?? 1, explorerTxUrl: EXPLORER, ...(rpcUrl !== undefined ? { rpcUrl } : {}) },
  });
  const merchant =
    given ??
    (await (async () => {
      const m = await createMerchant(hub.t.url);
      return { id: m.merchant.id, apiKey: m.apiKey, webhookSecret: m.webhookSecret };
    })());
  return { ...hub, merchant };
}

const body = (merchant: string, amount: bigint, authorization: unknown) => ({
  rail: 'sovr',
  payTo: merchant,
  amount: amount.toString(),
  asset: 'SOVR',
  resource: { url: 'https://shop.example/article/1', method: 'GET' },
  authorization,
});

let keys = 0;
const key = () => `sovr-${process.pid}-${++keys}`;

const untilStatus = untilPaymentStatus<P>;

const tokenBalance = (address: string) => bed.sovr.contract.balanceOf(address);

/** A merchant's webhook endpoint that verifies every signature with standardwebhooks. */
async function webhookReceiver(h: SovrHub): Promise<{ events: { type: string; data: P }[]; close(): Promise<void> }> {
  const events: { type: string; data: P }[] = [];
  const verifier = new Webhook(h.merchant.webhookSecret);
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        events.push(
          verifier.verify(Buffer.concat(chunks).toString('utf8'), req.headers as Record<string, string>) as { type: string; data: P },
        );
        res.writeHead(204).end();
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  const put = await fetch(`${h.t.url}/merchants/${h.merchant.id}/webhook`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${h.merchant.apiKey}` },
    body: JSON.stringify({ url }),
  });
  expect(put.status).toBe(200);
  return {
    events,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe.each(ENGINES)('the SOVR rail on %s', (engine) => {
  let h: SovrHub;

  beforeAll(async () => {
    h = await startSovrHub(engine, { confirmations: 2 });
  });
  afterEach(async () => {
    await bed.chain.setAutomine(true);
    await expectLedgerBalanced(h.t.store.db);
  });
  afterAll(async () => h?.t.stop());

  it('answers submitted with the hash, completes after the confirmations, and tells the person and the merchant', async () => {
    const s = await person(h.t.url, 10n * SOVR);
    const hooks = await webhookReceiver(h);
    const feed = await liveFeed(h.t.url, s);
    try {
      const amount = 3n * SOVR;
      const k = key();
      const req = body(h.merchant.id, amount, await authorize(s, h.treasury, amount));
      const res = await pay(h.t.url, s, k, req);
      expect(res.status).toBe(200);
      const p = (await res.json()) as P;
      expect(p.status).toBe('submitted');
      expect(p.receipt.transactionHash).toMatch(/^0x[0-9a-f]{64}$/);
      expect(p.receipt.blockExplorerUrl).toBe(`https://explorer.example/tx/${p.receipt.transactionHash}`);
      expect(p.receipt.token).toBeUndefined();

      // Automine put it in a block; one more makes the two confirmations.
      const mined = await bed.chain.provider.getTransactionReceipt(p.receipt.transactionHash!);
      expect(mined?.status).toBe(1);
      expect(mined?.from).toBe(h.service.address);
      await bed.chain.mine(1);
      const done = await untilStatus(h.t.url, s, p.transactionId, 'completed');
      expect(done.receipt.transactionHash).toBe(p.receipt.transactionHash);
      const claims = decodeJwt(done.receipt.token!);
      expect(claims).toMatchObject({
        sub: p.transactionId,
        aud: h.merchant.id,
        amt: amount.toString(),
        asset: 'SOVR',
        rail: 'sovr',
        res: 'https://shop.example/article/1',
      });

      await waitFor(async () => feed.updates.filter((u) => u.transactionId === p.transactionId).length >= 3, 'three status updates');
      const mine = feed.updates.filter((u) => u.transactionId === p.transactionId);
      expect(mine.map((u) => [u.previousStatus, u.status])).toEqual([
        [null, 'pending'],
        ['pending', 'submitted'],
        ['submitted', 'completed'],
      ]);
      const hook = await waitFor(
        async () => hooks.events.find((e) => e.data.transactionId === p.transactionId),
        'the payment.completed webhook',
      );
      expect(hook.type).toBe('payment.completed');
      expect(hook.data.receipt.transactionHash).toBe(p.receipt.transactionHash);

      // Money: the treasury holds it on chain, the merchant's hub balance says so, the person's
      // chain wallet mirror is minus what they paid.
      expect(await tokenBalance(h.treasury)).toBe(amount);
      expect(await tokenBalance(s.wallet.address)).toBe(7n * SOVR);
      const m = await ledgerAccount(h.t.store.db, merchantAccountId(h.merchant.id, 'SOVR'));
      expect(m!.creditsPosted - m!.debitsPosted).toBe(amount);
      const w = await ledgerAccount(h.t.store.db, chainWalletAccountId(s.user.id));
      expect([w!.debitsPosted, w!.debitsPending, w!.creditsPosted]).toEqual([amount, 0n, 0n]);

      // The same key again is the stored answer, though the authorization is spent on chain now.
      const again = await pay(h.t.url, s, k, req);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(((await again.json()) as P).transactionId).toBe(p.transactionId);
    } finally {
      feed.socket.disconnect();
      await hooks.close();
    }
  });

  it('refuses bad authorizations with invalid-authorization and stores or sends nothing', async () => {
    const s = await person(h.t.url, 10n * SOVR);
    const other = await person(h.t.url, 10n * SOVR);
    const amount = 1n * SOVR;
    const now = BigInt(Math.floor(Date.now() / 1000));
    const cancelled = await authorize(s, h.treasury, amount);
    const cancelSig = await signCancelAuthorization(
      s.wallet,
      sovrDomain(bed.chain.chainId, bed.sovr.address),
      s.wallet.address,
      cancelled.nonce,
    );
    await (await relay('cancelAuthorization(address,bytes32,bytes)', [s.wallet.address, cancelled.nonce, cancelSig])).wait();
    const good = await authorize(s, h.treasury, amount);

    const cases: [string, unknown, string][] = [
      ['wrong signer', await authorize(s, h.treasury, amount, { signer: other.wallet }), 'signature'],
      ['another recipient', await authorize(s, other.wallet.address, amount), 'recipient'],
      ['value other than the amount', await authorize(s, h.treasury, amount + 1n), 'value'],
      ['expired', await authorize(s, h.treasury, amount, { validBefore: now - 1n }), 'expires-too-soon'],
      ['too close to expiry to be mined', await authorize(s, h.treasury, amount, { validBefore: now + 5n }), 'expires-too-soon'],
      ['not yet valid', await authorize(s, h.treasury, amount, { validAfter: now + 600n }), 'not-yet-valid'],
      ['nonce already used on chain', cancelled, 'used'],
      ["someone else's wallet", await authorize(other, h.treasury, amount), 'payer'],
      ['a truncated signature', { ...good, signature: good.signature.slice(0, 100) }, 'malformed'],
      ['a number for a uint256', { ...good, value: Number(amount) }, 'malformed'],
      ['an unknown field', { ...good, extra: 1 }, 'malformed'],
      ['no authorization', undefined, 'missing'],
    ];
    const sentBefore = await bed.chain.provider.getTransactionCount(h.service.address, 'pending');
    const rowsBefore = await rowCounts(h.t.store.db);
    const sovrRowsBefore = await h.t.store.db.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM sovr_transactions');
    for (const [what, authorization, reason] of cases) {
      const res = await pay(h.t.url, s, key(), body(h.merchant.id, amount, authorization));
      const problem = (await res.json()) as Problem;
      expect([res.status, problem.type, problem.reason], what).toEqual([400, 'https://tollway.dev/problems/invalid-authorization', reason]);
      expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    }
    expect(await rowCounts(h.t.store.db)).toEqual(rowsBefore);
    expect(await h.t.store.db.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM sovr_transactions')).toEqual(sovrRowsBefore);
    expect(await bed.chain.provider.getTransactionCount(h.service.address, 'pending')).toBe(sentBefore);

    // The good one still goes through.
    const ok = (await (await pay(h.t.url, s, key(), body(h.merchant.id, amount, good))).json()) as P;
    expect(ok.status).toBe('submitted');
    await bed.chain.mine(1);
    await untilStatus(h.t.url, s, ok.transactionId, 'completed');
  });

  it('refuses another asset and an unknown merchant with nothing stored, and pays the next request normally', async () => {
    const s = await person(h.t.url, 2n * SOVR);
    const auth = await authorize(s, h.treasury, SOVR);
    const before = await rowCounts(h.t.store.db);
    const btc = await pay(h.t.url, s, key(), { ...body(h.merchant.id, SOVR, auth), asset: 'BTC' });
    expect([btc.status, ((await btc.json()) as Problem).type]).toEqual([400, 'https://tollway.dev/problems/validation-error']);
    const nobody = await pay(h.t.url, s, key(), body('m_nobody', SOVR, auth));
    expect([nobody.status, ((await nobody.json()) as Problem).type]).toEqual([400, 'https://tollway.dev/problems/unknown-merchant']);
    expect(await rowCounts(h.t.store.db)).toEqual(before);
    // The refused request let go of the address: the same authorization pays now.
    const p = (await (await pay(h.t.url, s, key(), body(h.merchant.id, SOVR, auth))).json()) as P;
    expect(p.status).toBe('submitted');
    await bed.chain.mine(1);
    await untilStatus(h.t.url, s, p.transactionId, 'completed');
  });

  it('never lets two payments together overdraw the wallet: one is refused with nothing sent', async () => {
    const s = await person(h.t.url, 10n * SOVR);
    const sentBefore = await bed.chain.provider.getTransactionCount(h.service.address, 'pending');
    const [a, b] = [await authorize(s, h.treasury, 6n * SOVR), await authorize(s, h.treasury, 6n * SOVR)];
    const answers = await Promise.all(
      [a, b].map(async (auth) => {
        const res = await pay(h.t.url, s, key(), body(h.merchant.id, 6n * SOVR, auth));
        return { status: res.status, body: (await res.json()) as P & Problem };
      }),
    );
    const refused = answers.filter((r) => r.status === 400);
    const taken = answers.filter((r) => r.status === 200);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.body.type).toBe('https://tollway.dev/problems/insufficient-funds');
    expect(taken).toHaveLength(1);
    expect(taken[0]!.body.status).toBe('submitted');

    await bed.chain.mine(1);
    const done = await untilStatus(h.t.url, s, taken[0]!.body.transactionId, 'completed');
    expect((await bed.chain.provider.getTransactionReceipt(done.receipt.transactionHash!))?.status).toBe(1);
    expect(await bed.chain.provider.getTransactionCount(h.service.address, 'pending')).toBe(sentBefore + 1);
    expect(await tokenBalance(s.wallet.address)).toBe(4n * SOVR);
    // The in-flight sum counted the first while the second was checked; it is spent now, so a
    // payment that fits what is left passes again.
    const fits = (await (
      await pay(h.t.url, s, key(), body(h.merchant.id, 4n * SOVR, await authorize(s, h.treasury, 4n * SOVR)))
    ).json()) as P;
    expect(fits.status).toBe('submitted');
    await bed.chain.mine(1);
    await untilStatus(h.t.url, s, fits.transactionId, 'completed');
  });

  it('fails and voids a payment whose transaction reverts, with the reason, and tells both sides', async () => {
    const s = await person(h.t.url, 5n * SOVR);
    const hooks = await webhookReceiver(h);
    const feed = await liveFeed(h.t.url, s);
    try {
      const treasuryBefore = await tokenBalance(h.treasury);
      const merchantBefore = await ledgerAccount(h.t.store.db, merchantAccountId(h.merchant.id, 'SOVR'));
      await bed.chain.setAutomine(false);
      const p = (await (
        await pay(h.t.url, s, key(), body(h.merchant.id, 5n * SOVR, await authorize(s, h.treasury, 5n * SOVR)))
      ).json()) as P;
      expect(p.status).toBe('submitted');
      // Before the hub's transaction is mined, the person spends everything elsewhere (a relayed
      // authorization of their own, with a larger tip: it goes first in the block).
      const away = await authorize(s, bed.chain.accounts[18]!.address, 5n * SOVR);
      await relayAuthorization(away);
      await bed.chain.mine(2);

      const failed = await untilStatus(h.t.url, s, p.transactionId, 'failed');
      expect(failed.failureReason).toMatch(/reverted: ERC20: transfer amount exceeds balance/);
      expect((await bed.chain.provider.getTransactionReceipt(p.receipt.transactionHash!))?.status).toBe(0);
      expect(await tokenBalance(h.treasury)).toBe(treasuryBefore);
      const m = await ledgerAccount(h.t.store.db, merchantAccountId(h.merchant.id, 'SOVR'));
      expect([m!.creditsPosted, m!.creditsPending]).toEqual([merchantBefore!.creditsPosted, 0n]);
      const w = await ledgerAccount(h.t.store.db, chainWalletAccountId(s.user.id));
      expect([w!.debitsPosted, w!.debitsPending]).toEqual([0n, 0n]);

      await waitFor(
        async () => feed.updates.some((u) => u.transactionId === p.transactionId && u.status === 'failed'),
        'the failed update',
      );
      expect(feed.updates.filter((u) => u.transactionId === p.transactionId).map((u) => u.status)).toEqual([
        'pending',
        'submitted',
        'failed',
      ]);
      const hook = await waitFor(
        async () => hooks.events.find((e) => e.data.transactionId === p.transactionId),
        'the payment.failed webhook',
      );
      expect(hook.type).toBe('payment.failed');
      expect(hook.data.failureReason).toBe(failed.failureReason);
    } finally {
      feed.socket.disconnect();
      await hooks.close();
    }
  });
});

describe('the SOVR rail under load and across failures (SQLite)', () => {
  const hubs: SovrHub[] = [];
  afterEach(async () => {
    await bed.chain.setAutomine(true);
    for (const h of hubs) await expectLedgerBalanced(h.t.store.db);
    for (const h of hubs.splice(0)) await h.t.stop();
  });

  it('takes 50 payments from several people at once: no nonce collides, all complete, the ledger equals the chain', async () => {
    const h = await startSovrHub('sqlite', { confirmations: 1 });
    hubs.push(h);
    const people: Session[] = [];
    for (let i = 0; i < 5; i++) people.push(await person(h.t.url, 100n * SOVR));
    const startBlock = await bed.chain.provider.getBlockNumber();
    const orders = people.flatMap((s, i) => Array.from({ length: 10 }, (_, j) => ({ s, amount: BigInt(i + 1) * SOVR + BigInt(j) })));
    const signed = await Promise.all(orders.map(async (o) => ({ ...o, auth: await authorize(o.s, h.treasury, o.amount) })));
    const answers = await Promise.all(
      signed.map(async (o) => {
        const res = await pay(h.t.url, o.s, key(), body(h.merchant.id, o.amount, o.auth));
        expect(res.status).toBe(200);
        return { ...o, p: (await res.json()) as P };
      }),
    );
    const finals = await Promise.all(answers.map((a) => untilStatus(h.t.url, a.s, a.p.transactionId, 'completed')));

    const hashes = new Set(finals.map((f) => f.receipt.transactionHash));
    expect(hashes.size).toBe(50);
    const rows = await h.t.store.db.all<{ nonce: number; tx_hash: string }>('SELECT nonce, tx_hash FROM sovr_transactions');
    expect(new Set(rows.map((r) => Number(r.nonce))).size).toBe(50);
    const sent = await transactionsFrom(h.service.address, startBlock);
    expect(sent).toHaveLength(50);
    expect(new Set(sent.map((t) => t.hash))).toEqual(hashes);

    const total = orders.reduce((sum, o) => sum + o.amount, 0n);
    expect(await tokenBalance(h.treasury)).toBe(total);
    const m = await ledgerAccount(h.t.store.db, merchantAccountId(h.merchant.id, 'SOVR'));
    expect(m!.creditsPosted - m!.debitsPosted).toBe(total);
    for (const s of people) {
      const w = await ledgerAccount(h.t.store.db, chainWalletAccountId(s.user.id));
      expect(100n * SOVR - (await tokenBalance(s.wallet.address))).toBe(w!.debitsPosted - w!.creditsPosted);
    }
  });

  it('after a restart with transactions in flight, completes them all with exactly one transaction each', async () => {
    const store = await freshStore('sqlite');
    const first = await startSovrHub('sqlite', { store, keepStore: true, confirmations: 2 });
    const people: Session[] = [];
    for (let i = 0; i < 3; i++) people.push(await person(first.t.url, 20n * SOVR));
    const startBlock = await bed.chain.provider.getBlockNumber();
    await bed.chain.setAutomine(false);
    const paid: { p: P }[] = [];
    for (const s of people) {
      for (let i = 0; i < 2; i++) {
        const p = (await (
          await pay(first.t.url, s, key(), body(first.merchant.id, 2n * SOVR, await authorize(s, first.treasury, 2n * SOVR)))
        ).json()) as P;
        expect(p.status).toBe('submitted');
        paid.push({ p });
      }
    }
    await first.t.stop();
    // While the hub is down the node loses one of them, as if the hub had died between storing
    // the signed transaction and broadcasting it.
    const lost = paid[0]!.p.receipt.transactionHash!;
    expect(await bed.chain.dropTransaction(lost)).toBe(true);

    const second = await startSovrHub('sqlite', {
      store,
      service: first.service,
      treasury: first.treasury,
      confirmations: 2,
      merchant: first.merchant,
    });
    hubs.push(second);
    // Resumed before serving: every one is followed again, the lost one re-broadcast as it was,
    // none signed anew.
    expect(second.rail.watching()).toBe(6);
    expect(await bed.chain.provider.getTransaction(lost)).not.toBeNull();
    await bed.chain.mine(1);
    await bed.chain.setAutomine(true);
    await bed.chain.mine(1);
    // The people's tokens name the first hub's URL as audience: read the outcome from the store.
    for (const { p } of paid) {
      const done = await waitFor(
        () =>
          store.db.get<{ status: string; transaction_hash: string; receipt_token: string | null }>(
            "SELECT status, transaction_hash, receipt_token FROM payments WHERE id = ? AND status = 'completed'",
            [p.transactionId],
          ),
        `payment ${p.transactionId} to complete`,
      );
      expect(done.transaction_hash).toBe(p.receipt.transactionHash);
      expect(done.receipt_token).toBeTruthy();
    }
    expect(second.rail.watching()).toBe(0);
    const sent = await transactionsFrom(first.service.address, startBlock);
    expect(sent.map((t) => t.hash).sort()).toEqual(paid.map(({ p }) => p.receipt.transactionHash).sort());
    expect(new Set(sent.map((t) => t.nonce)).size).toBe(6);
    expect(await tokenBalance(first.treasury)).toBe(12n * SOVR);
  });

  it('resumes payments reserved but never signed: sends each once, or completes with the transaction that used the authorization', async () => {
    const store = await freshStore('sqlite');
    const first = await startSovrHub('sqlite', { store, keepStore: true, confirmations: 1 });
    const [a, b] = [await person(first.t.url, 10n * SOVR), await person(first.t.url, 10n * SOVR)];
    const authB = await authorize(b, first.treasury, 3n * SOVR);
    await bed.chain.setAutomine(false);
    const pA = (await (
      await pay(first.t.url, a, key(), body(first.merchant.id, 2n * SOVR, await authorize(a, first.treasury, 2n * SOVR)))
    ).json()) as P;
    const pB = (await (await pay(first.t.url, b, key(), body(first.merchant.id, 3n * SOVR, authB))).json()) as P;
    await first.t.stop();
    // Back to the state of a hub that died right after the reservations committed: nothing signed,
    // nothing broadcast.
    for (const p of [pA, pB]) expect(await bed.chain.dropTransaction(p.receipt.transactionHash!)).toBe(true);
    const ids = [pA.transactionId, pB.transactionId];
    await store.db.run(
      'UPDATE sovr_transactions SET sender = NULL, nonce = NULL, tx_hash = NULL, raw_tx = NULL WHERE payment_id IN (?, ?)',
      ids,
    );
    await store.db.run(
      "UPDATE payments SET status = 'pending', transaction_hash = NULL, block_explorer_url = NULL WHERE id IN (?, ?)",
      ids,
    );
    // Meanwhile someone else submitted b's authorization, which pays the treasury as signed.
    await bed.chain.setAutomine(true);
    const relayed = await relayAuthorization(authB);
    await relayed.wait();
    const startBlock = await bed.chain.provider.getBlockNumber();

    const second = await startSovrHub('sqlite', {
      store,
      service: first.service,
      treasury: first.treasury,
      confirmations: 1,
      merchant: first.merchant,
    });
    hubs.push(second);
    const completed = (id: string) =>
      waitFor(
        () =>
          store.db.get<{ transaction_hash: string }>("SELECT transaction_hash FROM payments WHERE id = ? AND status = 'completed'", [id]),
        `payment ${id} to complete`,
      );
    const [doneA, doneB] = [await completed(pA.transactionId), await completed(pB.transactionId)];
    const sent = await transactionsFrom(first.service.address, startBlock);
    expect(sent.map((t) => t.hash)).toEqual([doneA.transaction_hash]);
    expect(doneB.transaction_hash).toBe(relayed.hash);
    expect(await tokenBalance(first.treasury)).toBe(5n * SOVR);
  });

  it('when another transaction takes the hub’s nonce: completes with whoever used the authorization, or fails', async () => {
    const h = await startSovrHub('sqlite', { confirmations: 1 });
    hubs.push(h);
    const [a, b] = [await person(h.t.url, 5n * SOVR), await person(h.t.url, 5n * SOVR)];
    const authA = await authorize(a, h.treasury, 2n * SOVR);
    await bed.chain.setAutomine(false);
    const pA = (await (await pay(h.t.url, a, key(), body(h.merchant.id, 2n * SOVR, authA))).json()) as P;
    const pB = (await (
      await pay(h.t.url, b, key(), body(h.merchant.id, 2n * SOVR, await authorize(b, h.treasury, 2n * SOVR)))
    ).json()) as P;
    const nonces = await Promise.all(
      [pA, pB].map(async (p) => (await bed.chain.provider.getTransaction(p.receipt.transactionHash!))!.nonce),
    );
    // The service key sends something else at both nonces (a higher fee replaces the pending ones),
    // and someone relays a's authorization themselves.
    const service = h.service.connect(bed.chain.provider);
    for (const nonce of nonces)
      await service.sendTransaction({
        to: service.address,
        value: 0n,
        nonce,
        gasLimit: 21_000n,
        maxPriorityFeePerGas: 20_000_000_000n,
        maxFeePerGas: 50_000_000_000n,
      });
    const relayed = await relayAuthorization(authA);
    await bed.chain.mine(1);
    for (const p of [pA, pB]) expect(await bed.chain.provider.getTransaction(p.receipt.transactionHash!)).toBeNull();

    const doneA = await untilStatus(h.t.url, a, pA.transactionId, 'completed');
    expect(doneA.receipt.transactionHash).toBe(relayed.hash);
    const failedB = await untilStatus(h.t.url, b, pB.transactionId, 'failed');
    expect(failedB.failureReason).toMatch(/replaced by another with the same nonce; the authorization was not used/);
    expect(await tokenBalance(h.treasury)).toBe(2n * SOVR);
    expect(await tokenBalance(b.wallet.address)).toBe(5n * SOVR);
  });

  it('fails and voids a payment whose broadcast the node refuses, and gives its nonce to the next payment', async () => {
    // A service wallet from an encrypted keystore, with no ether for gas yet.
    const service = Wallet.createRandom();
    const keystoreJson = await encryptKeystoreJson({ address: service.address, privateKey: service.privateKey }, 'correct horse', {
      scrypt: { N: 1 << 10 },
    });
    const h = await startSovrHub('sqlite', { service: service as unknown as Wallet, signer: { keystoreJson, password: 'correct horse' } });
    hubs.push(h);
    expect((await h.rail.ready()).serviceAddress).toBe(service.address);
    const s = await person(h.t.url, 5n * SOVR);
    const refused = (await (
      await pay(h.t.url, s, key(), body(h.merchant.id, 2n * SOVR, await authorize(s, h.treasury, 2n * SOVR)))
    ).json()) as P;
    expect(refused.status).toBe('failed');
    expect(refused.failureReason).toMatch(/the chain node refused the transaction/);
    const w = await ledgerAccount(h.t.store.db, chainWalletAccountId(s.user.id));
    expect([w!.debitsPosted, w!.debitsPending]).toEqual([0n, 0n]);

    await (await bed.chain.accounts[19]!.sendTransaction({ to: service.address, value: 10n ** 18n })).wait();
    const p = (await (await pay(h.t.url, s, key(), body(h.merchant.id, 2n * SOVR, await authorize(s, h.treasury, 2n * SOVR)))).json()) as P;
    const done = await untilStatus(h.t.url, s, p.transactionId, 'completed');
    expect((await bed.chain.provider.getTransaction(done.receipt.transactionHash!))!.nonce).toBe(0);
    expect(await tokenBalance(h.treasury)).toBe(2n * SOVR);
  });

  it('answers 503 chain-unavailable, storing nothing, while the chain node cannot be reached', async () => {
    const h = await startSovrHub('sqlite', { rpcUrl: 'http://127.0.0.1:9' });
    hubs.push(h);
    const s = await signIn(h.t.url, Wallet.createRandom() as unknown as Wallet);
    const before = await rowCounts(h.t.store.db);
    const res = await pay(h.t.url, s, key(), body(h.merchant.id, SOVR, await authorize(s, h.treasury, SOVR)));
    expect(res.status).toBe(503);
    expect(((await res.json()) as Problem).type).toBe('https://tollway.dev/problems/chain-unavailable');
    expect(await rowCounts(h.t.store.db)).toEqual(before);
  });

  it('re-broadcasts a transaction the node dropped, with the same hash, and completes it', async () => {
    const h = await startSovrHub('sqlite', { confirmations: 1 });
    hubs.push(h);
    const s = await person(h.t.url, 5n * SOVR);
    const startBlock = await bed.chain.provider.getBlockNumber();
    await bed.chain.setAutomine(false);
    const p = (await (await pay(h.t.url, s, key(), body(h.merchant.id, 2n * SOVR, await authorize(s, h.treasury, 2n * SOVR)))).json()) as P;
    const hash = p.receipt.transactionHash!;
    expect(await bed.chain.dropTransaction(hash)).toBe(true);
    await waitFor(async () => (await bed.chain.provider.getTransaction(hash)) !== null, 'the watcher to re-broadcast the transaction');
    await bed.chain.mine(1);
    const done = await untilStatus(h.t.url, s, p.transactionId, 'completed');
    expect(done.receipt.transactionHash).toBe(hash);
    const sent = await transactionsFrom(h.service.address, startBlock);
    expect(sent.map((t) => t.hash)).toEqual([hash]);
  });

  it('re-broadcasts a transaction a reorganisation took away before its confirmations, and completes it once', async () => {
    const h = await startSovrHub('sqlite', { confirmations: 3 });
    hubs.push(h);
    const s = await person(h.t.url, 5n * SOVR);
    const startBlock = await bed.chain.provider.getBlockNumber();
    const snapshot = (await bed.chain.send('evm_snapshot')) as string;
    const p = (await (await pay(h.t.url, s, key(), body(h.merchant.id, 2n * SOVR, await authorize(s, h.treasury, 2n * SOVR)))).json()) as P;
    const hash = p.receipt.transactionHash!;
    await waitFor(async () => (await bed.chain.provider.getTransactionReceipt(hash)) !== null, 'the transaction to be mined');
    await bed.chain.setAutomine(false);
    await bed.chain.mine(1);
    // The watcher sees it two deep of three (it used to stop reading the receipt until the chain
    // reached the third block, so a reorg to a shorter chain left the transaction lost for good).
    await new Promise((r) => setTimeout(r, 300));
    expect(await bed.chain.send('evm_revert', [snapshot])).toBe(true);
    await bed.chain.setAutomine(false); // the revert restored automine too
    await waitFor(async () => (await bed.chain.provider.getTransaction(hash)) !== null, 'the watcher to re-broadcast the transaction');
    expect((await getPayment<P>(h.t.url, s, p.transactionId)).status).toBe('submitted');
    await bed.chain.mine(3);
    const done = await untilStatus(h.t.url, s, p.transactionId, 'completed');
    expect(done.receipt.transactionHash).toBe(hash);
    expect((await transactionsFrom(h.service.address, startBlock)).map((t) => t.hash)).toEqual([hash]);
    expect(await tokenBalance(h.treasury)).toBe(2n * SOVR);
  });
});
