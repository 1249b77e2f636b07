/** Who is paid, in the approval window's words (here, not in common/, so the popup does not load it). */
import type { ApprovalRequest } from '../common/state.js';
import { displayText } from '../common/text.js';

/**
 * Who is paid, for every rail: the hub merchant's id (what the hub pays and receipts
 * name), the address an `exact` entry pays on chain, the Lightning node that signed the invoice.
 * Everything in it comes from the challenge, so it is shown through displayText.
 */
export function payeeText(r: ApprovalRequest): string {
  const p = r.payment;
  const text = (() => {
    if (p?.rail === 'lightning') return r.payee ? `Lightning node ${r.payee}` : 'Lightning invoice (its node could not be read)';
    if (p?.rail === 'sovr' && r.onChain?.kind === 'exact') return `${p.payTo} (the site's own address, on chain)`;
    if (p) return `Hub merchant ${p.payTo}`;
    const first = r.challenge.x402?.accepts[0];
    if (first) return first.payTo;
    return r.challenge.l402 || r.challenge.payment ? 'Lightning invoice' : 'unknown';
  })();
  return displayText(text, 160);
}
