/**
 * The hub's `GET /rails`, cached in session storage: which rails (and assets) the hub has, which
 * decides what a 402 is paid with (choose.ts), and for SOVR what a wallet signs (chain, token,
 * treasury, EIP-712 name/version, validity bounds). Read at sign-in and again when a 402 finds the
 * copy older than MAX_AGE_MS (the stale copy is used meanwhile). A 402 with no copy yet goes on at
 * once without it (`info({wait: false})`, the read is started for the next one), except one that
 * could be paid on chain, which waits at most LOOKUP_WAIT_MS for the hub (`sovr()`).
 */
import type { RailsInfo } from '../../shared/api.js';
import { KEYS, RailsView, type HubSession } from '../common/state.js';
import type { StorageArea } from '../common/storage.js';
import type { RailsApi } from './hub-api.js';
import { sovrRailOf, type SovrRailInfo } from './onchain.js';
import { createSerial } from './serial.js';

export const MAX_AGE_MS = 10 * 60_000;
export const LOOKUP_WAIT_MS = 1000;
/** After a failed read, 402s do not wait for the hub again for this long. */
export const RETRY_AFTER_MS = 30_000;

export interface RailsDeps {
  session: StorageArea;
  api: RailsApi;
  current(): Promise<HubSession | null>;
  now?: () => number;
  lookupWaitMs?: number;
}

export type Rails = ReturnType<typeof createRails>;

const within = <T>(p: Promise<T>, ms: number): Promise<T | null> =>
  Promise.race([p, new Promise<null>((r) => setTimeout(() => r(null), ms))]);

export function createRails(deps: RailsDeps) {
  const now = deps.now ?? (() => Date.now());
  const serial = createSerial();
  let failedAt = -Infinity;
  let reading: Promise<RailsInfo | null> | null = null;

  async function stored(hubUrl: string): Promise<RailsView | null> {
    const parsed = RailsView.safeParse((await deps.session.get(KEYS.rails))[KEYS.rails]);
    return parsed.success && parsed.data.hubUrl === hubUrl ? parsed.data : null;
  }

  /** One read at a time; a failure is remembered so that 402s stop waiting on a hub that is down. */
  function read(hubUrl: string): Promise<RailsInfo | null> {
    reading ??= deps.api
      .rails(hubUrl)
      .then(async (info) => {
        // Signed out (or locked) while the read ran: nothing is kept for a session that is gone.
        if ((await deps.current())?.url !== hubUrl) return info;
        await serial(() => deps.session.set({ [KEYS.rails]: { hubUrl, info, fetchedAt: now() } satisfies RailsView }));
        return info;
      })
      .catch((e: unknown) => {
        failedAt = now();
        console.warn('tollway: could not read the hub rails', e);
        return null;
      })
      .finally(() => (reading = null));
    return reading;
  }

  /**
   * The hub's GET /rails answer, or null when it is not known: the cached copy at once (read again
   * in the background when stale); without one, `wait` waits at most LOOKUP_WAIT_MS for the hub,
   * else null at once with the read started (never a second one while one runs, nor within
   * RETRY_AFTER_MS of a failed one). `hubUrl`: the caller already has the session's hub.
   */
  async function info({ wait, hubUrl }: { wait: boolean; hubUrl?: string }): Promise<RailsInfo | null> {
    const url = hubUrl ?? (await deps.current())?.url;
    if (!url) return null;
    const copy = await stored(url);
    if (copy) {
      // The treasury is null while the hub loads its service wallet: ask again soon, not in ten minutes.
      const rail = sovrRailOf(copy.info);
      const stale = now() - copy.fetchedAt > MAX_AGE_MS || (rail !== null && !rail.treasury && now() - copy.fetchedAt > RETRY_AFTER_MS);
      if (stale) void read(url);
      return copy.info;
    }
    if (now() - failedAt < RETRY_AFTER_MS) return null;
    const pending = read(url);
    return wait ? within(pending, deps.lookupWaitMs ?? LOOKUP_WAIT_MS) : null;
  }

  return {
    info,

    /** Reads GET /rails now (sign-in). */
    async sync(): Promise<void> {
      const s = await deps.current();
      if (s) await read(s.url);
    },

    /** The hub's SOVR rail, or null when it has none (or cannot be asked in time). */
    async sovr(): Promise<SovrRailInfo | null> {
      return sovrRailOf(await info({ wait: true }));
    },
  };
}
