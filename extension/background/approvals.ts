/**
 * The approval flow: a 402 seen → a pending request stored (with its Idempotency-Key) → badge and
 * window → approve or reject → the hub pays → the outcome stored. Storage is the only state: the
 * service worker can be stopped between any two steps, and `resume` picks up where it stopped.
 *
 * Two shortcuts skip the window: an access pass the merchant advertised (`extra.reuse`) still
 * valid for the same resource is shown again without paying, and a payment covered by the budget
 * for its site and its payee is paid at once, charged to that budget by the hub
 * (`allowance: {site}`; the hub finds the payee itself); the hub refusing it (over budget, or not
 * that budget's payee) sends it to the window after all. A budget never pays another payee: a
 * script on a budgeted site asking to pay someone else is asked about.
 *
 * The window names the site the tab shows, as the browser tells it (`tabOrigin`), never a URL the
 * page or the challenge chose.
 *
 * SOVR on chain from the person's own wallet is always asked (never a budget, never a pass): the
 * authorization is signed when the person approves, and stored as the request's body in the same
 * write that makes it `paying`, before the POST, so a restarted worker replays the very same body.
 */
import type { AllowancePeriod, Payment, RailsInfo } from '../../shared/api.js';
import type { PaymentChallenge } from '../../shared/challenge.js';
import { allowanceAt, autoPayDecision, type Allowance } from '../common/budget.js';
import { displayAmount } from '../common/format.js';
import type { T } from '../common/i18n.js';
import { displayText } from '../common/text.js';
import { authorizationWindow, windowAcceptable } from '../../shared/eip3009.js';
import {
  HISTORY_LIMIT,
  KEYS,
  type ApprovalRequest,
  type FrameType,
  type HubSession,
  type Pass,
  type PayFrom,
  type RequestStatus,
} from '../common/state.js';
import { loadRequestList, writeRequestList, type StorageArea } from '../common/storage.js';
import type { ApprovalWindow } from './approval-window.js';
import { choosePayment } from './choose.js';
import { ilpBody, ilpPlanOf, offersIlp } from './ilp-plan.js';
import type { HubClient, PayOutcome } from './hub-client.js';
import { isExactRequest, sovrRailOf } from './onchain.js';
import { unsigned as unsignedBody, type EvmPayer } from './evm-pay.js';
import { planAmountText } from './evm-plan.js';
import { payeeOf } from './payee.js';
import { reuseWindow, type PassStore } from './passes.js';
import {
  badgeText,
  decide,
  enqueue,
  expirePending,
  expiryOf,
  nextExpiry,
  pendingOf,
  rejectPending,
  replace,
  splitFinished,
} from './queue.js';
import type { SignAuthorization } from './sign.js';
import { createSerial } from './serial.js';

/** A 402 response the worker noticed, with the challenge it carried. */
export interface Seen402 {
  site: string;
  tabId: number;
  frameType: FrameType;
  method: string;
  url: string;
  challenge: PaymentChallenge;
  /**
   * The origin the tab shows, when the caller has it from the browser (a provider message's
   * `sender.tab`); absent: looked up here (a page load's own URL, else chrome.tabs.get).
   */
  tabOrigin?: string | null;
  /**
   * This 402 answered a retry that carried a proof (a fresh payment's or a pass's): neither a pass
   * nor the budget is used again for it, so a merchant that keeps refusing cannot make a loop.
   */
  afterProof?: boolean;
}

/** The slice of the budgets service the flow uses. */
export interface BudgetLookup {
  lookup(site: string, payee: string | null, asset: string): Promise<Allowance | null>;
  put(a: { site: string; payee: string; asset: string; amount: string; period: AllowancePeriod }): Promise<Allowance>;
  /** Reads the budgets from the hub again (after the hub charged or refused one). */
  sync(): Promise<void>;
}

export interface Added {
  id: string;
  added: boolean;
  /** A pass was shown again instead: nothing was queued or paid. */
  reused?: Pass;
  /**
   * Paid without the window: the payment runs on after `add` returns (so that whoever waits on the
   * id can start waiting first); this settles when it is done.
   */
  settled?: Promise<void>;
}

export interface ApprovalsDeps {
  local: StorageArea;
  /**
   * The worker's words (chrome.i18n). Reasons and notes are stored as the text, not as a key: the
   * hub's own problem details (already text) are stored beside them in the same field, and the popup
   * shows a request as it was when it finished, in the language the browser had then.
   */
  t: T;
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
  /** Budgets per site and payee: without them every payment is asked for. */
  budgets?: BudgetLookup;
  /** The origin a tab shows (chrome.tabs.get), or null when the browser does not tell. */
  tabOrigin?(tabId: number): Promise<string | null>;
  /** Access passes: without them every 402 is paid again. */
  passes?: PassStore;
  /** Shows a pass's proof again to the tab (proof rule + reload); false when the tab moved on. */
  reapply?(pass: Pass, seen: Seen402): Promise<boolean>;
  /** The payment as the hub has it now (a completed page load whose retry a stopped worker missed). */
  lookupPayment?(session: HubSession, transactionId: string): Promise<Payment | null>;
  /** A system notification (what was paid without asking, or why it could not be). */
  notify?(n: { title: string; message: string }): Promise<void>;
  /**
   * The hub's GET /rails (rails.ts `info`): which rails a challenge's options can be paid on, and
   * the SOVR rail's details; without it every rail but SOVR is assumed and nothing is offered on chain.
   */
  rails?: { info(o: { wait: boolean; hubUrl?: string }): Promise<RailsInfo | null> };
  /** Signs an on-chain plan with the unlocked key (the person approved paying from the wallet). */
  signAuthorization?: SignAuthorization;
  /** x402 `exact` entries on any EVM network the person enabled (evm-pay.ts); without it they are not paid. */
  evm?: EvmPayer;
  /** The person's linked Interledger wallet (ilp.ts), or null: without it nothing is offered from one. */
  ilpWallet?(): Promise<{ walletAddress: string } | null>;
}

/** How the person approved: from where, and (on chain) the validity window the window showed. */
export interface PayChoice {
  from?: PayFrom;
  window?: { validAfter: number; validBefore: number };
  /** From the Interledger wallet: a budget to ask the wallet for instead of this one payment. */
  budget?: { amount: string; period: AllowancePeriod };
}

export type Approvals = ReturnType<typeof createApprovals>;

/** Hub refusals of an auto-payment that send it to the window (nothing was paid), with the window's note. */
const ALLOWANCE_REFUSALS = [
  { type: '/allowance-exceeded', note: 'worker_over_budget' },
  { type: '/allowance-payee-mismatch', note: 'worker_not_budget_payee' },
] as const;

function originOf(url: string): string | null {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

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

const FINALS_AHEAD_MAX = 100;

export function createApprovals(deps: ApprovalsDeps) {
  const { local, t } = deps;
  const now = deps.now ?? (() => Date.now());
  const newId = deps.newId ?? (() => crypto.randomUUID());
  const serial = createSerial();
  // Payments this worker instance is sending right now; a replay of the same key would be harmless
  // (the hub answers 409 or replays), but needless.
  const sending = new Set<string>();
  // Final updates that arrived while a POST was in flight, before its answer was stored (by payment id).
  const finalsAhead = new Map<string, Payment>();

  // The history (up to HISTORY_LIMIT requests) is read and validated only where it is used: most
  // changes, a new 402 among them, touch the queue alone.
  const loadActive = () => loadRequestList(local, KEYS.approvals);
  const loadHistory = () => loadRequestList(local, KEYS.history);

  /**
   * Stores the queue (finished requests move to the history in the same write) and the badge.
   * Called inside `serial`, so the history it reads cannot change before it writes.
   */
  async function save(active: ApprovalRequest[]): Promise<ApprovalRequest[]> {
    const split = splitFinished(active);
    const items: Record<string, unknown> = { [KEYS.approvals]: writeRequestList(split.active) };
    if (split.finished.length) {
      const history = await loadHistory();
      items[KEYS.history] = writeRequestList([...split.finished.reverse().map(withoutProof), ...history].slice(0, HISTORY_LIMIT));
    }
    await local.set(items);
    if (split.finished.length) deps.onFinished?.(split.finished);
    await deps.setBadge(badgeText(split.active));
    await deps.scheduleExpiry?.(nextExpiry(split.active));
    return split.active;
  }

  /** What the tab shows, from the browser only; a page load is about to show its own URL. */
  async function pageOrigin(seen: Seen402): Promise<string | null> {
    if (seen.tabOrigin !== undefined) return seen.tabOrigin;
    if (seen.frameType === 'main_frame') return originOf(seen.url);
    if (!deps.tabOrigin || seen.tabId < 0) return null;
    return deps.tabOrigin(seen.tabId).catch(() => null);
  }

  async function add(seen: Seen402): Promise<Added> {
    const tabOrigin = await pageOrigin(seen);
    const out = await serial(async (): Promise<Added & { auto?: boolean }> => {
      const active = await loadActive();
      const session = await deps.session();
      const method = seen.method.toUpperCase();
      // The hub's rails (GET /rails) decide what is paid with: the cached copy, at once. Without one
      // only a challenge that could be paid on chain (SOVR, or an `exact` entry) waits for the hub,
      // briefly, as it always did; any other goes on as if the hub had every rail (choose.ts).
      const chainable =
        Boolean(session?.user) && (seen.challenge.x402?.accepts ?? []).some((o) => o.scheme === 'exact' || o.asset === 'SOVR');
      const info = deps.rails && session ? await deps.rails.info({ wait: chainable, hubUrl: session.url }).catch(() => null) : null;
      const choice = choosePayment(seen.challenge, { url: seen.url, method }, session?.url ?? null, t, {
        rails: info?.rails ?? null,
        rail: sovrRailOf(info),
        wallet: session?.user?.address ?? null,
      });
      // An x402 `exact` entry on some other EVM network, when nothing else here is payable (evm-pay.ts).
      const evm =
        !choice.payment && deps.evm
          ? await deps.evm.plan(seen.challenge, { url: seen.url, method }, sovrRailOf(info)).catch((e: unknown) => {
              console.error('tollway: could not plan an EVM entry', e);
              return null;
            })
          : null;
      const payment = choice.payment ?? evm?.payment ?? null;
      const ilpWallet = offersIlp(choice.option) && deps.ilpWallet ? await deps.ilpWallet().catch(() => null) : null;
      const ilp = ilpPlanOf(choice, info?.rails ?? null, ilpWallet);
      const at = now();
      // A pass: only a page load can be retried with it here (a proof rule and a reload).
      const windowSeconds = reuseWindow(choice.option);
      if (!seen.afterProof && windowSeconds !== null && deps.passes && seen.frameType === 'main_frame' && method === 'GET') {
        const pass = await deps.passes.find({ payTo: choice.option!.payTo, url: seen.url, method, windowSeconds });
        if (pass) return { id: pass.transactionId, added: false, reused: pass };
      }
      // Paying from the wallet needs a signature the person gives in the window: never automatic.
      const payee = payment ? payeeOf(payment) : null;
      const budgeted = !seen.afterProof && payment && payment.rail !== 'sovr' && deps.budgets;
      const allowance = budgeted ? await deps.budgets!.lookup(seen.site, payee, payment!.asset).catch(() => null) : null;
      const auto = budgeted ? autoPayDecision(seen.site, payee, payment, allowance, at).auto : false;
      const request: ApprovalRequest = {
        id: newId(),
        idempotencyKey: `tollway-${newId()}`,
        createdAt: at,
        updatedAt: at,
        site: seen.site,
        tabOrigin,
        payee,
        tabId: seen.tabId,
        frameType: seen.frameType,
        method,
        url: seen.url,
        challenge: seen.challenge,
        // Fixed now, with the allowance, so that a replay after a restart sends the same body.
        payment: auto && payment ? { ...payment, allowance: { site: seen.site } } : payment,
        unpayable: choice.payment ? choice.unpayable : evm ? evm.unpayable : choice.unpayable,
        status: auto ? 'paying' : 'pending',
        result: null,
        error: null,
        ...(auto ? { auto: true } : {}),
        ...(choice.onChain ? { onChain: choice.onChain } : {}),
        ...(ilp ? { ilp } : {}),
        ...(evm ? { evm: evm.evm } : {}),
      };
      const q = enqueue(active, request);
      // A budget paying an EVM entry: signed now, and stored signed before anything is sent.
      if (q.added && auto && request.evm) {
        q.request = await signedByBudget(request, sovrRailOf(info));
        q.active = replace(q.active, q.request);
      }
      // Stored before any window opens or any call is made: if the worker dies now, the request is still there.
      if (q.added) await save(q.active);
      if (q.request.status === 'pending') await deps.window.open();
      return { id: q.request.id, added: q.added, auto: q.added && q.request.status === 'paying' };
    });
    if (out.reused) {
      await deps.reapply?.(out.reused, seen).catch((e: unknown) => console.error('tollway: could not show the pass again', e));
      return { id: out.id, added: false, reused: out.reused };
    }
    if (out.auto) {
      await deps.scheduleResume?.();
      const settled = settle(out.id).catch((e: unknown) => console.error('tollway: auto-payment', e));
      return { id: out.id, added: out.added, settled };
    }
    return { id: out.id, added: out.added };
  }

  /**
   * An auto-payment of an EVM entry, signed (with the allowance, as any auto-payment); when it
   * cannot be signed (locked, the daily limit, the token switched off) the person is asked, with why.
   */
  async function signedByBudget(r: ApprovalRequest, sovr: ReturnType<typeof sovrRailOf>): Promise<ApprovalRequest> {
    try {
      const body = await deps.evm!.sign(r, sovr);
      return { ...r, payment: { ...body, allowance: r.payment!.allowance! }, paidFrom: 'wallet' };
    } catch (e) {
      const note = displayText(e instanceof Error ? e.message : String(e), 500);
      return { ...r, status: 'pending', auto: false, payment: unsignedBody(r.payment!), note };
    }
  }

  /**
   * Approves with a budget for the site and this request's payee: the budget is saved at the hub
   * first, and only then is the request approved, so a budget that could not be saved approves
   * nothing (the window says why).
   */
  async function decideWithBudget(id: string, budget: { amount: string; period: AllowancePeriod }, pay?: PayChoice): Promise<void> {
    const active = await loadActive();
    const r = active.find((x) => x.id === id && x.status === 'pending');
    if (!r?.payment) return;
    if (!deps.budgets) throw new Error(t('worker_no_budgets'));
    // Without a payee a budget would let the site pay anyone: none is set, nothing is paid.
    if (!r.payee) throw new Error(t('worker_budget_no_payee'));
    try {
      await deps.budgets.put({ site: r.site, payee: r.payee, asset: r.payment.asset, amount: budget.amount, period: budget.period });
    } catch (e) {
      throw new Error(t('worker_budget_not_saved', e instanceof Error ? e.message : String(e)));
    }
    await decideOne(id, true, pay);
  }

  /**
   * The request as it will be paid: from the hub balance as queued, or from the wallet, with the
   * authorization signed now over the window the person was shown (checked again here: a window
   * left open for minutes is refused, not quietly re-timed) and put into the body.
   */
  async function approvedBody(r: ApprovalRequest, pay: PayChoice | undefined): Promise<ApprovalRequest> {
    // The wallet's consent page comes after the hub's answer (ilp-consent.ts); the body is fixed now.
    if (pay?.from === 'ilp') {
      if (!r.ilp) throw new Error(t('worker_not_payable_from_ilp'));
      return { ...r, payment: ilpBody(r.ilp, pay.budget, now()), paidFrom: 'ilp' };
    }
    // An EVM entry: signed from the wallet over the list as it is now (evm-pay.ts), counted against its daily limit.
    if (r.evm && r.payment?.rail === 'wallet') {
      if (!deps.evm) throw new Error(t('worker_wallet_cannot_sign'));
      if (expiryOf(r) <= now()) return r;
      const info = deps.rails ? await deps.rails.info({ wait: false }).catch(() => null) : null;
      return { ...r, payment: await deps.evm.sign(r, sovrRailOf(info), pay?.window), paidFrom: 'wallet' };
    }
    const plan = r.onChain;
    const fromWallet = r.payment?.rail === 'sovr' || pay?.from === 'wallet';
    if (!fromWallet) return plan ? { ...r, paidFrom: 'hub' } : r;
    if (!plan) throw new Error(t('worker_not_payable_from_wallet'));
    if (!deps.signAuthorization) throw new Error(t('worker_wallet_cannot_sign'));
    // Past its expiry `decide` rejects it: nothing is signed for that.
    if (expiryOf(r) <= now()) return r;
    const nowSeconds = Math.floor(now() / 1000);
    const window = pay?.window ?? authorizationWindow(nowSeconds, plan.validitySeconds);
    if (!windowAcceptable(window, nowSeconds, plan)) throw new Error(t('worker_validity_stale_approve'));
    const authorization = await deps.signAuthorization(plan, window);
    return { ...r, payment: { ...plan.payment, authorization }, paidFrom: 'wallet' };
  }

  async function decideOne(id: string, approve: boolean, pay?: PayChoice): Promise<void> {
    const decided = await serial(async () => {
      const queued = await loadActive();
      const target = queued.find((x) => x.id === id && x.status === 'pending');
      // Signed and stored together with `paying`, before anything is sent.
      const active = approve && target?.payment ? replace(queued, await approvedBody(target, pay)) : queued;
      const d = decide(active, id, approve, now(), t('worker_expired'));
      if (!d.request) return null;
      const left = await save(d.active);
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
      const active = await loadActive();
      await save(rejectPending(active, now(), reason));
      await deps.window.close();
    });
  }

  /** The person closed the approval window: what was still pending is rejected. */
  async function windowRemoved(windowId: number): Promise<void> {
    await serial(async () => {
      if (!(await deps.window.closedByPerson(windowId))) return;
      const active = await loadActive();
      await save(rejectPending(active, now(), t('worker_window_closed')));
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
      const active = await loadActive();
      const request = active.find((r) => r.id === id && r.status === 'paying');
      if (!request?.payment) return;
      const session = await deps.session();
      const outcome: PayOutcome = session
        ? await deps.hub.pay(session, request.idempotencyKey, request.payment)
        : // The key may already have reached the hub before the session was lost: never call that a
          // failure; ask again once signed in (unlock, or the hub reachable again).
          { kind: 'retry', message: t('worker_payment_waits_sign_in') };
      // Over budget, or the budget is for another payee: the person decides.
      const refusedBy = outcome.kind === 'refused' ? ALLOWANCE_REFUSALS.find((x) => outcome.type.endsWith(x.type)) : undefined;
      const overBudget = Boolean(request.auto && refusedBy);
      const done = await serial(async () => {
        const current = await loadActive();
        const r = current.find((x) => x.id === id);
        if (r?.status !== 'paying') return null;
        if (overBudget && r.payment && outcome.kind === 'refused') {
          // Nothing was stored at the hub (a refusal rolls back the key's claim); asking the person
          // is a new payment without the allowance, under a new key.
          const { allowance: _a, ...kept } = r.payment;
          // A signed EVM authorization never went anywhere: it is dropped, and signed anew on approval.
          const payment = r.evm ? unsignedBody(r.payment) : kept;
          if (r.evm) await deps.evm?.release(r.id);
          const note = displayText(t(refusedBy!.note, outcome.message), 500);
          const asked: ApprovalRequest = {
            ...r,
            status: 'pending',
            auto: false,
            payment,
            idempotencyKey: `tollway-${newId()}`,
            error: null,
            note,
            updatedAt: now(),
          };
          await save(replace(current, asked));
          await deps.window.open();
          return asked;
        }
        const status = statusAfter(outcome);
        const updated: ApprovalRequest = {
          ...r,
          status: status ?? r.status,
          result: outcome.kind === 'answered' ? outcome.payment : r.result,
          error: outcome.kind === 'answered' ? outcome.payment.failureReason : outcome.message,
          updatedAt: now(),
          ...(status && proofReady(r, status) && needsRetry(r) ? { retryDue: true } : {}),
        };
        await save(replace(current, updated));
        return updated;
      });
      // Refused by the hub: the signed authorization went nowhere, so it no longer counts against the daily limit.
      if (outcome.kind === 'refused' && !overBudget && request.evm) await deps.evm?.release(id);
      if (outcome.kind === 'retry') await deps.scheduleResume?.();
      if (request.auto && (outcome.kind !== 'retry' || overBudget)) await deps.budgets?.sync().catch(() => undefined);
      if (done?.auto) await tellAuto(done);
      if (done && proofReady(done, done.status)) await completed(done);
      // The hub's live update can overtake its own answer (a Lightning payment that ends just after
      // the hub answered `submitted`): it found no submitted request then, so apply it now.
      const early = done?.result ? finalsAhead.get(done.result.transactionId) : undefined;
      if (early) finalsAhead.delete(early.transactionId);
      if (early && done?.status === 'submitted') await paymentUpdated(early);
    } finally {
      sending.delete(id);
    }
  }

  /** A page load is retried with its proof; the flag says that retry is still to be done. */
  const needsRetry = (r: ApprovalRequest) => r.frameType === 'main_frame' && r.method === 'GET' && r.tabId >= 0;

  /**
   * Whether a payment that just left `paying` with `status` has its proof: a receipt once
   * completed; for an `exact` entry the signed authorization itself, as soon as the hub has the
   * payment (the site submits it; the hub completes when it sees it used).
   */
  const proofReady = (r: ApprovalRequest, status: RequestStatus) =>
    isExactRequest(r) ? status === 'submitted' || status === 'completed' : status === 'completed';

  /** Requests whose page retry runs in this worker now. */
  const retrying = new Set<string>();

  /**
   * Keeps the pass, retries with the proof, then clears `retryDue` (whatever the retry found). A
   * worker that starts again can find one request due twice, from its live update replayed and
   * from retryMissed(): the page is retried once, by whichever comes first while the flag is still
   * set. The flag is cleared only after the retry, so a worker stopped in between retries again.
   */
  async function completed(r: ApprovalRequest): Promise<void> {
    await deps.passes?.record(r).catch((e: unknown) => console.error('tollway: could not keep the pass', e));
    const retry = () => deps.onCompleted?.(r).catch((e: unknown) => console.error('tollway: could not retry with the proof', e));
    if (!r.retryDue) return void (await retry());
    if (retrying.has(r.id)) return;
    retrying.add(r.id);
    try {
      const dueAt = (history: ApprovalRequest[]) => history.findIndex((x) => x.id === r.id && x.retryDue);
      // Still due? Another path may have retried it since `r` was read.
      if ((await serial(async () => dueAt(await loadHistory())).catch(() => 0)) < 0) return;
      await retry();
      await serial(async () => {
        const history = await loadHistory();
        const i = dueAt(history);
        if (i < 0) return;
        const next = [...history];
        const { retryDue: _d, ...rest } = next[i]!;
        next[i] = rest;
        await local.set({ [KEYS.history]: writeRequestList(next) });
      });
    } finally {
      retrying.delete(r.id);
    }
  }

  /** Tells the person what was paid (or not) without the window. */
  async function tellAuto(r: ApprovalRequest): Promise<void> {
    if (!deps.notify || !r.payment || (r.status !== 'completed' && r.status !== 'submitted' && r.status !== 'failed')) return;
    let host = r.site;
    try {
      host = new URL(r.site).host;
    } catch {
      // keep the origin as it is
    }
    // A token on another network in its own units, from the person's list ("0.01 USDC on Base").
    const amount = r.evm ? planAmountText(r.evm, t) : displayAmount(r.payment.amount, r.payment.asset);
    const budget = await deps.budgets?.lookup(r.site, r.payee ?? null, r.payment.asset).catch(() => null);
    const left = budget
      ? t(
          'worker_notify_budget_left',
          displayAmount(allowanceAt(budget, now()).remaining.toString(), budget.asset),
          t(`period_${budget.period}`),
        )
      : '';
    const n =
      r.status === 'failed'
        ? {
            title: t('worker_notify_failed_title', host),
            message: t('worker_notify_failed_message', amount, displayText(r.error ?? t('worker_payment_failed'), 200)),
          }
        : {
            title: t('worker_notify_paid_title', host),
            message: [t(r.status === 'submitted' ? 'worker_notify_paid_confirming' : 'worker_notify_paid', amount), left]
              .filter(Boolean)
              .join(' '),
          };
    await deps.notify(n).catch((e: unknown) => console.error('tollway: notification', e));
  }

  /**
   * A payment's new state from the hub (live status): a request whose payment was `submitted`
   * (on-chain, Lightning) learns its outcome, and a completed page load is retried with the proof.
   */
  async function paymentUpdated(p: Payment): Promise<void> {
    const done = await serial(async () => {
      const history = await loadHistory();
      const i = history.findIndex((r) => r.status === 'submitted' && r.result?.transactionId === p.transactionId);
      const status: RequestStatus | null = p.status === 'completed' ? 'completed' : p.status === 'failed' ? 'failed' : null;
      if (!status) return null;
      if (i < 0) {
        // Perhaps the answer to a POST still in flight in this worker: settle() applies it once
        // it has stored that answer. Bounded, since most such updates are someone else's news.
        if (sending.size > 0) {
          finalsAhead.set(p.transactionId, p);
          if (finalsAhead.size > FINALS_AHEAD_MAX) finalsAhead.delete(finalsAhead.keys().next().value!);
        }
        return null;
      }
      const before = history[i]!;
      // An `exact` proof went to the page when the hub took the payment: its completion is news only.
      const retry = status === 'completed' && !isExactRequest(before);
      const updated: ApprovalRequest = {
        ...before,
        status,
        result: p,
        error: p.failureReason,
        updatedAt: now(),
        ...(retry && needsRetry(before) ? { retryDue: true } : {}),
      };
      const next = [...history];
      next[i] = withoutProof(updated);
      await local.set({ [KEYS.history]: writeRequestList(next) });
      deps.onFinished?.([updated]);
      return retry ? updated : null;
    });
    if (done) await completed(done);
  }

  /**
   * Completed page loads whose retry a stopped worker never ran: the hub is asked for the payment
   * (never paid again) and, completed, its proof goes to the tab if the tab still shows that page.
   */
  async function retryMissed(): Promise<void> {
    const due = (await loadHistory()).filter((r) => r.retryDue && r.result);
    if (!due.length) return;
    const session = await deps.session();
    if (!session || !deps.lookupPayment) return;
    for (const r of due) {
      const p = await deps.lookupPayment(session, r.result!.transactionId).catch(() => undefined);
      // Unreachable hub: leave the flag for the next wake-up.
      if (p === undefined) continue;
      await completed(p && (p.status === 'completed' || p.status === 'refunded') ? { ...r, result: p } : r);
    }
  }

  /** Rejects what waited past its expiry; closes the window when nothing is left to decide. */
  async function expire(): Promise<number> {
    return serial(async () => {
      const active = await loadActive();
      const out = expirePending(active, now(), t('worker_expired'));
      if (!out.expired) return 0;
      const left = await save(out.active);
      if (!pendingOf(left).length) await deps.window.close();
      return out.expired;
    });
  }

  /**
   * Submitted payments whose end a stopped worker may have missed (its live update consumed but
   * not applied): the hub is asked for each, and a final one is applied as if it came live.
   */
  async function reconcileSubmitted(): Promise<void> {
    const submitted = (await loadHistory()).filter((r) => r.status === 'submitted' && r.result);
    if (!submitted.length) return;
    const session = await deps.session();
    if (!session || !deps.lookupPayment) return;
    for (const r of submitted) {
      const p = await deps.lookupPayment(session, r.result!.transactionId).catch(() => undefined);
      if (p) await paymentUpdated(p);
    }
  }

  /**
   * The networks list changed (a token enabled, a daily limit raised): every pending request with
   * an EVM entry is planned again, so the window shows what is payable now.
   */
  async function replanEvm(): Promise<void> {
    if (!deps.evm) return;
    const evm = deps.evm;
    const session = await deps.session();
    const info = deps.rails && session ? await deps.rails.info({ wait: false, hubUrl: session.url }).catch(() => null) : null;
    await serial(async () => {
      const active = await loadActive();
      let changed = false;
      const next: ApprovalRequest[] = [];
      for (const r of active) {
        if (r.status !== 'pending' || !r.evm) {
          next.push(r);
          continue;
        }
        const planned = await evm.plan(r.challenge, { url: r.url, method: r.method }, sovrRailOf(info)).catch(() => null);
        if (!planned || JSON.stringify([planned.evm, planned.unpayable]) === JSON.stringify([r.evm, r.unpayable])) {
          next.push(r);
          continue;
        }
        changed = true;
        const payment = planned.payment;
        next.push({
          ...r,
          evm: planned.evm,
          payment,
          unpayable: planned.unpayable,
          payee: payment ? payeeOf(payment) : null,
          updatedAt: now(),
        });
      }
      if (changed) await save(next);
    });
  }

  /** After a worker restart: replays every payment whose outcome was not stored. */
  async function resume(): Promise<void> {
    const active = await loadActive();
    await Promise.all(active.filter((r) => r.status === 'paying').map((r) => settle(r.id)));
    await reconcileSubmitted();
    await retryMissed();
    await expire();
    await serial(async () => deps.setBadge(badgeText(await loadActive())));
  }

  /**
   * After a browser restart the pages that asked are gone and so is the window: what was pending is
   * rejected; what was being paid is still settled.
   */
  async function browserStarted(): Promise<void> {
    await serial(async () => {
      const active = await loadActive();
      await save(rejectPending(active, now(), t('worker_browser_restarted')));
    });
    await resume();
  }

  return {
    add,
    decide: (id: string, approve: boolean, budget?: { amount: string; period: AllowancePeriod }, pay?: PayChoice) =>
      // From the Interledger wallet a budget is a grant the wallet is asked for, not a hub allowance.
      pay?.from === 'ilp'
        ? decideOne(id, approve, budget ? { ...pay, budget } : pay)
        : approve && budget
          ? decideWithBudget(id, budget, pay)
          : decideOne(id, approve, pay),
    rejectAll,
    windowRemoved,
    settle,
    resume,
    browserStarted,
    expire,
    paymentUpdated,
    replanEvm,
  };
}
