/**
 * The settlement of a wallet-rail payment, as the site tells it: the retry that carried the signed
 * authorization (a page reload with PAYMENT-SIGNATURE, or the page's own fetch) is answered with
 * `PAYMENT-RESPONSE` (x402 v2; `X-PAYMENT-RESPONSE` in v1) naming the transaction that settled it.
 * The worker sees that answer's headers (webRequest), finds the request it paid for that tab and
 * URL, and reports the outcome to the hub (`POST /payments/:id/settlement`), which completes the
 * payment with the transaction hash (and the explorer link from the person's networks list). The
 * hub's answer goes to the request as a live update would. A report is kept in `local` storage
 * until the hub has it, so an unreachable hub or a stopped worker delays it, never loses it.
 */
import { z } from 'zod';
import { Payment } from '../../shared/api.js';
import { parsePaymentResponse } from '../../shared/challenge.js';
import { SettlementReport, WalletAuthorization } from '../../shared/wallet-payments.js';
import type { T } from '../common/i18n.js';
import { type ApprovalRequest, type HubSession, KEYS } from '../common/state.js';
import { loadRequestList, type StorageArea } from '../common/storage.js';
import { createSerial } from './serial.js';

const TX_HASH = /^0x[0-9a-fA-F]{64}$/;

const withoutHash = (url: string) => {
  try {
    const u = new URL(url);
    u.hash = '';
    return u.href;
  } catch {
    return url;
  }
};

/** The settlement header's value among response headers, or null. */
export function paymentResponseOf(headers: readonly { name: string; value?: string }[] | undefined): string | null {
  const h = headers?.find((x) => /^(x-)?payment-response$/i.test(x.name));
  return h?.value ?? null;
}

/** The explorer page of `hash` on a network whose explorer is `explorer` (Etherscan's `/tx/<hash>`). */
export const explorerTxUrl = (explorer: string | undefined, hash: string): string | undefined =>
  explorer ? `${explorer.replace(/\/+$/, '')}/tx/${hash}` : undefined;

/**
 * What to report for a request, from the site's settlement header: completed with the transaction,
 * failed with the site's reason, or null when the header says nothing usable (or names another
 * payer than the one who signed).
 */
export function reportOf(r: Pick<ApprovalRequest, 'payment' | 'evm'>, header: string): SettlementReport | null {
  const read = parsePaymentResponse(header);
  if (!read.ok) return null;
  const signed = WalletAuthorization.safeParse(r.payment?.authorization);
  if (read.value.payer && signed.success && read.value.payer.toLowerCase() !== signed.data.from.toLowerCase()) return null;
  if (!read.value.success)
    return { status: 'failed', reason: (read.value.errorReason || 'the site could not settle the payment').slice(0, 500) };
  if (!TX_HASH.test(read.value.transaction)) return null;
  const link = explorerTxUrl(r.evm?.explorer, read.value.transaction);
  return { status: 'completed', transaction: read.value.transaction, ...(link ? { blockExplorerUrl: link } : {}) };
}

/** A wallet-rail request the hub has, waiting for its settlement, for this tab and URL. */
export function awaitingSettlement(requests: readonly ApprovalRequest[], tabId: number, url: string): ApprovalRequest | undefined {
  const u = withoutHash(url);
  return requests.find(
    (r) => r.payment?.rail === 'wallet' && r.status === 'submitted' && r.result && r.tabId === tabId && withoutHash(r.url) === u,
  );
}

export interface EvmSettlementDeps {
  local: StorageArea;
  t: T;
  fetch: typeof fetch;
  session(): Promise<HubSession | null>;
  /** The hub's answer, applied to the request as a live update (approvals.paymentUpdated). */
  onPayment(p: Payment): Promise<void>;
}

/** A report the hub has not taken yet, kept until it does (or refuses it for good). */
const Unsent = z.object({ paymentId: z.string().min(1), report: SettlementReport });
type Unsent = z.infer<typeof Unsent>;

export function createEvmSettlement(deps: EvmSettlementDeps) {
  const serial = createSerial();

  async function unsent(): Promise<Unsent[]> {
    const raw = (await deps.local.get(KEYS.evmReports))[KEYS.evmReports];
    return (Array.isArray(raw) ? raw : []).flatMap((x) => {
      const p = Unsent.safeParse(x);
      return p.success ? [p.data] : [];
    });
  }
  const keep = (u: Unsent) =>
    serial(async () => deps.local.set({ [KEYS.evmReports]: [...(await unsent()).filter((x) => x.paymentId !== u.paymentId), u] }));
  const drop = (paymentId: string) =>
    serial(async () => deps.local.set({ [KEYS.evmReports]: (await unsent()).filter((x) => x.paymentId !== paymentId) }));

  /**
   * `POST /payments/:id/settlement`: the payment as the hub now has it; `retry` when the hub could
   * not be asked (unreachable, 5xx, signed out); `refused` when it will never take this report.
   */
  async function sendReport(u: Unsent): Promise<Payment | 'retry' | 'refused'> {
    const session = await deps.session();
    if (!session) return 'retry';
    try {
      const res = await deps.fetch(new URL(`/payments/${encodeURIComponent(u.paymentId)}/settlement`, session.url), {
        method: 'POST',
        headers: { authorization: `Bearer ${session.accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(u.report),
        signal: AbortSignal.timeout(15_000),
      });
      const parsed = Payment.safeParse(await res.json().catch(() => undefined));
      if (res.ok && parsed.success) return parsed.data;
      console.error('tollway: the hub did not take the settlement', res.status);
      return res.status >= 500 || res.status === 401 || res.status === 429 ? 'retry' : 'refused';
    } catch (e) {
      console.error('tollway: could not report the settlement', e);
      return 'retry';
    }
  }

  /** Sends a kept report; the hub's answer goes to the request. */
  async function deliver(u: Unsent): Promise<boolean> {
    const answer = await sendReport(u);
    if (answer === 'retry') return false;
    await drop(u.paymentId);
    if (answer === 'refused') return false;
    await deps.onPayment(answer);
    return true;
  }

  /**
   * Reports for the request this wallet paid in `tabId` for `url`, if one waits: kept first, so a
   * worker stopped (or a hub unreachable) before the hub has it sends it on its next start.
   */
  async function reportFor(tabId: number, url: string, reportOfRequest: (r: ApprovalRequest) => SettlementReport | null): Promise<boolean> {
    const r = awaitingSettlement(await loadRequestList(deps.local, KEYS.history), tabId, url);
    const report = r ? reportOfRequest(r) : null;
    if (!r || !report) return false;
    const u = { paymentId: r.result!.transactionId, report };
    await keep(u);
    return deliver(u);
  }

  return {
    /**
     * A response arrived with headers: if it carries a settlement for a request this wallet paid
     * in that tab for that URL, the hub is told. True when a report was accepted.
     */
    async observed(d: { tabId: number; url: string; responseHeaders?: { name: string; value?: string }[] }): Promise<boolean> {
      const header = paymentResponseOf(d.responseHeaders);
      return header ? reportFor(d.tabId, d.url, (r) => reportOf(r, header)) : false;
    },

    /**
     * The page reload that carried the signed authorization was answered 402 without a settlement:
     * the site refused it (its facilitator would not verify it), so the hub records it as failed,
     * with the site's own words when it gave any. It still counts against the budget and the daily
     * limit: the site has seen the authorization.
     */
    refused: (d: { tabId: number; url: string; serverError?: string }): Promise<boolean> =>
      reportFor(d.tabId, d.url, () => ({
        status: 'failed',
        reason: (d.serverError ? deps.t('worker_evm_site_refused_because', d.serverError) : deps.t('worker_evm_site_refused')).slice(
          0,
          500,
        ),
      })),

    /** Keeps and sends a report learnt some other way (the chain, evm-recover.ts). True when the hub took it. */
    async report(paymentId: string, report: SettlementReport): Promise<boolean> {
      const u = { paymentId, report };
      await keep(u);
      return deliver(u);
    },

    /** Sends the reports the hub has not taken yet (worker start, sign-in, the resume alarm). */
    async resume(): Promise<void> {
      for (const u of await unsent()) await deliver(u);
    },
  };
}
