import { decodeInvoice, type Invoice, type LightningNetwork, NETWORK_PREFIX } from '../../../lightning/invoice.js';
import { ProblemError } from '../../../shared/problem.js';

/** What the hub accepts of an invoice it is asked to pay (decoding itself is lightning/invoice.ts). */

/**
 * Everything about paying `payTo` that the request alone decides: a BTC payment of exactly the
 * invoice's amount, on the node's network. Deterministic, so a replayed request passes it again.
 */
export function checkInvoiceRequest(req: { payTo: string; amount?: bigint; asset: string }, network: LightningNetwork | null): Invoice {
  if (req.asset !== 'BTC') {
    throw new ProblemError('validation-error', 'the lightning rail pays BTC only (amounts in millisatoshi)', {
      errors: [{ path: 'asset', message: 'must be BTC on the lightning rail' }],
    });
  }
  let inv: Invoice;
  try {
    inv = decodeInvoice(req.payTo);
  } catch (err) {
    throw new ProblemError('invalid-invoice', (err as Error).message);
  }
  if (inv.amountMsat === null || inv.amountMsat === 0n) {
    throw new ProblemError('invalid-invoice', 'the invoice has no amount; ask the payee for one that names its amount');
  }
  if (network && NETWORK_PREFIX[network] !== inv.prefix) {
    throw new ProblemError('invalid-invoice', `the invoice is for another network (ln${inv.prefix}…); this hub's node is on ${network}`);
  }
  if (req.amount !== undefined && req.amount !== inv.amountMsat) {
    throw new ProblemError('invoice-amount-mismatch', `the invoice asks for ${inv.amountMsat} msat, the payment says ${req.amount}`, {
      invoiceAmount: inv.amountMsat.toString(),
    });
  }
  return inv;
}

/** Time decides this one, so it is checked where the payment is created, never on a replay. */
export function checkNotExpired(inv: Invoice, nowMs: number): void {
  if (nowMs >= inv.expiresAt * 1000) {
    throw new ProblemError(
      'invoice-expired',
      `the invoice expired at ${new Date(inv.expiresAt * 1000).toISOString()}; ask the payee for a new one`,
    );
  }
}
