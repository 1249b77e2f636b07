/**
 * The approval window's own helpers for paying on chain (kept out of common/: the popup loads
 * everything common/ holds, and needs none of this).
 */
import { leftAfter } from '../common/format.js';
import type { T } from '../common/i18n.js';
import type { ApprovalRequest, PayFrom } from '../common/state.js';

/**
 * Where a request is paid from unless the person says otherwise: the hub balance when it covers
 * the amount (or is not known yet), else the wallet on chain, else the Interledger wallet; the
 * wallet when that is the only way.
 */
export function defaultPayFrom(
  r: Pick<ApprovalRequest, 'payment' | 'onChain' | 'ilp'>,
  balances: readonly { asset: string; available: string }[] | null,
): PayFrom {
  if ((!r.onChain && !r.ilp) || !r.payment) return 'hub';
  if (r.payment.rail === 'sovr') return 'wallet';
  if (!balances) return 'hub';
  const after = leftAfter(balances, r.payment);
  return after === null || after < 0n ? (r.onChain ? 'wallet' : 'ilp') : 'hub';
}

/** A time (and its date) in the person's own time zone, to the second. */
export function timeText(unixSeconds: number, t: T): string {
  const d = new Date(unixSeconds * 1000);
  return t('sign_time', d.toLocaleTimeString(undefined, { hour12: false }), d.toLocaleDateString());
}
