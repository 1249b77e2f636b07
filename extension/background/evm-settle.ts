/**
 * The settlement of a wallet-rail payment, as the site tells it: the retry that carried the signed
 * authorization (a page reload with PAYMENT-SIGNATURE, or the page's own fetch) is answered with
 * `PAYMENT-RESPONSE` (x402 v2; `X-PAYMENT-RESPONSE` in v1) naming the transaction that settled it.
 * The worker sees that answer's headers (webRequest), finds the request it paid for that tab and
 * URL, and reports the outcome to the hub (`POST /payments/:id/settlement`), which completes the
 * payment with the transaction hash (and the explorer link from the person's networks list). The
 * hub's answer goes to the request as a live update would.
 */
import { Payment } from '../../shared/api.js';
import { parsePaymentResponse } from '../../shared/challenge.js';
import { WalletAuthorization, type SettlementReport } from '../../shared/wallet-payments.js';
import type { ApprovalRequest, HubSession } from '../common/state.js';
import { loadRequests, type StorageArea } from '../common/storage.js';

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
  fetch: typeof fetch;
  session(): Promise<HubSession | null>;
  /** The hub's answer, applied to the request as a live update (approvals.paymentUpdated). */
  onPayment(p: Payment): Promise<void>;
}

export function createEvmSettlement(deps: EvmSettlementDeps) {
  /** `POST /payments/:id/settlement`; the payment as the hub now has it, or null (logged) when it did not take it. */
  async function sendReport(session: HubSession, id: string, report: SettlementReport): Promise<Payment | null> {
    try {
      const res = await deps.fetch(new URL(`/payments/${encodeURIComponent(id)}/settlement`, session.url), {
        method: 'POST',
        headers: { authorization: `Bearer ${session.accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(report),
        signal: AbortSignal.timeout(15_000),
      });
      const parsed = Payment.safeParse(await res.json().catch(() => undefined));
      if (res.ok && parsed.success) return parsed.data;
      console.error('tollway: the hub did not take the settlement', res.status);
    } catch (e) {
      console.error('tollway: could not report the settlement', e);
    }
    return null;
  }

  return {
    /**
     * A response arrived with headers: if it carries a settlement for a request this wallet paid
     * in that tab for that URL, the hub is told. True when a report was accepted.
     */
    async observed(d: { tabId: number; url: string; responseHeaders?: { name: string; value?: string }[] }): Promise<boolean> {
      const header = paymentResponseOf(d.responseHeaders);
      if (!header) return false;
      const { history } = await loadRequests(deps.local);
      const r = awaitingSettlement(history.requests, d.tabId, d.url);
      const report = r ? reportOf(r, header) : null;
      if (!r || !report) return false;
      const session = await deps.session();
      if (!session) return false;
      const answer = await sendReport(session, r.result!.transactionId, report);
      if (!answer) return false;
      await deps.onPayment(answer);
      return true;
    },
  };
}
