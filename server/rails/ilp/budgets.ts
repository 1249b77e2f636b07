/**
 * Grants the hub holds an outgoing-payment token for, and what it charged to each. A payment is
 * charged to a grant inside the transaction that records it (the grant's row locked), so payments
 * racing for one grant can never together pass its limit; the wallet enforces the same limit too.
 */
import type { IlpGrant } from '../../../shared/ilp.js';
import type { Queryable } from '../../store/types.js';
import { parseInterval, windowAt } from './interval.js';
import { activeBudgets, type GrantRow, updateGrantSpend } from './store.js';

export interface GrantStanding {
  spent: bigint;
  remaining: bigint;
  /** The current interval's start (ms), or null for a grant without one. */
  periodStart: number | null;
  resetsAt: number | null;
  /** False when the grant does not apply now (its interval has not begun or has ended). */
  usable: boolean;
}

/** What is left of a grant at `now`: its spend resets when a new interval window begins. */
export function standing(g: GrantRow, now: number): GrantStanding {
  const limit = BigInt(g.limit_amount);
  if (!g.interval) {
    const spent = BigInt(g.spent);
    return { spent, remaining: limit > spent ? limit - spent : 0n, periodStart: null, resetsAt: null, usable: true };
  }
  const w = windowAt(parseInterval(g.interval), now);
  if (!w) return { spent: 0n, remaining: 0n, periodStart: null, resetsAt: null, usable: false };
  const spent = g.period_start === w.start ? BigInt(g.spent) : 0n;
  return { spent, remaining: limit > spent ? limit - spent : 0n, periodStart: w.start, resetsAt: w.end, usable: true };
}

/**
 * Charges `amount` (wallet units) to the person's oldest budget on this wallet, in this asset, that
 * still covers it; its id, or undefined when none does. Runs inside the payment's transaction.
 */
export async function chargeBudget(
  tx: Queryable,
  req: { userId: string; walletAddress: string; assetCode: string; assetScale: number; amount: bigint; now: number },
): Promise<string | undefined> {
  for (const g of await activeBudgets(tx, req.userId, req.walletAddress, true)) {
    if (g.asset_code !== req.assetCode || g.asset_scale !== req.assetScale) continue;
    const s = standing(g, req.now);
    if (!s.usable || s.remaining < req.amount) continue;
    await updateGrantSpend(tx, g.id, s.spent + req.amount, s.periodStart, req.now);
    return g.id;
  }
  return undefined;
}

/** Gives a charge back (the payment sent nothing), within the interval it was charged in. */
export async function releaseCharge(tx: Queryable, g: GrantRow, amount: bigint, now: number): Promise<void> {
  const s = standing(g, now);
  if (!s.usable) return;
  const back = s.spent < amount ? s.spent : amount;
  await updateGrantSpend(tx, g.id, s.spent - back, s.periodStart, now);
}

export function toIlpGrant(g: GrantRow, now: number): IlpGrant {
  const s = standing(g, now);
  return {
    id: g.id,
    walletAddress: g.wallet_address,
    assetCode: g.asset_code,
    assetScale: g.asset_scale,
    limit: g.limit_amount,
    interval: g.interval,
    spent: s.spent.toString(),
    remaining: s.remaining.toString(),
    resetsAt: s.resetsAt === null ? null : new Date(s.resetsAt).toISOString(),
    createdAt: new Date(g.created_at).toISOString(),
  };
}
