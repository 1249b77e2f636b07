/**
 * Slots the person holds at sites that sell time through `slots()` (merchant/slots/), as the worker
 * keeps them, and how their expiry reads. A slot is a number with a date at one site's slots API: public
 * (the API answers anyone its expiry), so it lives in `local` and outlives the browser, which is what
 * lets the reminder a day before expiry come at all. The token ids spent on it are bearer secrets
 * (the original design lets a token id authorize work on the slot) and live in `session` only.
 */
import { z } from 'zod';

/** A day: the reminder comes this long before expiry, and a slot this close to it "expires soon". */
export const DAY_MS = 86_400_000;

/** A renewal the person started from the popup: the queued request it waits on, or why it failed. */
export const Renewal = z.object({
  /** The approval request paying for the token (background/approvals.ts). */
  requestId: z.string().min(1),
  /** The token purchase paid (`<api>/token/buy/<value>`): fetched again with the proof for the token. */
  url: z.string().url(),
  status: z.enum(['waiting', 'failed']),
  error: z.string().max(500).optional(),
  at: z.number().int(),
});
export type Renewal = z.infer<typeof Renewal>;

export const Holding = z.object({
  /** `<api>#<slotId>`: one slot at one slots API. */
  key: z.string().min(1),
  /** The origin that paid for the slot's tokens, as the browser named it: whose budget renewals use. */
  site: z.string().min(1),
  /** Where the site mounts `slots()`, e.g. `https://shop.example/slots`. */
  api: z.string().url(),
  slotId: z.number().int().positive(),
  /** The page the slot was bought on (what it is for); the reminder opens it. */
  page: z.string().url(),
  /** The page's title when the slot was bought, as the site names it. */
  title: z.string().max(200),
  /** msat a month (30 days), as the API said when last asked. */
  feeRatePerMonthMsat: z.string().regex(/^[0-9]{1,20}$/),
  /** ms since the epoch, as the API said when last asked. */
  expiresAt: z.number().int(),
  checkedAt: z.number().int(),
  /** The `expiresAt` a reminder was shown for: one reminder per slot per expiry. */
  remindedFor: z.number().int().optional(),
  /** Hub transactions that bought tokens spent on this slot (newest first, capped): each claims one slot. */
  transactions: z.array(z.string()).max(20),
  renewal: Renewal.optional(),
  /** The last renewal that went through: from which expiry to which. */
  renewed: z.object({ from: z.number().int(), to: z.number().int(), at: z.number().int() }).optional(),
});
export type Holding = z.infer<typeof Holding>;

/** Entries that no longer parse are dropped one by one, not the whole list. */
export function readHoldings(raw: unknown): Holding[] {
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((h) => {
    const p = Holding.safeParse(h);
    return p.success ? [p.data] : [];
  });
}

/** session: the token ids spent on each slot (bearer secrets), newest first. */
export const SlotToken = z.object({ key: z.string(), tokenId: z.string().min(1).max(200), at: z.number().int() });
export type SlotToken = z.infer<typeof SlotToken>;

export const holdingKey = (api: string, slotId: number) => `${api}#${slotId}`;

/**
 * When a pass stops opening its page: the earlier of the receipt's `exp` and the end of the window
 * the merchant advertised when it was paid (ms since the epoch).
 */
export function passEnds(p: { createdAt: number; exp: number; windowSeconds?: number | undefined }): number {
  const exp = p.exp * 1000;
  return p.windowSeconds === undefined ? exp : Math.min(exp, p.createdAt + p.windowSeconds * 1000);
}

export type ExpiryState = 'active' | 'soon' | 'expired';

export function expiryState(expiresAt: number, now: number): ExpiryState {
  if (expiresAt <= now) return 'expired';
  return expiresAt - now <= DAY_MS ? 'soon' : 'active';
}

/** "in 29 days", "in 5 hours", "3 minutes ago": the largest unit that is at least one, in the locale. */
export function relativeTime(at: number, now: number, locale?: string): string {
  const f = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  const d = at - now;
  const abs = Math.abs(d);
  if (abs >= DAY_MS) return f.format(Math.round(d / DAY_MS), 'day');
  if (abs >= 3_600_000) return f.format(Math.round(d / 3_600_000), 'hour');
  return f.format(Math.round(d / 60_000), 'minute');
}

/** The date and time in the locale and the person's own time zone. */
export const absoluteTime = (at: number, locale?: string, timeZone?: string): string =>
  new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short', ...(timeZone ? { timeZone } : {}) }).format(at);

/** The slots API a token purchase URL belongs to (`…/slots/token/buy/600000` → `…/slots`), or null. */
export function slotsApiOf(purchaseUrl: string): string | null {
  try {
    const u = new URL(purchaseUrl);
    const m = /^(.*)\/token\/buy\/[0-9]{1,16}$/.exec(u.pathname);
    if (!m || (u.protocol !== 'http:' && u.protocol !== 'https:')) return null;
    return `${u.origin}${m[1]}`;
  } catch {
    return null;
  }
}
