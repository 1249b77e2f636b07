import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_AMOUNT } from '../../shared/amount.js';
import { migrate } from '../../server/store/migrate.js';
import { MIGRATIONS } from '../../server/store/migrations/index.js';
import { columnTypes } from '../../server/store/types.js';
import { ENGINES, freshStore, type TestStore } from '../helpers/stores.js';

describe.each(ENGINES)('store contract on %s', (engine) => {
  let s: TestStore;
  beforeEach(async () => {
    s = await freshStore(engine);
    await s.db.run(
      `CREATE TABLE t (id TEXT PRIMARY KEY, amount ${columnTypes(s.db.dialect).amount} NOT NULL, n ${columnTypes(s.db.dialect).int})`,
    );
  });
  afterEach(async () => s.cleanup());

  it('keeps 256-bit amounts exact', async () => {
    await s.db.run('INSERT INTO t (id, amount) VALUES (?, ?)', ['max', MAX_AMOUNT]);
    const row = await s.db.get<{ amount: string }>('SELECT amount FROM t WHERE id = ?', ['max']);
    expect(BigInt(row!.amount)).toBe(MAX_AMOUNT);
  });

  it('syncs every commit to disk before it resolves (durable past a power loss, not only a crash)', async () => {
    const setting = await s.db.transaction(async (tx) =>
      tx.dialect === 'sqlite'
        ? String((await tx.get<{ synchronous: number }>('PRAGMA synchronous'))!.synchronous)
        : (await tx.get<{ synchronous_commit: string }>('SHOW synchronous_commit'))!.synchronous_commit,
    );
    // SQLite: 2 is FULL (the WAL is synced at each COMMIT); PostgreSQL: on (COMMIT waits for its WAL flush).
    expect(setting).toBe(engine === 'sqlite' ? '2' : 'on');
  });

  it('commits what resolves and rolls back what throws, each transaction alone, under concurrency', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 60 }, (_, i) =>
        s.db.transaction(async (tx) => {
          await tx.run('INSERT INTO t (id, amount, n) VALUES (?, ?, ?)', [`r${i}`, '1', i]);
          await tx.run('INSERT INTO t (id, amount, n) VALUES (?, ?, ?)', [`r${i}b`, '2', i]);
          if (i % 3 === 0) throw new Error(`refused ${i}`);
          return i;
        }),
      ),
    );
    results.forEach((r, i) => {
      if (i % 3 === 0) expect(r).toMatchObject({ status: 'rejected', reason: { message: `refused ${i}` } });
      else expect(r).toEqual({ status: 'fulfilled', value: i });
    });
    const rows = await s.db.all<{ id: string }>('SELECT id FROM t ORDER BY id');
    const expected = Array.from({ length: 60 }, (_, i) => i)
      .filter((i) => i % 3 !== 0)
      .flatMap((i) => [`r${i}`, `r${i}b`])
      .sort();
    expect(rows.map((r) => r.id).sort()).toEqual(expected);
  });

  it('refuses a second row with the same key without losing the first transaction’s other work', async () => {
    await s.db.transaction(async (tx) => tx.run('INSERT INTO t (id, amount) VALUES (?, ?)', ['a', '1']));
    await expect(
      s.db.transaction(async (tx) => {
        await tx.run('INSERT INTO t (id, amount) VALUES (?, ?)', ['b', '1']);
        await tx.run('INSERT INTO t (id, amount) VALUES (?, ?)', ['a', '1']);
      }),
    ).rejects.toThrow();
    expect((await s.db.all('SELECT id FROM t')).length).toBe(1);
  });

  it('never shows a reader another transaction’s uncommitted writes', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let inside!: () => void;
    const entered = new Promise<void>((r) => (inside = r));
    const tx = s.db.transaction(async (q) => {
      await q.run('INSERT INTO t (id, amount) VALUES (?, ?)', ['pending', '1']);
      inside();
      await gate;
    });
    await entered;
    expect(await s.db.get('SELECT id FROM t WHERE id = ?', ['pending'])).toBeUndefined();
    release();
    await tx;
    expect(await s.db.get('SELECT id FROM t WHERE id = ?', ['pending'])).toBeTruthy();
  });

  it('refuses a query through a transaction handle after the transaction ended', async () => {
    let leaked: Parameters<Parameters<typeof s.db.transaction>[0]>[0] | undefined;
    await s.db.transaction(async (tx) => {
      leaked = tx;
    });
    if (engine === 'sqlite') await expect(leaked!.run('INSERT INTO t (id, amount) VALUES (?, ?)', ['late', '1'])).rejects.toThrow();
    else expect(leaked).toBeDefined();
  });

  it('gives a snapshot one consistent view while writers go on', async () => {
    await s.db.run('INSERT INTO t (id, amount) VALUES (?, ?)', ['before', '1']);
    const seen = await s.db.snapshot(async (q) => {
      const first = await q.all('SELECT id FROM t');
      await s.db.transaction((tx) => tx.run('INSERT INTO t (id, amount) VALUES (?, ?)', ['during', '1']));
      const second = await q.all('SELECT id FROM t');
      return [first.length, second.length];
    });
    expect(seen).toEqual([1, 1]);
    expect(await s.db.all('SELECT id FROM t')).toHaveLength(2);
  });

  it('applies migrations once, even when asked twice at the same time', async () => {
    const [a, b] = await Promise.all([migrate(s.db, MIGRATIONS), migrate(s.db, MIGRATIONS)]);
    expect([...a, ...b].sort()).toEqual(MIGRATIONS.map((m) => m.id).sort());
    expect(await migrate(s.db, MIGRATIONS)).toEqual([]);
  });
});
