/**
 * npm run bench: every figure beside its baseline from the same run, with the target it is
 * held to. Nothing here asserts; the numbers are for people (README, closing notes).
 */
import { benchExtension } from './extension.js';
import { benchLedger } from './ledger.js';
import { benchL402, formatL402Bench } from './lightning.js';
import { benchLive, formatLiveBench } from './live.js';
import { formatMachine, machineState } from './machine.js';
import { benchPayments } from './payments.js';
import { formatPaymentEngines } from './payments-engines-format.js';
import { benchPaymentEngines } from './payments-engines.js';
import { benchScale, formatScaleBench } from './scale.js';
import { benchSovr, formatSovrBench } from './sovr.js';
import { benchStorage, formatStorageBench } from './storage.js';
import { benchTopups, formatTopupBench } from './topups.js';

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const verdict = (ok: boolean) => (ok ? 'meets target' : 'BELOW TARGET');

/** Each section starts with the machine as it was just before that section ran. */
const machine = () => `${formatMachine(machineState())}\n`;

async function main() {
  const only = process.argv[2];
  const seconds = Number(process.env.BENCH_SECONDS ?? 10);
  const m = machineState();
  process.stdout.write(`Tollway benchmarks — node ${process.version}, ${m.cpus} × ${m.model}\n\n`);

  if (!only || only === 'payments') {
    const before = machine();
    const r = await benchPayments({ seconds, connections: 64 });
    process.stdout.write(
      [
        `POST /payments, internal rail, SQLite, ${r.connections} connections, ${r.rounds} rounds of ${r.round} s each, hub and bare Express in turn`,
        before.trimEnd(),
        `  hub            ${fmt(r.payments.rps)} payments/s   p50 ${r.payments.p50} ms   p99 ${fmt(r.medianP99.payments)} ms (median round; worst ${r.payments.p99} ms)   errors ${r.payments.errors}   non-2xx ${r.payments.non2xx}`,
        `  bare Express   ${fmt(r.baseline.rps)} requests/s   p50 ${r.baseline.p50} ms   p99 ${fmt(r.medianP99.baseline)} ms (median round; worst ${r.baseline.p99} ms)`,
        `  warm p99       hub ${fmt(r.medianP99Warm.payments)} ms, bare ${fmt(r.medianP99Warm.baseline)} ms (median round, each connection's first answer left out; the slowest first answer: hub ${fmt(r.payments.firstMax)} ms, bare ${fmt(r.baseline.firstMax)} ms, its wait to be accepted included)`,
        `  ratio          ${fmt(r.ratio * 100, 1)}% of bare Express (median of the pairs: ${fmt(r.pairRatio * 100, 1)}%)`,
        `  server CPU     hub ${fmt(r.cpu.hubMsPerPayment, 3)} ms a payment, bare ${fmt(r.cpu.bareMsPerRequest, 3)} ms a request → ${fmt(r.cpu.ratio * 100, 1)}% (CPU a request, bare over hub: less moved by other load than the rates)`,
        `  targets        ≥ 45% of bare Express: ${verdict(r.ratio >= 0.45)}; p99 ≤ 50 ms (median round): ${verdict(r.medianP99.payments <= 50)}`,
        formatMachine(machineState(), 'after').replace('WARNING: ', 'note: '),
        '',
      ].join('\n') + '\n',
    );
  }
  // What a payment stores: a figure the machine's load does not move.
  if (!only || only === 'payments' || only === 'storage') process.stdout.write(`${formatStorageBench(await benchStorage())}\n`);
  // SQLite beside PostgreSQL, spread and one hot merchant (needs the PostgreSQL the tests use; TOLLWAY_BENCH_PG=0 skips it).
  if ((!only || only === 'payments') && process.env.TOLLWAY_BENCH_PG !== '0') {
    process.stdout.write(`${formatPaymentEngines(await benchPaymentEngines({ seconds, connections: 64 }))}\n`);
  }
  if (!only || only === 'ledger') {
    const before = machine();
    const r = await benchLedger();
    process.stdout.write(
      [
        `Ledger createTransfers, batches of 8,000, SQLite, interleaved batch by batch with the plain inserts`,
        before.trimEnd(),
        `  ledger             ${fmt(r.ledgerTps)} transfers/s`,
        `  plain inserts      ${fmt(r.rawInsertTps)} rows/s`,
        `  ratio              ${fmt(r.ratio * 100, 1)}% of plain inserts (median batch: ${fmt(r.medianBatchRatio * 100, 1)}%; main-thread CPU: ${fmt(r.cpuRatio * 100, 1)}%)`,
        `  targets            ≥ 100,000/s: ${verdict(r.ledgerTps >= 100_000)}; ≥ 80%: ${verdict(r.ratio >= 0.8)}`,
        '',
      ].join('\n') + '\n',
    );
  }
  if (!only || only === 'extension') {
    process.stdout.write(machine());
    const r = await benchExtension({ runs: 10 });
    const kb = (bytes: number) => `${fmt(bytes / 1024, 1)} KB`;
    const ms = (s: { median: number; p90: number }) => `median ${fmt(s.median)} ms   p90 ${fmt(s.p90)} ms`;
    const lines = [
      `Extension, fresh vite build, JS gzipped (level 9, file by file)`,
      `  popup              ${kb(r.popup.gzip)} gz (${kb(r.popup.raw)} raw, ${r.popup.files.length} files)`,
      `  service worker     ${kb(r.worker.gzip)} gz (${kb(r.worker.raw)} raw, ${r.worker.files.length} files)`,
      `  targets            popup ≤ 50 KB gz: ${verdict(r.popup.gzip <= 50 * 1024)}`,
    ];
    const t = r.timing;
    if (!t) {
      lines.push(`402 → approval window: SKIPPED, ${r.timingSkipped}`);
    } else {
      lines.push(
        `402 → approval window, headless Chromium, ${t.runs} runs`,
        `  402 → window open  ${ms(t.toWindow)}`,
        `  402 → first paint  ${ms(t.toFirstPaint)}   (the window's page painted, still without the request)`,
        `  402 → painted      ${ms(t.toPainted)}   (the request in the window, page's own clock)`,
        `  402 → "1 of 1"     ${ms(t.toVisible)}   (seen by playwright's polling, up to ~100 ms late)`,
        `  goto → 402         ${ms(t.gotoToResponseWithExtension)}   (with the extension)`,
        `  no extension       goto → 402 ${ms(t.baselineGotoToResponse)};  goto → load ${ms(t.baselineGotoToLoad)}`,
        `  targets            402 → painted ≤ 300 ms: ${verdict(t.toPainted.median <= 300 && t.toPainted.p90 <= 300)}`,
      );
    }
    process.stdout.write([...lines, ''].join('\n') + '\n');
  }
  if (!only || only === 'sovr') process.stdout.write(`${machine()}${formatSovrBench(await benchSovr())}\n`);
  if (!only || only === 'live') {
    const before = machine();
    process.stdout.write(`${formatLiveBench(await benchLive(), before)}\n`);
  }
  if (!only || only === 'lightning') process.stdout.write(`${machine()}${formatTopupBench(await benchTopups())}\n`);
  if (!only || only === 'lightning') process.stdout.write(`${formatL402Bench(await benchL402({ seconds }))}\n`);
  if (!only || only === 'scale') process.stdout.write(`${machine()}${formatScaleBench(await benchScale())}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
