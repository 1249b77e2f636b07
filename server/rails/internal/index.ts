import { ProblemError } from '../../../shared/problem.js';
import type { AccountDirectory } from '../../core/accounts.js';
import type { Rail } from '../types.js';

/**
 * Hub-internal transfer between two ledger accounts. Nothing leaves the hub, so the transfer is
 * the whole payment: it settles in the transaction that creates it.
 */
export function createInternalRail({ accounts }: { accounts: AccountDirectory }): Rail {
  return {
    name: 'internal',
    settlement: 'ledger',
    async resolvePayee(tx, payTo, asset) {
      const m = await tx.get<{ id: string }>('SELECT id FROM merchants WHERE id = ?', [payTo]);
      if (!m) throw new ProblemError('unknown-merchant', `no merchant ${JSON.stringify(payTo)} on this hub`);
      return { creditAccountId: await accounts.merchant(tx, m.id, asset), merchantId: m.id };
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
