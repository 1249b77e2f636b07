import { ProblemError } from '../../../shared/problem.js';
import type { AccountDirectory } from '../../core/accounts.js';
import type { Rail } from '../types.js';

/**
 * Hub-internal transfer between two ledger accounts. Nothing leaves the hub, so the transfer is
 * the whole payment: it settles in the transaction that creates it.
 */
export function createInternalRail({ accounts }: { accounts: AccountDirectory }): Rail {
  // Merchants are never deleted, so one seen once needs no look-up again (a query a payment).
  const known = new Set<string>();
  return {
    name: 'internal',
    settlement: 'ledger',
    async resolvePayee(tx, payTo, asset) {
      if (!known.has(payTo)) {
        const m = await tx.get<{ id: string }>('SELECT id FROM merchants WHERE id = ?', [payTo]);
        if (!m) throw new ProblemError('unknown-merchant', `no merchant ${JSON.stringify(payTo)} on this hub`);
        known.add(m.id);
      }
      return { creditAccountId: await accounts.merchant(tx, payTo, asset), merchantId: payTo };
    },
    // Never pending, so there is nothing to execute or resume; kept total for the interface.
    async execute() {
      return { status: 'completed' };
    },
    async resume() {
      return { status: 'completed' };
    },
    info: async () => ({ name: 'internal', assets: ['SOVR', 'BTC'] }),
  };
}
