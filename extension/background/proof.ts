/**
 * Retrying a page load with its proof of payment. A page load cannot be given a header by script,
 * so a declarativeNetRequest SESSION rule sets the proof header (`PAYMENT-SIGNATURE`, or
 * `Authorization: L402 …` / `Authorization: Payment …` for Lightning) on main-frame requests of
 * that tab to exactly that URL, and the tab reloads. The rule goes once the reload's response arrives,
 * or after PROOF_RULE_TTL_MS, whichever is first. Rules live in session storage too, so a restarted
 * worker still removes them.
 */
import { encodeL402Authorization, encodePaymentSignature, lightningCredential, PaymentOption } from '../../shared/challenge.js';
import { KEYS, ProofRules, type ApprovalRequest, type ProofRule } from '../common/state.js';
import type { StorageArea } from '../common/storage.js';
import { exactProof, isExactRequest } from './onchain.js';
import { createSerial } from './serial.js';

export const PROOF_RULE_TTL_MS = 60_000;

/** The slice of chrome.declarativeNetRequest used here. */
export interface DnrApi {
  updateSessionRules(opts: { addRules?: DnrRule[]; removeRuleIds?: number[] }): Promise<void>;
  getSessionRules(): Promise<{ id: number }[]>;
}

export interface DnrRule {
  id: number;
  priority: number;
  action: { type: 'modifyHeaders'; requestHeaders: { header: string; operation: 'set'; value: string }[] };
  condition: { urlFilter?: string; regexFilter?: string; resourceTypes: ['main_frame']; tabIds: number[] };
}

/**
 * The proof header for a paid request, or null when there is nothing to prove with: a receipt
 * (completed), a preimage (Lightning), or for an `exact` entry the signed authorization (from the
 * moment the hub has the payment).
 */
export function proofHeader(r: ApprovalRequest): { header: string; value: string } | null {
  if (isExactRequest(r)) {
    const value = exactProof(r);
    return value ? { header: 'PAYMENT-SIGNATURE', value } : null;
  }
  if (r.status !== 'completed') return null;
  if (r.payment?.rail === 'lightning') {
    const preimage = r.result?.receipt.preimage;
    if (!preimage) return null;
    // The invoice paid says which challenge was answered: a Payment-scheme charge echoes its
    // challenge with the preimage; L402 sends the macaroon with it.
    const charge = r.challenge.payment;
    if (charge && charge.invoice === r.payment.payTo.toLowerCase()) {
      const auth = lightningCredential(charge.params, preimage);
      return auth.ok ? { header: 'Authorization', value: auth.value } : null;
    }
    const macaroon = r.challenge.l402?.macaroon;
    if (!macaroon) return null;
    const auth = encodeL402Authorization(macaroon, preimage);
    return auth.ok ? { header: 'Authorization', value: auth.value } : null;
  }
  const token = r.result?.receipt.token;
  const accepted = PaymentOption.safeParse(r.payment?.requirement);
  if (r.status !== 'completed' || !token || !accepted.success) return null;
  const resource = r.challenge.x402?.resource ?? undefined;
  return { header: 'PAYMENT-SIGNATURE', value: encodePaymentSignature({ resource, accepted: accepted.data, payload: { receipt: token } }) };
}

/**
 * Matches exactly `url`. urlFilter has no escape for its wildcards (`*`, `^`, `|`), so a URL holding
 * one is matched with an anchored, escaped regular expression instead.
 */
export function exactUrlCondition(url: string): { urlFilter: string } | { regexFilter: string } {
  if (!/[*^|]/.test(url)) return { urlFilter: `|${url}|` };
  return { regexFilter: `^${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$` };
}

const withoutHash = (url: string) => {
  try {
    const u = new URL(url);
    u.hash = '';
    return u.href;
  } catch {
    return url;
  }
};

export interface ProofDeps {
  dnr: DnrApi;
  session: StorageArea;
  reload(tabId: number): Promise<void>;
  /**
   * Loads `url` in the tab afresh. Without a window in between (a pass, a budget) the 402 may not
   * have been committed yet, and a reload then would reload the page before it; a navigation to
   * the URL itself replaces the one in flight (and is a reload once it was committed). Without
   * it, `reload` is used.
   */
  navigate?(tabId: number, url: string): Promise<void>;
  /**
   * Where the tab is (its pending URL while a navigation is in flight, else the URL it shows;
   * undefined when it is gone): a tab that moved on is not reloaded.
   */
  tabUrl(tabId: number): Promise<string | undefined>;
  now?: () => number;
  scheduleSweep?(at: number): Promise<void>;
}

export function createProofRetry(deps: ProofDeps) {
  const now = deps.now ?? (() => Date.now());
  const serial = createSerial();

  async function load(): Promise<ProofRule[]> {
    const parsed = ProofRules.safeParse((await deps.session.get(KEYS.proofRules))[KEYS.proofRules]);
    return parsed.success ? parsed.data : [];
  }

  async function removeWhere(match: (r: ProofRule) => boolean): Promise<ProofRule[]> {
    const rules = await load();
    const gone = rules.filter(match);
    if (!gone.length) return [];
    await deps.dnr.updateSessionRules({ removeRuleIds: gone.map((r) => r.ruleId) });
    await deps.session.set({ [KEYS.proofRules]: rules.filter((r) => !match(r)) });
    return gone;
  }

  async function install(tabId: number, rawUrl: string, proof: { header: string; value: string }, passId?: string): Promise<boolean> {
    const url = withoutHash(rawUrl);
    // The person may have closed the tab or gone elsewhere while the payment ran (or the worker slept).
    const shown = await deps.tabUrl(tabId).catch(() => undefined);
    if (shown === undefined || withoutHash(shown) !== url) return false;
    await serial(async () => {
      const rules = await load();
      // Ids must be unique among the session rules, including any this code did not record.
      const taken = new Set([...rules.map((x) => x.ruleId), ...(await deps.dnr.getSessionRules()).map((x) => x.id)]);
      let ruleId = 1;
      while (taken.has(ruleId)) ruleId++;
      const old = rules.filter((x) => x.tabId === tabId && x.url === url).map((x) => x.ruleId);
      const rule: DnrRule = {
        id: ruleId,
        priority: 1,
        action: { type: 'modifyHeaders', requestHeaders: [{ header: proof.header, operation: 'set', value: proof.value }] },
        condition: { ...exactUrlCondition(url), resourceTypes: ['main_frame'], tabIds: [tabId] },
      };
      await deps.dnr.updateSessionRules({ removeRuleIds: old, addRules: [rule] });
      const expiresAt = now() + PROOF_RULE_TTL_MS;
      await deps.session.set({
        [KEYS.proofRules]: [
          ...rules.filter((x) => !old.includes(x.ruleId)),
          { ruleId, tabId, url, expiresAt, ...(passId ? { passId } : {}) },
        ],
      });
      await deps.scheduleSweep?.(expiresAt);
    });
    if (deps.navigate) await deps.navigate(tabId, url);
    else await deps.reload(tabId);
    return true;
  }

  return {
    /** After a completed payment for a page load: add the rule, then reload the tab. */
    async retry(r: ApprovalRequest): Promise<boolean> {
      if (r.frameType !== 'main_frame' || r.method !== 'GET' || r.tabId < 0) return false;
      const proof = proofHeader(r);
      if (!proof) return false;
      return install(r.tabId, r.url, proof);
    },

    /** Shows an access pass's proof again: the same rule and reload, marked with the pass. */
    reapply: (tabId: number, url: string, header: { name: string; value: string }, passId: string) =>
      install(tabId, url, { header: header.name, value: header.value }, passId),

    /** A main-frame response arrived for `url` in `tabId`: its proof rule has been used. Returns the rules removed. */
    used: (tabId: number, url: string) => serial(() => removeWhere((x) => x.tabId === tabId && x.url === withoutHash(url))),

    /** Removes expired rules (alarm, worker start) and those of closed tabs. */
    sweep: (closedTabId?: number) => serial(async () => void (await removeWhere((x) => x.expiresAt <= now() || x.tabId === closedTabId))),

    /** Whether a rule waits for this tab and URL (cheap check before taking the queue). */
    async waiting(tabId: number, url: string): Promise<boolean> {
      const u = withoutHash(url);
      return (await load()).some((x) => x.tabId === tabId && x.url === u);
    },
  };
}
