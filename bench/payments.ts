/**
 * POST /payments on the internal rail, 64 connections, SQLite, beside a bare Express endpoint
 * in the same run, loaded in alternating rounds. Both servers run in child processes so that the
 * load generator (autocannon, in this process) does not share their event loop.
 */
import { randomUUID } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { spawnHub } from '../test/helpers/child-hub.js';
import { createMerchant, freePort, fund, signIn } from '../test/helpers/hub.js';
import { processCpuMs } from './machine.js';
import { percentile } from './stats.js';

export interface HttpFigures {
  rps: number;
  requests: number;
  p50: number;
  p99: number;
  /**
   * p99 of the answers after each connection's first: a round opens its 64 connections at once,
   * and a busy Node server accepts one connection per event-loop turn (Node 20's libuv), so the first
   * request of the last connections waits for tens of turns before the server sees it.
   */
  p99Warm: number;
  /** The slowest first answer of a connection (its wait to be accepted included). */
  firstMax: number;
  errors: number;
  non2xx: number;
}

async function load(
  url: string,
  headers: Record<string, string>,
  body: string,
  seconds: number,
  connections: number,
): Promise<HttpFigures> {
  // Keys unique across rounds and runs (a counter that restarted each round replayed the keys of
  // the round before: most requests were then answered from the stored payment, not paid).
  const prefix = `bench-${randomUUID()}-`;
  let n = 0;
  const answered = new Set<unknown>();
  const warm: number[] = [];
  let firstMax = 0;
  const r = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections,
        duration: seconds,
        requests: [
          {
            method: 'POST',
            path: '/payments',
            headers,
            body,
            // A fresh Idempotency-Key per request: every request is a new payment.
            setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'idempotency-key': `${prefix}${++n}` } }),
          },
        ],
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
    instance.on('response', (client, _status, _bytes, ms) => {
      if (answered.has(client)) warm.push(ms);
      else {
        answered.add(client);
        firstMax = Math.max(firstMax, ms);
      }
    });
  });
  warm.sort((a, b) => a - b);
  // Over the round's actual length: a 2-second round has too few per-second samples to average.
  return {
    rps: r.requests.total / r.duration,
    requests: r.requests.total,
    p50: r.latency.p50,
    p99: r.latency.p99,
    p99Warm: Math.round(percentile(warm, 99)),
    firstMax: Math.round(firstMax),
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  };
}

function startBare(port: number): Promise<{ proc: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'bench/bare-server.ts'], {
      env: { ...process.env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    p.stdout!.once('data', () => resolve({ proc: p, url: `http://127.0.0.1:${port}` }));
    p.once('exit', (c) => reject(new Error(`bare server exited ${c}`)));
  });
}

export interface PaymentsBenchResult {
  payments: HttpFigures;
  baseline: HttpFigures;
  /** All hub requests over all bare requests, each per second of its own rounds. */
  ratio: number;
  /** The median of each pair's ratio (a hub round over the bare round next to it). */
  pairRatio: number;
  /**
   * Server CPU time (user + system, the hub's checkpoint worker included) per request answered, in
   * the measured rounds, and bare's over the hub's: what the throughput ratio would be if each
   * server had a core to itself, a figure the machine's other load moves less than the rates (it
   * still moves it: CPU time stretches when two busy cores share caches).
   */
  cpu: { hubMsPerPayment: number; bareMsPerRequest: number; ratio: number };
  /** The median of the rounds' p99, hub and bare (the worst round's is in `payments.p99`). */
  medianP99: { payments: number; baseline: number };
  /** The same, each connection's first answer left out (see HttpFigures.p99Warm). */
  medianP99Warm: { payments: number; baseline: number };
  connections: number;
  seconds: number;
  round: number;
  rounds: number;
}

/**
 * Rounds of `round` seconds, hub and bare in turn, the order flipping every pair (hub-bare,
 * bare-hub, …), until each has had `seconds`: the machine's other load falls on both alike, which
 * one long run of each did not promise (a busy minute would land on one side only).
 */
export async function benchPayments(opts: { seconds?: number; connections?: number; round?: number } = {}): Promise<PaymentsBenchResult> {
  const seconds = opts.seconds ?? 10;
  const connections = opts.connections ?? 64;
  const round = Math.min(opts.round ?? 2, seconds);
  const dir = mkdtempSync(join(tmpdir(), 'tollway-bench-'));
  const hub = await spawnHub(await freePort(), { TOLLWAY_DATA_DIR: dir, TOLLWAY_LOG_LEVEL: 'warn' });
  const bare = await startBare(await freePort());
  try {
    const s = await signIn(hub.url);
    const merchant = (await createMerchant(hub.url, 'Bench shop')).merchant.id;
    // The dev faucet gives at most a million whole SOVR (10^24 base units) a call: a billion billion payments of 1000.
    await fund(hub.url, s, (10n ** 24n).toString());
    const body = JSON.stringify({
      rail: 'internal',
      payTo: merchant,
      amount: '1000',
      asset: 'SOVR',
      resource: { url: 'https://shop.example/a', method: 'GET' },
    });
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${s.accessToken}` };
    // Warm both up (JIT, SQLite page cache), then measure.
    await load(hub.url, headers, body, 2, connections);
    await load(bare.url, headers, body, 2, connections);
    const hubRounds: HttpFigures[] = [];
    const bareRounds: HttpFigures[] = [];
    let hubCpu = 0;
    let bareCpu = 0;
    for (let pair = 0; pair * round < seconds; pair++) {
      const order = pair % 2 === 0 ? (['hub', 'bare'] as const) : (['bare', 'hub'] as const);
      for (const side of order) {
        const pid = side === 'hub' ? hub.proc.pid : bare.proc.pid;
        const before = processCpuMs(pid);
        if (side === 'hub') hubRounds.push(await load(hub.url, headers, body, round, connections));
        else bareRounds.push(await load(bare.url, headers, body, round, connections));
        if (side === 'hub') hubCpu += processCpuMs(pid) - before;
        else bareCpu += processCpuMs(pid) - before;
      }
    }
    const payments = combine(hubRounds);
    const baseline = combine(bareRounds);
    const hubMsPerPayment = hubCpu / hubRounds.reduce((a, r) => a + r.requests, 0);
    const bareMsPerRequest = bareCpu / bareRounds.reduce((a, r) => a + r.requests, 0);
    return {
      payments,
      baseline,
      ratio: payments.rps / baseline.rps,
      pairRatio: median(hubRounds.map((h, i) => h.rps / bareRounds[i]!.rps)),
      cpu: { hubMsPerPayment, bareMsPerRequest, ratio: bareMsPerRequest / hubMsPerPayment },
      medianP99: { payments: median(hubRounds.map((r) => r.p99)), baseline: median(bareRounds.map((r) => r.p99)) },
      medianP99Warm: { payments: median(hubRounds.map((r) => r.p99Warm)), baseline: median(bareRounds.map((r) => r.p99Warm)) },
      connections,
      seconds: hubRounds.length * round,
      round,
      rounds: hubRounds.length,
    };
  } finally {
    await hub.kill('SIGTERM');
    bare.proc.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Rounds of equal length: the mean rate, the median p50, the worst p99 (a round's tail is not averaged away). */
function combine(rounds: HttpFigures[]): HttpFigures {
  return {
    rps: rounds.reduce((a, r) => a + r.rps, 0) / rounds.length,
    requests: rounds.reduce((a, r) => a + r.requests, 0),
    p50: median(rounds.map((r) => r.p50)),
    p99: Math.max(...rounds.map((r) => r.p99)),
    p99Warm: Math.max(...rounds.map((r) => r.p99Warm)),
    firstMax: Math.max(...rounds.map((r) => r.firstMax)),
    errors: rounds.reduce((a, r) => a + r.errors, 0),
    non2xx: rounds.reduce((a, r) => a + r.non2xx, 0),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
