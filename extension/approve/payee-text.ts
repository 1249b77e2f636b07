/** Who is paid, in the approval window's words (here, not in common/, so the popup does not load it). */
import type { T } from '../common/i18n.js';
import type { ApprovalRequest } from '../common/state.js';
import { displayText } from '../common/text.js';

/**
 * Who is paid, for every rail: the hub merchant's id (what the hub pays and receipts
 * name), the address an `exact` entry pays on chain, the Lightning node that signed the invoice.
 * Everything in it comes from the challenge, so it is shown through displayText.
 */
export function payeeText(r: ApprovalRequest, t: T): string {
  const p = r.payment;
  const text = (() => {
    if (p?.rail === 'lightning') return r.payee ? t('approve_payee_lightning', r.payee) : t('approve_payee_lightning_unknown');
    if (p?.rail === 'sovr' && r.onChain?.kind === 'exact') return t('approve_payee_exact', p.payTo);
    // An EVM `exact` entry pays its own address, whether or not it can be paid here.
    if (r.evm) return t('approve_payee_exact', r.evm.payTo);
    if (p) return t('approve_payee_merchant', p.payTo);
    const first = r.challenge.x402?.accepts[0];
    if (first) return first.payTo;
    return r.challenge.l402 || r.challenge.payment ? t('approve_payee_invoice') : t('approve_payee_unknown');
  })();
  return displayText(text, 160);
}
