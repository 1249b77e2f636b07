import { ProblemError } from '../../../shared/problem.js';
import type { Ledger } from '../../ledger/types.js';
import { ensureAccount, merchantAccountId } from '../../payments/accounts.js';
import type { Rail } from '../types.js';

/**
 * Hub-internal transfer between two ledger accounts: nothing leaves the hub, so the reservation
 * is simply posted. Resuming after a crash is the same act, and posting is idempotent.
 */
export function createInternalRail({ ledger }: { ledger: Ledger }): Rail {
  return {
    name: 'internal',
    async resolvePayee(tx, payTo, asset) {
      const m = await tx.get<{ id: string }>('SELECT id FROM merchants WHERE id = ?', [payTo]);
      if (!m) throw new ProblemError('unknown-merchant', `no merchant ${JSON.stringify(payTo)} on this hub`);
      const creditAccountId = await ensureAccount(ledger, tx, merchantAccountId(m.id, asset), asset, m.id);
      return { creditAccountId, merchantId: m.id };
    },
    async execute() {
      return { status: 'completed' };
    },
    async resume() {
      return { status: 'completed' };
    },
  };
}
