import type { Migration } from '../migrate.js';

/**
 * What the hub's node still may do with a challenge invoice that a hub balance paid inside the
 * ledger (server/payments/challenge-invoices.ts): `node_state` is NULL until then, and
 * - `cancel`: the payment committed and the node has not yet been heard from since (the invoice is
 *   being withdrawn there); a settlement arriving now raced the payment;
 * - `watch`: the node cannot withdraw it (LNbits) and said it was still open: a settlement arriving
 *   now is a late outside payment, and the invoice is looked up until the node can no longer take one;
 * - `closed`: the node can no longer settle it (withdrawn, deleted, expired), or its one outside
 *   payment was recorded.
 */
export const challengeInvoiceNode: Migration = {
  id: '018_challenge_invoice_node',
  up() {
    return [
      'ALTER TABLE challenge_invoices ADD COLUMN node_state TEXT',
      `CREATE INDEX challenge_invoices_node ON challenge_invoices (updated_at) WHERE node_state IN ('cancel', 'watch')`,
    ];
  },
};
