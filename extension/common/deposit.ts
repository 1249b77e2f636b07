/**
 * Deposits from the wallet ("Move SOVR from my wallet"), the parts both the popup and the worker
 * need: the amount typed in SOVR turned into base units (bigint, never a float), what is kept in
 * `local` storage per deposit, and which SOVR rail (GET /rails, cached by the worker) can take one.
 * No ethers here: the popup imports this, and only the worker signs.
 */
import { z } from 'zod';
import { MAX_AMOUNT } from '../../shared/amount.js';
import type { RailsInfo } from '../../shared/api.js';
import { Deposit, DepositStatus } from '../../shared/deposits.js';
import { SignedAuthorization } from '../../shared/eip3009.js';
import type { T } from './i18n.js';
import { RailsView } from './state.js';

export const SOVR_DECIMALS = 18;
/** `local`: the deposits (open ones and the last few finished), newest first. */
export const DEPOSITS_KEY = 'tollway.deposits';
/** Finished deposits kept for the popup; open ones are never dropped. */
export const DEPOSITS_KEPT = 10;

export type AmountParse = { ok: true; value: bigint } | { ok: false; error: string };

/**
 * "2", "0.5", ".25", "1.000" in SOVR → base units, exactly. Refuses anything else with a reason a
 * person can act on: signs, exponents, commas, more decimals than the token has, zero, too much.
 */
export function parseSovrAmount(text: string, t: T, decimals = SOVR_DECIMALS): AmountParse {
  const typed = text.trim();
  if (!typed) return { ok: false, error: t('deposit_amount_missing') };
  const m = /^([0-9]*)(?:\.([0-9]*))?$/.exec(typed);
  if (!m || (!m[1] && !m[2])) return { ok: false, error: t('deposit_amount_not_plain') };
  const whole = m[1] ?? '';
  const frac = (m[2] ?? '').replace(/0+$/, '');
  if (frac.length > decimals) return { ok: false, error: t('deposit_amount_too_precise', decimals) };
  if (whole.length > 78) return { ok: false, error: t('deposit_amount_too_large') };
  const value = BigInt(whole || '0') * 10n ** BigInt(decimals) + BigInt(frac.padEnd(decimals, '0') || '0');
  if (value === 0n) return { ok: false, error: t('deposit_amount_zero') };
  if (value > MAX_AMOUNT) return { ok: false, error: t('deposit_amount_too_large') };
  return { ok: true, value };
}

export type SovrRail = Extract<RailsInfo['rails'][number], { name: 'sovr' }>;

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/** The hub's SOVR rail from the cached GET /rails, when it can take a deposit (treasury known, SOVR offered). */
export function depositRailOf(raw: unknown, hubUrl: string): SovrRail | null {
  const view = RailsView.safeParse(raw);
  if (!view.success || view.data.hubUrl !== hubUrl) return null;
  const rail = view.data.info.rails.find((r): r is SovrRail => r.name === 'sovr');
  return rail && ADDRESS.test(rail.token) && rail.treasury && ADDRESS.test(rail.treasury) && rail.assets.includes('SOVR') ? rail : null;
}

/**
 * - sending: signed and stored; `POST /deposits` may have gone out (a restarted worker re-sends
 *   the same body under the same key)
 * - pending / submitted / completed / failed: as the hub last answered (failed also when it refused)
 */
export const StoredDepositStatus = z.union([z.literal('sending'), DepositStatus]);
export type StoredDepositStatus = z.infer<typeof StoredDepositStatus>;

export const StoredDeposit = z.object({
  id: z.string().min(1),
  idempotencyKey: z.string().min(1).max(255),
  hubUrl: z.string(),
  userId: z.string(),
  /** The exact `POST /deposits` body, signed: replays must send these bytes again. */
  body: z.object({ amount: z.string(), authorization: SignedAuthorization }),
  status: StoredDepositStatus,
  deposit: Deposit.nullable(),
  /** Why it failed (the hub's refusal or failure reason), or why the last try did not get an answer. */
  error: z.string().nullable(),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
});
export type StoredDeposit = z.infer<typeof StoredDeposit>;

export const isOpenDeposit = (d: Pick<StoredDeposit, 'status'>) => d.status !== 'completed' && d.status !== 'failed';

/** The stored list, keeping every entry that still validates. */
export function readDeposits(raw: unknown): StoredDeposit[] {
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((d) => {
    const p = StoredDeposit.safeParse(d);
    return p.success ? [p.data] : [];
  });
}

/** The list to store: every open deposit, and the newest finished ones up to DEPOSITS_KEPT. */
export function trimDeposits(list: readonly StoredDeposit[]): StoredDeposit[] {
  let finished = 0;
  return list.filter((d) => isOpenDeposit(d) || finished++ < DEPOSITS_KEPT);
}
