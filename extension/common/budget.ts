/**
 * Budgets (the hub's allowances, each for one site and one payee) as pure functions: the calendar
 * period, what is left of a budget at a given moment, whether a payment may go through without
 * asking, and amounts typed in whole units. The hub is the authority (it charges the allowance atomically with the payment);
 * these only decide whether to try, and what to show.
 */
import type { z } from 'zod';
import type { Allowance as AllowanceSchema, AllowancePeriod, CreatePaymentRequest } from '../../shared/api.js';
import { ASSETS } from '../../shared/assets.js';
import { periodBounds } from '../../shared/periods.js';

// Re-exported: callers here read the period rule from the module that uses it.
export { periodBounds };

export type Allowance = z.infer<typeof AllowanceSchema>;

const isAmount = (s: string) => /^(0|[1-9][0-9]{0,77})$/.test(s);

/**
 * The allowance as it stands at `now`. The hub's answer was true when it was read; once its period
 * has ended, the hub counts nothing spent, so neither does this (until the next read says more).
 */
export function allowanceAt(a: Allowance, now: number): { amount: bigint; spent: bigint; remaining: bigint; resetsAt: number } {
  const amount = isAmount(a.amount) ? BigInt(a.amount) : 0n;
  const resetsAt = Date.parse(a.resetsAt);
  if (Number.isFinite(resetsAt) && now >= resetsAt)
    return { amount, spent: 0n, remaining: amount, resetsAt: periodBounds(a.period, now).end };
  const spent = isAmount(a.spent) ? BigInt(a.spent) : amount;
  const remaining = isAmount(a.remaining) ? BigInt(a.remaining) : 0n;
  return { amount, spent, remaining, resetsAt: Number.isFinite(resetsAt) ? resetsAt : periodBounds(a.period, now).end };
}

export type AutoPay = { auto: true } | { auto: false; reason: 'no-payment' | 'no-budget' | 'over-budget' | 'not-a-site' | 'no-payee' };

/** Whether a site's page is one a budget can be kept for (an http(s) origin, nothing more). */
export function isSiteOrigin(site: string): boolean {
  try {
    const u = new URL(site);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === site;
  } catch {
    return false;
  }
}

/**
 * Pay without asking, or ask? Without asking only when the site has a budget for this payee in the
 * payment's asset and what is left of it this period covers the amount. A budget is bound to the
 * payee it was set for: a script on the site asking to pay anyone else is asked about. The hub
 * checks again, atomically: a stale picture here costs at most one refused try, then the window.
 */
export function autoPayDecision(
  site: string,
  payee: string | null,
  payment: Pick<CreatePaymentRequest, 'amount' | 'asset'> | null,
  allowance: Allowance | null | undefined,
  now: number,
): AutoPay {
  if (!payment || !isAmount(payment.amount)) return { auto: false, reason: 'no-payment' };
  if (!isSiteOrigin(site)) return { auto: false, reason: 'not-a-site' };
  if (!payee) return { auto: false, reason: 'no-payee' };
  if (!allowance || allowance.site !== site || allowance.payee !== payee || allowance.asset !== payment.asset)
    return { auto: false, reason: 'no-budget' };
  return allowanceAt(allowance, now).remaining >= BigInt(payment.amount) ? { auto: true } : { auto: false, reason: 'over-budget' };
}

/** The budget of `site` for `payee` in `asset`, from a list; budgets without a payee match nothing. */
export function findBudget(
  list: readonly Allowance[],
  site: string,
  payee: string | null | undefined,
  asset: string,
): Allowance | undefined {
  return payee ? list.find((a) => a.site === site && a.payee === payee && a.asset === asset) : undefined;
}

export const decimalsOf = (asset: string): number | null =>
  (ASSETS as Record<string, { decimals: number } | undefined>)[asset]?.decimals ?? null;

/**
 * "0.5" in whole units of an asset → base units, exactly (no floating point). Null for anything
 * that is not a plain non-negative decimal with at most the asset's number of decimals.
 */
export function parseUnits(text: string, decimals: number): bigint | null {
  const m = /^\s*([0-9]{1,60})(?:\.([0-9]*))?\s*$/.exec(text) ?? /^\s*()\.([0-9]+)\s*$/.exec(text);
  if (!m) return null;
  const frac = (m[2] ?? '').replace(/0+$/, '');
  if (frac.length > decimals) return null;
  return BigInt(m[1] || '0') * 10n ** BigInt(decimals) + BigInt(frac.padEnd(decimals, '0') || '0');
}

export const PERIOD_LABEL: Record<AllowancePeriod, string> = { day: 'day', week: 'week', month: 'month' };
