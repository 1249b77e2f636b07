/**
 * The approval queue as pure functions over the list of active requests (pending or paying).
 * The approvals service loads the list, applies one of these, and stores the result.
 */
import { ACTIVE_STATUSES, type ApprovalRequest, type RequestStatus } from '../common/state.js';

/** What "the same request" means for deduplication: the site asking, and the resource asked for. */
export function dedupeKey(r: Pick<ApprovalRequest, 'site' | 'method' | 'url'>): string {
  let url = r.url;
  try {
    const u = new URL(r.url);
    u.hash = '';
    url = u.href;
  } catch {
    // keep the raw string; it still identifies the request
  }
  return `${r.site} ${r.method.toUpperCase()} ${url}`;
}

const isActive = (r: ApprovalRequest) => ACTIVE_STATUSES.includes(r.status);

export interface Enqueued {
  active: ApprovalRequest[];
  /** The request that stands for the incoming one: itself when added, else the one already queued. */
  request: ApprovalRequest;
  added: boolean;
}

/**
 * Adds a request unless the same site already waits on (or is paying for) the same resource: a page
 * that reloads or a script that retries must not queue a second payment for one thing.
 */
export function enqueue(active: readonly ApprovalRequest[], incoming: ApprovalRequest): Enqueued {
  const key = dedupeKey(incoming);
  const existing = active.find((r) => isActive(r) && dedupeKey(r) === key);
  if (existing) return { active: [...active], request: existing, added: false };
  return { active: [...active, incoming], request: incoming, added: true };
}

/** Requests waiting for a decision, oldest first: the window shows the first as "1 of N". */
export function pendingOf(active: readonly ApprovalRequest[]): ApprovalRequest[] {
  return active.filter((r) => r.status === 'pending').sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
}

export function badgeText(active: readonly ApprovalRequest[]): string {
  const n = pendingOf(active).length;
  return n === 0 ? '' : n > 99 ? '99+' : String(n);
}

const withStatus = (r: ApprovalRequest, status: RequestStatus, now: number, error: string | null = r.error): ApprovalRequest => ({
  ...r,
  status,
  error,
  updatedAt: now,
});

export interface Decided {
  active: ApprovalRequest[];
  /** The request as it now is; undefined when there was no such pending request. */
  request?: ApprovalRequest;
}

/** How long a request waits for a decision when its challenge names no timeout. */
export const PENDING_TTL_SECONDS = 600;

/** When a pending request stops being payable: the option's maxTimeoutSeconds after it was seen. */
export function expiryOf(r: Pick<ApprovalRequest, 'createdAt' | 'payment'>): number {
  return r.createdAt + (r.payment?.requirement?.maxTimeoutSeconds ?? PENDING_TTL_SECONDS) * 1000;
}

/** Rejects every pending request past its expiry, with `reason` (the worker's words for it) as its error. */
export function expirePending(
  active: readonly ApprovalRequest[],
  now: number,
  reason: string,
): { active: ApprovalRequest[]; expired: number } {
  let expired = 0;
  const out = active.map((r) => {
    if (r.status !== 'pending' || expiryOf(r) > now) return r;
    expired++;
    return withStatus(r, 'rejected', now, reason);
  });
  return { active: out, expired };
}

/** The next moment a pending request expires, or null. */
export function nextExpiry(active: readonly ApprovalRequest[]): number | null {
  const times = active.filter((r) => r.status === 'pending').map(expiryOf);
  return times.length ? Math.min(...times) : null;
}

/**
 * Approving moves a payable pending request to `paying`; rejecting moves it to `rejected`.
 * A request that is no longer pending (decided twice, from two clicks) is left alone, and one past
 * its expiry is rejected as expired (with `expiredReason`) even when the click said approve.
 */
export function decide(active: readonly ApprovalRequest[], id: string, approve: boolean, now: number, expiredReason: string): Decided {
  const target = active.find((r) => r.id === id);
  if (target?.status !== 'pending') return { active: [...active] };
  if (approve && !target.payment) return { active: [...active] };
  const expired = approve && expiryOf(target) <= now;
  const updated = expired
    ? withStatus(target, 'rejected', now, expiredReason)
    : approve
      ? withStatus(target, 'paying', now, null)
      : withStatus(target, 'rejected', now);
  return { active: active.map((r) => (r.id === id ? updated : r)), request: updated };
}

/** Rejects every pending request (reject all, window closed). Payments already in flight continue. */
export function rejectPending(active: readonly ApprovalRequest[], now: number, reason: string | null = null): ApprovalRequest[] {
  return active.map((r) => (r.status === 'pending' ? withStatus(r, 'rejected', now, reason) : r));
}

/** Replaces one request by id. */
export function replace(active: readonly ApprovalRequest[], updated: ApprovalRequest): ApprovalRequest[] {
  return active.map((r) => (r.id === updated.id ? updated : r));
}

/** Splits off requests that reached a state nobody waits on, to move them to the history. */
export function splitFinished(active: readonly ApprovalRequest[]): { active: ApprovalRequest[]; finished: ApprovalRequest[] } {
  return { active: active.filter(isActive), finished: active.filter((r) => !isActive(r)) };
}
