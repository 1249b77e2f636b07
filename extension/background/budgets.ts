/**
 * The person's budgets (each for one site and one payee), kept at the hub (`/allowances`) and mirrored in session storage so
 * that the popup and the approval window can show them and a 402 can be decided on without a round
 * trip. The mirror is refreshed on every change made here, after every auto-payment, and whenever a
 * page asks (popup opened).
 */
import type { AllowancePeriod } from '../../shared/api.js';
import { findBudget, type Allowance } from '../common/budget.js';
import type { T } from '../common/i18n.js';
import { BudgetsView, KEYS, type HubSession } from '../common/state.js';
import type { StorageArea } from '../common/storage.js';
import type { HubApi } from './hub-api.js';
import { createSerial } from './serial.js';

export interface BudgetsDeps {
  session: StorageArea;
  t: T;
  api: Pick<HubApi, 'allowances' | 'putAllowance' | 'deleteAllowance'>;
  current(): Promise<HubSession | null>;
  now?: () => number;
  lookupWaitMs?: number;
}

export type Budgets = ReturnType<typeof createBudgets>;

/**
 * How long a 402 waits for the hub's budgets when none were read yet in this session. A slow or
 * unreachable hub must not hold the approval window back: past this, the person is asked (the read
 * goes on and fills the mirror for the next 402).
 */
export const LOOKUP_WAIT_MS = 1000;
export const RETRY_AFTER_MS = 30_000;

const same = (a: Pick<Allowance, 'site' | 'payee' | 'asset'>, b: Pick<Allowance, 'site' | 'payee' | 'asset'>) =>
  a.site === b.site && a.payee === b.payee && a.asset === b.asset;

const within = <T>(p: Promise<T>, ms: number): Promise<T | null> =>
  Promise.race([p, new Promise<null>((r) => setTimeout(() => r(null), ms))]);

export function createBudgets(deps: BudgetsDeps) {
  const now = deps.now ?? (() => Date.now());
  const serial = createSerial();
  const owner = (s: HubSession) => ({ hubUrl: s.url, userId: s.user?.id ?? '' });
  // After a failed read, 402s do not wait for the hub again for a while (it is likely still down).
  let failedAt = -Infinity;

  async function stored(s: HubSession): Promise<BudgetsView | null> {
    const parsed = BudgetsView.safeParse((await deps.session.get(KEYS.budgets))[KEYS.budgets]);
    const o = owner(s);
    return parsed.success && parsed.data.hubUrl === o.hubUrl && parsed.data.userId === o.userId ? parsed.data : null;
  }

  const write = (s: HubSession, data: Allowance[]) =>
    deps.session.set({ [KEYS.budgets]: { ...owner(s), data, syncedAt: now() } satisfies BudgetsView });

  async function sync(s: HubSession): Promise<Allowance[]> {
    const list = await deps.api.allowances(s);
    await serial(() => write(s, list.data));
    return list.data;
  }

  return {
    /** Reads the budgets from the hub now. */
    async sync(): Promise<void> {
      const s = await deps.current();
      if (s) await sync(s);
    },

    /**
     * The budget for a site and payee in an asset, from the mirror; read from the hub first when
     * this session has none yet. A hub that cannot be reached means "no budget known": the person
     * is asked. No payee, no budget.
     */
    async lookup(site: string, payee: string | null, asset: string): Promise<Allowance | null> {
      const s = await deps.current();
      if (!s || !payee) return null;
      const mirrored = (await stored(s))?.data;
      if (mirrored) return findBudget(mirrored, site, payee, asset) ?? null;
      if (now() - failedAt < RETRY_AFTER_MS) return null;
      const read = sync(s).catch(() => {
        failedAt = now();
        return null;
      });
      const data = await within(read, deps.lookupWaitMs ?? LOOKUP_WAIT_MS);
      return (data && findBudget(data, site, payee, asset)) ?? null;
    },

    async put(a: { site: string; payee: string; asset: string; amount: string; period: AllowancePeriod }): Promise<Allowance> {
      const s = await deps.current();
      if (!s) throw new Error(deps.t('worker_sign_in_first'));
      const saved = await deps.api.putAllowance(s, a);
      await serial(async () => {
        const data = (await stored(s))?.data ?? [];
        await write(
          s,
          [...data.filter((x) => !same(x, saved)), saved].sort((x, y) => x.site.localeCompare(y.site)),
        );
      });
      return saved;
    },

    /** `payee` null: a budget kept from before budgets named a payee. */
    async remove(site: string, payee: string | null, asset: string): Promise<void> {
      const s = await deps.current();
      if (!s) throw new Error(deps.t('worker_sign_in_first'));
      await deps.api.deleteAllowance(s, site, payee, asset);
      await serial(async () =>
        write(
          s,
          ((await stored(s))?.data ?? []).filter((x) => !same(x, { site, payee, asset })),
        ),
      );
    },
  };
}
