/**
 * POST /payments on the internal rail, SQLite beside PostgreSQL, each with the payments spread
 * (32 payers paying 32 merchants) and with one hot merchant (32 payers paying one merchant, whose
 * account row every payment locks). Four hub processes (two per engine, so the hot runs do not
 * land on the spread runs' tables) are loaded in alternating rounds, so the machine's other load
 * weighs on every row alike; the figures to read are the ratios.
 *
 * With `baseline` (TOLLWAY_BENCH_BASELINE: the path of another checkout, e.g. `git archive` of an
 * earlier commit with node_modules linked in), two more PostgreSQL hubs run that checkout's code
 * in the same rounds: a before/after from one run, which a loaded machine cannot skew.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { spawnHub, type ChildHub } from '../test/helpers/child-hub.js';
import { clockTicks, cpuMs } from './scale.js';
import { createMerchant, freePort, fund, signIn } from '../test/helpers/hub.js';
import { freshStore, type TestStore } from '../test/helpers/stores.js';

export type EngineCase = 'sqlite spread' | 'sqlite hot' | 'postgres spread' | 'postgres hot';
export const ENGINE_CASES: EngineCase[] = ['sqlite spread', 'sqlite hot', 'postgres spread', 'postgres hot'];
export type BaselineCase = 'baseline postgres spread' | 'baseline postgres hot';
export const BASELINE_CASES: BaselineCase[] = ['baseline postgres spread', 'baseline postgres hot'];
type Case = EngineCase | BaselineCase;

/**
 * CPU time (ms) of each PostgreSQL process on this machine so far, by pid, from /proc (empty without
 * one). Rounds run one case at a time, so what the processes alive at both ends of a round used
 * is that case's database work (its hub's pooled connections live through the round), plus
 * whatever other long-lived clients used meanwhile on a shared machine: it only ever adds.
 */
function postgresCpuMs(ticks: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/stat`, 'utf8').includes('(postgres)')) out.set(pid, cpuMs(Number(pid), ticks));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** What the processes alive at both ends used in between (a connection that ended or began is left out). */
function cpuBetween(before: Map<string, number>, after: Map<string, number>): number {
  let sum = 0;
  for (const [pid, ms] of after) {
    const was = before.get(pid);
    if (was !== undefined) sum += ms - was;
  }
  return sum;
}

export interface EngineFigures {
  rps: number;
  /** The hub process's CPU time (user + system) per payment answered, ms: the machine's other load moves it far less than rps. */
  cpuMsPerPayment: number;
  /** PostgreSQL's CPU time per payment, ms (all its processes on the machine; see postgresCpuMs). 0 for SQLite. */
  dbCpuMsPerPayment: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

const PAYERS = 32;

interface Target {
  hub: ChildHub;
  tokens: string[];
  merchants: string[];
  cleanup(): Promise<void>;
}

async function start(kind: Case, baseline?: string): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'tollway-bench-'));
  let store: TestStore | undefined;
  const env: Record<string, string> = { TOLLWAY_DATA_DIR: dir, TOLLWAY_LOG_LEVEL: 'warn' };
  if (kind.includes('postgres')) {
    store = await freshStore('postgres');
    Object.assign(env, store.env);
  }
  const hub = await spawnHub(await freePort(), env, kind.startsWith('baseline') ? { cwd: baseline } : {});
  const tokens: string[] = [];
  for (let i = 0; i < PAYERS; i++) {
    const s = await signIn(hub.url);
    await fund(hub.url, s, (10n ** 24n).toString());
    tokens.push(s.accessToken);
  }
  const merchants: string[] = [];
  for (let i = 0; i < (kind.endsWith('hot') ? 1 : PAYERS); i++)
    merchants.push((await createMerchant(hub.url, `Bench shop ${i}`)).merchant.id);
  return {
    hub,
    tokens,
    merchants,
    async cleanup() {
      await hub.kill('SIGTERM');
      await store?.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function load(t: Target, seconds: number, connections: number): Promise<autocannon.Result> {
  // Keys unique across rounds: a counter that restarted each round replayed the round before's keys.
  const prefix = `bench-${randomUUID()}-`;
  let n = 0;
  const bodies = t.merchants.map((payTo) =>
    JSON.stringify({ rail: 'internal', payTo, amount: '1000', asset: 'SOVR', resource: { url: 'https://shop.example/a', method: 'GET' } }),
  );
  return autocannon({
    url: t.hub.url,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        path: '/payments',
        headers: { 'content-type': 'application/json' },
        // Each request a new payment (fresh Idempotency-Key), payers in turn, each to its own merchant or all to one.
        setupRequest: (req) => {
          const i = ++n % PAYERS;
          return {
            ...req,
            body: bodies[i % bodies.length],
            headers: {
              ...req.headers,
              authorization: `Bearer ${t.tokens[i]}`,
              'idempotency-key': `${prefix}${n}`,
            },
          };
        },
      },
    ],
  });
}

/** Rounds of `round` seconds per case, in turn, until each case has had `seconds`. */
export async function benchPaymentEngines(opts: { seconds?: number; connections?: number; round?: number; baseline?: string } = {}) {
  const seconds = opts.seconds ?? 10;
  const connections = opts.connections ?? 64;
  const round = Math.min(opts.round ?? 2, seconds);
  const baseline = opts.baseline ?? process.env.TOLLWAY_BENCH_BASELINE;
  const cases: Case[] = baseline ? [...ENGINE_CASES, ...BASELINE_CASES] : ENGINE_CASES;
  const targets = new Map<Case, Target>();
  try {
    for (const c of cases) targets.set(c, await start(c, baseline));
    for (const c of cases) await load(targets.get(c)!, 2, connections); // warm-up: JIT, caches
    const ticks = clockTicks();
    const sums = new Map<
      Case,
      { requests: number; secs: number; cpu: number; db: number; p50: number[]; p99: number[]; errors: number; non2xx: number }
    >();
    for (const c of cases) sums.set(c, { requests: 0, secs: 0, cpu: 0, db: 0, p50: [], p99: [], errors: 0, non2xx: 0 });
    for (let done = 0; done < seconds; done += round) {
      for (const c of cases) {
        const pid = targets.get(c)!.hub.proc.pid;
        const pg = c.includes('postgres');
        const cpuBefore = cpuMs(pid, ticks);
        const dbBefore = pg ? postgresCpuMs(ticks) : undefined;
        const r = await load(targets.get(c)!, round, connections);
        const s = sums.get(c)!;
        s.cpu += cpuMs(pid, ticks) - cpuBefore;
        if (dbBefore) s.db += cpuBetween(dbBefore, postgresCpuMs(ticks));
        s.requests += r.requests.total;
        s.secs += r.duration;
        s.p50.push(r.latency.p50);
        s.p99.push(r.latency.p99);
        s.errors += r.errors + r.timeouts;
        s.non2xx += r.non2xx;
      }
    }
    const figures = {} as Record<EngineCase, EngineFigures> & Partial<Record<BaselineCase, EngineFigures>>;
    for (const [c, s] of sums) {
      figures[c] = {
        rps: s.requests / s.secs,
        cpuMsPerPayment: s.requests > 0 ? s.cpu / s.requests : 0,
        dbCpuMsPerPayment: s.requests > 0 ? s.db / s.requests : 0,
        p50: median(s.p50),
        // The worst round's p99: a round's tail is not averaged away.
        p99: Math.max(...s.p99),
        errors: s.errors,
        non2xx: s.non2xx,
      };
    }
    return { figures, connections, seconds, round, payers: PAYERS, baseline };
  } finally {
    for (const t of targets.values()) await t.cleanup();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}
