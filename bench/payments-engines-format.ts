import { cpus, loadavg } from 'node:os';
import type { benchPaymentEngines, EngineFigures } from './payments-engines.js';

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const verdict = (ok: boolean) => (ok ? 'meets target' : 'BELOW TARGET');

const row = (name: string, x: EngineFigures) =>
  `  ${name.padEnd(17)}${fmt(x.rps).padStart(7)} payments/s   p50 ${x.p50} ms   p99 ${x.p99} ms   CPU a payment: hub ${fmt(x.cpuMsPerPayment, 2)} ms${x.dbCpuMsPerPayment ? `, PostgreSQL ${fmt(x.dbCpuMsPerPayment, 2)} ms` : ''}   errors ${x.errors}   non-2xx ${x.non2xx}`;

/** The engines rows, their ratios (the figures that survive a loaded machine) and the issue's targets. */
export function formatPaymentEngines(r: Awaited<ReturnType<typeof benchPaymentEngines>>, load = loadavg()): string {
  const f = r.figures;
  const pgOfSqlite = f['postgres spread'].rps / f['sqlite spread'].rps;
  const hotOfSpread = f['postgres hot'].rps / f['postgres spread'].rps;
  const perCore = load[0]! / cpus().length;
  return [
    `POST /payments, internal rail, SQLite beside PostgreSQL, ${r.connections} connections, ${r.payers} payers, rounds of ${r.round} s alternating, ${r.seconds} s each`,
    `  load average ${load.map((l) => fmt(l, 2)).join(' ')} on ${cpus().length} cores${perCore > 0.5 ? '   WARNING: above 0.5 per core, read the ratios, not the rates' : ''}`,
    row('SQLite, spread', f['sqlite spread']),
    row('SQLite, 1 hot', f['sqlite hot']),
    row('PostgreSQL, spread', f['postgres spread']),
    row('PostgreSQL, 1 hot', f['postgres hot']),
    `  ratios         PostgreSQL ${fmt(pgOfSqlite * 100, 1)}% of SQLite (spread); one hot merchant ${fmt(hotOfSpread * 100, 1)}% of spread (PostgreSQL), ${fmt((f['sqlite hot'].rps / f['sqlite spread'].rps) * 100, 1)}% (SQLite)`,
    `  targets        PostgreSQL ≥ 60% of SQLite: ${verdict(pgOfSqlite >= 0.6)}; hot ≥ 80% of spread: ${verdict(hotOfSpread >= 0.8)}`,
    ...baselineLines(r),
    '',
  ].join('\n');
}

/** The baseline checkout's PostgreSQL rows, and this code's as a multiple of them (same rounds). */
function baselineLines(r: Awaited<ReturnType<typeof benchPaymentEngines>>): string[] {
  const f = r.figures;
  const spread = f['baseline postgres spread'];
  const hot = f['baseline postgres hot'];
  if (!spread || !hot) return [];
  return [
    `  baseline       ${r.baseline}`,
    row('  PG, spread', spread),
    row('  PG, 1 hot', hot),
    `  vs baseline    PostgreSQL spread ×${fmt(f['postgres spread'].rps / spread.rps, 2)}, 1 hot ×${fmt(f['postgres hot'].rps / hot.rps, 2)}; baseline ${fmt((spread.rps / f['sqlite spread'].rps) * 100, 1)}% of SQLite, hot ${fmt((hot.rps / spread.rps) * 100, 1)}% of spread`,
  ];
}
