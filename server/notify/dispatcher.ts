import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { forUpdate, type Db, type Queryable } from '../store/types.js';
import { OUTBOX_COLUMNS, toRecord, type OutboxRecord } from './outbox.js';

/** Where outbox events go (the socket notifier, the webhook dispatcher). Throwing means "retry later". */
export interface OutboxSink {
  deliver(events: OutboxRecord[]): Promise<void>;
}

export interface OutboxDispatcherOptions {
  db: Db;
  clock: Clock;
  sinks: readonly OutboxSink[];
  /** Most rows claimed per transaction. */
  batchSize?: number;
  /** How often to look for rows written by other processes (ours call poke()). */
  pollIntervalMs?: number;
  /**
   * The column that marks a row done for this dispatcher. Each dispatcher keeps its own, so one
   * whose sink is down (the event broker) delays no other.
   */
  doneColumn?: 'dispatched_at' | 'published_at';
  /**
   * Read, deliver, then mark in a short transaction on PostgreSQL too (SQLite always does): for a
   * sink that may wait long (a broker that is down), which must hold neither rows nor the writer
   * meanwhile. Only for a sink whose deliveries are idempotent and that orders a user's events by
   * its own acknowledgements (broker.ts): several processes may then deliver the same rows.
   */
  unlocked?: boolean;
  /** Once per delivered event, with its age (now − created_at) in ms. */
  onDelivered?(lagMs: number): void;
  logger?: Pick<Logger, 'warn' | 'error'>;
}

export interface OutboxDispatcher {
  start(): void;
  /** Stops the timers and waits for the run in flight (and the one queued behind it) to end. */
  stop(): Promise<void>;
  /** Run now (after a commit that wrote events). Coalesced: one run in flight, one queued. */
  poke(): void;
  /** Delivers everything deliverable now; resolves with how many events, rejects if a sink failed. */
  drainOnce(): Promise<number>;
}

const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5000;
const MARK_CHUNK = 500;

/**
 * Delivers outbox rows at least once, in seq order per user (hence in order per payment).
 *
 * Ordering rule: a row is only taken when no earlier undispatched row of the same user exists.
 * That is stricter than "per payment" on purpose: clients track a user's seq and replay from it,
 * so an event must never overtake an earlier one of the same user, even of another payment.
 * A claim takes each user's first undispatched row ("head"), then the run of that user's rows that
 * follows it: while we hold the head no other dispatcher can take any of them.
 *
 * PostgreSQL: claim, deliver and mark happen in one transaction, the heads locked with FOR UPDATE
 * SKIP LOCKED, so several hub processes share the outbox without delivering a row twice or out of
 * order (a crash or a failed sink rolls back and the rows are taken again).
 * SQLite: one process owns the file, and its writer is serialised, so holding a write transaction
 * across delivery would stall payments (and deadlock a sink that writes). Rows are read, delivered,
 * then marked in a short transaction; runs never overlap, so nothing is taken twice.
 */
export function createOutboxDispatcher(opts: OutboxDispatcherOptions): OutboxDispatcher {
  const { db, clock, sinks, logger, unlocked } = opts;
  const done = opts.doneColumn ?? 'dispatched_at';
  const batchSize = Math.max(1, opts.batchSize ?? 200);
  const pollIntervalMs = opts.pollIntervalMs ?? 250;

  // "No earlier undispatched row of the user" is checked on the previous seq alone: seqs are
  // gap-free per user and rows are only ever dispatched in seq order, so a user's dispatched rows
  // are always a prefix. That makes it one unique-index lookup instead of a scan of the user's
  // (retained, dispatched) history.
  async function claim(q: Queryable): Promise<OutboxRecord[]> {
    // SQLite: one dispatcher per file and one writer, so id order is commit order and so seq order
    // per user; the plain scan of the undispatched index is all the ordering needed.
    // PostgreSQL unlocked: a user's events commit in seq order (appendEvent holds the user's row
    // until commit), so the rows of a user that a reader sees undone are always its earliest ones,
    // in id order: the same scan keeps each user's order.
    if (q.dialect === 'sqlite' || unlocked) {
      return (
        await q.all<Parameters<typeof toRecord>[0]>(`SELECT ${OUTBOX_COLUMNS} FROM outbox WHERE ${done} IS NULL ORDER BY id LIMIT ?`, [
          batchSize,
        ])
      ).map(toRecord);
    }
    const heads = (
      await q.all<Parameters<typeof toRecord>[0]>(
        `SELECT ${OUTBOX_COLUMNS} FROM outbox o
          WHERE o.${done} IS NULL
            AND NOT EXISTS (SELECT 1 FROM outbox e
                             WHERE e.user_id = o.user_id AND e.seq = o.seq - 1 AND e.${done} IS NULL)
          ORDER BY o.id LIMIT ?${forUpdate(q, true)}`,
        [batchSize],
      )
    ).map(toRecord);
    if (heads.length === 0) return [];
    let budget = batchSize - heads.length;
    if (budget <= 0) return heads;

    // The rows that follow each head, read in id order through the undispatched index (a user's
    // id order is its seq order: its events commit one after the other). SKIP LOCKED only as a
    // safeguard, nobody else can hold them; the consecutive-seq check drops anything past a gap.
    const users = [...new Set(heads.map((h) => h.userId))];
    const followers = (
      await q.all<Parameters<typeof toRecord>[0]>(
        `SELECT ${OUTBOX_COLUMNS} FROM outbox
          WHERE ${done} IS NULL AND id > ? AND user_id IN (${users.map(() => '?').join(', ')})
          ORDER BY id LIMIT ?${forUpdate(q, true)}`,
        [heads[0]!.id, ...users, batchSize],
      )
    ).map(toRecord);
    const byUser = new Map<string, OutboxRecord[]>();
    for (const f of followers) {
      const list = byUser.get(f.userId) ?? [];
      list.push(f);
      byUser.set(f.userId, list);
    }
    const batch = [...heads];
    const taken = new Set(heads.map((h) => h.id)); // a row is never twice in a batch, whatever the data
    for (const head of heads) {
      let next = head.seq + 1;
      for (const f of byUser.get(head.userId) ?? []) {
        if (budget <= 0 || f.seq > next) break;
        if (f.seq < next || taken.has(f.id)) continue;
        taken.add(f.id);
        batch.push(f);
        next++;
        budget--;
      }
    }
    return batch.sort((a, b) => a.id - b.id);
  }

  async function deliver(events: OutboxRecord[]): Promise<void> {
    const results = await Promise.allSettled(sinks.map((s) => s.deliver(events)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  async function markDispatched(tx: Queryable, events: OutboxRecord[], now: number): Promise<void> {
    for (let i = 0; i < events.length; i += MARK_CHUNK) {
      const ids = events.slice(i, i + MARK_CHUNK).map((e) => e.id);
      await tx.run(`UPDATE outbox SET ${done} = ? WHERE id IN (${ids.map(() => '?').join(', ')})`, [now, ...ids]);
    }
  }

  async function runBatch(): Promise<OutboxRecord[]> {
    if (db.dialect === 'postgres' && !unlocked) {
      return db.transaction(async (tx) => {
        const events = await claim(tx);
        if (events.length === 0) return events;
        await deliver(events);
        await markDispatched(tx, events, clock.now());
        return events;
      });
    }
    const events = await claim(db);
    if (events.length === 0) return events;
    await deliver(events);
    await db.transaction((tx) => markDispatched(tx, events, clock.now()));
    return events;
  }

  let stopped = false;
  async function drain(): Promise<number> {
    let total = 0;
    while (!stopped) {
      const events = await runBatch();
      if (events.length === 0) break;
      total += events.length;
      if (opts.onDelivered) {
        const now = clock.now();
        for (const e of events) opts.onDelivered(now - e.createdAt);
      }
    }
    return total;
  }

  // One run in flight, at most one queued behind it; every trigger while one is queued joins it.
  let inFlight: Promise<number> | null = null;
  let queued: Promise<number> | null = null;
  let failures = 0;
  let retryAt = 0;
  let retryTimer: NodeJS.Timeout | null = null;
  let pollTimer: NodeJS.Timeout | null = null;
  let started = false;
  let pokeScheduled = false;

  function onRunFailed(err: unknown) {
    failures++;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (failures - 1));
    retryAt = Date.now() + delay;
    logger?.warn({ err, failures, retryInMs: delay }, 'outbox delivery failed; will retry');
    if (started && !stopped && !retryTimer) {
      retryTimer = setTimeout(() => {
        retryTimer = null;
        kick();
      }, delay);
      retryTimer.unref();
    }
  }

  function schedule(): Promise<number> {
    if (stopped) return Promise.resolve(0);
    if (!inFlight) {
      const run = drain();
      inFlight = run;
      // Registered first, so it has run before the queued continuation below looks at inFlight.
      run.then(
        () => {
          inFlight = null;
          failures = 0;
          retryAt = 0;
        },
        (err: unknown) => {
          inFlight = null;
          onRunFailed(err);
        },
      );
      return run;
    }
    if (!queued) {
      const next = inFlight
        .then(
          () => undefined,
          () => undefined,
        )
        .then(() => {
          queued = null;
          return schedule();
        });
      next.catch(() => undefined); // observed by onRunFailed; a poke does not await it
      queued = next;
    }
    return queued;
  }

  /** Background trigger: respects the backoff after a failure (the retry timer runs it then). */
  function kick() {
    if (stopped) return;
    if (Date.now() < retryAt) return;
    void schedule().catch(() => undefined);
  }

  return {
    start() {
      if (started || stopped) return;
      started = true;
      pollTimer = setInterval(kick, pollIntervalMs);
      pollTimer.unref();
      kick(); // rows left by a previous run of the hub
    },
    async stop() {
      stopped = true;
      if (pollTimer) clearInterval(pollTimer);
      if (retryTimer) clearTimeout(retryTimer);
      pollTimer = retryTimer = null;
      await Promise.allSettled([inFlight, queued].filter((p): p is Promise<number> => p !== null));
    },
    // Coalesced to the end of this event-loop turn: under load many commits share one run.
    poke() {
      if (pokeScheduled || stopped) return;
      pokeScheduled = true;
      setImmediate(() => {
        pokeScheduled = false;
        kick();
      });
    },
    drainOnce: schedule,
  };
}
