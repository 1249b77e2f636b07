import type { Queryable } from '../../server/store/types.js';

/** Outbox rows not yet handed to the sinks. */
export async function undispatchedCount(db: Queryable): Promise<number> {
  const row = await db.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM outbox WHERE dispatched_at IS NULL');
  return Number(row?.n ?? 0);
}

/**
 * Resolves once the hub's outbox dispatcher has delivered every event committed so far.
 *
 * A payment's events are committed before its HTTP answer, but delivered afterwards by the
 * dispatcher (poked after the commit, on a later turn of the event loop). A test that reconnects
 * with `lastSeq` right after a payment therefore races the dispatcher: the last event can reach the
 * new socket twice (replayed from the database and pushed live) and in either order, which the
 * protocol allows (clients dedupe by seq). Waiting for this condition first makes the replay the
 * only way the missed events arrive. A row is marked dispatched only after its sinks have taken it,
 * so once nothing is undispatched nothing more is on its way.
 */
export async function outboxDrained(db: Queryable, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await undispatchedCount(db);
    if (left === 0) return;
    if (Date.now() > deadline) throw new Error(`outbox still has ${left} undispatched event(s) after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
