/**
 * "Add funds" (a Lightning top-up), the parts the popup needs: the amount typed in sats turned into
 * msat (bigint, never a float), the shape of the current top-up that the worker keeps in `local`
 * storage (with the QR code it drew: the popup carries no QR encoder), and what the popup says
 * about it. No zod here: the popup's JavaScript budget is tight, and only the worker writes this
 * key (validating what it stores and reads back: background/topups.ts).
 */
import type { Topup } from '../../shared/topups.js';
import type { AmountParse } from './deposit.js';
import type { T } from './i18n.js';
import { lightningAmount } from './format.js';

/** `local`: the top-up the popup shows (the last one asked for). */
export const TOPUP_KEY = 'tollway.topup';

/**
 * - sending: asked for, the hub's answer not stored yet (the popup asks again under the same key)
 * - open / credited / expired: as the hub last said (live by socket, or looked up)
 * - failed: the hub refused (nothing was created there)
 */
export type StoredTopupStatus = 'sending' | 'open' | 'credited' | 'expired' | 'failed';
export interface StoredTopup {
  hubUrl: string;
  userId: string;
  idempotencyKey: string;
  /** msat */
  amount: string;
  status: StoredTopupStatus;
  topup: Topup | null;
  /** The invoice's `lightning:` URI as a QR code: an SVG path in module units, and modules per side. */
  qr: { size: number; path: string } | null;
  error: string | null;
  updatedAt: number;
}

/** "1000" or "0.5" sats → msat, exactly (a sat is 1,000 msat, so at most three decimals). */
export function parseSats(text: string, t: T): AmountParse {
  const m = /^0*(\d{0,16})(?:\.(\d{1,3}))?$/.exec(text.trim());
  const value = m ? BigInt(m[1] || 0) * 1000n + BigInt((m[2] ?? '').padEnd(3, '0')) : 0n;
  return value > 0n ? { ok: true, value } : { ok: false, error: t('topup_bad_amount') };
}

/** The one line the popup shows under the QR code. */
export function topupStatusText(s: StoredTopup, t: T, locale?: string): string {
  const amount = lightningAmount(s.topup?.creditedAmount ?? s.amount, t, locale);
  if (s.status === 'sending') return s.error ? t('topup_sending_error', s.error) : t('topup_sending');
  if (s.status === 'open') return t('topup_open', amount);
  if (s.status === 'credited') return t('topup_credited', amount);
  if (s.status === 'expired') return t('topup_expired');
  return t('topup_failed', s.error ?? '');
}
