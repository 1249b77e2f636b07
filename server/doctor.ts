import type { Writable } from 'node:stream';
import type { Config } from './config.js';
import { createLedger } from './ledger/ledger.js';
import { RAIL_MODULES } from './rails/index.js';
import { migrate } from './store/migrate.js';
import { MIGRATIONS } from './store/migrations/index.js';
import { openStore } from './store/index.js';

/**
 * Checks the ledger invariant of the hub the environment points at: per asset the debits equal
 * the credits, posted and pending, and every account equals the sum of its transfers; and that
 * what each rail that is on depends on answers (a Lightning node with this macaroon, …).
 * Returns the process exit code: 0 when all holds, 1 when something does not.
 */
export async function runDoctor(config: Config, out: Writable): Promise<number> {
  const ledgerOk = await checkLedger(config, out);
  let railsOk = true;
  // Each rail that is on checks what it depends on (a node, a chain), through its own module.
  for (const m of RAIL_MODULES) {
    const settings = (config.rails as Record<string, unknown>)[m.name];
    if (settings !== undefined && m.doctor)
      railsOk = (await (m.doctor as (s: unknown, o: Writable) => Promise<boolean>)(settings, out)) && railsOk;
  }
  return ledgerOk && railsOk ? 0 : 1;
}

async function checkLedger(config: Config, out: Writable): Promise<boolean> {
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
    return report.ok;
  } finally {
    await db.close();
  }
}
