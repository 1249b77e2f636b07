/**
 * The per-token daily limit (the networks list's `dailyLimit`, base units per UTC day, every site
 * together): the person's own guard, on top of the hub's budgets. What counts is every
 * authorization this wallet signed for that token today, kept in `local` storage by request id
 * from the moment it is signed (before anything is sent), in bigint. An authorization the hub
 * refused before it went to the site is taken off again; one that reached the site stays counted,
 * whatever the site did with it, since it can still settle until it expires.
 */
import { z } from 'zod';
import { AmountString } from '../../shared/amount.js';
import { KEYS } from '../common/state.js';
import type { StorageArea } from '../common/storage.js';
import { createSerial } from './serial.js';

export const SpentEntry = z.object({
  requestId: z.string().min(1),
  /** CAIP-19, as the hub names the token (lower-case address). */
  asset: z.string(),
  amount: AmountString,
  /** The UTC day it was signed on, YYYY-MM-DD. */
  day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
});
export type SpentEntry = z.infer<typeof SpentEntry>;

const SpentList = z.object({ v: z.literal(1), entries: z.array(z.unknown()) });

export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** Base units of `asset` signed on `now`'s UTC day. */
export function spentToday(entries: readonly SpentEntry[], asset: string, now: number): bigint {
  const day = utcDay(now);
  return entries.filter((e) => e.asset === asset && e.day === day).reduce((sum, e) => sum + BigInt(e.amount), 0n);
}

/** Whether paying `amount` more today stays within `limit` (none: always). */
export function withinLimit(limit: string | undefined, spent: bigint, amount: bigint): boolean {
  return limit === undefined || spent + amount <= BigInt(limit);
}

/** Entries of days before yesterday go: nothing counts them any more. */
export function prune(entries: readonly SpentEntry[], now: number): SpentEntry[] {
  const keep = new Set([utcDay(now), utcDay(now - 86_400_000)]);
  return entries.filter((e) => keep.has(e.day));
}

export type DailyLimits = ReturnType<typeof createDailyLimits>;

export function createDailyLimits(deps: { local: StorageArea; now?: () => number }) {
  const now = deps.now ?? (() => Date.now());
  const serial = createSerial();

  async function load(): Promise<SpentEntry[]> {
    const list = SpentList.safeParse((await deps.local.get(KEYS.evmSpent))[KEYS.evmSpent]);
    if (!list.success) return [];
    return list.data.entries.flatMap((e) => {
      const p = SpentEntry.safeParse(e);
      return p.success ? [p.data] : [];
    });
  }

  const store = (entries: SpentEntry[]) => deps.local.set({ [KEYS.evmSpent]: { v: 1, entries } });

  return {
    /** What `asset` has spent today. */
    spent: async (asset: string): Promise<bigint> => spentToday(await load(), asset, now()),

    /**
     * Counts `amount` for `requestId` if it stays within `limit`; false (nothing counted) if not.
     * Checked and written in one step, so two payments at once cannot both slip under it. A request
     * counted already is counted once.
     */
    reserve: (requestId: string, asset: string, amount: string, limit: string | undefined): Promise<boolean> =>
      serial(async () => {
        const entries = prune(await load(), now());
        if (entries.some((e) => e.requestId === requestId)) return true;
        if (!withinLimit(limit, spentToday(entries, asset, now()), BigInt(amount))) return false;
        await store([...entries, { requestId, asset, amount, day: utcDay(now()) }]);
        return true;
      }),

    /** Takes a request's authorization off again (the hub refused it before it went anywhere). */
    release: (requestId: string): Promise<void> =>
      serial(async () => {
        const entries = await load();
        if (entries.some((e) => e.requestId === requestId)) await store(entries.filter((e) => e.requestId !== requestId));
      }),
  };
}
