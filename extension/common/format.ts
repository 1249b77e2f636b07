/**
 * How amounts and requests are shown. Amounts stay bigint/strings all the way to the screen; words
 * come from the caller's `t` (chrome.i18n in the pages, the English file in tests).
 */
import { ASSETS, type AssetCode } from '../../shared/assets.js';
import { formatUnits } from '../../shared/amount.js';
import { allowanceAt, type Allowance } from './budget.js';
import type { T } from './i18n.js';
import type { ApprovalRequest } from './state.js';

/**
 * An amount in the browser's locale, split into its number and its unit: "1,234.5" and "SOVR" in
 * en-US, "1.234,5" in de-DE. The base units become a decimal string with bigint (formatUnits) and
 * Intl formats that string as it is (Intl.NumberFormat takes exact decimal strings), so no digit
 * ever passes through a JS number. null when the asset's decimals are unknown or the amount is not
 * base units.
 */
export function localAmount(amount: string, asset: string, locale?: string): { value: string; unit: string } | null {
  const known = (ASSETS as Record<string, { decimals: number } | undefined>)[asset];
  if (!known || !/^[0-9]{1,78}$/.test(amount)) return null;
  const decimal = formatUnits(BigInt(amount), known.decimals) as `${number}`;
  const value = new Intl.NumberFormat(locale, { maximumFractionDigits: known.decimals }).format(decimal);
  return { value, unit: asset };
}

/** The same as one string: "1,234.5 SOVR"; an unknown asset in its base units. */
export function localAmountText(amount: string, asset: string, t: T, locale?: string): string {
  const a = localAmount(amount, asset, locale);
  return a ? `${a.value} ${a.unit}` : t('amount_base_units', amount, asset);
}

export function displayAmount(amount: string, asset: string): string {
  if (!/^[0-9]{1,78}$/.test(amount)) return `${amount} ${asset}`;
  const known = (ASSETS as Record<string, { decimals: number } | undefined>)[asset];
  if (known) return `${formatUnits(BigInt(amount), known.decimals)} ${asset as AssetCode}`;
  return `${amount} base units of ${asset}`;
}

/** What the window shows for a request: the option it would pay, or what was offered. */
export function describeRequest(
  r: ApprovalRequest,
  t: T,
  locale?: string,
): {
  amount: string | null;
  rail: string | null;
  scheme: string | null;
  expiresAt: number | null;
} {
  if (r.payment?.rail === 'lightning') {
    return {
      amount: lightningAmount(r.payment.amount, t, locale),
      rail: t('rail_lightning'),
      scheme:
        r.challenge.payment && r.challenge.payment.invoice === r.payment.payTo.toLowerCase()
          ? t('scheme_payment_charge')
          : r.challenge.l402
            ? t('scheme_invoice', r.challenge.l402.scheme)
            : null,
      expiresAt: null,
    };
  }
  if (r.payment) {
    const option = r.payment.requirement;
    const rail = r.payment.rail === 'sovr' ? t('rail_sovr_wallet') : r.payment.rail === 'internal' ? t('rail_internal') : r.payment.rail;
    const timeout = option?.maxTimeoutSeconds;
    return {
      amount: localAmountText(r.payment.amount, r.payment.asset, t, locale),
      rail,
      scheme: option ? `${option.scheme} · ${option.network}` : null,
      expiresAt: timeout ? r.createdAt + timeout * 1000 : null,
    };
  }
  const first = r.challenge.x402?.accepts[0];
  if (first)
    return {
      amount: localAmountText(first.amount, first.asset, t, locale),
      rail: null,
      scheme: `${first.scheme} · ${first.network}`,
      expiresAt: null,
    };
  if (r.challenge.l402?.amountMsat)
    return {
      amount: lightningAmount(r.challenge.l402.amountMsat, t, locale),
      rail: t('rail_lightning'),
      scheme: r.challenge.l402.scheme,
      expiresAt: null,
    };
  if (r.challenge.payment)
    return {
      amount: lightningAmount(r.challenge.payment.amountMsat, t, locale),
      rail: t('rail_lightning'),
      scheme: t('scheme_payment'),
      expiresAt: null,
    };
  return { amount: null, rail: null, scheme: null, expiresAt: null };
}

/** "4:59": minutes and seconds left, never below zero. */
export function countdown(expiresAt: number, now: number): string {
  const s = Math.max(0, Math.floor((expiresAt - now) / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** The balance minus the amount, in base units (negative: short); null when it is not known. */
export function leftAfter(
  balances: readonly { asset: string; available: string }[],
  payment: { amount: string; asset: string },
): bigint | null {
  const b = balances.find((x) => x.asset === payment.asset);
  if (!b || !/^[0-9]{1,78}$/.test(b.available) || !/^[0-9]{1,78}$/.test(payment.amount)) return null;
  return BigInt(b.available) - BigInt(payment.amount);
}

/**
 * What the balance would be after paying, from the last balances seen at the hub; null when that
 * asset's balance is not known. Computed in bigint: amounts are never JS numbers. `text` is the
 * balance left, or (short) the balance there is.
 */
export function balanceAfter(
  balances: readonly { asset: string; available: string }[],
  payment: { amount: string; asset: string },
  t: T,
  locale?: string,
): { text: string; short: boolean } | null {
  const after = leftAfter(balances, payment);
  if (after === null) return null;
  if (after < 0n) return { text: localAmountText((after + BigInt(payment.amount)).toString(), payment.asset, t, locale), short: true };
  return { text: localAmountText(after.toString(), payment.asset, t, locale), short: false };
}

/** A Lightning amount (msat) in sats, with BTC beside it: "1,500 sats (0.000015 BTC)"; msat shown when not whole sats. */
export function lightningAmount(msat: string, t: T, locale?: string): string {
  if (!/^[0-9]{1,78}$/.test(msat)) return t('amount_msat', msat);
  const v = BigInt(msat);
  const sats = v % 1000n === 0n ? t('amount_sats', (v / 1000n).toLocaleString(locale)) : t('amount_msat', v.toLocaleString(locale));
  return `${sats} (${localAmountText(msat, 'BTC', t, locale)})`;
}

/** "0.5 of 1 SOVR left this week", from the budget as it stands at `now`. */
export function budgetText(a: Allowance, now: number, t: T, locale?: string): string {
  const at = allowanceAt(a, now);
  const left = localAmount(at.remaining.toString(), a.asset, locale)?.value ?? at.remaining.toString();
  return t('approve_budget_left', left, localAmountText(at.amount.toString(), a.asset, t, locale), t(`period_${a.period}`));
}

/** When the budget's period ends, in the person's own time zone. */
export function resetsText(a: Allowance, now: number, t: T): string {
  return t('approve_budget_resets', new Date(allowanceAt(a, now).resetsAt).toLocaleString());
}
