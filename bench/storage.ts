/**
 * What a payment stores: `payments` internal-rail payments (32 in flight) into a fresh hub on
 * SQLite, then the file once the hub has stopped (its last connection checkpoints the WAL),
 * measured with SQLite's `dbstat` table by table and divided by the payments. Unlike the rates,
 * this does not depend on the machine's other load: it is the figure to compare when a change
 * writes less.
 *
 * `npx tsx bench/storage.ts` prints the figures.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnHub } from '../test/helpers/child-hub.js';
import { createMerchant, freePort, fund, pay, signIn } from '../test/helpers/hub.js';

export interface StorageBenchResult {
  payments: number;
  /** Bytes of the database file per payment, and 4 KB pages. */
  bytesPerPayment: number;
  pagesPerPayment: number;
  /** dbstat's bytes per payment for each table and index, largest first. */
  byTable: { name: string; bytesPerPayment: number }[];
  /** Average text lengths: the receipt, a stored idempotent answer (0 when none is stored), an outbox payload. */
  receipt: number;
  storedAnswer: number;
  eventPayload: number;
}

export async function benchStorage(opts: { payments?: number } = {}): Promise<StorageBenchResult> {
  const count = opts.payments ?? 2000;
  const dir = mkdtempSync(join(tmpdir(), 'tollway-bench-storage-'));
  const hub = await spawnHub(await freePort(), { TOLLWAY_DATA_DIR: dir, TOLLWAY_LOG_LEVEL: 'warn' });
  let db: Database.Database | undefined;
  try {
    const s = await signIn(hub.url);
    const merchant = (await createMerchant(hub.url, 'Bench shop')).merchant.id;
    await fund(hub.url, s, (10n ** 24n).toString());
    const body = {
      rail: 'internal',
      payTo: merchant,
      amount: '1000',
      asset: 'SOVR',
      resource: { url: 'https://shop.example/a', method: 'GET' },
    };
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < count) {
          const res = await pay(hub.url, s, `storage-${process.pid}-${next++}`, body);
          if (res.status !== 200) throw new Error(`payment failed: ${res.status} ${await res.text()}`);
          await res.arrayBuffer();
        }
      }),
    );
    await hub.kill('SIGTERM');
    const file = readdirSync(dir).find((f) => f.endsWith('.sqlite') || f.endsWith('.db'));
    if (!file) throw new Error(`no SQLite file in ${dir}`);
    db = new Database(join(dir, file), { readonly: true });
    const n = (db.prepare('SELECT count(*) AS n FROM payments').get() as { n: number }).n;
    const avg = (sql: string) => Number((db!.prepare(sql).get() as { v: number | null }).v ?? 0);
    const tables = db
      .prepare('SELECT name, sum(pgsize) AS bytes, count(*) AS pages FROM dbstat GROUP BY name ORDER BY bytes DESC')
      .all() as {
      name: string;
      bytes: number;
      pages: number;
    }[];
    const size = db.prepare('SELECT page_count * page_size AS v FROM pragma_page_count, pragma_page_size').get() as { v: number };
    return {
      payments: n,
      bytesPerPayment: size.v / n,
      pagesPerPayment: tables.reduce((a, t) => a + t.pages, 0) / n,
      byTable: tables.map((t) => ({ name: t.name, bytesPerPayment: t.bytes / n })),
      receipt: avg('SELECT avg(length(receipt_token)) AS v FROM payments'),
      storedAnswer: avg('SELECT avg(coalesce(length(response_body), 0)) AS v FROM idempotency_keys'),
      eventPayload: avg('SELECT avg(length(payload)) AS v FROM outbox'),
    };
  } finally {
    db?.close();
    await hub.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatStorageBench(r: StorageBenchResult): string {
  const b = (n: number) => `${Math.round(n).toLocaleString('en-US')} B`;
  return [
    `What a payment stores, SQLite, ${r.payments.toLocaleString('en-US')} internal-rail payments`,
    `  file           ${b(r.bytesPerPayment)} a payment, ${r.pagesPerPayment.toFixed(2)} pages of 4 KB`,
    ...r.byTable.filter((t) => t.bytesPerPayment >= 10).map((t) => `  ${t.name.padEnd(40)} ${b(t.bytesPerPayment).padStart(8)}`),
    `  texts          receipt ${b(r.receipt)}, stored idempotent answer ${b(r.storedAnswer)}, event payload ${b(r.eventPayload)}`,
    '',
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  benchStorage({ payments: Number(process.env.BENCH_STORAGE_PAYMENTS ?? 2000) }).then(
    (r) => {
      process.stdout.write(formatStorageBench(r));
      process.exit(0);
    },
    (err) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
