/**
 * The account directory remembers accounts it has seen, to save a query a payment. It must never
 * remember one whose creation has not committed: a transfer naming it later would fail for good.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAccountDirectory, userAccountId } from '../../server/core/accounts.js';
import { createLedger } from '../../server/ledger/index.js';
import { migrate } from '../../server/store/migrate.js';
import { MIGRATIONS } from '../../server/store/migrations/index.js';
import { ENGINES, freshStore, type TestStore } from '../helpers/stores.js';

describe.each(ENGINES)('account directory on %s', (engine) => {
  let store: TestStore;
  beforeEach(async () => {
    store = await freshStore(engine);
    await migrate(store.db, MIGRATIONS);
  });
  afterEach(() => store.cleanup());

  it('an account created and asked for again in a transaction that rolls back is created again afterwards', async () => {
    const ledger = createLedger({ clock: { now: () => Date.now() } });
    const accounts = createAccountDirectory(ledger);
    const id = userAccountId('usr_a', 'SOVR');
    await expect(
      store.db.transaction(async (tx) => {
        await accounts.user(tx, 'usr_a', 'SOVR');
        // Asked again in the same transaction: the ledger says `exists`, but nothing is committed.
        await accounts.user(tx, 'usr_a', 'SOVR');
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await store.db.get('SELECT id FROM ledger_accounts WHERE id = ?', [id])).toBeUndefined();

    await store.db.transaction((tx) => accounts.user(tx, 'usr_a', 'SOVR'));
    expect(await store.db.get<{ id: string }>('SELECT id FROM ledger_accounts WHERE id = ?', [id])).toEqual({ id });
  });

  it('an account committed earlier is remembered: no ledger call for it again', async () => {
    const ledger = createLedger({ clock: { now: () => Date.now() } });
    let calls = 0;
    const counting = {
      ...ledger,
      createAccounts: (...a: Parameters<typeof ledger.createAccounts>) => (calls++, ledger.createAccounts(...a)),
    };
    const first = createAccountDirectory(counting);
    await store.db.transaction((tx) => first.merchant(tx, 'm_1', 'SOVR'));
    // Another process (a fresh directory) meets it as `exists` once, then never asks again.
    const second = createAccountDirectory(counting);
    calls = 0;
    await store.db.transaction((tx) => second.merchant(tx, 'm_1', 'SOVR'));
    await store.db.transaction((tx) => second.merchant(tx, 'm_1', 'SOVR'));
    expect(calls).toBe(1);
  });
});
