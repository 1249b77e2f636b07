/**
 * How a budget grant on the person's Interledger wallet reads in the popup: what is left, in the
 * wallet's own asset and scale (bigint to a decimal string; Intl formats that string as it is, so no
 * digit passes through a JS number), and how often the limit renews.
 */
import { formatUnits } from '../../shared/amount.js';
import type { IlpGrant } from '../../shared/ilp.js';
import type { T } from '../common/i18n.js';

/** "0.008 SOVR" in the browser's locale; a value that is not base units is shown as it is. */
export function walletAmountText(value: string, assetCode: string, assetScale: number, locale?: string): string {
  if (!/^[0-9]{1,78}$/.test(value) || !Number.isInteger(assetScale) || assetScale < 0 || assetScale > 30) return `${value} ${assetCode}`;
  const decimal = formatUnits(BigInt(value), assetScale) as `${number}`;
  return `${new Intl.NumberFormat(locale, { maximumFractionDigits: assetScale }).format(decimal)} ${assetCode}`;
}

const PERIODS: Record<string, 'day' | 'week' | 'month'> = { P1D: 'day', P7D: 'week', P1W: 'week', P1M: 'month' };

/** "per day" for `R/<start>/P1D`, "every P2D" for other durations, "once" without an interval. */
export function intervalText(interval: string | null, t: T): string {
  if (!interval) return t('grants_once');
  const duration = interval.split('/')[2] ?? '';
  const period = PERIODS[duration];
  return period ? t('grants_per', t(`period_${period}`)) : t('grants_every', duration);
}

/** "0.008 SOVR left of 0.01 SOVR per day". */
export function grantText(
  g: Pick<IlpGrant, 'remaining' | 'limit' | 'assetCode' | 'assetScale' | 'interval'>,
  t: T,
  locale?: string,
): string {
  return t(
    'grants_left',
    walletAmountText(g.remaining, g.assetCode, g.assetScale, locale),
    walletAmountText(g.limit, g.assetCode, g.assetScale, locale),
    intervalText(g.interval, t),
  );
}
