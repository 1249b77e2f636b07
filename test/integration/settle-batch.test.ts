/**
 * Internal-rail payments that arrive together: on PostgreSQL they settle many to a transaction
 * (server/payments/settle-batch.ts); on SQLite one by one. Either way every payment lands exactly
 * once with its key, transfer and event, refusals write nothing, and a repeated key is one payment.
 * On PostgreSQL the rows committed together share a transaction id (xmin), which shows that the
 * batch, not the one-payment path, settled them.
 */
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { balances, createMerchant, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced, rowCounts } from '../helpers/invariant.js';
import { ENGINES, freshStore, type TestStore } from '../helpers/stores.js';
import { createAccountDirectory } from '../../server/core/accounts.js';
import { claimKey, fingerprint, keyScope } from '../../server/core/idempotency.js';
import { createLedger } from '../../server/ledger/ledger.js';
import { toPayment, type PaymentRow } from '../../server/payments/resource.js';
import { createSettleBatch, type SettleMember } from '../../server/payments/settle-batch.js';
import { createInternalRail } from '../../server/rails/internal/index.js';
import type { Db, Queryable } from '../../server/store/types.js';

type Paid = { transactionId: string; status: string; type?: string };

/** How many transactions committed these payments (PostgreSQL), or their count (SQLite, which has no xmin). */
async function transactionsOf(t: TestHub, ids: string[]): Promise<number> {
  if (t.store.db.dialect !== 'postgres') return ids.length;
  const r = await t.store.db.get<{ n: number | string }>('SELECT count(DISTINCT xmin::text) AS n FROM payments WHERE id = ANY(?::text[])', [
    ids,
  ]);
  return Number(r?.n);
}

/** Each user's events are numbered 1, 2, 3, … with no gap and no repeat. */
async function expectSeqsGapFree(db: Db): Promise<void> {
  const rows = await db.all<{ user_id: string; n: number | string; lo: number | string; hi: number | string; last: number | string }>(
    `SELECT o.user_id, count(*) AS n, min(o.seq) AS lo, max(o.seq) AS hi, u.last_seq AS last
       FROM outbox o JOIN users u ON u.id = o.user_id GROUP BY o.user_id, u.last_seq`,
  );
  for (const r of rows) {
    expect(Number(r.lo)).toBe(1);
    expect(Number(r.hi)).toBe(Number(r.n));
    expect(Number(r.last)).toBe(Number(r.n));
  }
}

describe.each(ENGINES)('payments that arrive together on %s', (engine) => {
  let t: TestHub;
  let payers: Session[];
  let hot: string;
  let n = 0;
  const key = () => `batch-${engine}-${++n}`;
  const body = (amount: string, payTo = hot) => ({ rail: 'internal', payTo, amount, asset: 'SOVR' });

  beforeAll(async () => {
    t = await startTestHub(engine);
    payers = [];
    for (let i = 0; i < 8; i++) {
      const s = await signIn(t.url);
      await fund(t.url, s, '1000000');
      payers.push(s);
    }
    hot = (await createMerchant(t.url, 'Hot shop')).merchant.id;
  });
  afterEach(async () => {
    await expectLedgerBalanced(t.store.db);
    await expectSeqsGapFree(t.store.db);
  });
  afterAll(async () => t?.stop());

  it('settles 200 concurrent payments to one hot merchant, each exactly once', async () => {
    const before = await rowCounts(t.store.db);
    const merchantBefore = await t.store.db.get<{ c: string }>('SELECT credits_posted AS c FROM ledger_accounts WHERE id = ?', [
      `merchant:${hot}:SOVR`,
    ]);
    const keys = Array.from({ length: 200 }, key);
    const res = await Promise.all(keys.map((k, i) => pay(t.url, payers[i % payers.length]!, k, body('7'))));
    expect(res.map((r) => r.status)).toEqual(keys.map(() => 200));
    const paid = (await Promise.all(res.map((r) => r.json()))) as Paid[];
    expect(paid.every((p) => p.status === 'completed')).toBe(true);
    const ids = paid.map((p) => p.transactionId);
    expect(new Set(ids).size).toBe(200);

    const after = await rowCounts(t.store.db);
    for (const table of ['payments', 'idempotency_keys', 'outbox', 'ledger_transfers'] as const)
      expect(after[table] - before[table]).toBe(200);
    const merchantAfter = await t.store.db.get<{ c: string }>('SELECT credits_posted AS c FROM ledger_accounts WHERE id = ?', [
      `merchant:${hot}:SOVR`,
    ]);
    expect(BigInt(merchantAfter!.c) - BigInt(merchantBefore?.c ?? '0')).toBe(1400n);
    // A retry of each is a replay of the same payment.
    const again = (await (await pay(t.url, payers[0]!, keys[0]!, body('7'))).json()) as Paid;
    expect(again.transactionId).toBe(ids[0]);
    if (engine === 'postgres') expect(await transactionsOf(t, ids)).toBeLessThan(200);
  });

  it('refuses the one member that cannot pay and settles the others', async () => {
    const poor = await signIn(t.url);
    await fund(t.url, poor, '5');
    const before = await rowCounts(t.store.db);
    const poorKey = key();
    const keys = Array.from({ length: 40 }, key);
    const [refused, ...res] = await Promise.all([
      pay(t.url, poor, poorKey, body('10')),
      ...keys.map((k, i) => pay(t.url, payers[i % payers.length]!, k, body('3'))),
    ]);
    expect(refused!.status).toBe(400);
    expect(((await refused!.json()) as Paid).type).toBe('https://tollway.dev/problems/insufficient-funds');
    expect(res.map((r) => r.status)).toEqual(keys.map(() => 200));
    const after = await rowCounts(t.store.db);
    expect(after.payments - before.payments).toBe(40);
    expect(after.idempotency_keys - before.idempotency_keys).toBe(40);
    expect(after.ledger_transfers - before.ledger_transfers).toBe(40);
    expect(await balances(t.url, poor)).toMatchObject({ SOVR: { posted: '5', available: '5' } });
    // The key was not used up: with the money there, the same key pays.
    await fund(t.url, poor, '5');
    expect((await pay(t.url, poor, poorKey, body('10'))).status).toBe(200);
  });

  it('refuses two payments at once from a payer who has no account yet, and creates none', async () => {
    const fresh = await signIn(t.url);
    const before = await rowCounts(t.store.db);
    const res = await Promise.all([pay(t.url, fresh, key(), body('1')), pay(t.url, fresh, key(), body('1'))]);
    expect(res.map((r) => r.status)).toEqual([400, 400]);
    expect(await rowCounts(t.store.db)).toEqual(before);
    // Nothing remembers the account that was never committed: once funded, the payer pays.
    await fund(t.url, fresh, '2');
    const after = await Promise.all([pay(t.url, fresh, key(), body('1')), pay(t.url, fresh, key(), body('1'))]);
    expect(after.map((r) => r.status)).toEqual([200, 200]);
  });

  it('makes one payment of a key sent twice at once, and answers both with it', async () => {
    const before = await rowCounts(t.store.db);
    const twice = key();
    const others = Array.from({ length: 20 }, key);
    const res = await Promise.all([
      pay(t.url, payers[0]!, twice, body('11')),
      ...others.map((k, i) => pay(t.url, payers[i % payers.length]!, k, body('2'))),
      pay(t.url, payers[0]!, twice, body('11')),
    ]);
    const first = res[0]!;
    const second = res[res.length - 1]!;
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    const a = (await first.json()) as Paid;
    const b = (await second.json()) as Paid;
    expect(b).toEqual(a);
    expect([first, second].filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(1);
    const after = await rowCounts(t.store.db);
    expect(after.payments - before.payments).toBe(21);
    expect(after.ledger_transfers - before.ledger_transfers).toBe(21);
  });

  it('answers 422 to the same key with another body in the same batch, and pays once', async () => {
    const before = await rowCounts(t.store.db);
    const k = key();
    const res = await Promise.all([pay(t.url, payers[1]!, k, body('4')), pay(t.url, payers[1]!, k, body('5'))]);
    expect(res.map((r) => r.status).sort()).toEqual([200, 422]);
    const after = await rowCounts(t.store.db);
    expect(after.payments - before.payments).toBe(1);
  });

  it('pays an unknown merchant nothing and settles the others beside it', async () => {
    const before = await rowCounts(t.store.db);
    const res = await Promise.all([
      pay(t.url, payers[2]!, key(), body('1', 'mch_doesnotexist')),
      ...Array.from({ length: 10 }, (_, i) => pay(t.url, payers[i % payers.length]!, key(), body('1'))),
    ]);
    expect(res[0]!.status).toBe(400);
    expect(((await res[0]!.json()) as Paid).type).toBe('https://tollway.dev/problems/unknown-merchant');
    expect(res.slice(1).map((r) => r.status)).toEqual(Array(10).fill(200));
    expect((await rowCounts(t.store.db)).payments - before.payments).toBe(10);
  });

  it('property: any mix of payers, amounts and repeated keys pays each key at most once and moves exactly what was paid', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ payer: fc.nat(3), amount: fc.integer({ min: 1, max: 400 }), key: fc.nat(12) }), {
          minLength: 1,
          maxLength: 30,
        }),
        fc.array(fc.integer({ min: 0, max: 1500 }), { minLength: 4, maxLength: 4 }),
        async (requests, funds) => {
          const round = ++n;
          const who: Session[] = [];
          for (const f of funds) {
            const s = await signIn(t.url);
            if (f > 0) await fund(t.url, s, String(f));
            who.push(s);
          }
          const before = await rowCounts(t.store.db);
          const res = await Promise.all(requests.map((r) => pay(t.url, who[r.payer]!, `p-${round}-${r.key}`, body(String(r.amount)))));
          const out = await Promise.all(res.map(async (x) => ({ status: x.status, body: (await x.json()) as Paid })));
          // Per payer and key: the payment it made, if any (a key is scoped to its payer).
          const made = new Map<string, { id: string; amount: number }>();
          out.forEach((o, i) => {
            const r = requests[i]!;
            expect([200, 400, 409, 422]).toContain(o.status);
            if (o.status !== 200) return;
            const k = `${r.payer}/${r.key}`;
            const seen = made.get(k);
            if (seen) expect(o.body.transactionId).toBe(seen.id);
            else made.set(k, { id: o.body.transactionId, amount: r.amount });
          });
          const after = await rowCounts(t.store.db);
          expect(after.payments - before.payments).toBe(made.size);
          expect(after.ledger_transfers - before.ledger_transfers).toBe(made.size);
          expect(after.outbox - before.outbox).toBe(made.size);
          for (let p = 0; p < who.length; p++) {
            const spent = [...made].filter(([k]) => k.startsWith(`${p}/`)).reduce((s, [, v]) => s + v.amount, 0);
            const b = await balances(t.url, who[p]!);
            expect(BigInt(b.SOVR?.posted ?? '0')).toBe(BigInt(funds[p]! - spent));
          }
        },
      ),
      { numRuns: 8 },
    );
  }, 120_000);
});

/** A store whose batch statement fails once, for a batch of several: its payments must still land, one by one. */
function failFirstBatch(store: TestStore): { store: TestStore; failed: () => number } {
  let failed = 0;
  const wrapTx = (tx: Queryable): Queryable => ({
    dialect: tx.dialect,
    all: async (sql, params) => {
      // The second array is the payments' ids.
      const ids = (params?.[1] ?? []) as unknown[];
      if (failed === 0 && sql.includes('WITH locked AS MATERIALIZED') && ids.length > 1) {
        failed = ids.length;
        throw new Error('injected: the batch statement failed');
      }
      return tx.all(sql, params);
    },
    get: (sql, params) => tx.get(sql, params),
    run: (sql, params) => tx.run(sql, params),
  });
  const db: Db = { ...store.db, transaction: (fn) => store.db.transaction((tx) => fn(wrapTx(tx))) };
  return { store: { ...store, db }, failed: () => failed };
}

describe('a PostgreSQL batch that fails', () => {
  it('settles every member on its own instead, each exactly once', async () => {
    const wrapped = failFirstBatch(await freshStore('postgres'));
    const t = await startTestHub('postgres', { store: wrapped.store });
    try {
      const payers: Session[] = [];
      for (let i = 0; i < 4; i++) {
        const s = await signIn(t.url);
        await fund(t.url, s, '1000');
        payers.push(s);
      }
      const m = (await createMerchant(t.url)).merchant.id;
      const before = await rowCounts(t.store.db);
      const res = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          pay(t.url, payers[i % 4]!, `fail-${i}`, { rail: 'internal', payTo: m, amount: '5', asset: 'SOVR' }),
        ),
      );
      expect(res.map((r) => r.status)).toEqual(Array(30).fill(200));
      expect(wrapped.failed()).toBeGreaterThan(1);
      const after = await rowCounts(t.store.db);
      expect(after.payments - before.payments).toBe(30);
      expect(after.idempotency_keys - before.idempotency_keys).toBe(30);
      expect(after.outbox - before.outbox).toBe(30);
      await expectLedgerBalanced(t.store.db);
      await expectSeqsGapFree(t.store.db);
    } finally {
      await t.stop();
    }
  });
});

/**
 * The batch itself, driven directly so that what forms one batch is certain: members submitted in
 * one turn of the event loop are one batch. Users, money and merchants come from a real hub.
 */
describe('a settle batch on PostgreSQL, driven directly', () => {
  let t: TestHub;
  let rich: Session;
  let poor: Session;
  let merchant: string;
  let n = 0;
  const clock = { now: () => Date.now() };
  const ledger = createLedger({ clock });
  const accounts = createAccountDirectory(ledger);
  const rail = createInternalRail({ accounts });

  beforeAll(async () => {
    t = await startTestHub('postgres');
    rich = await signIn(t.url);
    await fund(t.url, rich, '1000');
    poor = await signIn(t.url);
    await fund(t.url, poor, '3');
    merchant = (await createMerchant(t.url)).merchant.id;
  });
  afterEach(async () => {
    await expectLedgerBalanced(t.store.db);
    await expectSeqsGapFree(t.store.db);
  });
  afterAll(async () => t?.stop());

  /** A member as the payments service builds one; `alone` claims its key the one-payment way and reports what it found. */
  function member(s: Session, amount: string, key = `direct-${++n}`) {
    const now = Date.now();
    const id = `pay_direct${String(++n).padStart(7, '0')}`;
    const row: PaymentRow = {
      id,
      user_id: s.user.id,
      merchant_id: merchant,
      rail: 'internal',
      pay_to: merchant,
      amount,
      asset: 'SOVR',
      status: 'completed',
      transfer_id: id,
      resource_url: null,
      resource_method: null,
      resource_body_hash: null,
      bind: null,
      description: null,
      failure_reason: null,
      receipt_token: 'test-receipt',
      transaction_hash: null,
      block_explorer_url: null,
      preimage: null,
      refunded_amount: '0',
      challenge_id: null,
      created_at: now,
      updated_at: now,
    };
    const payment = toPayment(row);
    const m: SettleMember & { aloneCalls: number } = {
      scope: keyScope('payment', s.user.id),
      key,
      fingerprint: fingerprint({ amount }),
      row,
      payment,
      paymentJson: JSON.stringify(payment),
      rail,
      aloneCalls: 0,
      async alone() {
        m.aloneCalls++;
        const claim = await t.store.db.transaction((tx) =>
          claimKey(tx, {
            scope: m.scope,
            key: m.key,
            fingerprint: m.fingerprint,
            resourceId: id,
            now,
            response: { status: 200, body: payment },
          }),
        );
        // Claimed: not stored by the batch (the test's one-payment stand-in stores nothing more, and gives the key back).
        if (claim.claimed) {
          await t.store.db.run('DELETE FROM idempotency_keys WHERE scope = ? AND key = ?', [m.scope, m.key]);
          return { status: 0, body: 'claimed alone' };
        }
        return claim.replay;
      },
    };
    return m;
  }

  it('settles the members of one turn in one transaction; a repeated key replays the first one’s answer after it', async () => {
    const commits: number[] = [];
    const batch = createSettleBatch({ db: t.store.db, ledger, accounts, onCommit: (k) => commits.push(k) });
    const first = member(rich, '5');
    const repeat = member(rich, '5', first.key);
    const others = [member(rich, '1'), member(rich, '2')];
    const answers = await Promise.all([first, ...others, repeat].map((m) => batch.settle(m)));
    expect(commits).toEqual([3]);
    expect(answers.slice(0, 3)).toEqual([null, null, null]);
    expect(repeat.aloneCalls).toBe(1);
    expect(answers[3]).toEqual({ status: 200, body: first.payment });
    const stored = await t.store.db.all<{ id: string }>('SELECT id FROM payments WHERE id = ANY(?::text[])', [
      [first, repeat, ...others].map((m) => m.row.id),
    ]);
    expect(stored.map((r) => r.id).sort()).toEqual([first, ...others].map((m) => m.row.id).sort());
    expect(
      await transactionsOf(
        t,
        stored.map((r) => r.id),
      ),
    ).toBe(1);
  });

  it('leaves out a member the ledger refuses, writing nothing of it, and settles the rest together', async () => {
    const commits: number[] = [];
    const batch = createSettleBatch({ db: t.store.db, ledger, accounts, onCommit: (k) => commits.push(k) });
    const before = await rowCounts(t.store.db);
    const broke = member(poor, '4');
    const fine = [member(rich, '1'), member(rich, '1'), member(rich, '1')];
    const answers = await Promise.all([broke, ...fine].map((m) => batch.settle(m)));
    expect(commits).toEqual([3]);
    expect(answers[0]).toEqual({ status: 0, body: 'claimed alone' });
    expect(answers.slice(1)).toEqual([null, null, null]);
    const after = await rowCounts(t.store.db);
    expect(after.payments - before.payments).toBe(3);
    expect(after.ledger_transfers - before.ledger_transfers).toBe(3);
    expect(after.idempotency_keys - before.idempotency_keys).toBe(3);
    expect(await balances(t.url, poor)).toMatchObject({ SOVR: { posted: '3' } });
  });

  it('sends every member on its own when the batch transaction fails', async () => {
    const commits: number[] = [];
    const broken: Db = {
      ...t.store.db,
      transaction: () => Promise.reject(new Error('injected: connection lost')),
    };
    const batch = createSettleBatch({ db: broken, ledger, accounts, onCommit: (k) => commits.push(k) });
    const ms = [member(rich, '1'), member(rich, '1')];
    const answers = await Promise.all(ms.map((m) => batch.settle(m)));
    expect(commits).toEqual([]);
    expect(ms.map((m) => m.aloneCalls)).toEqual([1, 1]);
    expect(answers).toEqual([
      { status: 0, body: 'claimed alone' },
      { status: 0, body: 'claimed alone' },
    ]);
  });

  it('puts at most maxSize members in a batch and runs the rest in the next', async () => {
    const commits: number[] = [];
    const batch = createSettleBatch({ db: t.store.db, ledger, accounts, maxSize: 4, maxInFlight: 1, onCommit: (k) => commits.push(k) });
    const ms = Array.from({ length: 10 }, () => member(rich, '1'));
    expect(await Promise.all(ms.map((m) => batch.settle(m)))).toEqual(Array(10).fill(null));
    expect(commits).toEqual([4, 4, 2]);
  });
});
