/**
 * Ledger throughput beside its baseline, in one run on one temp SQLite file (WAL,
 * synchronous=NORMAL, as the hub opens it):
 *  - ledger: `createTransfers` in batches (8,000 by default), one `db.transaction` per batch,
 *    between pre-funded accounts that must not go negative;
 *  - baseline: the very rows the ledger writes (same columns, same values, same primary key),
 *    inserted with better-sqlite3 directly, a prepared single-row INSERT per row, one transaction
 *    per batch. For reference, the same rows with 100-row INSERTs (what the ledger itself uses)
 *    are reported too.
 * The three run interleaved, batch by batch, after one untimed warm-up batch each.
 *
 * `npx tsx bench/ledger.ts` prints the figures.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { systemClock } from '../server/clock.js';
import { createLedger } from '../server/ledger/ledger.js';
import type { TransferInput } from '../server/ledger/types.js';
import { migrate } from '../server/store/migrate.js';
import { ledger as ledgerMigration } from '../server/store/migrations/001_ledger.js';
import { MIGRATIONS } from '../server/store/migrations/index.js';
import { openSqlite } from '../server/store/sqlite.js';
import { mainThreadCpuMs } from './machine.js';

export interface LedgerBenchResult {
  /** Ledger transfers per second (createTransfers + commit). */
  ledgerTps: number;
  /** Baseline: plain single-row prepared INSERTs of the same rows, per second. */
  rawInsertTps: number;
  /** ledgerTps / rawInsertTps. */
  ratio: number;
  /** The median over batches of (plain insert time / ledger time): a batch and its baseline ran back to back. */
  medianBatchRatio: number;
  /**
   * Main-thread CPU time of the plain inserts over the ledger's (10 ms ticks summed over all
   * batches): the ratio with the machine's other load taken out, as far as it can be.
   */
  cpuRatio: number;
  /** Reference: the same rows through 100-row INSERT statements. */
  rawMultiRowInsertTps: number;
  ratioToMultiRow: number;
  batches: number;
  batchSize: number;
  accounts: number;
  transfers: number;
  invariantOk: boolean;
}

const COLUMNS =
  'id, debit_account_id, credit_account_id, amount, asset, pending_id, timeout, flags, user_data, code, state, result, created_at, expires_at';
const ROWS_PER_INSERT = 100;

export async function benchLedger(opts: { batches?: number; batchSize?: number; accounts?: number } = {}): Promise<LedgerBenchResult> {
  const batches = opts.batches ?? 20;
  const batchSize = opts.batchSize ?? 8_000;
  const accountCount = opts.accounts ?? 1_000;
  const dir = mkdtempSync(join(tmpdir(), 'tollway-bench-ledger-'));
  const file = join(dir, 'bench.sqlite');
  const db = openSqlite(file);
  let raw: Database.Database | undefined;
  try {
    await migrate(db, MIGRATIONS);
    const ledger = createLedger({ clock: systemClock });

    // Accounts: users that must not go negative, funded from one bank account.
    const users = Array.from({ length: accountCount }, (_, i) => `user-${String(i).padStart(6, '0')}`);
    await db.transaction((tx) =>
      ledger.createAccounts(tx, [
        { id: 'bank', asset: 'SOVR', owner: 'system' },
        ...users.map((id) => ({ id, asset: 'SOVR', owner: id, flags: { debitsMustNotExceedCredits: true } })),
      ]),
    );
    const funding = 10n ** 30n;
    await db.transaction((tx) =>
      ledger.createTransfers(
        tx,
        users.map((u) => ({ id: `fund-${u}`, debitAccountId: 'bank', creditAccountId: u, amount: funding })),
      ),
    );

    // The baseline tables: ledger_transfers' own DDL, renamed, so the columns cannot drift.
    const transfersDdl = ledgerMigration.up('sqlite').find((s) => s.includes('CREATE TABLE ledger_transfers'))!;
    raw = new Database(file);
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = NORMAL');
    raw.exec(transfersDdl.replace('ledger_transfers', 'raw_transfers'));
    raw.exec(transfersDdl.replace('ledger_transfers', 'raw_transfers_multi'));
    const insertOne = raw.prepare(`INSERT INTO raw_transfers (${COLUMNS}) VALUES (${Array(14).fill('?').join(', ')})`);
    const insertMany = new Map<number, Database.Statement>();
    const insertRows = (n: number) => {
      let stmt = insertMany.get(n);
      if (!stmt) {
        const values = Array(n)
          .fill(`(${Array(14).fill('?').join(', ')})`)
          .join(', ');
        insertMany.set(n, (stmt = raw!.prepare(`INSERT INTO raw_transfers_multi (${COLUMNS}) VALUES ${values}`)));
      }
      return stmt;
    };
    const plainBatch = raw.transaction((rows: unknown[][]) => {
      for (const r of rows) insertOne.run(r);
    });
    const multiBatch = raw.transaction((statements: unknown[][]) => {
      for (const params of statements) insertRows(params.length / 14).run(params);
    });

    // Deterministic pseudo-random transfers between distinct users, amounts up to 10^18.
    let seed = 0x2545f491;
    const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const makeBatch = (b: number): TransferInput[] =>
      Array.from({ length: batchSize }, (_, i) => {
        const d = Math.floor(rand() * accountCount);
        const c = (d + 1 + Math.floor(rand() * (accountCount - 1))) % accountCount;
        return {
          id: `tr-${String(b + 1).padStart(4, '0')}-${String(i).padStart(6, '0')}`,
          debitAccountId: users[d]!,
          creditAccountId: users[c]!,
          amount: BigInt(1 + Math.floor(rand() * 1e9)) * 1_000_000_000n,
          code: 1,
        };
      });
    // What the ledger stores for each of them: the baseline inserts exactly these values.
    const rowsOf = (batch: TransferInput[], now: number): unknown[][] =>
      batch.map((t) => [
        t.id,
        t.debitAccountId,
        t.creditAccountId,
        t.amount!.toString(),
        'SOVR',
        null,
        0,
        0,
        null,
        1,
        'posted',
        null,
        now,
        null,
      ]);

    let ledgerMs = 0;
    let plainMs = 0;
    let multiMs = 0;
    const batchRatios: number[] = [];
    let ledgerCpu = 0;
    let plainCpu = 0;
    for (let b = -1; b < batches; b++) {
      const batch = makeBatch(b);
      const rows = rowsOf(batch, Date.now());
      // Its parameters are laid out beforehand, untimed, as are the single-row baseline's rows.
      const multiParams: unknown[][] = [];
      for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) multiParams.push(rows.slice(i, i + ROWS_PER_INSERT).flat());

      const c0 = mainThreadCpuMs();
      const t0 = performance.now();
      const results = await db.transaction((tx) => ledger.createTransfers(tx, batch));
      const t1 = performance.now();
      const c1 = mainThreadCpuMs();
      plainBatch(rows);
      const t2 = performance.now();
      const c2 = mainThreadCpuMs();
      multiBatch(multiParams);
      const t3 = performance.now();

      const refused = results.find((r) => r !== 'created');
      if (refused) throw new Error(`bench: a transfer was refused (${refused})`);
      if (b < 0) continue; // warm-up
      ledgerMs += t1 - t0;
      plainMs += t2 - t1;
      multiMs += t3 - t2;
      batchRatios.push((t2 - t1) / (t1 - t0));
      ledgerCpu += c1 - c0;
      plainCpu += c2 - c1;
    }

    const invariant = await db.transaction((tx) => ledger.checkInvariant(tx));
    const transfers = batches * batchSize;
    const ledgerTps = transfers / (ledgerMs / 1000);
    const rawInsertTps = transfers / (plainMs / 1000);
    const rawMultiRowInsertTps = transfers / (multiMs / 1000);
    return {
      ledgerTps,
      rawInsertTps,
      ratio: ledgerTps / rawInsertTps,
      cpuRatio: plainCpu / ledgerCpu,
      medianBatchRatio: batchRatios.sort((a, b) => a - b)[batchRatios.length >> 1]!,
      rawMultiRowInsertTps,
      ratioToMultiRow: ledgerTps / rawMultiRowInsertTps,
      batches,
      batchSize,
      accounts: accountCount,
      transfers,
      invariantOk: invariant.ok,
    };
  } finally {
    raw?.close();
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  benchLedger().then(
    (r) => {
      process.stdout.write(
        [
          `Ledger createTransfers: ${r.batches} batches of ${fmt(r.batchSize)} between ${fmt(r.accounts)} accounts, SQLite (WAL)`,
          `  ledger                     ${fmt(r.ledgerTps)} transfers/s`,
          `  plain inserts (row by row) ${fmt(r.rawInsertTps)} rows/s    ledger = ${(r.ratio * 100).toFixed(1)}% (median batch ${(r.medianBatchRatio * 100).toFixed(1)}%, main-thread CPU ${(r.cpuRatio * 100).toFixed(1)}%)`,
          `  plain inserts (100 a row)  ${fmt(r.rawMultiRowInsertTps)} rows/s    ledger = ${(r.ratioToMultiRow * 100).toFixed(1)}%`,
          `  invariant                  ${r.invariantOk ? 'ok' : 'BROKEN'}`,
          '',
        ].join('\n'),
      );
    },
    (err) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
