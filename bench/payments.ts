/**
 * POST /payments on the internal rail, 64 connections, SQLite, beside a bare Express endpoint
 * in the same run. Both servers run in child processes so that the load generator (autocannon,
 * in this process) does not share their event loop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { spawnHub } from '../test/helpers/child-hub.js';
import { createMerchant, freePort, fund, signIn } from '../test/helpers/hub.js';

export interface HttpFigures {
  rps: number;
  p50: number;
  p99: number;
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
  let n = 0;
  const r = await autocannon({
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
        setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'idempotency-key': `bench-${process.pid}-${++n}` } }),
      },
    ],
  });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.timeouts, non2xx: r.non2xx };
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

export async function benchPayments(opts: { seconds?: number; connections?: number } = {}) {
  const seconds = opts.seconds ?? 10;
  const connections = opts.connections ?? 64;
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
    const payments = await load(hub.url, headers, body, seconds, connections);
    await load(bare.url, headers, body, 2, connections);
    const baseline = await load(bare.url, headers, body, seconds, connections);
    return { payments, baseline, ratio: payments.rps / baseline.rps, connections, seconds };
  } finally {
    await hub.kill('SIGTERM');
    bare.proc.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}
