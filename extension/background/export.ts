/**
 * Every payment of the person as CSV: the hub's list is paged (`GET /payments?cursor=`) to its end,
 * not only what the popup keeps (the newest 50).
 */
import type { Payment } from '../../shared/api.js';
import { paymentsCsv } from '../common/csv.js';
import type { T } from '../common/i18n.js';
import type { HubSession } from '../common/state.js';
import type { HubApi } from './hub-api.js';

export const EXPORT_PAGE = 100;
/** A hub that keeps answering with cursors is not followed forever (a million rows). */
export const EXPORT_MAX_PAGES = 10_000;

export async function allPayments(api: Pick<HubApi, 'paymentsPage'>, session: HubSession, t: T): Promise<Payment[]> {
  const out: Payment[] = [];
  const seen = new Set<string>();
  let cursor: string | null = null;
  for (let page = 0; page < EXPORT_MAX_PAGES; page++) {
    const list = await api.paymentsPage(session, cursor, EXPORT_PAGE);
    // Pages are keyed by a cursor, not an offset: a payment made meanwhile never shifts one in twice.
    for (const p of list.data) if (!seen.has(p.transactionId) && seen.add(p.transactionId)) out.push(p);
    if (!list.nextCursor || list.nextCursor === cursor || !list.data.length) return out;
    cursor = list.nextCursor;
  }
  throw new Error(t('worker_export_too_long'));
}

export async function exportCsv(api: Pick<HubApi, 'paymentsPage'>, session: HubSession, t: T): Promise<string> {
  return paymentsCsv(await allPayments(api, session, t));
}
