/**
 * The payment state machine for rails that work outside the hub (on-chain, Lightning):
 * pending → submitted → completed | failed, crash recovery and reservation expiry. The rail here
 * is a scripted test double of the Rail interface: the state machine is what is under test, and
 * the real external rails (issue 5) plug into the same interface.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ProblemError } from '../../shared/problem.js';
import type { AccountDirectory } from '../../server/core/accounts.js';
import type { Rail, RailOutcome } from '../../server/rails/types.js';
import { balances, createMerchant, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced, rowCounts } from '../helpers/invariant.js';
import { ENGINES, freshStore } from '../helpers/stores.js';

interface Script {
  execute: (id: string) => Promise<RailOutcome>;
  resume: (id: string) => Promise<RailOutcome>;
  executed: string[];
}

function scriptedRail(accounts: AccountDirectory, script: Script): Rail {
  return {
    name: 'lightning',
    settlement: 'external',
    async resolvePayee(tx, payTo, asset) {
      const m = await tx.get<{ id: string }>('SELECT id FROM merchants WHERE id = ?', [payTo]);
      if (!m) throw new ProblemError('unknown-merchant');
      return { creditAccountId: await accounts.merchant(tx, m.id, asset), merchantId: m.id };
    },
    async execute(p) {
      script.executed.push(p.id);
      return script.execute(p.id);
    },
    resume: (p) => script.resume(p.id),
    info: async () => ({ name: 'lightning', assets: ['BTC'] }),
  };
}

async function waitFor<T>(f: () => Promise<T | undefined>, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

type P = { transactionId: string; status: string; failureReason: string | null; receipt: { token?: string; transactionHash?: string } };

describe.each(ENGINES)('external-rail state machine on %s', (engine) => {
  let t: TestHub;
  let s: Session;
  let merchant: string;
  let k = 0;
  const script: Script = {
    execute: async () => ({ status: 'submitted', transactionHash: '0xabc' }),
    resume: async () => ({ status: 'completed' }),
    executed: [],
  };
  const body = (amount = '100') => ({ rail: 'lightning', payTo: merchant, amount, asset: 'BTC' });
  const key = () => `sm-${engine}-${++k}`;
  const _getPayment = async (id: string) =>
    (await (await fetch(`${t.url}/payments/${id}`, { headers: { authorization: `Bearer ${s.accessToken}` } })).json()) as P;

  beforeAll(async () => {
    t = await startTestHub(engine, { rails: ({ accounts }) => ({ lightning: scriptedRail(accounts, script) }), sweepIntervalMs: 50 });
    s = await signIn(t.url);
    merchant = (await createMerchant(t.url)).merchant.id;
    await fund(t.url, s, '10000', 'BTC');
  });
  afterEach(async () => expectLedgerBalanced(t.store.db));
  afterAll(async () => t?.stop());

  it('reserves on submit, posts on confirmation, and issues the receipt then', async () => {
    script.execute = async () => ({ status: 'submitted', transactionHash: '0xfeed', blockExplorerUrl: 'http://explorer.local/tx/0xfeed' });
    const before = await balances(t.url, s);
    const p = (await (await pay(t.url, s, key(), body('300'))).json()) as P;
    expect(p.status).toBe('submitted');
    expect(p.receipt).toEqual({ transactionHash: '0xfeed', blockExplorerUrl: 'http://explorer.local/tx/0xfeed' });
    const held = await balances(t.url, s);
    expect(BigInt(held.BTC!.pending)).toBe(300n);
    expect(BigInt(held.BTC!.available)).toBe(BigInt(before.BTC!.available) - 300n);
    expect(held.BTC!.posted).toBe(before.BTC!.posted);

    const done = await t.hub.payments.applyOutcome(p.transactionId, { status: 'completed' });
    expect(done.status).toBe('completed');
    expect(done.receipt.token).toBeTruthy();
    expect(done.receipt.transactionHash).toBe('0xfeed');
    const after = await balances(t.url, s);
    expect(after.BTC!.pending).toBe('0');
    expect(BigInt(after.BTC!.posted)).toBe(BigInt(before.BTC!.posted) - 300n);

    // A late or repeated confirmation changes nothing.
    const again = await t.hub.payments.applyOutcome(p.transactionId, { status: 'failed', reason: 'late revert' });
    expect(again.status).toBe('completed');
    const events = await t.store.db.all<{ type: string }>('SELECT type FROM outbox WHERE payment_id = ? ORDER BY seq', [p.transactionId]);
    expect(events.map((e) => e.type)).toEqual(['payment.created', 'payment.submitted', 'payment.completed']);
  });

  it('releases the funds when the rail fails or throws', async () => {
    const before = await balances(t.url, s);
    script.execute = async () => ({ status: 'failed', reason: 'no route' });
    const failed = (await (await pay(t.url, s, key(), body())).json()) as P;
    expect(failed).toMatchObject({ status: 'failed', failureReason: 'no route' });
    script.execute = async () => {
      throw new Error('node unreachable');
    };
    const thrown = (await (await pay(t.url, s, key(), body())).json()) as P;
    expect(thrown.status).toBe('failed');
    expect(thrown.failureReason).toContain('node unreachable');
    expect(await balances(t.url, s)).toEqual(before);
  });

  it('answers 409 while the first request with a key is still at the rail, then replays its answer', async () => {
    let release: ((o: RailOutcome) => void) | undefined;
    script.execute = () => new Promise((r) => (release = r));
    const k1 = key();
    const first = pay(t.url, s, k1, body());
    await waitFor(async () => (release ? true : undefined), 'the rail to be called');
    const before = await rowCounts(t.store.db);
    const second = await pay(t.url, s, k1, body());
    expect(second.status).toBe(409);
    expect(await rowCounts(t.store.db)).toEqual(before);
    release!({ status: 'submitted', transactionHash: '0x1' });
    const p = (await (await first).json()) as P;
    const replay = await pay(t.url, s, k1, body());
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(((await replay.json()) as P).transactionId).toBe(p.transactionId);
    await t.hub.payments.applyOutcome(p.transactionId, { status: 'completed' });
  });

  it('fails a payment whose reservation lapses, and a confirmation after that cannot revive it', async () => {
    const clockHub = await startTestHub(engine, {
      rails: ({ accounts }) => ({
        lightning: scriptedRail(accounts, { ...script, execute: async () => ({ status: 'submitted' }), executed: [] }),
      }),
      env: { TOLLWAY_PAYMENT_TIMEOUT: '1' },
      sweepIntervalMs: 30,
    });
    try {
      const u = await signIn(clockHub.url);
      const m = (await createMerchant(clockHub.url)).merchant.id;
      await fund(clockHub.url, u, '500', 'BTC');
      const p = (await (await pay(clockHub.url, u, 'lapse', { rail: 'lightning', payTo: m, amount: '200', asset: 'BTC' })).json()) as P;
      expect(p.status).toBe('submitted');
      const failed = await waitFor(async () => {
        const r = (await (
          await fetch(`${clockHub.url}/payments/${p.transactionId}`, { headers: { authorization: `Bearer ${u.accessToken}` } })
        ).json()) as P;
        return r.status === 'failed' ? r : undefined;
      }, 'the sweeper to fail the payment');
      expect(failed.failureReason).toMatch(/expired/);
      const late = await clockHub.hub.payments.applyOutcome(p.transactionId, { status: 'completed' });
      expect(late.status).toBe('failed');
      const b = await balances(clockHub.url, u);
      expect(b.BTC).toMatchObject({ posted: '500', pending: '0', available: '500' });
      await expectLedgerBalanced(clockHub.store.db);
    } finally {
      await clockHub.stop();
    }
  });

  it('after a restart, asks the rail what happened to every unfinished payment instead of sending again', async () => {
    const store = await freshStore(engine);
    const calls: Script = {
      execute: async () => ({ status: 'submitted', transactionHash: '0xdead' }),
      resume: async () => ({ status: 'completed' }),
      executed: [],
    };
    const first = await startTestHub(engine, {
      store,
      keepStore: true,
      rails: ({ accounts }) => ({ lightning: scriptedRail(accounts, calls) }),
    });
    const u = await signIn(first.url);
    const m = (await createMerchant(first.url)).merchant.id;
    await fund(first.url, u, '1000', 'BTC');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push(
        ((await (await pay(first.url, u, `r${i}`, { rail: 'lightning', payTo: m, amount: '100', asset: 'BTC' })).json()) as P)
          .transactionId,
      );
    await first.hub.close();

    const resumed: string[] = [];
    calls.resume = async (id) => {
      resumed.push(id);
      return id === ids[1] ? { status: 'failed', reason: 'reverted' } : { status: 'completed' };
    };
    const second = await startTestHub(engine, { store, rails: ({ accounts }) => ({ lightning: scriptedRail(accounts, calls) }) });
    try {
      expect(resumed.sort()).toEqual([...ids].sort());
      expect(calls.executed).toHaveLength(3); // nothing was sent a second time
      const rows = await store.db.all<{ id: string; status: string }>('SELECT id, status FROM payments ORDER BY id');
      expect(Object.fromEntries(rows.map((r) => [r.id, r.status]))).toEqual({
        [ids[0]!]: 'completed',
        [ids[1]!]: 'failed',
        [ids[2]!]: 'completed',
      });
      await expectLedgerBalanced(store.db);
    } finally {
      await second.stop();
    }
  });
});
