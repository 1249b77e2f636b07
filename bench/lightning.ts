/**
 * Lightning figures. L402: verifications per second in the middleware (a paid GET with a good
 * `Authorization: L402` credential: the HMAC chain, the preimage, every caveat) beside the same
 * route with no payment check, served by the same process, in the same run, in alternating rounds. The server is a child
 * process (bench/l402-server.ts) so that the load generator does not share its event loop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import { parseL402 } from '../shared/challenge.js';
import { freePort } from '../test/helpers/hub.js';

export interface RouteFigures {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

export interface L402Bench {
  l402: RouteFigures;
  baseline: RouteFigures;
  ratio: number;
  connections: number;
  seconds: number;
}

async function load(url: string, headers: Record<string, string>, seconds: number, connections: number): Promise<RouteFigures> {
  const r = await autocannon({ url, connections, duration: seconds, headers });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.timeouts, non2xx: r.non2xx };
}

/** Rounds of equal length: the mean rate, the worst p50 and p99, summed errors. */
function combine(rs: RouteFigures[]): RouteFigures {
  return {
    rps: rs.reduce((t, r) => t + r.rps, 0) / rs.length,
    p50: Math.max(...rs.map((r) => r.p50)),
    p99: Math.max(...rs.map((r) => r.p99)),
    errors: rs.reduce((t, r) => t + r.errors, 0),
    non2xx: rs.reduce((t, r) => t + r.non2xx, 0),
  };
}

function startServer(port: number, preimage: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'bench/l402-server.ts'], {
      env: { ...process.env, PORT: String(port), L402_BENCH_PREIMAGE: preimage, NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    p.stdout!.once('data', () => resolve(p));
    p.once('exit', (c) => reject(new Error(`l402 bench server exited ${c}`)));
  });
}

export async function benchL402(opts: { seconds?: number; connections?: number } = {}): Promise<L402Bench> {
  const seconds = opts.seconds ?? 10;
  const connections = opts.connections ?? 32;
  const preimage = randomBytes(32).toString('hex');
  const port = await freePort();
  const server = await startServer(port, preimage);
  const base = `http://127.0.0.1:${port}`;
  try {
    const r = await fetch(`${base}/paid/quote`);
    const ch = parseL402([r.headers.get('www-authenticate') ?? '']);
    if (r.status !== 402 || !ch.ok) throw new Error(`expected an L402 challenge, got ${r.status}`);
    const headers = { authorization: `L402 ${ch.value.macaroon}:${preimage}` };
    const check = await fetch(`${base}/paid/quote`, { headers });
    if (check.status !== 200) throw new Error(`the paid credential got ${check.status}: ${await check.text()}`);
    // Warm both up (JIT), then alternate short rounds of each, so that whatever else the machine is
    // doing weighs on both alike; the figures are totals over the rounds.
    const paid = `${base}/paid/quote`;
    const free = `${base}/free/quote`;
    await load(paid, headers, 2, connections);
    await load(free, headers, 2, connections);
    const rounds = Math.max(1, Math.floor(seconds / 2));
    const a: RouteFigures[] = [];
    const b: RouteFigures[] = [];
    for (let i = 0; i < rounds; i++) {
      a.push(await load(paid, headers, seconds / rounds, connections));
      b.push(await load(free, headers, seconds / rounds, connections));
    }
    const l402 = combine(a);
    const baseline = combine(b);
    return { l402, baseline, ratio: l402.rps / baseline.rps, connections, seconds };
  } finally {
    server.kill('SIGTERM');
  }
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function formatL402Bench(r: L402Bench): string {
  return [
    `L402 verification in the middleware, GET with a paid credential, ${r.connections} connections, ${r.seconds} s`,
    `  l402()         ${fmt(r.l402.rps)} verifications/s   p50 ${r.l402.p50} ms   p99 ${r.l402.p99} ms   errors ${r.l402.errors}   non-2xx ${r.l402.non2xx}`,
    `  no check       ${fmt(r.baseline.rps)} requests/s   p50 ${r.baseline.p50} ms   p99 ${r.baseline.p99} ms   (the same route, same process)`,
    `  ratio          ${fmt(r.ratio * 100, 1)}% of the unchecked route`,
    `  target         ≥ 50%: ${r.ratio >= 0.5 ? 'meets target' : 'BELOW TARGET'}`,
    '',
  ].join('\n');
}
