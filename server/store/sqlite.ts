import Database from 'better-sqlite3';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Db, Queryable, Row } from './types.js';

type Stmt = Database.Statement<unknown[], unknown>;

/**
 * better-sqlite3 is synchronous and has one writer, so transactions are serialised through a
 * promise chain: a transaction holds the write connection across its awaits, and nothing else
 * may touch that connection meanwhile. Reads outside a transaction go to a second connection,
 * so they never observe another request's uncommitted writes (WAL gives them a snapshot).
 */
export function openSqlite(file: string, opts: { maxGroup?: number } = {}): Db {
  const maxGroup = opts.maxGroup ?? 256;
  const writer = new Database(file);
  writer.pragma('journal_mode = WAL');
  // FULL: COMMIT returns only once the WAL holding it is on disk, so a payment answered survives a
  // power loss or an OS crash, not only a crash of the process (NORMAL syncs only at checkpoints).
  // Group commit (runGroup) shares that sync among the transactions of one event-loop turn. Syncing
  // off the event loop instead was tried: no difference the benchmark could see (docs/benchmarks.md).
  writer.pragma('synchronous = FULL');
  writer.pragma('foreign_keys = ON');
  writer.pragma('busy_timeout = 5000');
  const reader = file === ':memory:' ? writer : new Database(file, { readonly: false });
  if (reader !== writer) {
    reader.pragma('busy_timeout = 5000');
    reader.pragma('query_only = ON');
  }
  const checkpointer = reader !== writer ? startCheckpointer(file) : null;
  // The writer's own automatic checkpoint stays, as a fallback for a worker that falls behind or
  // has died, and to let the WAL start over: it restarts only once a checkpoint has caught up
  // between two transactions, which the worker (racing the writer) may rarely manage under load.
  if (checkpointer) writer.pragma(`wal_autocheckpoint = ${FALLBACK_CHECKPOINT_PAGES}`);

  const cache = new WeakMap<Database.Database, Map<string, Stmt>>();
  const prepare = (conn: Database.Database, sql: string): Stmt => {
    let m = cache.get(conn);
    if (!m) cache.set(conn, (m = new Map()));
    let s = m.get(sql);
    if (!s) {
      s = conn.prepare(sql);
      m.set(sql, s);
    }
    return s;
  };
  const bind = (params: readonly unknown[] | undefined): unknown[] =>
    (params ?? []).map((p) => (typeof p === 'bigint' ? p.toString() : typeof p === 'boolean' ? (p ? 1 : 0) : p));

  const on = (conn: Database.Database, dialectHolder: { closed: boolean }): Queryable => ({
    dialect: 'sqlite',
    async all<T>(sql: string, params?: readonly unknown[]) {
      if (dialectHolder.closed) throw new Error('transaction is over');
      return prepare(conn, sql).all(...bind(params)) as T[];
    },
    async get<T>(sql: string, params?: readonly unknown[]) {
      if (dialectHolder.closed) throw new Error('transaction is over');
      return prepare(conn, sql).get(...bind(params)) as T | undefined;
    },
    async run(sql: string, params?: readonly unknown[]) {
      if (dialectHolder.closed) throw new Error('transaction is over');
      const s = prepare(conn, sql);
      if (!s.reader) return { changes: s.run(...bind(params)).changes };
      s.all(...bind(params));
      return { changes: 0 };
    },
  });

  const readOnly = on(reader, { closed: false });
  let closed = false;

  /*
   * Group commit. Transactions queue for the one writer; when several are waiting they run one
   * after another inside a single BEGIN … COMMIT, each in a savepoint of its own, so a failing one
   * rolls back alone. Nobody is told "committed" before the COMMIT that covers them has happened,
   * so this changes cost, not meaning: a COMMIT (the WAL append) is the largest single cost of a
   * small transaction, and under load it is now paid once per group instead of once per request.
   */
  interface Job {
    fn: (tx: Queryable) => Promise<unknown>;
    resolve: (v: unknown) => void;
    reject: (e: unknown) => void;
  }
  const queue: Job[] = [];
  let pumping: Promise<void> | null = null;

  const savepoint = writer.prepare('SAVEPOINT tollway_tx');
  const release = writer.prepare('RELEASE tollway_tx');
  const rollbackTo = writer.prepare('ROLLBACK TO tollway_tx');

  async function runGroup(): Promise<void> {
    const done: { job: Job; ok: boolean; value: unknown }[] = [];
    try {
      writer.exec('BEGIN IMMEDIATE');
    } catch (err) {
      // The connection cannot write at all (closed, unopenable): fail everyone waiting, hang nobody.
      for (const job of queue.splice(0)) job.reject(err);
      return;
    }
    try {
      while (queue.length > 0 && done.length < maxGroup) {
        const job = queue.shift()!;
        const state = { closed: false };
        savepoint.run();
        try {
          const value = await job.fn(on(writer, state));
          release.run();
          done.push({ job, ok: true, value });
        } catch (err) {
          done.push({ job, ok: false, value: err });
          // An error SQLite answered with a rollback of its own (disk full, I/O) took the whole
          // group with it: nobody in it may be told it committed.
          if (!writer.inTransaction) throw err;
          rollbackTo.run();
          release.run();
        } finally {
          state.closed = true;
        }
      }
      writer.exec('COMMIT');
    } catch (err) {
      if (writer.inTransaction) writer.exec('ROLLBACK');
      for (const d of done) if (d.ok) Object.assign(d, { ok: false, value: err });
    }
    for (const d of done) (d.ok ? d.job.resolve : d.job.reject)(d.value);
  }

  function pump(): Promise<void> {
    if (queue.length === 0 && !pumping) return Promise.resolve();
    pumping ??= (async () => {
      try {
        while (queue.length > 0) await runGroup();
      } finally {
        pumping = null;
      }
    })();
    return pumping;
  }

  // A group starts at the end of the current event-loop turn, so every request that reached its
  // transaction during this turn's I/O joins it. Costs one turn of latency, saves a COMMIT each.
  let scheduled = false;
  const transaction = <T>(fn: (tx: Queryable) => Promise<T>): Promise<T> => {
    if (closed) return Promise.reject(new Error('the store is closed'));
    return new Promise<T>((resolve, reject) => {
      queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (pumping || scheduled) return;
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        void pump();
      });
    });
  };

  // Snapshots share the reader connection, so they take turns.
  let snapshots: Promise<unknown> = Promise.resolve();
  const snapshot = <T>(fn: (q: Queryable) => Promise<T>): Promise<T> => {
    const run = snapshots.then(async () => {
      if (reader === writer) return fn(readOnly); // :memory: has one connection; reads are consistent anyway
      reader.exec('BEGIN');
      try {
        return await fn(readOnly);
      } finally {
        reader.exec('COMMIT');
      }
    });
    snapshots = run.catch(() => undefined);
    return run;
  };

  return {
    dialect: 'sqlite',
    snapshot,
    all: (sql, params) => readOnly.all(sql, params),
    get: (sql, params) => readOnly.get(sql, params),
    // A lone write is a transaction of its own, queued behind any open one.
    run: (sql, params) => transaction((tx) => tx.run(sql, params)),
    transaction,
    async ping() {
      prepare(reader, 'SELECT 1').get();
    },
    async close() {
      if (closed) return;
      closed = true;
      // Transactions queued before close still run (a group may not have started yet).
      while (pumping || queue.length > 0) await pump();
      await snapshots;
      // Before the writer closes: the last connection to close checkpoints and removes the WAL.
      await checkpointer?.stop();
      if (reader !== writer) reader.close();
      writer.close();
    },
  };
}

/** WAL pages past which the writer checkpoints by itself (SQLite's default is 1,000). */
const FALLBACK_CHECKPOINT_PAGES = 10_000;
const CHECKPOINT_INTERVAL_MS = 100;

const CHECKPOINTER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file);
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {}
}, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/*
 * Checkpoints (copying WAL pages back into the database file, with an fsync) used to run inside
 * the writer's COMMIT, on the event loop: ~17 ms every few groups under load (~20 µs a payment,
 * and a stall that every request in flight waited for). A worker thread with a connection of its own runs them instead,
 * PASSIVE: it takes no lock the writer waits for, so the writer keeps committing meanwhile.
 * Durability is unchanged (same journal mode and synchronous level; only who copies pages back).
 */
function startCheckpointer(file: string): { stop(): Promise<void> } {
  const worker = new Worker(CHECKPOINTER_SOURCE, {
    eval: true,
    workerData: { file, module: createRequire(import.meta.url).resolve('better-sqlite3'), intervalMs: CHECKPOINT_INTERVAL_MS },
  });
  // Not a reason to keep the process alive; a dead worker leaves the fallback checkpoint in charge.
  worker.unref();
  worker.on('error', () => {});
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    async stop() {
      // Held again while it closes its connection, or a process with nothing else to do would
      // exit before the writer (closed after it) checkpoints and removes the WAL.
      worker.ref();
      worker.postMessage('stop');
      await exited;
    },
  };
}

export type { Row };
