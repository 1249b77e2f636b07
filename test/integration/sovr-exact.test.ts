/**
 * Paying plain x402 merchants (`exact` entries) from the person's own wallet through the hub, on
 * a real local chain with a real SOVR contract, through real HTTP and sockets: the hub checks and
 * reserves but does not submit; the merchant's facilitator (here the hub's own, or a relayer)
 * settles; the hub completes the payment with that transaction, or fails it when the
 * authorization expires unused or is cancelled. After every scenario the ledger must balance.
 */
import { Wallet } from 'ethers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signCancelAuthorization, sovrDomain } from '../../contracts/eip712.js';
import { merchantAccountId } from '../../server/core/accounts.js';
import { chainWalletAccountId, EXACT_REASONS, x402PayeesAccountId } from '../../server/rails/sovr/index.js';
import { createMerchant, pay } from '../helpers/hub.js';
import { expectLedgerBalanced, rowCounts } from '../helpers/invariant.js';
import {
  getPayment as getPaymentOf,
  ledgerAccount,
  liveFeed,
  payloadOf,
  SOVR,
  untilPaymentStatus,
  useSovrChain,
  waitFor,
  type SovrHub,
} from '../helpers/sovr.js';
import { ENGINES, freshStore, type Engine, type TestStore } from '../helpers/stores.js';

type P = {
  transactionId: string;
  status: string;
  payTo: string;
  failureReason: string | null;
  receipt: { token?: string; transactionHash?: string; blockExplorerUrl?: string };
};
type Problem = { type: string; status: number; reason?: string; detail?: string };

const bed = useSovrChain();
const { person, authorize, requirementFor, relay, relayAuthorization } = bed;

const startSovrHub = (
  engine: Engine,
  opts: { store?: TestStore; keepStore?: boolean; service?: Wallet; treasury?: string; minValiditySeconds?: number } = {},
): Promise<SovrHub> =>
  bed.startSovrHub(engine, {
    ...opts,
    options: opts.minValiditySeconds !== undefined ? { minValiditySeconds: opts.minValiditySeconds } : {},
  });

const exactBody = (payTo: string, amount: bigint, authorization: unknown, requirement: unknown = requirementFor(payTo, amount)) => ({
  rail: 'sovr',
  payTo,
  amount: amount.toString(),
  asset: 'SOVR',
  resource: { url: 'https://api.example/quote', method: 'GET' },
  requirement,
  authorization,
});

let keys = 0;
const key = () => `exact-${process.pid}-${++keys}`;

const getPayment = getPaymentOf<P>;
const untilStatus = untilPaymentStatus<P>;

describe.each(ENGINES)('exact payments on %s', (engine) => {
  let h: SovrHub;
  beforeAll(async () => {
    h = await startSovrHub(engine);
  });
  afterEach(async () => {
    await bed.chain.setAutomine(true);
    await expectLedgerBalanced(h.t.store.db);
  });
  afterAll(async () => h?.t.stop());

  it('reserves and answers submitted without sending; completes with the transaction of the merchant’s settlement', async () => {
    const s = await person(h.t.url, 10n * SOVR);
    const feed = await liveFeed(h.t.url, s);
    try {
      const merchant = Wallet.createRandom().address;
      const amount = 3n * SOVR;
      const auth = await authorize(s, merchant, amount);
      const sentBefore = await bed.chain.provider.getTransactionCount(h.service.address, 'pending');
      const k = key();
      const res = await pay(h.t.url, s, k, exactBody(merchant, amount, auth));
      expect(res.status).toBe(200);
      const p = (await res.json()) as P;
      expect([p.status, p.payTo, p.receipt]).toEqual(['submitted', merchant, {}]);
      // Nothing sent by the hub; the amount is held against the wallet.
      expect(await bed.chain.provider.getTransactionCount(h.service.address, 'pending')).toBe(sentBefore);
      const w = await ledgerAccount(h.t.store.db, chainWalletAccountId(s.user.id));
      expect([w!.debitsPending, w!.debitsPosted]).toEqual([amount, 0n]);
      const x = await ledgerAccount(h.t.store.db, x402PayeesAccountId('SOVR'));
      expect(x!.creditsPending >= amount).toBe(true);

      // The merchant's facilitator (here: the hub's own) settles what the extension retried with.
      const settled = await h.rail.facilitator.settle(payloadOf(auth), requirementFor(merchant, amount));
      expect(settled.success).toBe(true);
      const done = await untilStatus(h.t.url, s, p.transactionId, 'completed');
      expect(done.receipt.transactionHash).toBe(settled.transaction);
      expect(done.receipt.token).toBeTruthy();

      expect(await bed.sovr.contract.balanceOf(merchant)).toBe(amount);
      expect(await bed.sovr.contract.balanceOf(s.wallet.address)).toBe(7n * SOVR);
      const w2 = await ledgerAccount(h.t.store.db, chainWalletAccountId(s.user.id));
      expect([w2!.debitsPending, w2!.debitsPosted]).toEqual([0n, amount]);
      await waitFor(async () => feed.updates.filter((u) => u.transactionId === p.transactionId).length >= 3, 'three status updates');
      expect(feed.updates.filter((u) => u.transactionId === p.transactionId).map((u) => [u.previousStatus, u.status])).toEqual([
        [null, 'pending'],
        ['pending', 'submitted'],
        ['submitted', 'completed'],
      ]);
      expect(h.rail.watchingExact()).toBe(0);

      // The same key replays the stored answer, though the authorization is spent now.
      const again = await pay(h.t.url, s, k, exactBody(merchant, amount, auth));
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(((await again.json()) as P).transactionId).toBe(p.transactionId);
    } finally {
      feed.socket.disconnect();
    }
  });

  it('never lets two exact payments together overdraw the wallet', async () => {
    const s = await person(h.t.url, 10n * SOVR);
    const merchant = Wallet.createRandom().address;
    const auths = [await authorize(s, merchant, 6n * SOVR), await authorize(s, merchant, 6n * SOVR)];
    const answers = await Promise.all(
      auths.map(async (a) => {
        const res = await pay(h.t.url, s, key(), exactBody(merchant, 6n * SOVR, a));
        return { status: res.status, body: (await res.json()) as P & Problem, auth: a };
      }),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 400]);
    const refused = answers.find((a) => a.status === 400)!;
    expect(refused.body.type).toBe('https://tollway.dev/problems/insufficient-funds');
    const taken = answers.find((a) => a.status === 200)!;
    await (await relayAuthorization(taken.auth)).wait();
    const done = await untilStatus(h.t.url, s, taken.body.transactionId, 'completed');
    expect(await bed.sovr.contract.balanceOf(merchant)).toBe(6n * SOVR);
    expect(done.receipt.transactionHash).toMatch(/^0x[0-9a-f]{64}$/);
  });

  it('refuses an exact payment the hub cannot pay, storing nothing', async () => {
    const s = await person(h.t.url, 5n * SOVR);
    const merchant = Wallet.createRandom().address;
    const good = await authorize(s, merchant, SOVR);
    const before = await rowCounts(h.t.store.db);
    const cases: [string, unknown, number, string, string?][] = [
      ['no requirement', { ...exactBody(merchant, SOVR, good), requirement: undefined }, 400, 'validation-error'],
      [
        'a requirement on another network',
        exactBody(merchant, SOVR, good, { ...requirementFor(merchant, SOVR), network: 'eip155:8453' }),
        400,
        'validation-error',
      ],
      [
        'a requirement for another asset',
        exactBody(merchant, SOVR, good, { ...requirementFor(merchant, SOVR), asset: Wallet.createRandom().address }),
        400,
        'validation-error',
      ],
      [
        'an authorization to the treasury',
        exactBody(merchant, SOVR, await authorize(s, h.treasury, SOVR)),
        400,
        'invalid-authorization',
        'recipient',
      ],
      ['more than the wallet holds', exactBody(merchant, 6n * SOVR, await authorize(s, merchant, 6n * SOVR)), 400, 'insufficient-funds'],
    ];
    for (const [what, body, status, type, reason] of cases) {
      const res = await pay(h.t.url, s, key(), body);
      const problem = (await res.json()) as Problem;
      expect([res.status, problem.type, problem.reason], what).toEqual([status, `https://tollway.dev/problems/${type}`, reason]);
    }
    expect(await rowCounts(h.t.store.db)).toEqual(before);
  });
});

describe('exact payments over time and across restarts (SQLite)', () => {
  const hubs: SovrHub[] = [];
  afterEach(async () => {
    await bed.chain.setAutomine(true);
    for (const h of hubs) await expectLedgerBalanced(h.t.store.db);
    for (const h of hubs.splice(0)) await h.t.stop();
  });

  it('fails and voids an exact payment whose authorization expires unused', async () => {
    const h = await startSovrHub('sqlite', { minValiditySeconds: 5 });
    hubs.push(h);
    const s = await person(h.t.url, 5n * SOVR);
    const merchant = Wallet.createRandom().address;
    const validBefore = BigInt(Math.floor(Date.now() / 1000)) + 30n;
    const p = (await (
      await pay(h.t.url, s, key(), exactBody(merchant, 2n * SOVR, await authorize(s, merchant, 2n * SOVR, { validBefore })))
    ).json()) as P;
    expect(p.status).toBe('submitted');
    // Still open while the chain is short of validBefore; then a block stamped at validBefore.
    await bed.chain.mine(1);
    expect((await getPayment(h.t.url, s, p.transactionId)).status).toBe('submitted');
    const latest = await bed.chain.latestTimestamp();
    await bed.chain.send('evm_setNextBlockTimestamp', [Number(validBefore > latest ? validBefore : latest + 1n)]);
    await bed.chain.mine(1);
    const failed = await untilStatus(h.t.url, s, p.transactionId, 'failed');
    expect(failed.failureReason).toBe('the authorization expired unused');
    const w = await ledgerAccount(h.t.store.db, chainWalletAccountId(s.user.id));
    expect([w!.debitsPending, w!.debitsPosted]).toEqual([0n, 0n]);
    // The wallet's whole balance is free again.
    const next = (await (
      await pay(h.t.url, s, key(), exactBody(merchant, 5n * SOVR, await authorize(s, merchant, 5n * SOVR)))
    ).json()) as P;
    expect(next.status).toBe('submitted');
  });

  it("takes the reference client's window for a merchant with a short timeout, which a hub payment's floor would refuse", async () => {
    const h = await startSovrHub('sqlite');
    hubs.push(h);
    const s = await person(h.t.url, 5n * SOVR);
    const merchant = Wallet.createRandom().address;
    // The expiry test moved the chain's clock ahead of the wall's: the window must fit both.
    const wall = BigInt(Math.floor(Date.now() / 1000));
    const chainNow = await bed.chain.latestTimestamp();
    const now = chainNow > wall ? chainNow : wall;
    // What @x402/evm's client signs for maxTimeoutSeconds 20: validAfter now − 600, validBefore now + 20.
    const auth = await authorize(s, merchant, SOVR, { validAfter: now - 600n, validBefore: now + 20n });
    const res = await pay(h.t.url, s, key(), exactBody(merchant, SOVR, auth, requirementFor(merchant, SOVR, { maxTimeoutSeconds: 20 })));
    const p = (await res.json()) as P;
    expect([res.status, p.status]).toEqual([200, 'submitted']);
    await (await relayAuthorization(auth)).wait();
    await untilStatus(h.t.url, s, p.transactionId, 'completed');
  });

  it('fails an exact payment whose authorization is cancelled', async () => {
    const h = await startSovrHub('sqlite');
    hubs.push(h);
    const s = await person(h.t.url, 5n * SOVR);
    const merchant = Wallet.createRandom().address;
    const auth = await authorize(s, merchant, 2n * SOVR);
    const p = (await (await pay(h.t.url, s, key(), exactBody(merchant, 2n * SOVR, auth))).json()) as P;
    const cancelSig = await signCancelAuthorization(
      s.wallet,
      sovrDomain(bed.chain.chainId, bed.sovr.address),
      s.wallet.address,
      auth.nonce,
    );
    await (await relay('cancelAuthorization(address,bytes32,bytes)', [s.wallet.address, auth.nonce, cancelSig])).wait();
    const failed = await untilStatus(h.t.url, s, p.transactionId, 'failed');
    expect(failed.failureReason).toBe('the authorization was cancelled');
    expect(await bed.sovr.contract.balanceOf(s.wallet.address)).toBe(5n * SOVR);
  });

  it('after a restart, completes an open exact payment whose authorization was used while the hub was down', async () => {
    const store = await freshStore('sqlite');
    const first = await startSovrHub('sqlite', { store, keepStore: true });
    const s = await person(first.t.url, 5n * SOVR);
    const merchant = Wallet.createRandom().address;
    const auth = await authorize(s, merchant, 2n * SOVR);
    const p = (await (await pay(first.t.url, s, key(), exactBody(merchant, 2n * SOVR, auth))).json()) as P;
    expect(p.status).toBe('submitted');
    await first.t.stop();
    // The merchant settles while the hub is down.
    const relayed = await relayAuthorization(auth);
    await relayed.wait();

    const second = await startSovrHub('sqlite', { store, service: first.service, treasury: first.treasury });
    hubs.push(second);
    expect(second.rail.watchingExact()).toBe(1);
    const done = await waitFor(
      () =>
        store.db.get<{ transaction_hash: string }>("SELECT transaction_hash FROM payments WHERE id = ? AND status = 'completed'", [
          p.transactionId,
        ]),
      'the payment to complete',
    );
    expect(done.transaction_hash).toBe(relayed.hash);
    const w = await ledgerAccount(store.db, chainWalletAccountId(s.user.id));
    expect([w!.debitsPending, w!.debitsPosted]).toEqual([0n, 2n * SOVR]);
    expect(second.rail.watchingExact()).toBe(0);
  });

  it('does not let its facilitator send an authorization a hub payment is sending', async () => {
    const h = await startSovrHub('sqlite');
    hubs.push(h);
    const m = await createMerchant(h.t.url);
    const s = await person(h.t.url, 5n * SOVR);
    const auth = await authorize(s, h.treasury, 2n * SOVR);
    await bed.chain.setAutomine(false);
    const p = (await (await pay(h.t.url, s, key(), { ...exactBody(m.merchant.id, 2n * SOVR, auth), requirement: undefined })).json()) as P;
    expect(p.status).toBe('submitted');
    // The chain still calls the nonce unused (the hub's transaction waits in the mempool).
    expect(await bed.sovr.contract.authorizationState(s.wallet.address, auth.nonce)).toBe(false);
    const requirement = requirementFor(h.treasury, 2n * SOVR);
    expect(await h.rail.facilitator.verify(payloadOf(auth), requirement)).toEqual({
      isValid: false,
      invalidReason: EXACT_REASONS.nonceUsed,
      payer: s.wallet.address,
    });
    expect(await h.rail.facilitator.settle(payloadOf(auth), requirement)).toMatchObject({
      success: false,
      errorReason: EXACT_REASONS.nonceUsed,
      transaction: '',
    });
    await bed.chain.mine(1);
    await untilStatus(h.t.url, s, p.transactionId, 'completed');
    const merchantAccount = await ledgerAccount(h.t.store.db, merchantAccountId(m.merchant.id, 'SOVR'));
    expect(merchantAccount!.creditsPosted).toBe(2n * SOVR);
  });
});
