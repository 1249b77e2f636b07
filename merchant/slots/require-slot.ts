/**
 * The gate in front of what a slot pays for, framework-neutral (Express: `requireSlot()` in
 * ./express.ts). A live slot passes; a missing, unknown or expired one is refused with a 402
 * problem that says how to renew: the API's routes (`renew` in the body) and a `Link` to a token
 * for the shortest period. The 402 carries no x402 challenge on purpose: paying the protected route
 * would buy a receipt for one request, where the slot wants a token spent on it.
 */
import { problemAnswer, type SlotsAnswer } from './answers.js';
import { minValueMsat, type Pricing } from './period.js';
import type { SlotRecord, SlotStore } from './store.js';

export interface SlotGateOptions {
  store: SlotStore;
  /** Where slots() is mounted, for the renewal links (absolute path or URL). Default `/slots`. */
  slotsPath?: string;
  /** The API's pricing: with it the `Link` names a token for the minimum period, else the fee rate. */
  pricing?: Pricing;
  /** `/token/buy/:value` is offered too (tokens sold through the hub). */
  sellsThroughHub?: boolean;
  /** Milliseconds since the epoch. Default Date.now. */
  clock?: () => number;
}

export type SlotCheck = { ok: true; slot: SlotRecord } | { ok: false; answer: SlotsAnswer };

/** The document's words for an expired slot, as the join dialog shows them. */
export const EXPIRED_TEXT = 'Token has expired, renew it by making a payment for the slot.';

export function slotGate(opts: SlotGateOptions): (rawSlotId: string | undefined) => Promise<SlotCheck> {
  const base = (opts.slotsPath ?? '/slots').replace(/\/+$/, '');
  const clock = opts.clock ?? Date.now;
  const link = opts.pricing ? `<${base}/token/init/${minValueMsat(opts.pricing)}>; rel="payment"` : `<${base}/feerate>; rel="payment"`;
  const renew = (slotId: number) => ({
    fee_rate: `${base}/feerate`,
    token_init: `${base}/token/init/{value}`,
    ...(opts.sellsThroughHub ? { token_buy: `${base}/token/buy/{value}` } : {}),
    token_verify: `${base}/token/verify/{token_id}`,
    spend_token: `${base}/spendtoken`,
    how:
      `value = months × fee_rate_per_month_in_msat (a month is 30 days); GET token_init, pay its lightning_invoice, ` +
      `then POST spend_token with {"token_id": …, "slot_id": ${slotId}}`,
  });
  const refuse = (code: 'slot-required' | 'slot-expired', detail: string, slotId: number, extra: Record<string, unknown> = {}) =>
    ({ ok: false, answer: problemAnswer(code, detail, { ...extra, renew: renew(slotId) }, { Link: link }) }) as const;

  return async (raw) => {
    const id = raw !== undefined && /^[1-9][0-9]{0,15}$/.test(raw.trim()) ? Number(raw.trim()) : undefined;
    if (id === undefined || id > Number.MAX_SAFE_INTEGER) return refuse('slot-required', 'name a paid slot (its id)', 0);
    const slot = await opts.store.slot(id);
    if (!slot) return refuse('slot-required', `there is no slot ${id}: buy a token and spend it on slot 0 for a new one`, 0);
    if (slot.expiresAt <= clock())
      return refuse('slot-expired', EXPIRED_TEXT, id, { slot_id: id, expiry_date: new Date(slot.expiresAt).toISOString() });
    return { ok: true, slot };
  };
}
