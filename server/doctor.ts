import type { Writable } from 'node:stream';
import type { Config } from './config.js';
import { createLedger } from './ledger/ledger.js';
import { migrate } from './store/migrate.js';
import { MIGRATIONS } from './store/migrations/index.js';
import { openStore } from './store/index.js';

/**
 * Checks the ledger invariant of the hub the environment points at: per asset the debits equal
 * the credits, posted and pending, and every account equals the sum of its transfers.
 * Returns the process exit code: 0 when it holds, 1 when it does not.
 */
export async function runDoctor(config: Config, out: Writable): Promise<number> {
  const db = openStore(config);
  try {
    await migrate(db, MIGRATIONS);
    const ledger = createLedger({ clock: { now: () => Date.now() } });
    const report = await db.snapshot((q) => ledger.checkInvariant(q));
    out.write(`ledger invariant (${db.dialect})\n`);
    for (const a of report.assets) {
      out.write(
        `  ${a.ok ? 'ok  ' : 'FAIL'} ${a.asset}: debits posted ${a.debitsPosted} = credits posted ${a.creditsPosted}; ` +
          `debits pending ${a.debitsPending} = credits pending ${a.creditsPending}\n`,
      );
    }
    if (report.assets.length === 0) out.write('  (no accounts yet)\n');
    for (const id of report.mismatchedAccounts) out.write(`  FAIL account ${id} disagrees with its transfers\n`);
    out.write(report.ok ? 'invariant holds\n' : 'INVARIANT BROKEN\n');
    return report.ok ? 0 : 1;
  } finally {
    await db.close();
  }
}
