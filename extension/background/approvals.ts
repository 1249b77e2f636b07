/**
 * The approval flow: a 402 seen → a pending request stored (with its Idempotency-Key) → badge and
 * window → approve or reject → the hub pays → the outcome stored. Storage is the only state: the
 * service worker can be stopped between any two steps, and `resume` picks up where it stopped.
 */
import type { PaymentChallenge } from '../../shared/challenge.js';
import { HISTORY_LIMIT, KEYS, type ApprovalRequest, type FrameType, type RequestStatus } from '../common/state.js';
import { loadHubSession, loadRequests, writeRequestList, type StorageArea } from '../common/storage.js';
import type { ApprovalWindow } from './approval-window.js';
import { choosePayment } from './choose.js';
import type { HubClient, PayOutcome } from './hub-client.js';
import { badgeText, decide, enqueue, pendingOf, rejectPending, replace, splitFinished } from './queue.js';
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
  window: ApprovalWindow;
  setBadge(text: string): Promise<void>;
  now?: () => number;
  newId?: () => string;
  /** Asks to be woken later to replay payments whose outcome is not known yet. */
  scheduleResume?: () => Promise<void>;
}

export type Approvals = ReturnType<typeof createApprovals>;

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
      items[KEYS.history] = writeRequestList([...split.finished.reverse(), ...history].slice(0, HISTORY_LIMIT));
    }
    await local.set(items);
    await deps.setBadge(badgeText(split.active));
    return split.active;
  }

  async function add(seen: Seen402): Promise<{ id: string; added: boolean }> {
    return serial(async () => {
      const { active, history } = await load();
      const session = await loadHubSession(local);
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
    if (decided?.status === 'paying') await settle(decided.id);
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
      const session = await loadHubSession(local);
      const outcome: PayOutcome = session
        ? await deps.hub.pay(session, request.idempotencyKey, request.payment)
        : { kind: 'refused', status: 401, type: 'about:blank', message: 'Tollway is not connected to a hub' };
      await serial(async () => {
        const { active: current, history } = await load();
        const r = current.find((x) => x.id === id);
        if (!r || r.status !== 'paying') return;
        const status = statusAfter(outcome);
        const updated: ApprovalRequest = {
          ...r,
          status: status ?? r.status,
          result: outcome.kind === 'answered' ? outcome.payment : r.result,
          error: outcome.kind === 'answered' ? outcome.payment.failureReason : outcome.message,
          updatedAt: now(),
        };
        await save(replace(current, updated), history);
      });
      if (outcome.kind === 'retry') await deps.scheduleResume?.();
    } finally {
      sending.delete(id);
    }
  }

  /** After a worker restart: replays every payment whose outcome was not stored. */
  async function resume(): Promise<void> {
    const { active } = await load();
    await Promise.all(active.filter((r) => r.status === 'paying').map((r) => settle(r.id)));
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

  return { add, decide: decideOne, rejectAll, windowRemoved, settle, resume, browserStarted };
}
