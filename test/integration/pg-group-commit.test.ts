/**
 * Group commit on PostgreSQL (server/store/pg-group-commit.ts), on a real server: transactions that
 * arrive together share one COMMIT, each in its own savepoint; a failing member rolls back alone; a
 * failed COMMIT or a lost connection rejects every member; nobody is answered before the COMMIT;
 * many payers paying one merchant at once leave exact balances and a balanced ledger.
 */
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../server/clock.js';
import { createLedger, type Ledger } from '../../server/ledger/index.js';
import { migrate } from '../../server/store/migrate.js';
import { MIGRATIONS } from '../../server/store/migrations/index.js';
import { openPostgres } from '../../server/store/postgres.js';
import type { Db, Queryable } from '../../server/store/types.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { PG_URL, freshStore, type TestStore } from '../helpers/stores.js';

const txid = async (tx: Queryable) => (await tx.get<{ x: string }>('SELECT txid_current()::text AS x'))!.x;
const ids = async (db: Db, table: string) => (await db.all<{ id: number }>(`SELECT id FROM ${table} ORDER BY id`)).map((r) => Number(r.id));

/** Every promise's outcome, without letting one rejection hide the others. */
const outcomes = (ps: Promise<unknown>[]) => Promise.allSettled(ps);
const statuses = (rs: PromiseSettledResult<unknown>[]) => rs.map((r) => r.status);
const resultOf = (r: PromiseSettledResult<unknown> | undefined) => (r as PromiseFulfilledResult<unknown>).value;
const reasonOf = (r: PromiseSettledResult<unknown> | undefined) => (r as PromiseRejectedResult).reason;

describe('PostgreSQL group commit', () => {
  let store: TestStore;
  let db: Db;
  let admin: pg.Client;

  beforeEach(async () => {
    store = await freshStore('postgres');
    db = store.db;
    await db.transaction(async (tx) => {
      await tx.run('CREATE TABLE t (id INT PRIMARY KEY)');
      // Checked only at COMMIT: a way to make the group's COMMIT itself fail.
      await tx.run('CREATE TABLE d (id INT, CONSTRAINT d_once UNIQUE (id) DEFERRABLE INITIALLY DEFERRED)');
    });
    admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
  });

  afterEach(async () => {
    await admin.end();
    await store.cleanup();
  });

  it('transactions that arrive together share one transaction, and none is answered before its COMMIT', async () => {
    const settled: boolean[] = [false, false, false, false];
    let seenByLast: boolean[] = [];
    const runs = [0, 1, 2, 3].map((i) =>
      db
        .transaction(async (tx) => {
          await tx.run('INSERT INTO t (id) VALUES (?)', [i]);
          // The last member runs after the others returned: none of them may have been told yet.
          if (i === 3) seenByLast = [...settled];
          return txid(tx);
        })
        .finally(() => {
          settled[i] = true;
        }),
    );
    const xids = await Promise.all(runs);
    expect(new Set(xids).size).toBe(1);
    expect(seenByLast).toEqual([false, false, false, false]);
    expect(await ids(db, 't')).toEqual([0, 1, 2, 3]);
    // One that starts after the group committed gets a transaction of its own.
    expect(await db.transaction(txid)).not.toBe(xids[0]);
  });

  it('a member that fails rolls back alone (its earlier writes too); the others commit', async () => {
    const results = await outcomes([
      db.transaction(async (tx) => {
        await tx.run('INSERT INTO t (id) VALUES (1)');
        return txid(tx);
      }),
      db.transaction(async (tx) => {
        await tx.run('INSERT INTO t (id) VALUES (2)');
        await tx.run('INSERT INTO t (id) VALUES (1)'); // taken by the member before: unique violation
        return txid(tx);
      }),
      db.transaction(async (tx) => {
        await tx.run('INSERT INTO t (id) VALUES (3)');
        return txid(tx);
      }),
    ]);
    expect(statuses(results)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    // One transaction for both that committed: the failure did not end the group.
    expect(resultOf(results[0])).toBe(resultOf(results[2]));
    expect(reasonOf(results[1])).toMatchObject({ code: '23505' });
    expect(await ids(db, 't')).toEqual([1, 3]);
  });

  it('a member that swallows its own SQL error and returns is rolled back and rejected, alone', async () => {
    const results = await outcomes([
      db.transaction((tx) => tx.run('INSERT INTO t (id) VALUES (10)')),
      db.transaction(async (tx) => {
        await tx.run('INSERT INTO t (id) VALUES (12)');
        await tx.run('INSERT INTO t (id) VALUES (10)').catch(() => undefined);
        return 'fine, it says';
      }),
      db.transaction((tx) => tx.run('INSERT INTO t (id) VALUES (11)')),
    ]);
    expect(statuses(results)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await ids(db, 't')).toEqual([10, 11]);
  });

  it('a COMMIT that fails rejects every member, and nothing of the group is stored', async () => {
    const results = await outcomes([
      db.transaction((tx) => tx.run('INSERT INTO t (id) VALUES (20)')),
      db.transaction((tx) => tx.run('INSERT INTO d (id) VALUES (1)')),
      db.transaction((tx) => tx.run('INSERT INTO d (id) VALUES (1)')), // deferred: fails at COMMIT
      db.transaction((tx) => tx.run('INSERT INTO t (id) VALUES (21)')),
    ]);
    expect(statuses(results)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
    for (const r of results) expect(reasonOf(r)).toMatchObject({ code: '23505' });
    expect(await ids(db, 't')).toEqual([]);
    expect(await ids(db, 'd')).toEqual([]);
    // The writer is usable again.
    await db.transaction((tx) => tx.run('INSERT INTO t (id) VALUES (22)'));
    expect(await ids(db, 't')).toEqual([22]);
  });

  it('a connection lost before the COMMIT rejects every member, answers none early, and the next group reconnects', async () => {
    const settled = [false, false, false];
    let seenByLast: boolean[] = [];
    const results = await outcomes(
      [0, 1, 2].map((i) =>
        db
          .transaction(async (tx) => {
            await tx.run('INSERT INTO t (id) VALUES (?)', [30 + i]);
            if (i === 2) {
              seenByLast = [...settled];
              const pid = (await tx.get<{ pid: number }>('SELECT pg_backend_pid() AS pid'))!.pid;
              // The writer's session dies after every member has run and before the group commits.
              await admin.query('SELECT pg_terminate_backend($1)', [pid]);
            }
          })
          .finally(() => {
            settled[i] = true;
          }),
      ),
    );
    expect(seenByLast).toEqual([false, false, false]);
    expect(statuses(results)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(await ids(db, 't')).toEqual([]);
    await db.transaction((tx) => tx.run('INSERT INTO t (id) VALUES (33)'));
    expect(await ids(db, 't')).toEqual([33]);
  });

  it('a statement after the member returned is refused instead of landing in someone else’s transaction', async () => {
    let late: Queryable | undefined;
    await db.transaction(async (tx) => {
      late = tx;
    });
    await expect(late!.run('INSERT INTO t (id) VALUES (40)')).rejects.toThrow('transaction is over');
    expect(await ids(db, 't')).toEqual([]);
  });

  it('groups hold at most maxGroup members', async () => {
    const small = openPostgres({ connectionString: store.env.DATABASE_URL!, max: 2, maxGroup: 2 });
    try {
      const xids = await Promise.all([0, 1, 2, 3, 4].map(() => small.transaction(txid)));
      expect(new Set(xids).size).toBe(3);
    } finally {
      await small.close();
    }
  });
});

describe('PostgreSQL group commit: one hot merchant', () => {
  let store: TestStore;
  let db: Db;
  let ledger: Ledger;

  beforeEach(async () => {
    store = await freshStore('postgres');
    db = store.db;
    await migrate(db, MIGRATIONS);
    ledger = createLedger({ clock: manualClock() });
  });

  afterEach(async () => {
    try {
      await expectLedgerBalanced(db);
    } finally {
      await store.cleanup();
    }
  });

  it('32 payers paying one merchant at once: exact balances, refusals change nothing, payments share groups', async () => {
    const PAYERS = 32;
    const EACH = 15;
    const payers = Array.from({ length: PAYERS }, (_, i) => `payer-${String(i).padStart(2, '0')}`);
    await db.transaction((tx) =>
      ledger.createAccounts(tx, [
        { id: 'bank', asset: 'SOVR', owner: 'system' },
        { id: 'merchant', asset: 'SOVR', owner: 'merchant' },
        ...payers.map((id) => ({ id, asset: 'SOVR', owner: id, flags: { debitsMustNotExceedCredits: true } })),
      ]),
    );
    await db.transaction((tx) =>
      ledger.createTransfers(
        tx,
        payers.map((id) => ({ id: `fund-${id}`, debitAccountId: 'bank', creditAccountId: id, amount: 100n })),
      ),
    );

    // 15 payments of 7 from each payer, all at once: 14 fit in 100, the 15th exceeds it.
    const runs = payers.flatMap((payer) =>
      Array.from({ length: EACH }, (_, k) =>
        db.transaction(async (tx) => {
          const [r] = await ledger.createTransfers(tx, [
            { id: `pay-${payer}-${k}`, debitAccountId: payer, creditAccountId: 'merchant', amount: 7n },
          ]);
          return { r, xid: await txid(tx) };
        }),
      ),
    );
    const done = await Promise.all(runs);
    const created = done.filter((d) => d.r === 'created').length;
    expect(created).toBe(PAYERS * 14);
    expect(done.filter((d) => d.r === 'exceeds_credits').length).toBe(PAYERS);
    // Grouped: far fewer transactions than payments.
    expect(new Set(done.map((d) => d.xid)).size).toBeLessThan(runs.length / 4);

    const [merchant] = await ledger.lookupAccounts(db, ['merchant']);
    expect(merchant!.creditsPosted).toBe(BigInt(PAYERS * 14 * 7));
    for (const a of await ledger.lookupAccounts(db, payers)) expect(a.debitsPosted).toBe(98n);
  });
});
