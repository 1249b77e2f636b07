/**
 * Paying a hub merchant from the person's own Interledger wallet, as pure functions: whether a
 * queued request may also be paid that way, the body for it, and the budget a person may approve
 * on their wallet instead of the one payment.
 *
 * It is offered only when every part agrees: the challenge's tollway entry (on this hub, already
 * planned as an `internal` payment) names the ilp rail in `extra.interledger`, the hub lists the ilp
 * rail for that asset (GET /rails), and the person has linked a wallet. The hub pays the merchant's
 * wallet address it has on record, never the one the challenge names, so `payTo` stays the
 * merchant id.
 */
import type { AllowancePeriod, CreatePaymentRequest, RailsInfo } from '../../shared/api.js';
import type { PaymentOption } from '../../shared/challenge.js';
import type { IlpPlan } from '../common/ilp.js';

/** The ilp rail's length of each budget period, as an ISO 8601 duration. */
const PERIOD_DURATION: Record<AllowancePeriod, string> = { day: 'P1D', week: 'P7D', month: 'P1M' };

export function offersIlp(option: PaymentOption | null): boolean {
  const named = option?.extra?.interledger;
  return Boolean(named && typeof named === 'object' && (named as { rail?: unknown }).rail === 'ilp');
}

export function ilpPlanOf(
  choice: { payment: CreatePaymentRequest | null; option: PaymentOption | null },
  rails: RailsInfo['rails'] | null,
  wallet: { walletAddress: string } | null,
): IlpPlan | null {
  const { payment, option } = choice;
  if (payment?.rail !== 'internal' || !wallet || !offersIlp(option)) return null;
  if (!rails?.some((r) => r.name === 'ilp' && r.assets.includes(payment.asset))) return null;
  const { allowance: _a, authorization: _z, ...rest } = payment;
  return { payment: { ...rest, rail: 'ilp' }, walletAddress: wallet.walletAddress };
}

/** `R/<now, to the second>/<period>`: that much per period from now on. */
export function ilpInterval(period: AllowancePeriod, nowMs: number): string {
  const start = new Date(Math.floor(nowMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  return `R/${start}/${PERIOD_DURATION[period]}`;
}

/**
 * The body sent when the person approves paying from the wallet; with a budget, the wallet is
 * asked for a grant of `amount` (the payment asset's base units) per period instead of this one
 * payment, so later payments within it need no consent page.
 */
export function ilpBody(
  plan: IlpPlan,
  budget: { amount: string; period: AllowancePeriod } | undefined,
  nowMs: number,
): CreatePaymentRequest {
  if (!budget) return plan.payment;
  return { ...plan.payment, authorization: { budget: { amount: budget.amount, interval: ilpInterval(budget.period, nowMs) } } };
}

/**
 * The consent page of a payment the hub answered `pending` on the ilp rail, or null (none, or a
 * page that is not http(s): never opened).
 */
export function consentUrlOf(payment: { rail: string; status: string; interact?: { redirect: string } } | null): string | null {
  if (payment?.rail !== 'ilp' || payment.status !== 'pending' || !payment.interact) return null;
  try {
    const u = new URL(payment.interact.redirect);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
  } catch {
    return null;
  }
}
