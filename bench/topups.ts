/**
 * Top-up settlement → balance credited and `topupStatusUpdate` at the person's socket.
 *
 * The hub runs in a child process (SQLite, temp data dir) with its Lightning rail on the stand-in
 * LND (devnet/lnd.ts) in this process. Each top-up is created by `POST /topups` (not timed); then
 * the stand-in settles its invoice as if paid from outside, and the latency is the time from that
 * settlement to the `topupStatusUpdate` (status `credited`) arriving at the person's socket, both
 * taken with performance.now() here. The hub credits the balance and writes the event in one
 * transaction, so the event's arrival means the balance was credited; the run ends by checking
 * the balance holds every top-up exactly once.
 *
 * Baseline, the same settlements in the same run: the time until the node's own settlement stream
 * (the LND adapter's followSettlements, as the hub reads it) yields them to a follower in this
 * process. The difference is what the hub adds: its own stream read, the transaction, the outbox
 * and the socket.
 *
 * `npx tsx bench/topups.ts` prints the figures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { io } from 'socket.io-client';
import { startFakeLnd } from '../devnet/lnd.js';
import { createLndNode } from '../lightning/lnd/index.js';
import type { Topup, TopupStatusUpdate } from '../shared/topups.js';
import { spawnHub } from '../test/helpers/child-hub.js';
import { balances, freePort, signIn } from '../test/helpers/hub.js';

export interface Spread {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface TopupBenchResult {
  topups: number;
  /** Settlement → `topupStatusUpdate` credited at the socket. */
  hub: Spread;
  /** Settlement → the node's settlement stream yields it (what any follower could do at best). */
  stream: Spread;
  /** Top-ups whose event never arrived within the wait. */
  missing: number;
  /** The balance equals the sum of the top-ups (each credited once). */
  balanceExact: boolean;
}

function spread(samples: number[]): Spread {
  const s = [...samples].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? 0;
  return { p50: at(50), p90: at(90), p99: at(99), max: s[s.length - 1] ?? 0 };
}

export async function benchTopups(opts: { topups?: number; warmup?: number } = {}): Promise<TopupBenchResult> {
  const count = opts.topups ?? 300;
  const warmup = opts.warmup ?? 20;
  const lnd = await startFakeLnd();
  const dir = mkdtempSync(join(tmpdir(), 'tollway-bench-topups-'));
  const hub = await spawnHub(await freePort(), {
    TOLLWAY_DATA_DIR: dir,
    TOLLWAY_LND_REST_URL: lnd.url,
    TOLLWAY_LND_MACAROON: lnd.macaroonHex,
  });
  const follower = new AbortController();
  const sock = { close: () => {} } as { close(): void };
  try {
    const s = await signIn(hub.url);
    const socket = io(hub.url, { auth: { token: s.accessToken }, transports: ['websocket'], reconnection: false, forceNew: true });
    sock.close = () => socket.close();
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    const credited = new Map<string, (t: number) => void>();
    socket.on('topupStatusUpdate', (u: TopupStatusUpdate) => {
      if (u.status === 'credited') credited.get(u.paymentHash)?.(performance.now());
    });
    const streamed = new Map<string, (t: number) => void>();
    const node = createLndNode({ url: lnd.url, macaroonHex: lnd.macaroonHex });
    void (async () => {
      for await (const x of node.followSettlements({ signal: follower.signal })) streamed.get(x.paymentHash)?.(performance.now());
    })().catch(() => undefined);
    // Both followers (the hub's and ours) subscribed before anything settles.
    for (let i = 0; lnd.invoiceStreams() < 2 && i < 200; i++) await new Promise((r) => setTimeout(r, 25));

    const hubMs: number[] = [];
    const streamMs: number[] = [];
    let missing = 0;
    let total = 0n;
    for (let i = 0; i < warmup + count; i++) {
      const amount = 1000n + BigInt(i);
      const res = await fetch(`${hub.url}/topups`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${s.accessToken}`, 'idempotency-key': `bench-${i}` },
        body: JSON.stringify({ asset: 'BTC', amount: amount.toString() }),
      });
      if (res.status !== 200) throw new Error(`POST /topups answered ${res.status}: ${await res.text()}`);
      const top = (await res.json()) as Topup;
      total += amount;
      const wait = (m: Map<string, (t: number) => void>) =>
        new Promise<number | null>((resolve) => {
          const timer = setTimeout(() => resolve(null), 10_000);
          m.set(top.paymentHash, (t) => {
            clearTimeout(timer);
            resolve(t);
          });
        });
      const byHub = wait(credited);
      const byStream = wait(streamed);
      const t0 = performance.now();
      if (!lnd.settleInvoice(top.paymentHash)) throw new Error('the stand-in could not settle the invoice');
      const [h, st] = await Promise.all([byHub, byStream]);
      credited.delete(top.paymentHash);
      streamed.delete(top.paymentHash);
      if (i < warmup) continue;
      if (h === null) missing++;
      else hubMs.push(h - t0);
      if (st !== null) streamMs.push(st - t0);
    }
    const btc = (await balances(hub.url, s)).BTC;
    return {
      topups: count,
      hub: spread(hubMs),
      stream: spread(streamMs),
      missing,
      balanceExact: btc?.posted === total.toString(),
    };
  } finally {
    follower.abort();
    sock.close();
    await hub.kill('SIGTERM');
    await lnd.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatTopupBench(r: TopupBenchResult): string {
  const ms = (n: number) => `${n.toLocaleString('en-US', { maximumFractionDigits: 1, minimumFractionDigits: 1 })} ms`;
  const row = (f: Spread) => `p50 ${ms(f.p50)}   p90 ${ms(f.p90)}   p99 ${ms(f.p99)}   max ${ms(f.max)}`;
  return [
    `Top-up settlement → balance credited and topupStatusUpdate at the socket, stand-in LND, SQLite, ${r.topups} top-ups one at a time`,
    `  hub            ${row(r.hub)}   (${r.missing} missing)`,
    `  node stream    ${row(r.stream)}   (settlement → the node's stream yields it, same run)`,
    `  balance        ${r.balanceExact ? 'every top-up credited exactly once' : 'WRONG: the balance is not the sum of the top-ups'}`,
    '',
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  benchTopups().then(
    (r) => {
      process.stdout.write(formatTopupBench(r));
      process.exit(0);
    },
    (err) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
