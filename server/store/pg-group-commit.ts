import type pg from 'pg';
import type { Queryable } from './types.js';

/**
 * Group commit for PostgreSQL, the same idea as the SQLite store's: transactions that arrive
 * together run one after another on one writer connection inside a single BEGIN … COMMIT, each in
 * a savepoint of its own.
 *
 * - A member that throws (a constraint violation, a deadlock it lost, a refusal of its own) is
 *   rolled back to its savepoint: its writes and the row locks it took go, the others' stay.
 * - Nobody is answered before the COMMIT that covers them has returned. A COMMIT that fails, or
 *   that PostgreSQL turns into a ROLLBACK, rejects every member that had succeeded; so does a
 *   connection lost anywhere in the group.
 * - One writer, one group at a time. Several writers would each hold the rows their earlier members
 *   locked until their own COMMIT; with one hot row (a popular merchant's account) two groups then
 *   lock in opposite orders and deadlock, which the per-transaction global lock order prevented.
 *   With one writer, a hot row is locked once per group instead of once per payment, and the
 *   COMMIT's WAL flush is paid once per group.
 * - At most `maxGroup` members: each writing savepoint takes a subtransaction id, and past 64 of
 *   them in one transaction PostgreSQL's snapshots overflow their cache and every other session's
 *   visibility checks slow down. A payment uses one (the ledger needs no savepoint of its own for a
 *   single transfer), so the default of 48 leaves room.
 */
export interface GroupCommitOptions {
  /** Members per group (default 48). */
  maxGroup?: number;
}

type Wrap = (client: pg.PoolClient, state: { closed: boolean }) => Queryable;

interface Job {
  fn: (tx: Queryable) => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

const SAVEPOINT = 'tollway_member';

export function createGroupCommit(writer: pg.Pool, wrap: Wrap, opts: GroupCommitOptions = {}) {
  const maxGroup = opts.maxGroup ?? 48;
  const queue: Job[] = [];
  let pumping: Promise<void> | null = null;
  let scheduled = false;

  async function runGroup(): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await writer.connect();
    } catch (err) {
      // No connection to write on: fail everyone waiting, hang nobody.
      for (const job of queue.splice(0)) job.reject(err);
      return;
    }
    // A connection that dies while checked out emits 'error' on the client (the pool listens only
    // to idle ones); the queries in flight reject anyway, so the process must not crash on it.
    const ignore = () => undefined;
    client.on('error', ignore);
    const done: { job: Job; ok: boolean; value: unknown }[] = [];
    let failed: unknown;
    try {
      // One round trip: a simple query may carry several statements when it has no parameters.
      await client.query(`BEGIN; SAVEPOINT ${SAVEPOINT}`);
      while (queue.length > 0 && done.length < maxGroup) {
        const job = queue.shift()!;
        const state = { closed: false };
        let value: unknown;
        let ok = false;
        try {
          value = await job.fn(wrap(client, state));
          ok = true;
        } catch (err) {
          value = err;
        } finally {
          state.closed = true;
        }
        if (ok) {
          try {
            // RELEASE fails when the member caught an SQL error itself and returned anyway: its
            // savepoint is then in the aborted state and must be rolled back like any failure.
            // Either way a clean savepoint is left for the next member (the COMMIT covers the last).
            await client.query(`RELEASE SAVEPOINT ${SAVEPOINT}; SAVEPOINT ${SAVEPOINT}`);
            done.push({ job, ok: true, value });
            continue;
          } catch (err) {
            value = err;
          }
        }
        done.push({ job, ok: false, value });
        // Keeps the savepoint, so the next member runs in it. If this fails, the whole group does.
        await client.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
      }
      const commit = await client.query('COMMIT');
      // A transaction that was aborted answers COMMIT with ROLLBACK, not with an error.
      if (commit.command !== 'COMMIT') throw new Error(`the group's COMMIT was answered ${commit.command}: nothing was committed`);
    } catch (err) {
      failed = err;
      await client.query('ROLLBACK').catch(() => undefined);
      for (const d of done) if (d.ok) Object.assign(d, { ok: false, value: err });
    } finally {
      // After a failed group the connection's state is unknown (it may be the cause): a fresh one next time.
      client.off('error', ignore);
      client.release(failed === undefined ? undefined : true);
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

  return {
    /**
     * Queues `fn` for the next group. A group starts at the end of the current event-loop turn
     * (or when the running one ends), so every request that reached its transaction meanwhile
     * joins it: one turn of latency, one COMMIT and one lock of each hot row per group.
     */
    transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
        if (pumping || scheduled) return;
        scheduled = true;
        setImmediate(() => {
          scheduled = false;
          void pump();
        });
      });
    },
    /** Resolves once every queued transaction has run (for close). */
    async drain(): Promise<void> {
      while (pumping || queue.length > 0) await pump();
    },
  };
}
