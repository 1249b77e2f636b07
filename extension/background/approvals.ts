/**
 * The approval flow: a 402 seen → a pending request stored (with its Idempotency-Key) → badge and
 * window → approve or reject → the hub pays → the outcome stored. Storage is the only state: the
 * service worker can be stopped between any two steps, and `resume` picks up where it stopped.
 */
import type { Payment } from '../../shared/api.js';
import type { PaymentChallenge } from '../../shared/challenge.js';
import { HISTORY_LIMIT, KEYS, type ApprovalRequest, type FrameType, type HubSession, type RequestStatus } from '../common/state.js';
import { loadRequests, writeRequestList, type StorageArea } from '../common/storage.js';
import type { ApprovalWindow } from './approval-window.js';
import { choosePayment } from './choose.js';
import type { HubClient, PayOutcome } from './hub-client.js';
import { badgeText, decide, enqueue, expirePending, nextExpiry, pendingOf, rejectPending, replace, splitFinished } from './queue.js';
import { createSerial } from './serial.js';

/** A 402 response the worker noticed, with the challenge it carried. */
export interface Seen402 {
  site: string;
  tabId: number;
  frameType: FrameType;
  method: string;
  url: string;
  challenge: PaymentChallenge;
}

export interface ApprovalsDeps {
  local: StorageArea;
  hub: HubClient;
  /** The signed-in hub session with a fresh access token, or null. */
  session(): Promise<HubSession | null>;
  /** Told once a request's payment completed (to retry the page with the proof). */
  onCompleted?(request: ApprovalRequest): Promise<void>;
  /**
   * Told of every request that left the queue (completed, submitted, failed, rejected), and of a
   * submitted one that later completed or failed, with its receipt (in memory only): the in-page
   * provider waits on these.
   */
  onFinished?(requests: ApprovalRequest[]): void;
  window: ApprovalWindow;
  setBadge(text: string): Promise<void>;
  now?: () => number;
  newId?: () => string;
  /** Asks to be woken later to replay payments whose outcome is not known yet. */
  scheduleResume?: () => Promise<void>;
  /** Asks to be woken at `at` (ms) to expire pending requests; null: nothing waits. */
  scheduleExpiry?: (at: number | null) => Promise<void>;
}

export type Approvals = ReturnType<typeof createApprovals>;

/**
 * A finished request as the history keeps it: without the receipt token or preimage, which are
 * bearer proofs and do not belong in `local` storage. The retry gets them from the hub's answer in
 * memory; the popup reads them from the hub.
 */
function withoutProof(r: ApprovalRequest): ApprovalRequest {
  if (!r.result) return r;
  const { token: _t, preimage: _p, ...receipt } = r.result.receipt;
  return { ...r, result: { ...r.result, receipt } };
}

export function createApprovals(deps: ApprovalsDeps) {
  const { local } = deps;
  const now = deps.now ?? (() => Date.now());
  const newId = deps.newId ?? (() => crypto.randomUUID());
  const serial = createSerial();
  // Payments this worker instance is sending right now; a replay of the same key would be harmless
  // (the hub answers 409 or replays), but needless.
  const sending = new Set<string>();

  async function load() {
    const { active, history } = await loadRequests(local);
    return { active: active.requests, history: history.requests };
  }

  /** Stores the queue (finished requests move to the history in the same write) and the badge. */
  async function save(active: ApprovalRequest[], history: ApprovalRequest[]): Promise<ApprovalRequest[]> {
    const split = splitFinished(active);
    const items: Record<string, unknown> = { [KEYS.approvals]: writeRequestList(split.active) };
    if (split.finished.length) {
      items[KEYS.history] = writeRequestList([...split.finished.reverse().map(withoutProof), ...history].slice(0, HISTORY_LIMIT));
    }
    await local.set(items);
    if (split.finished.length) deps.onFinished?.(split.finished);
    await deps.setBadge(badgeText(split.active));
    await deps.scheduleExpiry?.(nextExpiry(split.active));
    return split.active;
  }

  async function add(seen: Seen402): Promise<{ id: string; added: boolean }> {
    return serial(async () => {
      const { active, history } = await load();
      const session = await deps.session();
      const method = seen.method.toUpperCase();
      const choice = choosePayment(seen.challenge, { url: seen.url, method }, session?.url ?? null);
      const t = now();
      const request: ApprovalRequest = {
        id: newId(),
        idempotencyKey: `tollway-${newId()}`,
        createdAt: t,
        updatedAt: t,
        site: seen.site,
        tabId: seen.tabId,
        frameType: seen.frameType,
        method,
        url: seen.url,
        challenge: seen.challenge,
        payment: choice.payment,
        unpayable: choice.unpayable,
        status: 'pending',
        result: null,
        error: null,
      };
      const out = enqueue(active, request);
      // Stored before any window opens: if the worker dies now, the request is still there.
      if (out.added) await save(out.active, history);
      if (out.request.status === 'pending') await deps.window.open();
      return { id: out.request.id, added: out.added };
    });
  }

  async function decideOne(id: string, approve: boolean): Promise<void> {
    const decided = await serial(async () => {
      const { active, history } = await load();
      const d = decide(active, id, approve, now());
      if (!d.request) return null;
      const left = await save(d.active, history);
      if (!pendingOf(left).length) await deps.window.close();
      return d.request;
    });
    if (decided?.status === 'paying') {
      // A wake-up first: if this worker is stopped while the payment is in flight, the next one
      // asks the hub (same key) instead of leaving the request hanging until some other event.
      await deps.scheduleResume?.();
      await settle(decided.id);
    }
  }

  async function rejectAll(reason: string | null = null): Promise<void> {
    await serial(async () => {
      const { active, history } = await load();
      await save(rejectPending(active, now(), reason), history);
      await deps.window.close();
    });
  }

  /** The person closed the approval window: what was still pending is rejected. */
  async function windowRemoved(windowId: number): Promise<void> {
    await serial(async () => {
      if (!(await deps.window.closedByPerson(windowId))) return;
      const { active, history } = await load();
      await save(rejectPending(active, now(), 'approval window closed'), history);
    });
  }

  const statusAfter = (outcome: PayOutcome): RequestStatus | null => {
    if (outcome.kind === 'refused') return 'failed';
    if (outcome.kind === 'retry') return null;
    const s = outcome.payment.status;
    return s === 'completed' || s === 'refunded' ? 'completed' : s === 'failed' ? 'failed' : 'submitted';
  };

  /** Sends (or replays, with the same key and body) the payment of one approved request. */
  async function settle(id: string): Promise<void> {
    if (sending.has(id)) return;
    sending.add(id);
    try {
      const { active } = await load();
      const request = active.find((r) => r.id === id && r.status === 'paying');
      if (!request?.payment) return;
      const session = await deps.session();
      const outcome: PayOutcome = session
        ? await deps.hub.pay(session, request.idempotencyKey, request.payment)
        : // The key may already have reached the hub before the session was lost: never call that a
          // failure; ask again once signed in (unlock, or the hub reachable again).
          { kind: 'retry', message: 'not signed in to the hub; the payment is retried once signed in' };
      const done = await serial(async () => {
        const { active: current, history } = await load();
        const r = current.find((x) => x.id === id);
        if (!r || r.status !== 'paying') return null;
        const status = statusAfter(outcome);
        const updated: ApprovalRequest = {
          ...r,
          status: status ?? r.status,
          result: outcome.kind === 'answered' ? outcome.payment : r.result,
          error: outcome.kind === 'answered' ? outcome.payment.failureReason : outcome.message,
          updatedAt: now(),
        };
        await save(replace(current, updated), history);
        return updated;
      });
      if (outcome.kind === 'retry') await deps.scheduleResume?.();
      if (done?.status === 'completed') await deps.onCompleted?.(done).catch((e: unknown) => console.error('tollway: could not retry with the proof', e));
    } finally {
      sending.delete(id);
    }
  }

  /**
   * A payment's new state from the hub (live status): a request whose payment was `submitted`
   * (on-chain, Lightning) learns its outcome, and a completed page load is retried with the proof.
   */
  async function paymentUpdated(p: Payment): Promise<void> {
    const done = await serial(async () => {
      const { history } = await load();
      const i = history.findIndex((r) => r.status === 'submitted' && r.result?.transactionId === p.transactionId);
      const status: RequestStatus | null = p.status === 'completed' ? 'completed' : p.status === 'failed' ? 'failed' : null;
      if (i < 0 || !status) return null;
      const updated: ApprovalRequest = { ...history[i]!, status, result: p, error: p.failureReason, updatedAt: now() };
      const next = [...history];
      next[i] = withoutProof(updated);
      await local.set({ [KEYS.history]: writeRequestList(next) });
      deps.onFinished?.([updated]);
      return updated;
    });
    if (done?.status === 'completed') await deps.onCompleted?.(done).catch((e: unknown) => console.error('tollway: could not retry with the proof', e));
  }

  /** Rejects what waited past its expiry; closes the window when nothing is left to decide. */
  async function expire(): Promise<number> {
    return serial(async () => {
      const { active, history } = await load();
      const out = expirePending(active, now());
      if (!out.expired) return 0;
      const left = await save(out.active, history);
      if (!pendingOf(left).length) await deps.window.close();
      return out.expired;
    });
  }

  /** After a worker restart: replays every payment whose outcome was not stored. */
  async function resume(): Promise<void> {
    const { active } = await load();
    await Promise.all(active.filter((r) => r.status === 'paying').map((r) => settle(r.id)));
    await expire();
    await serial(async () => deps.setBadge(badgeText((await load()).active)));
  }

  /**
   * After a browser restart the pages that asked are gone and so is the window: what was pending is
   * rejected; what was being paid is still settled.
   */
  async function browserStarted(): Promise<void> {
    await serial(async () => {
      const { active, history } = await load();
      await save(rejectPending(active, now(), 'browser restarted'), history);
    });
    await resume();
  }

  return { add, decide: decideOne, rejectAll, windowRemoved, settle, resume, browserStarted, expire, paymentUpdated };
}
