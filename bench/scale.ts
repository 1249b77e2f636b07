/**
 * `npm run bench -- scale`: POST /payments per second with one hub process and with two, both on
 * one PostgreSQL and one Redis (scripts/cluster/processes.ts starts them), in the same run.
 *
 * Both processes stay up throughout; a "one process" round drives only the first, a "two
 * processes" round spreads the same connections over both (as a connection-level balancer does).
 * Rounds alternate, and the order flips each pair, so the machine's other load and the growing
 * tables weigh on both alike. Every request is a real payment with a fresh Idempotency-Key, from
 * one of 128 funded payers to one of 64 merchants: many people paying many shops, so that what is
 * measured is the processes and the database, not two account rows every payment must lock.
 *
 * Pinning: with `taskset` and at least 3 CPUs the load generator (this process) gets CPU 0 and hub
 * process i CPU 1 + i (wrapping); PostgreSQL and Redis float. With fewer CPUs nothing is pinned,
 * since a load generator and two hubs cannot be kept apart on two.
 */
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { newSigningKey, startCluster } from '../scripts/cluster/processes.js';
import { ADMIN_TOKEN, createMerchant, fund, type Session, signIn } from '../test/helpers/hub.js';
import { PG_URL } from '../test/helpers/stores.js';

const PAYERS = 128;
const MERCHANTS = 64;

export interface ScaleRound {
  processes: 1 | 2;
  rps: number;
  /** CPU time both hub processes used per payment answered 2xx (ms): what a payment costs, whatever the machine's other load. */
  cpuMsPerPayment: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

export interface ScaleResult {
  cpuCount: number;
  cpuModel: string;
  loadBefore: number[];
  loadAfter: number[];
  /** How the processes were placed: the CPUs given to each, or why nothing was pinned. */
  pinning: string;
  warnings: string[];
  connections: number;
  roundSeconds: number;
  rounds: ScaleRound[];
  one: { rps: number; p99: number; cpuMsPerPayment: number };
  two: { rps: number; p99: number; cpuMsPerPayment: number };
}

/** User + system CPU time of a process so far, in ms (/proc; 0 where there is none). */
export function cpuMs(pid: number | undefined, ticksPerSecond: number): number {
  if (pid === undefined) return 0;
  try {
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / ticksPerSecond;
  } catch {
    return 0;
  }
}

export function clockTicks(): number {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  return Number(r.stdout?.trim()) || 100;
}

function hasTaskset(): boolean {
  return spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }).status === 0;
}

async function drive(urls: string[], sessions: Session[], merchants: string[], seconds: number, connections: number) {
  // Keys unique across rounds: a counter that restarted each round replayed the round before's keys.
  const prefix = `scale-${randomUUID()}-`;
  let n = 0;
  const r = await autocannon({
    // autocannon spreads the connections over several URLs (its README); @types/autocannon knows only one.
    url: urls as unknown as string,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        path: '/payments',
        setupRequest: (req) => {
          const i = n++;
          const payer = sessions[i % sessions.length]!;
          return {
            ...req,
            headers: {
              'content-type': 'application/json',
              authorization: `Bearer ${payer.accessToken}`,
              'idempotency-key': `${prefix}${i}`,
            },
            body: JSON.stringify({ rail: 'internal', payTo: merchants[i % merchants.length], amount: '1000', asset: 'SOVR' }),
          };
        },
      },
    ],
  });
  return { rps: r.requests.average, ok: r['2xx'], p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.timeouts, non2xx: r.non2xx };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export async function benchScale(opts: { roundSeconds?: number; rounds?: number; connections?: number } = {}): Promise<ScaleResult> {
  const roundSeconds = opts.roundSeconds ?? Number(process.env.BENCH_SCALE_ROUND_SECONDS ?? 5);
  const pairs = opts.rounds ?? Number(process.env.BENCH_SCALE_ROUNDS ?? 4);
  const connections = opts.connections ?? 64;
  const cpuCount = cpus().length;
  const loadBefore = loadavg();
  const warnings: string[] = [];
  if (loadBefore[0]! > 0.5 * cpuCount) {
    warnings.push(
      `load average ${loadBefore[0]!.toFixed(2)} on ${cpuCount} CPUs (> 0.5 a CPU): other work shares the machine; the figures are low and noisy`,
    );
  }

  let pinning: string;
  let cpusFor: ((i: number) => string) | undefined;
  if (!hasTaskset()) pinning = 'not pinned: no taskset';
  else if (cpuCount < 3) pinning = `not pinned: ${cpuCount} CPUs cannot keep a load generator and two hubs apart`;
  else {
    cpusFor = (i) => String(1 + (i % (cpuCount - 1)));
    spawnSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
    pinning = `load generator on CPU 0, hub 1 on CPU ${cpusFor(0)}, hub 2 on CPU ${cpusFor(1)}; PostgreSQL and Redis unpinned`;
  }

  // A schema of its own, dropped afterwards.
  const schema = `bench_scale_${process.pid}_${Date.now().toString(36)}`;
  const url = new URL(process.env.BENCH_DATABASE_URL ?? PG_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const dataDir = mkdtempSync(join(tmpdir(), 'tollway-bench-scale-'));
  const cluster = await startCluster({
    processes: 2,
    databaseUrl: url.toString(),
    schema,
    redisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    signingKey: newSigningKey(),
    adminToken: ADMIN_TOKEN,
    dataDir,
    env: { TOLLWAY_DEV: '1', TOLLWAY_LOG_LEVEL: 'warn' },
    cpus: cpusFor,
    startTimeoutMs: 240_000,
  });
  try {
    const merchants: string[] = [];
    for (let i = 0; i < MERCHANTS; i++) merchants.push((await createMerchant(cluster.url, `Shop ${i}`)).merchant.id);
    const sessions: Session[] = [];
    for (let i = 0; i < PAYERS; i++) {
      const s = await signIn(cluster.url);
      await fund(cluster.url, s, (10n ** 24n).toString());
      sessions.push(s);
    }
    const [a, b] = cluster.hubs.map((h) => h.url) as [string, string];
    const configs = { 1: [a], 2: [a, b] } as const;
    // Warm both processes (JIT, connection pools, PostgreSQL's caches) before anything counts: on a
    // loaded machine the first seconds run far below the rest.
    await drive([a, b], sessions, merchants, 2 * roundSeconds, connections);
    await drive([a], sessions, merchants, roundSeconds, connections);
    const ticks = clockTicks();
    const hubCpu = () => cluster.hubs.reduce((sum, h) => sum + cpuMs(h.proc.pid, ticks), 0);

    const rounds: ScaleRound[] = [];
    for (let p = 0; p < pairs; p++) {
      const order: (1 | 2)[] = p % 2 === 0 ? [1, 2] : [2, 1];
      for (const k of order) {
        const before = hubCpu();
        const { ok, ...r } = await drive([...configs[k]], sessions, merchants, roundSeconds, connections);
        rounds.push({ processes: k, ...r, cpuMsPerPayment: ok > 0 ? (hubCpu() - before) / ok : 0 });
      }
    }
    const of = (k: 1 | 2) => rounds.filter((r) => r.processes === k);
    const summary = (k: 1 | 2) => ({
      rps: median(of(k).map((r) => r.rps)),
      p99: median(of(k).map((r) => r.p99)),
      cpuMsPerPayment: median(of(k).map((r) => r.cpuMsPerPayment)),
    });
    if (rounds.some((r) => r.errors > 0 || r.non2xx > 0)) warnings.push('some requests failed (see errors / non-2xx per round)');
    return {
      cpuCount,
      cpuModel: cpus()[0]?.model ?? 'cpu',
      loadBefore,
      loadAfter: loadavg(),
      pinning,
      warnings,
      connections,
      roundSeconds,
      rounds,
      one: summary(1),
      two: summary(2),
    };
  } finally {
    await cluster.stop();
    rmSync(dataDir, { recursive: true, force: true });
    const c = new pg.Client({ connectionString: process.env.BENCH_DATABASE_URL ?? PG_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await c.end();
  }
}

export function formatScaleBench(r: ScaleResult): string {
  const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  return [
    `POST /payments, internal rail, PostgreSQL + Redis, 1 vs 2 hub processes, ${r.connections} connections, ${r.rounds.length} alternating rounds of ${r.roundSeconds} s`,
    `  machine        ${r.cpuCount} × ${r.cpuModel}; load average ${load(r.loadBefore)} before, ${load(r.loadAfter)} after`,
    `  placement      ${r.pinning}`,
    ...r.warnings.map((w) => `  WARNING        ${w}`),
    ...r.rounds.map(
      (x, i) =>
        `  round ${String(i + 1).padEnd(8)} ${x.processes} process${x.processes === 1 ? ' ' : 'es'}  ${fmt(x.rps)} payments/s   p50 ${x.p50} ms   p99 ${x.p99} ms   hub CPU ${fmt(x.cpuMsPerPayment, 2)} ms a payment   errors ${x.errors}   non-2xx ${x.non2xx}`,
    ),
    `  one process    ${fmt(r.one.rps)} payments/s (median of rounds), p99 ${fmt(r.one.p99)} ms, hub CPU ${fmt(r.one.cpuMsPerPayment, 2)} ms a payment`,
    `  two processes  ${fmt(r.two.rps)} payments/s (median of rounds), p99 ${fmt(r.two.p99)} ms, hub CPU ${fmt(r.two.cpuMsPerPayment, 2)} ms a payment`,
    `  ratio          ${fmt(r.two.rps / r.one.rps, 2)}× with two processes`,
    '',
  ].join('\n');
}
