/**
 * The slice of chrome.storage the extension uses, so that logic can be tested against an in-memory
 * area. `browser.storage.local` and `browser.storage.session` satisfy it as they are.
 */
import { ApprovalRequest, HubSession, KEYS, RequestList } from './state.js';

export interface StorageArea {
  get(keys: string | string[]): Promise<Record<string, unknown>>;
  set(items: Record<string, unknown>): Promise<void>;
  remove(keys: string | string[]): Promise<void>;
}

export interface LoadedRequests {
  requests: ApprovalRequest[];
  /** Entries that no longer validate (corrupt, or written by an incompatible version). */
  dropped: number;
}

/** Reads a request list, keeping every entry that still validates. */
export function readRequestList(raw: unknown): LoadedRequests {
  const list = RequestList.safeParse(raw);
  if (!list.success) return { requests: [], dropped: raw === undefined ? 0 : 1 };
  const requests: ApprovalRequest[] = [];
  for (const entry of list.data.requests) {
    const r = ApprovalRequest.safeParse(entry);
    if (r.success) requests.push(r.data);
  }
  return { requests, dropped: list.data.requests.length - requests.length };
}

export const writeRequestList = (requests: readonly ApprovalRequest[]) => ({ v: 1 as const, requests: [...requests] });

/** One of the two lists (`KEYS.approvals` or `KEYS.history`), its valid entries only. */
export async function loadRequestList(area: StorageArea, key: typeof KEYS.approvals | typeof KEYS.history): Promise<ApprovalRequest[]> {
  return readRequestList((await area.get(key))[key]).requests;
}

export async function loadRequests(area: StorageArea): Promise<{ active: LoadedRequests; history: LoadedRequests }> {
  const got = await area.get([KEYS.approvals, KEYS.history]);
  return { active: readRequestList(got[KEYS.approvals]), history: readRequestList(got[KEYS.history]) };
}

export async function loadHubSession(area: StorageArea): Promise<HubSession | null> {
  const got = await area.get(KEYS.hub);
  const parsed = HubSession.safeParse(got[KEYS.hub]);
  return parsed.success ? parsed.data : null;
}
