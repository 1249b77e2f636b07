/**
 * The worker's side of the in-page provider (`window.tollway`): a payment a page asks for goes
 * through the same approval path as a 402 the worker noticed itself — a request stored before the
 * window opens, one approval window, the Idempotency-Key — and the page waits for its outcome.
 *
 * A `tollway.fetch` whose first try answered 402 is also seen by webRequest; both land on the same
 * queue entry (one pending request per site and resource), so there is one approval, and the page
 * is told the result of whichever request stands for both.
 */
import type { ApprovalRequest, HubSession } from '../common/state.js';
import { challengeFromParam, type PaidResult, type ProviderMessage } from '../common/provider-messages.js';
import type { Seen402 } from './approvals.js';
import { isExactRequest } from './onchain.js';
import { proofHeader } from './proof.js';

export const PROVIDER_SCRIPT_ID = 'tollway-provider';
export const BRIDGE_SCRIPT_ID = 'tollway-bridge';

/** Who asked: the frame of a page, as `runtime.onMessage` tells it. */
export interface ProviderSender {
  tabId: number;
  /** The asking frame's origin (the site that pays). */
  origin: string;
  /** The asking frame's URL. */
  url: string;
  /**
   * The origin the tab shows (`sender.tab.url`, from the browser; null when it does not tell):
   * what the approval window names, whatever the page passes as the request's URL.
   */
  tabOrigin?: string | null;
}

export interface ProviderDeps {
  session(): Promise<HubSession | null>;
  add(seen: Seen402): Promise<{ id: string }>;
}

type Waiter = { resolve(r: PaidResult): void; reject(e: Error): void };

export function createProvider(deps: ProviderDeps) {
  const waiters = new Map<string, Waiter[]>();

  function settle(id: string, outcome: { ok: true; result: PaidResult } | { ok: false; error: Error }) {
    const list = waiters.get(id);
    if (!list) return;
    waiters.delete(id);
    for (const w of list) {
      if (outcome.ok) w.resolve(outcome.result);
      else w.reject(outcome.error);
    }
  }

  /** Requests that left the queue (from the approvals service). */
  function finished(requests: ApprovalRequest[]): void {
    for (const r of requests) {
      if (!waiters.has(r.id)) continue;
      if (isExactRequest(r) && (r.status === 'submitted' || r.status === 'completed')) {
        // An `exact` entry: the signed authorization is the proof (and what stands for a receipt);
        // the site submits it itself, so the page retries now, not once the hub sees it used.
        const proof = proofHeader(r);
        if (proof && r.result)
          settle(r.id, { ok: true, result: { receipt: proof.value, transactionId: r.result.transactionId, proof: proof.value } });
        else settle(r.id, { ok: false, error: new Error('the payment was taken without a proof to show') });
      } else if (r.status === 'completed') {
        // Lightning (L402, Payment) has the preimage where a hub merchant's payment has its receipt.
        const token = r.result?.receipt.token ?? r.result?.receipt.preimage;
        const proof = proofHeader(r);
        const header = proof?.header === 'Authorization' ? 'Authorization' : 'PAYMENT-SIGNATURE';
        if (token && proof && r.result)
          settle(r.id, { ok: true, result: { receipt: token, transactionId: r.result.transactionId, proof: proof.value, header } });
        else settle(r.id, { ok: false, error: new Error('the payment completed without a receipt') });
      } else if (r.status === 'rejected') {
        settle(r.id, { ok: false, error: new Error(r.error ? `the payment was rejected (${r.error})` : 'the payment was rejected') });
      } else if (r.status === 'failed') {
        settle(r.id, { ok: false, error: new Error(`the payment failed${r.error ? `: ${r.error}` : ''}`) });
      }
      // submitted: the hub confirms later (live status); keep waiting.
    }
  }

  async function pay(m: Extract<ProviderMessage, { type: 'provider.pay' }>, sender: ProviderSender): Promise<PaidResult> {
    if (!(await deps.session())) throw new Error('Tollway is locked or signed out: open Tollway, unlock and sign in, then try again');
    const read = challengeFromParam(m.challenge, m.authenticate);
    if (!read.ok) throw new Error(read.error);
    const url = m.request?.url ?? read.challenge.x402?.resource?.url ?? sender.url;
    const method = (m.request?.method ?? 'GET').toUpperCase();
    // `url` is the page's word (its request, or the challenge's resource): it is shown as such and
    // bound into the payment, but the site named and charged is the browser's (origin, tab).
    const { id } = await deps.add({
      site: sender.origin,
      tabId: sender.tabId,
      frameType: 'xmlhttprequest',
      method,
      url,
      challenge: read.challenge,
      ...(sender.tabOrigin !== undefined ? { tabOrigin: sender.tabOrigin } : {}),
    });
    return new Promise<PaidResult>((resolve, reject) => {
      const list = waiters.get(id) ?? [];
      list.push({ resolve, reject });
      waiters.set(id, list);
    });
  }

  return { pay, finished };
}

/** The fields of chrome.scripting.RegisteredContentScript used here. */
export interface RegisteredScript {
  id: string;
  matches: string[];
  js: string[];
  world: 'MAIN' | 'ISOLATED';
  runAt: 'document_start';
  allFrames: boolean;
}

/** The slice of chrome.scripting used to register the provider and its bridge. */
export interface ScriptingApi {
  getRegisteredContentScripts(filter: { ids: string[] }): Promise<{ id: string }[]>;
  registerContentScripts(scripts: RegisteredScript[]): Promise<void>;
  updateContentScripts(scripts: RegisteredScript[]): Promise<void>;
  unregisterContentScripts(filter: { ids: string[] }): Promise<void>;
}

/**
 * Registers (or refreshes, after an update or a change of host access) the MAIN-world provider
 * and the ISOLATED-world bridge on exactly the sites Tollway may access (`matches`, from the
 * granted host permissions); with none, they are unregistered.
 */
export async function registerProviderScripts(
  scripting: ScriptingApi,
  files: { provider: string; bridge: string },
  matches: readonly string[] = ['<all_urls>'],
): Promise<void> {
  const ids = [BRIDGE_SCRIPT_ID, PROVIDER_SCRIPT_ID];
  const registered = (await scripting.getRegisteredContentScripts({ ids })).map((s) => s.id);
  if (!matches.length) {
    if (registered.length) await scripting.unregisterContentScripts({ ids: registered });
    return;
  }
  const scripts: RegisteredScript[] = [
    { id: BRIDGE_SCRIPT_ID, matches: [...matches], js: [files.bridge], world: 'ISOLATED', runAt: 'document_start', allFrames: true },
    { id: PROVIDER_SCRIPT_ID, matches: [...matches], js: [files.provider], world: 'MAIN', runAt: 'document_start', allFrames: true },
  ];
  const existing = new Set(registered);
  const fresh = scripts.filter((s) => !existing.has(s.id));
  const known = scripts.filter((s) => existing.has(s.id));
  if (known.length) await scripting.updateContentScripts(known);
  if (fresh.length) await scripting.registerContentScripts(fresh);
}
