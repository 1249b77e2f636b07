/**
 * The slots a person holds at sites that sell time through `slots()` (docs/slots.md), and Renew.
 *
 * Learning a slot: the page's join dialog buys a token with `tollway.fetch` on `<api>/token/buy/<value>`
 * (a payment through the queue like any other), spends it itself, and dispatches `tollway:slot`
 * ({tokenId, slotId}); the bridge passes that on (`provider.slot`). The page's word alone records
 * nothing: a slot is kept only when this person's own completed payment to that same site for a slot
 * token, in the last PURCHASE_CLAIM_MS and not yet claimed by a slot, stands behind it, and the
 * site's slots API answers the slot's expiry (which is taken from the API, never from the page).
 *
 * Renewing: the worker asks `<api>/token/buy/<one month>` itself, queues the 402 through the
 * approvals service as a request from that site (so the approval window, or the budget for that site
 * and payee, decide exactly as for any payment), and once the request completes fetches the token
 * with the proof and spends it on the slot. The renewal is stored with the request's id before
 * anything is paid, so a worker stopped in between finishes it at the next wake-up: the same receipt
 * buys the same token, and a token already spent just means the slot was extended.
 */
import type { Payment } from '../../shared/api.js';
import { challengeFromParam } from '../common/provider-messages.js';
import { holdingKey, readHoldings, SlotToken, slotsApiOf, type Holding } from '../common/holdings.js';
import type { T } from '../common/i18n.js';
import { KEYS, type ApprovalRequest, type HubSession } from '../common/state.js';
import { loadRequestList, loadRequests, type StorageArea } from '../common/storage.js';
import type { Added, Seen402 } from './approvals.js';
import { proofHeader } from './proof.js';
import { createSerial } from './serial.js';

/** How long after paying for a token the page may say which slot it was spent on. */
export const PURCHASE_CLAIM_MS = 15 * 60_000;
export const HOLDINGS_KEPT = 200;
const TOKENS_KEPT = 200;
const TRANSACTIONS_KEPT = 20;
const FETCH_TIMEOUT_MS = 15_000;

export interface HoldingsDeps {
  t: T;
  local: StorageArea;
  session: StorageArea;
  fetch: typeof fetch;
  /** The approvals service's `add`: the one queue every payment goes through. */
  add(seen: Seen402): Promise<Added>;
  hubSession(): Promise<HubSession | null>;
  /** The payment as the hub has it (its receipt), for a renewal a stopped worker left half done. */
  lookupPayment(session: HubSession, transactionId: string): Promise<Payment | null>;
  /** The holdings changed (the reminders reschedule). */
  onChange?(): Promise<unknown>;
  now?: () => number;
}

/** What the bridge passes on from the page's `tollway:slot`. */
export interface SlotReport {
  tokenId: string;
  slotId: number;
}

export interface SlotSender {
  /** The reporting frame's origin, from the browser. */
  origin: string;
  url: string;
  title: string;
}

class SlotsApiProblem extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(message);
  }
}

const safeInt = (v: unknown): bigint | null => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : null);

const sameOrigin = (url: string | null, origin: string) => url !== null && new URL(url).origin === origin;

const withoutHash = (url: string) => {
  const u = new URL(url);
  u.hash = '';
  return u.href;
};

export function createHoldings(deps: HoldingsDeps) {
  const { t } = deps;
  const now = deps.now ?? (() => Date.now());
  const serial = createSerial();
  // Requests that finished in this worker, for a renewal whose id is stored just after (auto-pay).
  const recent = new Map<string, ApprovalRequest>();
  // Renewals being completed now: finished() and resume() may both reach one.
  const completing = new Set<string>();

  const load = async () => readHoldings((await deps.local.get(KEYS.holdings))[KEYS.holdings]);

  /** One serialized read-modify-write of the list; returns the list as stored. */
  const update = (change: (list: Holding[]) => Holding[]) =>
    serial(async () => {
      const next = change(await load()).slice(0, HOLDINGS_KEPT);
      await deps.local.set({ [KEYS.holdings]: next });
      return next;
    });
  const patch = (key: string, change: (h: Holding) => Holding) => update((list) => list.map((h) => (h.key === key ? change(h) : h)));
  const changed = () => deps.onChange?.().catch((e: unknown) => console.error('tollway: holdings changed', e));

  async function call(url: string, init: RequestInit = {}): Promise<Record<string, unknown>> {
    let res: Response;
    try {
      res = await deps.fetch(url, {
        cache: 'no-store',
        ...init,
        headers: { accept: 'application/json', ...init.headers },
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      });
    } catch (e) {
      throw new Error(t('worker_slot_unreachable', new URL(url).host, e instanceof Error ? e.message : String(e)));
    }
    let body: unknown = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    const record = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
    if (!res.ok) {
      const detail = typeof record.detail === 'string' ? record.detail.slice(0, 300) : String(res.status);
      throw new SlotsApiProblem(t('worker_slot_refused', new URL(url).host, detail), res.status, record);
    }
    return record;
  }

  async function expiryOf(api: string, slotId: number): Promise<number> {
    const b = await call(`${api}/slotexpiry/${slotId}`);
    const at = typeof b.expiry_date === 'string' ? Date.parse(b.expiry_date) : Number.NaN;
    if (!Number.isSafeInteger(at)) throw new Error(t('worker_slot_bad_answer', new URL(api).host));
    return at;
  }

  async function feeRateOf(api: string): Promise<bigint> {
    const rate = safeInt((await call(`${api}/feerate`)).fee_rate_per_month_in_msat);
    if (rate === null || rate === 0n) throw new Error(t('worker_slot_bad_answer', new URL(api).host));
    return rate;
  }

  async function rememberToken(key: string, tokenId: string): Promise<void> {
    const raw = (await deps.session.get(KEYS.slotTokens))[KEYS.slotTokens];
    const list = (Array.isArray(raw) ? raw : []).flatMap((x) => {
      const p = SlotToken.safeParse(x);
      return p.success ? [p.data] : [];
    });
    if (list.some((x) => x.tokenId === tokenId)) return;
    await deps.session.set({ [KEYS.slotTokens]: [{ key, tokenId, at: now() }, ...list].slice(0, TOKENS_KEPT) });
  }

  /**
   * The page said which slot its token went to. Kept only with this person's own unclaimed purchase
   * from that site behind it; the expiry comes from the site's API. False when nothing was kept.
   */
  async function reported(sender: SlotSender, report: SlotReport): Promise<boolean> {
    const at = now();
    const claimed = new Set((await load()).flatMap((h) => h.transactions));
    const purchase = (await loadRequestList(deps.local, KEYS.history)).find(
      (r) =>
        r.status === 'completed' &&
        r.site === sender.origin &&
        r.result &&
        !claimed.has(r.result.transactionId) &&
        r.updatedAt >= at - PURCHASE_CLAIM_MS &&
        sameOrigin(slotsApiOf(r.url), sender.origin),
    );
    if (!purchase?.result) return false;
    const api = slotsApiOf(purchase.url)!;
    const [expiresAt, feeRate] = await Promise.all([expiryOf(api, report.slotId), feeRateOf(api)]);
    const key = holdingKey(api, report.slotId);
    const tx = purchase.result.transactionId;
    await update((list) => {
      const old = list.find((h) => h.key === key);
      const held: Holding = {
        key,
        site: sender.origin,
        api,
        slotId: report.slotId,
        page: old?.page ?? withoutHash(sender.url),
        title: old?.title ?? sender.title.slice(0, 200),
        feeRatePerMonthMsat: feeRate.toString(),
        expiresAt,
        checkedAt: at,
        transactions: [tx, ...(old?.transactions ?? [])].slice(0, TRANSACTIONS_KEPT),
        ...(old?.remindedFor !== undefined ? { remindedFor: old.remindedFor } : {}),
        ...(old && old.expiresAt !== expiresAt ? { renewed: { from: old.expiresAt, to: expiresAt, at } } : {}),
      };
      return [held, ...list.filter((h) => h.key !== key)];
    });
    await rememberToken(key, report.tokenId);
    await changed();
    return true;
  }

  /** Reads every held slot's expiry again from its site (what the popup shows when it opens). */
  async function refresh(): Promise<void> {
    const list = await load();
    const read = await Promise.all(
      list.map(async (h) => {
        const [expiresAt, feeRate] = await Promise.all([expiryOf(h.api, h.slotId), feeRateOf(h.api)]).catch(() => [null, null] as const);
        return { key: h.key, expiresAt, feeRate };
      }),
    );
    const at = now();
    await update((current) =>
      current.map((h) => {
        const r = read.find((x) => x.key === h.key);
        if (!r || r.expiresAt === null || r.feeRate === null) return h;
        return { ...h, expiresAt: r.expiresAt, feeRatePerMonthMsat: r.feeRate.toString(), checkedAt: at };
      }),
    );
    await resume();
    await changed();
  }

  /** The token purchase's 402 for one month (or the shortest period the site sells). */
  async function offer(api: string): Promise<{ url: string; res: Response }> {
    const value = await feeRateOf(api);
    const ask = (v: bigint) =>
      deps.fetch(`${api}/token/buy/${v}`, {
        cache: 'no-store',
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      });
    let res = await ask(value).catch((e: unknown) => {
      throw new Error(t('worker_slot_unreachable', new URL(api).host, e instanceof Error ? e.message : String(e)));
    });
    if (res.status === 422) {
      // The site sells no less than `min_value_msat` (its minimum period): renew by that.
      const min = safeInt(((await res.json().catch(() => ({}))) as { min_value_msat?: unknown }).min_value_msat);
      if (min !== null && min > value) res = await ask(min);
      return { url: `${api}/token/buy/${min ?? value}`, res };
    }
    return { url: `${api}/token/buy/${value}`, res };
  }

  /** Renew: queue the payment for a token; the slot is extended once it completes (`finished`). */
  async function renew(key: string): Promise<void> {
    const h = (await load()).find((x) => x.key === key);
    if (!h) throw new Error(t('worker_slot_unknown'));
    if (h.renewal?.status === 'waiting') {
      // Still waiting for the person, or paid and not yet spent: never paid a second time.
      const { active, history } = await loadRequests(deps.local);
      if (active.requests.some((r) => r.id === h.renewal!.requestId)) return;
      const ended = history.requests.find((r) => r.id === h.renewal!.requestId && r.status === 'completed');
      if (ended) return settle([ended]);
    }
    const { url, res } = await offer(h.api);
    if (res.status !== 402) throw new Error(t('worker_slot_no_offer', new URL(h.api).host, res.status));
    const header = res.headers.get('payment-required');
    const authenticate = res.headers.get('www-authenticate') ?? undefined;
    const body = header ? undefined : ((await res.json().catch(() => undefined)) as Record<string, unknown> | undefined);
    const read = challengeFromParam(header ?? body, authenticate);
    if (!read.ok) throw new Error(read.error);
    const added = await deps.add({
      site: h.site,
      tabId: -1,
      frameType: 'xmlhttprequest',
      method: 'GET',
      url,
      challenge: read.challenge,
      // The site the person chose in the popup, learned from the browser when the slot was bought.
      tabOrigin: h.site,
    });
    await patch(key, (x) => ({ ...x, renewal: { requestId: added.id, url, status: 'waiting', at: now() } }));
    const early = recent.get(added.id);
    if (early) await settle([early]);
  }

  /** The token bought by a completed renewal, spent on its slot. */
  async function complete(h: Holding, r: ApprovalRequest): Promise<void> {
    if (completing.has(h.key)) return;
    completing.add(h.key);
    try {
      let proof = proofHeader(r);
      if (!proof && r.result) {
        // From the stored history (receipts are not kept in `local`): the hub has it.
        const session = await deps.hubSession();
        const p = session ? await deps.lookupPayment(session, r.result.transactionId) : null;
        if (p) proof = proofHeader({ ...r, result: p });
      }
      if (!proof || !r.result) throw new Error(t('worker_slot_no_receipt'));
      const bought = await call(r.url, { headers: { [proof.header]: proof.value } });
      const tokenId = typeof bought.token_id === 'string' ? bought.token_id : null;
      if (!tokenId || bought.confirmed !== true) throw new Error(t('worker_slot_bad_answer', new URL(h.api).host));
      await rememberToken(h.key, tokenId);
      let expiresAt: number;
      try {
        const spent = await call(`${h.api}/spendtoken`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ token_id: tokenId, slot_id: h.slotId }),
        });
        expiresAt = typeof spent.expiry_date === 'string' ? Date.parse(spent.expiry_date) : Number.NaN;
        if (!Number.isSafeInteger(expiresAt)) throw new Error(t('worker_slot_bad_answer', new URL(h.api).host));
      } catch (e) {
        // Spent by an earlier try that stopped before storing its answer: the slot has its time.
        if (!(e instanceof SlotsApiProblem && e.status === 409 && String(e.body.type ?? '').endsWith('/token-spent'))) throw e;
        expiresAt = await expiryOf(h.api, h.slotId);
      }
      const at = now();
      const tx = r.result.transactionId;
      await patch(h.key, (x) => {
        const { renewal: _r, ...rest } = x;
        return {
          ...rest,
          expiresAt,
          checkedAt: at,
          renewed: { from: x.expiresAt, to: expiresAt, at },
          transactions: [tx, ...x.transactions.filter((id) => id !== tx)].slice(0, TRANSACTIONS_KEPT),
        };
      });
      await changed();
    } catch (e) {
      // Paid, not yet spent: kept waiting (with why), and tried again at the next wake-up or refresh.
      const error = (e instanceof Error ? e.message : String(e)).slice(0, 500);
      await patch(h.key, (x) => (x.renewal ? { ...x, renewal: { ...x.renewal, error } } : x));
    } finally {
      completing.delete(h.key);
    }
  }

  async function settle(requests: readonly ApprovalRequest[]): Promise<void> {
    const list = await load();
    for (const r of requests) {
      const h = list.find((x) => x.renewal?.status === 'waiting' && x.renewal.requestId === r.id);
      if (!h) continue;
      if (r.status === 'completed') await complete(h, r);
      else if (r.status === 'failed' || r.status === 'rejected') {
        const error = (r.error ?? t(r.status === 'rejected' ? 'worker_slot_renew_rejected' : 'worker_payment_failed')).slice(0, 500);
        await patch(h.key, (x) => (x.renewal?.requestId === r.id ? { ...x, renewal: { ...x.renewal, status: 'failed', error } } : x));
      }
    }
  }

  /** The approvals service's onFinished: requests that left the queue (with their receipts, in memory). */
  function finished(requests: readonly ApprovalRequest[]): void {
    for (const r of requests) {
      recent.set(r.id, r);
      if (recent.size > 50) recent.delete(recent.keys().next().value!);
    }
    void settle(requests).catch((e: unknown) => console.error('tollway: slot renewal', e));
  }

  /** After a worker restart: renewals whose request ended while no worker listened. */
  async function resume(): Promise<void> {
    const waiting = (await load()).filter((h) => h.renewal?.status === 'waiting');
    if (!waiting.length) return;
    const history = await loadRequestList(deps.local, KEYS.history);
    const ended = waiting.flatMap((h) => history.filter((r) => r.id === h.renewal!.requestId));
    await settle(ended);
  }

  return { reported, refresh, renew, finished, resume, update, load };
}

export type Holdings = ReturnType<typeof createHoldings>;
