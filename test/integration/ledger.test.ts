/**
 * The ledger against real databases, both engines: every reachable result code, two-phase
 * transfers, expiry, linked chains, idempotency, concurrency; and the invariant after every test.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../server/clock.js';
import { AMOUNT_MAX, createLedger, type AccountInput, type Ledger, type TransferInput } from '../../server/ledger/index.js';
import { migrate } from '../../server/store/migrate.js';
import { MIGRATIONS } from '../../server/store/migrations/index.js';
import type { Db } from '../../server/store/types.js';
import { ENGINES, freshStore, type TestStore } from '../helpers/stores.js';

const user = (id: string, asset = 'SOVR'): AccountInput => ({ id, asset, owner: id, flags: { debitsMustNotExceedCredits: true } });
const plain = (id: string, asset = 'SOVR'): AccountInput => ({ id, asset, owner: 'system' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(ENGINES)('ledger on %s', (engine) => {
  let store: TestStore;
  let db: Db;
  let clock: ReturnType<typeof manualClock>;
  let ledger: Ledger;

  beforeEach(async () => {
    store = await freshStore(engine);
    db = store.db;
    await migrate(db, MIGRATIONS);
    clock = manualClock();
    ledger = createLedger({ clock });
  });

  afterEach(async () => {
    try {
      const report = await ledger.checkInvariant(db);
      expect(report.mismatchedAccounts).toEqual([]);
      expect(report.ok).toBe(true);
    } finally {
      await store.cleanup();
    }
  });

  const accounts = (...a: AccountInput[]) => db.transaction((tx) => ledger.createAccounts(tx, a));
  const transfers = (...t: TransferInput[]) => db.transaction((tx) => ledger.createTransfers(tx, t));
  const one = async (t: TransferInput) => (await transfers(t))[0];
  const account = async (id: string) => (await ledger.lookupAccounts(db, [id]))[0]!;
  const transfer = async (id: string) => (await ledger.lookupTransfers(db, [id]))[0];
  /** [debitsPending, debitsPosted, creditsPending, creditsPosted] */
  const balances = async (id: string) => {
    const a = await account(id);
    return [a.debitsPending, a.debitsPosted, a.creditsPending, a.creditsPosted];
  };
  /** bank (unbounded), alice and bob (may not go negative); alice funded. */
  const setup = async (fundAlice = 100n) => {
    expect(await accounts(plain('bank'), user('alice'), user('bob'))).toEqual(['created', 'created', 'created']);
    if (fundAlice > 0n)
      expect(await one({ id: 'fund-alice', debitAccountId: 'bank', creditAccountId: 'alice', amount: fundAlice })).toBe('created');
  };

  describe('accounts', () => {
    it('creates accounts and answers exists / exists_with_different_* for the same id', async () => {
      expect(await accounts(user('alice'), plain('bank'))).toEqual(['created', 'created']);
      expect(
        await accounts(
          user('alice'),
          { ...user('alice'), asset: 'BTC' },
          { ...user('alice'), owner: 'mallory' },
          { ...user('alice'), flags: {} },
          { id: '', asset: 'SOVR', owner: 'x' },
          { id: 'both', asset: 'SOVR', owner: 'x', flags: { debitsMustNotExceedCredits: true, creditsMustNotExceedDebits: true } },
          plain('carol'),
          plain('carol'),
        ),
      ).toEqual([
        'exists',
        'exists_with_different_asset',
        'exists_with_different_owner',
        'exists_with_different_flags',
        'id_must_not_be_empty',
        'flags_are_mutually_exclusive',
        'created',
        'exists',
      ]);
      const [carol, alice] = await ledger.lookupAccounts(db, ['carol', 'nobody', 'alice']);
      expect(alice).toMatchObject({
        id: 'alice',
        asset: 'SOVR',
        owner: 'alice',
        flags: { debitsMustNotExceedCredits: true, creditsMustNotExceedDebits: false },
        debitsPending: 0n,
        debitsPosted: 0n,
        creditsPending: 0n,
        creditsPosted: 0n,
        createdAt: clock.now(),
      });
      expect(carol!.id).toBe('carol');
      expect(await ledger.lookupAccounts(db, ['both'])).toEqual([]);
    });
  });

  describe('plain transfers', () => {
    it('moves an amount and records the transfer', async () => {
      await setup();
      expect(await one({ id: 't1', debitAccountId: 'alice', creditAccountId: 'bob', amount: 40n, userData: 'pay-1', code: 7 })).toBe(
        'created',
      );
      expect(await balances('alice')).toEqual([0n, 40n, 0n, 100n]);
      expect(await balances('bob')).toEqual([0n, 0n, 0n, 40n]);
      expect(await transfer('t1')).toEqual({
        id: 't1',
        debitAccountId: 'alice',
        creditAccountId: 'bob',
        amount: 40n,
        asset: 'SOVR',
        pendingId: null,
        timeout: 0,
        flags: { pending: false, postPendingTransfer: false, voidPendingTransfer: false, linked: false },
        userData: 'pay-1',
        code: 7,
        state: 'posted',
        createdAt: clock.now(),
        expiresAt: null,
      });
    });

    it('keeps amounts beyond 2^53 exact', async () => {
      await accounts(plain('bank'), plain('whale'));
      const big = 2n ** 200n + 1n;
      expect(await one({ id: 'big', debitAccountId: 'bank', creditAccountId: 'whale', amount: big })).toBe('created');
      expect((await account('whale')).creditsPosted).toBe(big);
      expect((await transfer('big'))!.amount).toBe(big);
      const raw = await db.get<{ amount: unknown }>('SELECT amount FROM ledger_transfers WHERE id = ?', ['big']);
      expect(raw!.amount).toBe(big.toString());
    });

    it('refuses invalid transfers with their codes', async () => {
      await setup();
      await accounts(user('carol', 'BTC'));
      const base = { debitAccountId: 'alice', creditAccountId: 'bob', amount: 1n };
      expect(
        await transfers(
          { ...base, id: '' },
          { ...base, id: 'v1', flags: { pending: true, postPendingTransfer: true } },
          { ...base, id: 'v2', flags: { postPendingTransfer: true, voidPendingTransfer: true } },
          { ...base, id: 'v3', amount: 0n },
          { ...base, id: 'v4', amount: undefined },
          { ...base, id: 'v5', creditAccountId: 'alice' },
          { ...base, id: 'v6', pendingId: 'x' },
          { ...base, id: 'v7', timeout: 10 },
          { ...base, id: 'v8', creditAccountId: 'carol' },
          { ...base, id: 'v9', asset: 'BTC' },
          { ...base, id: 'v10', debitAccountId: 'ghost' },
          { ...base, id: 'v11', creditAccountId: 'ghost' },
          { ...base, id: 'v12', amount: 1000n },
        ),
      ).toEqual([
        'id_must_not_be_empty',
        'flags_are_mutually_exclusive',
        'flags_are_mutually_exclusive',
        'amount_must_not_be_zero',
        'amount_must_not_be_zero',
        'accounts_must_be_different',
        'pending_id_must_be_empty',
        'timeout_reserved_for_pending_transfer',
        'accounts_must_have_the_same_asset',
        'transfer_must_have_the_same_asset_as_accounts',
        'debit_account_not_found',
        'credit_account_not_found',
        'exceeds_credits',
      ]);
      expect(await balances('alice')).toEqual([0n, 0n, 0n, 100n]);
      expect(await balances('bob')).toEqual([0n, 0n, 0n, 0n]);
    });

    it('debits_must_not_exceed_credits counts pending debits; credits_must_not_exceed_debits refuses with exceeds_debits', async () => {
      await setup(100n);
      expect(await one({ id: 'p', debitAccountId: 'alice', creditAccountId: 'bob', amount: 60n, flags: { pending: true } })).toBe(
        'created',
      );
      expect(await one({ id: 'x1', debitAccountId: 'alice', creditAccountId: 'bob', amount: 41n })).toBe('exceeds_credits');
      expect(await one({ id: 'x2', debitAccountId: 'alice', creditAccountId: 'bob', amount: 40n })).toBe('created');
      expect(await balances('alice')).toEqual([60n, 40n, 0n, 100n]);

      await accounts({ id: 'liability', asset: 'SOVR', owner: 'system', flags: { creditsMustNotExceedDebits: true } });
      expect(await one({ id: 'l1', debitAccountId: 'bank', creditAccountId: 'liability', amount: 1n })).toBe('exceeds_debits');
      expect(await one({ id: 'l2', debitAccountId: 'liability', creditAccountId: 'bank', amount: 50n })).toBe('created');
      expect(await one({ id: 'l3', debitAccountId: 'bank', creditAccountId: 'liability', amount: 50n })).toBe('created');
      expect(await one({ id: 'l4', debitAccountId: 'bank', creditAccountId: 'liability', amount: 1n })).toBe('exceeds_debits');
    });

    it('refuses balances past 2^256-1 with overflows_*', async () => {
      await accounts(...['x1', 'x2', 'y1', 'y2', 'p1', 'p2', 'q1', 'q2'].map((id) => plain(id)));
      expect(await one({ id: 'max', debitAccountId: 'x1', creditAccountId: 'y1', amount: AMOUNT_MAX })).toBe('created');
      expect(await one({ id: 'pmax', debitAccountId: 'p1', creditAccountId: 'q1', amount: AMOUNT_MAX, flags: { pending: true } })).toBe(
        'created',
      );
      expect(
        await transfers(
          { id: 'o1', debitAccountId: 'x1', creditAccountId: 'y2', amount: 1n },
          { id: 'o2', debitAccountId: 'x2', creditAccountId: 'y1', amount: 1n },
          { id: 'o3', debitAccountId: 'p1', creditAccountId: 'q2', amount: 1n, flags: { pending: true } },
          { id: 'o4', debitAccountId: 'p2', creditAccountId: 'q1', amount: 1n, flags: { pending: true } },
          { id: 'o5', debitAccountId: 'p1', creditAccountId: 'q2', amount: 1n },
          { id: 'o6', debitAccountId: 'p2', creditAccountId: 'q1', amount: 1n },
        ),
      ).toEqual([
        'overflows_debits_posted',
        'overflows_credits_posted',
        'overflows_debits_pending',
        'overflows_credits_pending',
        'overflows_debits',
        'overflows_credits',
      ]);
      expect((await account('y1')).creditsPosted).toBe(AMOUNT_MAX);
      // Not transient: the ids stay free.
      expect(await transfer('o1')).toBeUndefined();
    });

    it('throws on malformed input before writing anything', async () => {
      await setup();
      await expect(
        transfers(
          { id: 'ok', debitAccountId: 'alice', creditAccountId: 'bob', amount: 1n },
          { id: 'bad', debitAccountId: 'alice', creditAccountId: 'bob', amount: 1 as unknown as bigint },
        ),
      ).rejects.toThrow(TypeError);
      await expect(one({ id: 'neg', debitAccountId: 'alice', creditAccountId: 'bob', amount: -1n })).rejects.toThrow(TypeError);
      expect(await transfer('ok')).toBeUndefined();
    });

    it('commits with the caller: a transaction that throws leaves nothing behind', async () => {
      await setup();
      await expect(
        db.transaction(async (tx) => {
          expect(await ledger.createTransfers(tx, [{ id: 'r1', debitAccountId: 'alice', creditAccountId: 'bob', amount: 5n }])).toEqual([
            'created',
          ]);
          throw new Error('payment row failed');
        }),
      ).rejects.toThrow('payment row failed');
      expect(await transfer('r1')).toBeUndefined();
      expect(await balances('alice')).toEqual([0n, 0n, 0n, 100n]);
    });

    it('applies a batch of 8,000 in one call', async () => {
      const ids = Array.from({ length: 20 }, (_, i) => `u${i}`);
      await accounts(plain('bank'), ...ids.map((id) => user(id)));
      await transfers(...ids.map((id) => ({ id: `f-${id}`, debitAccountId: 'bank', creditAccountId: id, amount: 10n ** 24n })));
      const expected = new Map(ids.map((id) => [id, 10n ** 24n]));
      const batch: TransferInput[] = Array.from({ length: 8000 }, (_, i) => {
        const d = ids[i % 20]!;
        const c = ids[(i * 7 + 3) % 20 === i % 20 ? (i + 1) % 20 : (i * 7 + 3) % 20]!;
        const amount = BigInt(i + 1) * 10n ** 15n;
        expected.set(d, expected.get(d)! - amount);
        expected.set(c, expected.get(c)! + amount);
        return { id: `b-${i}`, debitAccountId: d, creditAccountId: c, amount };
      });
      const results = await transfers(...batch);
      expect(results.every((r) => r === 'created')).toBe(true);
      for (const a of await ledger.lookupAccounts(db, ids)) expect(a.creditsPosted - a.debitsPosted).toBe(expected.get(a.id));
    });
  });

  describe('idempotency', () => {
    it('answers exists for the same transfer and exists_with_different_<field> otherwise, before looking at balances', async () => {
      await setup(10n);
      await accounts(user('carol', 'BTC'));
      const t: TransferInput = { id: 't', debitAccountId: 'alice', creditAccountId: 'bob', amount: 10n, userData: 'u', code: 3 };
      expect(await one(t)).toBe('created');
      // alice has nothing left: the same transfer is still `exists`, not exceeds_credits.
      expect(
        await transfers(
          t,
          { ...t, flags: { pending: true } },
          { ...t, pendingId: 'other' },
          { ...t, timeout: 5 },
          { ...t, debitAccountId: 'bank' },
          { ...t, creditAccountId: 'bank' },
          { ...t, amount: 11n },
          { ...t, userData: 'v' },
          { ...t, code: 4 },
          { ...t, asset: 'BTC' },
        ),
      ).toEqual([
        'exists',
        'exists_with_different_flags',
        'exists_with_different_pending_id',
        'exists_with_different_timeout',
        'exists_with_different_debit_account_id',
        'exists_with_different_credit_account_id',
        'exists_with_different_amount',
        'exists_with_different_user_data',
        'exists_with_different_code',
        'exists_with_different_asset',
      ]);
      expect(await balances('alice')).toEqual([0n, 10n, 0n, 10n]);
    });

    it('sees ids earlier in the same batch, and stored ids mixed with new ones', async () => {
      await setup();
      const t = { id: 'dup', debitAccountId: 'alice', creditAccountId: 'bob', amount: 1n };
      expect(await transfers(t, t, { ...t, amount: 2n })).toEqual(['created', 'exists', 'exists_with_different_amount']);
      expect(await transfers({ ...t, id: 'new1' }, t, { ...t, id: 'new2' })).toEqual(['created', 'exists', 'created']);
      expect(await balances('alice')).toEqual([0n, 3n, 0n, 100n]);
    });

    it('records transient failures: the id stays failed (id_already_failed), even once the cause is gone', async () => {
      await setup(10n);
      expect(await one({ id: 'f1', debitAccountId: 'alice', creditAccountId: 'bob', amount: 20n })).toBe('exceeds_credits');
      expect(await one({ id: 'f2', debitAccountId: 'ghost', creditAccountId: 'bob', amount: 1n })).toBe('debit_account_not_found');
      expect(await one({ id: 'f3', debitAccountId: 'alice', creditAccountId: 'ghost', amount: 1n })).toBe('credit_account_not_found');
      expect(await one({ id: 'f4', pendingId: 'nope', flags: { postPendingTransfer: true } })).toBe('pending_transfer_not_found');
      expect((await transfer('f1'))!.state).toBe('failed');

      await one({ id: 'more', debitAccountId: 'bank', creditAccountId: 'alice', amount: 100n });
      await accounts(user('ghost'));
      await one({ id: 'gfund', debitAccountId: 'bank', creditAccountId: 'ghost', amount: 5n });
      expect(
        await transfers(
          { id: 'f1', debitAccountId: 'alice', creditAccountId: 'bob', amount: 20n },
          { id: 'f2', debitAccountId: 'ghost', creditAccountId: 'bob', amount: 1n },
          { id: 'f3', debitAccountId: 'alice', creditAccountId: 'ghost', amount: 1n },
          { id: 'f4', pendingId: 'nope', flags: { postPendingTransfer: true } },
        ),
      ).toEqual(['id_already_failed', 'id_already_failed', 'id_already_failed', 'id_already_failed']);
      // In one batch too.
      expect(
        await transfers(
          { id: 'f5', debitAccountId: 'alice', creditAccountId: 'bob', amount: 1000n },
          { id: 'f5', debitAccountId: 'alice', creditAccountId: 'bob', amount: 1n },
        ),
      ).toEqual(['exceeds_credits', 'id_already_failed']);
      // A failed transfer is not a pending transfer to post.
      expect(await one({ id: 'f6', pendingId: 'f1', flags: { postPendingTransfer: true } })).toBe('pending_transfer_not_found');
      expect(await balances('alice')).toEqual([0n, 0n, 0n, 110n]);
    });

    it('does not burn the id of a transfer refused for what it is (not transient)', async () => {
      await setup();
      expect(await one({ id: 'z', debitAccountId: 'alice', creditAccountId: 'bob', amount: 0n })).toBe('amount_must_not_be_zero');
      expect(await one({ id: 'z', debitAccountId: 'alice', creditAccountId: 'alice', amount: 1n })).toBe('accounts_must_be_different');
      expect(await one({ id: 'z', debitAccountId: 'alice', creditAccountId: 'bob', amount: 1n })).toBe('created');
    });
  });

  describe('two-phase transfers', () => {
    const reserve = (id: string, amount: bigint, timeout?: number) =>
      one({ id, debitAccountId: 'alice', creditAccountId: 'bob', amount, flags: { pending: true }, ...(timeout ? { timeout } : {}) });
    const post = (id: string, pendingId: string, amount?: bigint) =>
      one({ id, pendingId, flags: { postPendingTransfer: true }, ...(amount !== undefined ? { amount } : {}) });
    const voidIt = (id: string, pendingId: string, amount?: bigint) =>
      one({ id, pendingId, flags: { voidPendingTransfer: true }, ...(amount !== undefined ? { amount } : {}) });

    it('reserves, then posts the whole amount', async () => {
      await setup();
      expect(await reserve('p', 30n)).toBe('created');
      expect(await balances('alice')).toEqual([30n, 0n, 0n, 100n]);
      expect(await balances('bob')).toEqual([0n, 0n, 30n, 0n]);
      expect(await reserve('p2', 71n)).toBe('exceeds_credits');
      expect(await post('post', 'p')).toBe('created');
      expect(await balances('alice')).toEqual([0n, 30n, 0n, 100n]);
      expect(await balances('bob')).toEqual([0n, 0n, 0n, 30n]);
      expect((await transfer('p'))!.state).toBe('posted');
      expect(await transfer('post')).toMatchObject({
        amount: 30n,
        pendingId: 'p',
        debitAccountId: 'alice',
        creditAccountId: 'bob',
        state: 'posted',
      });
    });

    it('posts part of a reservation and releases the rest', async () => {
      await setup();
      await reserve('p', 30n);
      expect(await post('post', 'p', 10n)).toBe('created');
      expect(await balances('alice')).toEqual([0n, 10n, 0n, 100n]);
      expect(await balances('bob')).toEqual([0n, 0n, 0n, 10n]);
      expect((await transfer('post'))!.amount).toBe(10n);
      // The same post again is `exists`; with the full amount it is another request.
      expect(await post('post', 'p', 10n)).toBe('exists');
      expect(await post('post', 'p')).toBe('exists_with_different_amount');
    });

    it('voids the exact amount', async () => {
      await setup();
      await reserve('p', 30n);
      expect(await voidIt('v', 'p', 10n)).toBe('pending_transfer_has_different_amount');
      expect(await post('x', 'p', 31n)).toBe('exceeds_pending_transfer_amount');
      expect(await voidIt('v', 'p', 30n)).toBe('created');
      expect(await balances('alice')).toEqual([0n, 0n, 0n, 100n]);
      expect(await balances('bob')).toEqual([0n, 0n, 0n, 0n]);
      expect((await transfer('p'))!.state).toBe('voided');
      expect(await transfer('v')).toMatchObject({ amount: 30n, state: 'voided' });
      expect(await voidIt('v', 'p')).toBe('exists');
    });

    it('resolves a reservation at most once', async () => {
      await setup();
      await reserve('a', 1n);
      await reserve('b', 1n);
      await reserve('c', 1n);
      await reserve('d', 1n);
      expect(await post('a-post', 'a')).toBe('created');
      expect(await voidIt('a-void', 'a')).toBe('pending_transfer_already_posted');
      expect(await post('a-post2', 'a')).toBe('pending_transfer_already_posted');
      expect(await voidIt('b-void', 'b')).toBe('created');
      expect(await post('b-post', 'b')).toBe('pending_transfer_already_voided');
      expect(await voidIt('b-void2', 'b')).toBe('pending_transfer_already_voided');
      // In one batch as well.
      expect(
        await transfers(
          { id: 'c-post', pendingId: 'c', flags: { postPendingTransfer: true } },
          { id: 'c-void', pendingId: 'c', flags: { voidPendingTransfer: true } },
          { id: 'd-void', pendingId: 'd', flags: { voidPendingTransfer: true } },
          { id: 'd-post', pendingId: 'd', flags: { postPendingTransfer: true } },
        ),
      ).toEqual(['created', 'pending_transfer_already_posted', 'created', 'pending_transfer_already_voided']);
      expect(await balances('alice')).toEqual([0n, 2n, 0n, 100n]);
    });

    it('creates and posts a reservation in the same batch', async () => {
      await setup();
      expect(
        await transfers(
          { id: 'p', debitAccountId: 'alice', creditAccountId: 'bob', amount: 5n, flags: { pending: true } },
          { id: 'q', pendingId: 'p', amount: 3n, flags: { postPendingTransfer: true } },
        ),
      ).toEqual(['created', 'created']);
      expect(await balances('alice')).toEqual([0n, 3n, 0n, 100n]);
      expect((await transfer('p'))!.state).toBe('posted');
    });

    it('checks a post or void against its reservation', async () => {
      await setup();
      await accounts(user('carol'));
      await reserve('p', 5n);
      await one({ id: 'plain', debitAccountId: 'alice', creditAccountId: 'bob', amount: 1n });
      const flags = { postPendingTransfer: true };
      expect(
        await transfers(
          { id: 'e1', flags },
          { id: 'e2', pendingId: 'e2', flags },
          { id: 'e3', pendingId: 'p', timeout: 5, flags },
          { id: 'e4', pendingId: 'plain', flags },
          { id: 'e5', pendingId: 'p', debitAccountId: 'carol', flags },
          { id: 'e6', pendingId: 'p', creditAccountId: 'carol', flags },
          { id: 'e7', pendingId: 'p', asset: 'BTC', flags },
          { id: 'e8', pendingId: 'p', flags: { postPendingTransfer: true, pending: true } },
          { id: 'e9', pendingId: 'p', debitAccountId: 'alice', creditAccountId: 'bob', asset: 'SOVR', amount: 5n, flags },
        ),
      ).toEqual([
        'pending_id_must_not_be_empty',
        'pending_id_must_be_different',
        'timeout_reserved_for_pending_transfer',
        'pending_transfer_not_pending',
        'pending_transfer_has_different_debit_account_id',
        'pending_transfer_has_different_credit_account_id',
        'pending_transfer_has_different_asset',
        'flags_are_mutually_exclusive',
        'created',
      ]);
    });
  });

  describe('expiry', () => {
    const reserve = (id: string, amount: bigint, timeout: number) =>
      one({ id, debitAccountId: 'alice', creditAccountId: 'bob', amount, timeout, flags: { pending: true } });

    it('the sweeper releases reservations whose timeout has passed, and only those', async () => {
      await setup();
      const t0 = clock.now();
      expect(await reserve('p', 30n, 60)).toBe('created');
      expect(await reserve('forever', 1n, 0)).toBe('created');
      expect((await transfer('p'))!.expiresAt).toBe(t0 + 60_000);
      clock.advance(59_999);
      expect(await db.transaction((tx) => ledger.expirePendingTransfers(tx))).toEqual([]);
      clock.advance(1);
      expect(await db.transaction((tx) => ledger.expirePendingTransfers(tx))).toEqual(['p']);
      expect((await transfer('p'))!.state).toBe('expired');
      expect(await balances('alice')).toEqual([1n, 0n, 0n, 100n]);
      expect(await balances('bob')).toEqual([0n, 0n, 1n, 0n]);
      expect(await one({ id: 'late', pendingId: 'p', flags: { postPendingTransfer: true } })).toBe('pending_transfer_expired');
      expect(await one({ id: 'late', pendingId: 'p', flags: { postPendingTransfer: true } })).toBe('id_already_failed');
      clock.advance(365 * 86_400_000);
      expect(await db.transaction((tx) => ledger.expirePendingTransfers(tx))).toEqual([]);
      expect(await one({ id: 'fpost', pendingId: 'forever', flags: { postPendingTransfer: true } })).toBe('created');
    });

    it('works through the backlog in steps of `limit`', async () => {
      await setup();
      for (let i = 0; i < 5; i++) await reserve(`p${i}`, 1n, 1);
      clock.advance(1000);
      const sweep = () => db.transaction((tx) => ledger.expirePendingTransfers(tx, 2));
      const seen = [...(await sweep()), ...(await sweep()), ...(await sweep())];
      expect(seen.sort()).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);
      expect(await sweep()).toEqual([]);
      expect(await balances('alice')).toEqual([0n, 0n, 0n, 100n]);
    });

    it('a late post or void fails with pending_transfer_expired, and the release it caused persists', async () => {
      await setup();
      await reserve('p', 30n, 10);
      await reserve('q', 20n, 10);
      clock.advance(10_000);
      expect(await one({ id: 'post', pendingId: 'p', flags: { postPendingTransfer: true } })).toBe('pending_transfer_expired');
      expect((await transfer('p'))!.state).toBe('expired');
      expect(await balances('alice')).toEqual([20n, 0n, 0n, 100n]);
      expect(await one({ id: 'void', pendingId: 'q', flags: { voidPendingTransfer: true } })).toBe('pending_transfer_expired');
      expect(await balances('alice')).toEqual([0n, 0n, 0n, 100n]);
      expect(await db.transaction((tx) => ledger.expirePendingTransfers(tx))).toEqual([]);
    });

    it('the release persists even when the late post breaks a linked chain', async () => {
      await setup();
      await reserve('p', 30n, 10);
      clock.advance(10_001);
      expect(
        await transfers(
          { id: 'x', debitAccountId: 'alice', creditAccountId: 'bob', amount: 5n, flags: { linked: true } },
          { id: 'post', pendingId: 'p', flags: { postPendingTransfer: true } },
        ),
      ).toEqual(['linked_event_failed', 'pending_transfer_expired']);
      expect(await transfer('x')).toBeUndefined();
      expect((await transfer('p'))!.state).toBe('expired');
      expect(await balances('alice')).toEqual([0n, 0n, 0n, 100n]);
      expect(await balances('bob')).toEqual([0n, 0n, 0n, 0n]);
    });
  });

  describe('linked chains', () => {
    const t = (id: string, amount: bigint, linked: boolean, from = 'alice', to = 'bob'): TransferInput => ({
      id,
      debitAccountId: from,
      creditAccountId: to,
      amount,
      flags: { linked },
    });

    it('commits a chain whose members all succeed', async () => {
      await setup();
      expect(await transfers(t('a', 10n, true), t('b', 20n, true), t('c', 5n, false, 'bob', 'alice'))).toEqual([
        'created',
        'created',
        'created',
      ]);
      expect(await balances('alice')).toEqual([0n, 30n, 0n, 105n]);
      expect((await transfer('a'))!.flags.linked).toBe(true);
    });

    it('a failure in the middle rolls back the members before it and fails those after', async () => {
      await setup();
      expect(await transfers(t('a', 10n, true), t('b', 1000n, true), t('c', 1n, false, 'bob', 'alice'), t('d', 1n, false))).toEqual([
        'linked_event_failed',
        'exceeds_credits',
        'linked_event_failed',
        'created',
      ]);
      expect(await balances('alice')).toEqual([0n, 1n, 0n, 100n]);
      expect(await balances('bob')).toEqual([0n, 0n, 0n, 1n]);
      expect(await ledger.lookupTransfers(db, ['a', 'c'])).toEqual([]);
      // The failing member's transient failure is recorded; the others' ids are free.
      expect(await transfers(t('a', 10n, false), t('b', 10n, false), t('c', 1n, false, 'bob', 'alice'))).toEqual([
        'created',
        'id_already_failed',
        'created',
      ]);
    });

    it('rolls back reservations and resolutions made earlier in the chain', async () => {
      await setup();
      await one({ id: 'p', debitAccountId: 'alice', creditAccountId: 'bob', amount: 30n, flags: { pending: true } });
      expect(
        await transfers(
          { id: 'post', pendingId: 'p', amount: 10n, flags: { postPendingTransfer: true, linked: true } },
          { id: 'q', debitAccountId: 'alice', creditAccountId: 'bob', amount: 5n, flags: { pending: true, linked: true } },
          { id: 'bad', debitAccountId: 'alice', creditAccountId: 'bob', amount: 0n },
        ),
      ).toEqual(['linked_event_failed', 'linked_event_failed', 'amount_must_not_be_zero']);
      expect((await transfer('p'))!.state).toBe('pending');
      expect(await ledger.lookupTransfers(db, ['post', 'q', 'bad'])).toEqual([]);
      expect(await balances('alice')).toEqual([30n, 0n, 0n, 100n]);
      expect(await balances('bob')).toEqual([0n, 0n, 30n, 0n]);
    });

    it('a chain left open at the end of the batch fails', async () => {
      await setup();
      expect(await transfers(t('x', 1n, false), t('a', 1n, true), t('b', 1n, true))).toEqual([
        'created',
        'linked_event_failed',
        'linked_event_chain_open',
      ]);
      expect(await transfers(t('c', 1n, true))).toEqual(['linked_event_chain_open']);
      expect(await ledger.lookupTransfers(db, ['a', 'b', 'c'])).toEqual([]);
      expect(await balances('alice')).toEqual([0n, 1n, 0n, 100n]);
    });

    it('keeps chains in one batch independent; an existing member breaks its chain', async () => {
      await setup();
      expect(await transfers(t('a', 1n, true), t('b', 1n, false), t('c', 1n, true), t('d', 500n, false), t('e', 1n, false))).toEqual([
        'created',
        'created',
        'linked_event_failed',
        'exceeds_credits',
        'created',
      ]);
      expect(await transfers(t('a', 1n, true), t('f', 1n, false))).toEqual(['exists', 'linked_event_failed']);
      expect(await balances('alice')).toEqual([0n, 3n, 0n, 100n]);
    });
  });

  describe('concurrency', () => {
    it('parallel debits of one account: exactly as many succeed as the balance allows', async () => {
      await setup(75n);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          db.transaction(async (tx) => {
            const [r] = await ledger.createTransfers(tx, [{ id: `c${i}`, debitAccountId: 'alice', creditAccountId: 'bob', amount: 10n }]);
            await sleep(2); // hold the locks a little, so that the others queue behind them
            return r;
          }),
        ),
      );
      expect(results.filter((r) => r === 'created')).toHaveLength(7);
      expect(results.filter((r) => r === 'exceeds_credits')).toHaveLength(13);
      const alice = await account('alice');
      expect(alice.debitsPosted).toBe(70n);
      expect(alice.creditsPosted - alice.debitsPosted).toBe(5n);
    });

    it('the same transfer id submitted in parallel moves money once', async () => {
      await setup();
      const results = await Promise.all(
        Array.from({ length: 10 }, () =>
          db.transaction((tx) => ledger.createTransfers(tx, [{ id: 'same', debitAccountId: 'alice', creditAccountId: 'bob', amount: 7n }])),
        ),
      );
      expect(results.flat().filter((r) => r === 'created')).toHaveLength(1);
      expect(results.flat().filter((r) => r === 'exists')).toHaveLength(9);
      expect(await balances('alice')).toEqual([0n, 7n, 0n, 100n]);
    });

    it('parallel posts of one reservation: one wins', async () => {
      await setup();
      await one({ id: 'p', debitAccountId: 'alice', creditAccountId: 'bob', amount: 50n, flags: { pending: true } });
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          db.transaction((tx) =>
            ledger.createTransfers(tx, [
              { id: `post${i}`, pendingId: 'p', flags: i % 2 ? { voidPendingTransfer: true } : { postPendingTransfer: true } },
            ]),
          ),
        ),
      );
      const flat = results.flat();
      expect(flat.filter((r) => r === 'created')).toHaveLength(1);
      expect(flat.filter((r) => r === 'pending_transfer_already_posted' || r === 'pending_transfer_already_voided')).toHaveLength(5);
      expect((await account('alice')).debitsPending).toBe(0n);
    });

    it('parallel sweepers release each reservation once', async () => {
      await setup();
      for (let i = 0; i < 10; i++)
        await one({ id: `p${i}`, debitAccountId: 'alice', creditAccountId: 'bob', amount: 1n, timeout: 1, flags: { pending: true } });
      clock.advance(1000);
      const swept = await Promise.all(Array.from({ length: 3 }, () => db.transaction((tx) => ledger.expirePendingTransfers(tx, 4))));
      const more = await db.transaction((tx) => ledger.expirePendingTransfers(tx));
      const all = [...swept.flat(), ...more];
      expect(new Set(all).size).toBe(all.length);
      expect(all.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `p${i}`).sort());
      expect(await balances('alice')).toEqual([0n, 0n, 0n, 100n]);
    });

    it('crossing transfers between the same accounts do not deadlock', async () => {
      await setup(1000n);
      await one({ id: 'fund-bob', debitAccountId: 'bank', creditAccountId: 'bob', amount: 1000n });
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          db.transaction((tx) =>
            ledger.createTransfers(
              tx,
              i % 2
                ? [
                    { id: `ab${i}`, debitAccountId: 'alice', creditAccountId: 'bob', amount: 1n },
                    { id: `ba${i}`, debitAccountId: 'bob', creditAccountId: 'alice', amount: 2n },
                  ]
                : [
                    { id: `ba${i}`, debitAccountId: 'bob', creditAccountId: 'alice', amount: 1n },
                    { id: `ab${i}`, debitAccountId: 'alice', creditAccountId: 'bob', amount: 2n },
                  ],
            ),
          ),
        ),
      );
      expect(results.flat().every((r) => r === 'created')).toBe(true);
      const alice = await account('alice');
      expect(alice.creditsPosted - alice.debitsPosted).toBe(1000n);
    });
  });

  describe('invariant', () => {
    it('reports per-asset totals and an account whose balances disagree with its transfers', async () => {
      await setup();
      await accounts(plain('btc-bank', 'BTC'), user('carol', 'BTC'));
      await one({ id: 'b1', debitAccountId: 'btc-bank', creditAccountId: 'carol', amount: 3n });
      await one({ id: 'p1', debitAccountId: 'alice', creditAccountId: 'bob', amount: 4n, flags: { pending: true } });
      const ok = await ledger.checkInvariant(db);
      expect(ok).toEqual({
        ok: true,
        mismatchedAccounts: [],
        assets: [
          { asset: 'BTC', debitsPosted: 3n, creditsPosted: 3n, debitsPending: 0n, creditsPending: 0n, ok: true },
          { asset: 'SOVR', debitsPosted: 100n, creditsPosted: 100n, debitsPending: 4n, creditsPending: 4n, ok: true },
        ],
      });

      await db.run(`UPDATE ledger_accounts SET credits_posted = '101' WHERE id = 'alice'`);
      const broken = await ledger.checkInvariant(db);
      expect(broken.ok).toBe(false);
      expect(broken.mismatchedAccounts).toEqual(['alice']);
      expect(broken.assets.find((a) => a.asset === 'SOVR')!.ok).toBe(false);
      await db.run(`UPDATE ledger_accounts SET credits_posted = '100' WHERE id = 'alice'`);
    });
  });
});
