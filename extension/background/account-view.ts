/**
 * The popup's picture of the account, as pure functions: REST answers and live updates merged into
 * one list, newest first. Updates can arrive twice (replay and live at once) and out of order, so
 * a payment only ever moves forward: the later `updatedAt` wins, and on a tie the later state.
 */
import type { Payment, PaymentStatus, PaymentStatusUpdate } from '../../shared/api.js';
import { PAYMENTS_SHOWN, type AccountView } from '../common/state.js';

const RANK: Record<PaymentStatus, number> = { pending: 0, submitted: 1, completed: 2, failed: 2, refunded: 3 };

/** Whether `b` is a later picture of the same payment than `a`. */
export function isNewer(a: Payment, b: Payment): boolean {
  if (b.updatedAt !== a.updatedAt) return b.updatedAt > a.updatedAt;
  return RANK[b.status] >= RANK[a.status];
}

const byNewest = (a: Payment, b: Payment) =>
  a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.transactionId < b.transactionId ? 1 : -1;

/** Puts payments into a list, keeping the later picture of each. */
export function mergePayments(list: readonly Payment[], incoming: readonly Payment[]): Payment[] {
  const byId = new Map(list.map((p) => [p.transactionId, p]));
  for (const p of incoming) {
    const had = byId.get(p.transactionId);
    if (!had || isNewer(had, p)) byId.set(p.transactionId, p);
  }
  return [...byId.values()].sort(byNewest).slice(0, PAYMENTS_SHOWN);
}

export function emptyView(hubUrl: string, userId: string): AccountView {
  return { hubUrl, userId, balances: [], payments: [], lastSeq: null, syncedAt: null, live: false, error: null };
}

/**
 * Applies one `paymentStatusUpdate`. `seen` holds the seqs already applied in this connection's
 * lifetime (the dedupe set); `lastSeq` only grows and is the cursor sent on reconnect.
 */
export function applyUpdate(view: AccountView, u: PaymentStatusUpdate, seen: Set<number>): AccountView | null {
  if (seen.has(u.seq)) return null;
  seen.add(u.seq);
  const { previousStatus: _p, seq: _s, ...payment } = u;
  return { ...view, payments: mergePayments(view.payments, [payment]), lastSeq: Math.max(view.lastSeq ?? 0, u.seq) };
}
