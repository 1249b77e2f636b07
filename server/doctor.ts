import type { Writable } from 'node:stream';
import type { Config } from './config.js';
import { createLedger } from './ledger/ledger.js';
import { createLndClient } from './rails/lightning/lnd-client.js';
import { migrate } from './store/migrate.js';
import { MIGRATIONS } from './store/migrations/index.js';
import { openStore } from './store/index.js';

/**
 * Checks the ledger invariant of the hub the environment points at: per asset the debits equal
 * the credits, posted and pending, and every account equals the sum of its transfers; and, when
 * a Lightning node is configured, that it answers with this macaroon.
 * Returns the process exit code: 0 when all holds, 1 when something does not.
 */
export async function runDoctor(config: Config, out: Writable): Promise<number> {
  const ledgerOk = await checkLedger(config, out);
  const nodeOk = config.lightning ? await checkLightningNode(config.lightning, out) : true;
  return ledgerOk && nodeOk ? 0 : 1;
}

async function checkLightningNode(ln: NonNullable<Config['lightning']>, out: Writable): Promise<boolean> {
  const client = createLndClient({ url: ln.restUrl, macaroonHex: ln.macaroonHex, tlsCert: ln.tlsCert, timeoutMs: 10_000 });
  try {
    const info = await client.getInfo();
    out.write(`lightning node ${ln.restUrl}\n`);
    out.write(`  ok   ${info.alias || '(no alias)'} ${info.identityPubkey} on ${info.network ?? 'an unknown network'}, LND ${info.version}\n`);
    if (!info.syncedToChain) out.write('  warn not synced to the chain yet: payments may fail until it is\n');
    return true;
  } catch (err) {
    out.write(`lightning node ${ln.restUrl}\n  FAIL ${(err as Error).message}\n`);
    return false;
  }
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
