/**
 * Settlement → `paymentStatusUpdate` at the paying user's socket, with 1,000 clients connected,
 * beside the same measurement with a single client connected, in one run on one hub.
 *
 * The hub runs in a child process (SQLite, temp data dir), as in bench/payments.ts, so that the
 * 1,000 client sockets in this process do not share its event loop. Every socket is a user of its
 * own (SIWE sign-in, websocket transport, as the extension connects).
 *
 * Latency of one payment = time the matching `paymentStatusUpdate` (status `completed`, same
 * transactionId) arrives − time the `POST /payments` answer (internal rail: settled, `completed`)
 * was received, both taken with performance.now() in this process. The hub writes the outbox event
 * in the payment's transaction and pokes the dispatcher after the commit, so the event can beat the
 * HTTP answer: such a payment counts as 0 ms and is reported as "event first".
 *
 * Baseline: the same hub, the same payments, with only the payer's socket connected (rather than a
 * bare Socket.IO server): it isolates what the 999 extra connections cost the hub.
 *
 * `npx tsx bench/live.ts` prints the figures.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Wallet } from 'ethers';
import { io, type Socket } from 'socket.io-client';
import type { PaymentStatusUpdate } from '../shared/api.js';
import { spawnHub } from '../test/helpers/child-hub.js';
import { createMerchant, freePort, fund, pay, signIn, type Session } from '../test/helpers/hub.js';

export interface LatencyFigures {
  /** Connected clients during the measurement. */
  clients: number;
  payments: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Payments whose event arrived before their HTTP answer (counted as 0 ms). */
  eventFirst: number;
  /** Payments whose event never arrived within the wait. */
  missing: number;
  /** Unclipped view: request sent → event, and request sent → HTTP answer (p50 / p99). */
  toEvent: { p50: number; p99: number };
  toAnswer: { p50: number; p99: number };
}

export interface LiveBenchResult {
  live: LatencyFigures;
  baseline: LatencyFigures;
  concurrency: number;
}

interface Client {
  session: Session;
  socket: Socket;
  /** transactionId → arrival time of its `completed` update. */
  arrived: Map<string, number>;
  waiters: Map<string, (t: number) => void>;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function connect(url: string, session: Session): Promise<Client> {
  const socket = io(url, { auth: { token: session.accessToken }, transports: ['websocket'], reconnection: false, forceNew: true });
  const client: Client = { session, socket, arrived: new Map(), waiters: new Map() };
  socket.on('paymentStatusUpdate', (u: PaymentStatusUpdate) => {
    if (u.status !== 'completed' || client.arrived.has(u.transactionId)) return;
    const t = performance.now();
    client.arrived.set(u.transactionId, t);
    client.waiters.get(u.transactionId)?.(t);
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(client));
    socket.once('connect_error', reject);
  });
}

function arrival(c: Client, transactionId: string, timeoutMs: number): Promise<number | undefined> {
  const seen = c.arrived.get(transactionId);
  if (seen !== undefined) return Promise.resolve(seen);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      c.waiters.delete(transactionId);
      resolve(undefined);
    }, timeoutMs);
    c.waiters.set(transactionId, (t) => {
      clearTimeout(timer);
      c.waiters.delete(transactionId);
      resolve(t);
    });
  });
}

let keys = 0;

/** `payers[i % n]` makes payment i; returns one latency (ms) per payment, undefined if it never came. */
async function measure(url: string, merchant: string, payers: readonly Client[], payments: number, concurrency: number) {
  const body = { rail: 'internal', payTo: merchant, amount: '10', asset: 'SOVR' };
  let eventFirst = 0;
  const toEvent: number[] = [];
  const toAnswer: number[] = [];
  const latencies = await pool(
    Array.from({ length: payments }, (_, i) => payers[i % payers.length]!),
    concurrency,
    async (c) => {
      const sentAt = performance.now();
      const res = await pay(url, c.session, `bench-live-${process.pid}-${++keys}`, body);
      const answer = (await res.json()) as { transactionId: string; status: string };
      const answeredAt = performance.now();
      if (res.status !== 200 && res.status !== 201) throw new Error(`payment failed: ${res.status} ${JSON.stringify(answer)}`);
      if (answer.status !== 'completed') throw new Error(`payment not settled at once: ${answer.status}`);
      const at = await arrival(c, answer.transactionId, 10_000);
      if (at === undefined) return undefined;
      if (at <= answeredAt) eventFirst++;
      toEvent.push(at - sentAt);
      toAnswer.push(answeredAt - sentAt);
      return Math.max(0, at - answeredAt);
    },
  );
  return { latencies, eventFirst, toEvent, toAnswer };
}

const round = (n: number) => Math.round(n * 100) / 100;
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const p50p99 = (xs: number[]) => {
  const s = sorted(xs);
  return { p50: round(percentile(s, 50)), p99: round(percentile(s, 99)) };
};

function figures(clients: number, r: Awaited<ReturnType<typeof measure>>): LatencyFigures {
  const got = sorted(r.latencies.filter((x): x is number => x !== undefined));
  return {
    clients,
    payments: r.latencies.length,
    p50: round(percentile(got, 50)),
    p90: round(percentile(got, 90)),
    p99: round(percentile(got, 99)),
    max: round(got[got.length - 1] ?? NaN),
    eventFirst: r.eventFirst,
    missing: r.latencies.length - got.length,
    toEvent: p50p99(r.toEvent),
    toAnswer: p50p99(r.toAnswer),
  };
}

export async function benchLive(
  opts: { clients?: number; payers?: number; payments?: number; concurrency?: number } = {},
): Promise<LiveBenchResult> {
  const clients = opts.clients ?? 1000;
  const payerCount = Math.min(clients, opts.payers ?? 500);
  const payments = opts.payments ?? 500;
  const concurrency = opts.concurrency ?? 8;
  const dir = mkdtempSync(join(tmpdir(), 'tollway-bench-live-'));
  const hub = await spawnHub(await freePort(), { TOLLWAY_DATA_DIR: dir, TOLLWAY_LOG_LEVEL: 'warn' });
  const open: Client[] = [];
  try {
    const merchant = (await createMerchant(hub.url, 'Bench shop')).merchant.id;
    // A raw random key, not Wallet.createRandom(): no mnemonic derivation for 1,000 users.
    const sessions = await pool(Array.from({ length: clients }), 16, () =>
      signIn(hub.url, new Wallet(`0x${randomBytes(32).toString('hex')}`)),
    );
    await pool(sessions.slice(0, payerCount), 16, (s) => fund(hub.url, s, '1000000000'));

    // Baseline: only the payer's socket is connected.
    const solo = await connect(hub.url, sessions[0]!);
    open.push(solo);
    await measure(hub.url, merchant, [solo], 50, concurrency); // warm-up (JIT, SQLite cache)
    const baseline = figures(1, await measure(hub.url, merchant, [solo], payments, concurrency));

    // Then everybody: 1,000 sockets, payments spread over the first `payerCount` users.
    const rest = await pool(sessions.slice(1), 32, (s) => connect(hub.url, s));
    open.push(...rest);
    const all = [solo, ...rest];
    const payers = all.slice(0, payerCount);
    await measure(hub.url, merchant, payers, 50, concurrency);
    const live = figures(all.length, await measure(hub.url, merchant, payers, payments, concurrency));
    return { live, baseline, concurrency };
  } finally {
    for (const c of open) c.socket.disconnect();
    await hub.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatLiveBench(r: LiveBenchResult): string {
  const ms = (n: number) => `${n.toLocaleString('en-US', { maximumFractionDigits: 1, minimumFractionDigits: 1 })} ms`;
  const row = (f: LatencyFigures) =>
    `p50 ${ms(f.p50)}   p90 ${ms(f.p90)}   p99 ${ms(f.p99)}   max ${ms(f.max)}   (${f.payments} payments, ${f.eventFirst} event first = 0 ms, ${f.missing} missing)`;
  const ok = r.live.p99 <= 20 && r.live.missing === 0;
  return [
    `POST /payments answer → paymentStatusUpdate at the payer's socket, internal rail, SQLite, ${r.concurrency} payments in flight`,
    `  ${String(r.live.clients).padEnd(5)} clients   ${row(r.live)}`,
    `  ${String(r.baseline.clients).padEnd(5)} client    ${row(r.baseline)}`,
    `  request sent → event    ${r.live.clients} clients: p50 ${ms(r.live.toEvent.p50)}  p99 ${ms(r.live.toEvent.p99)};   1 client: p50 ${ms(r.baseline.toEvent.p50)}  p99 ${ms(r.baseline.toEvent.p99)}`,
    `  request sent → answer   ${r.live.clients} clients: p50 ${ms(r.live.toAnswer.p50)}  p99 ${ms(r.live.toAnswer.p99)};   1 client: p50 ${ms(r.baseline.toAnswer.p50)}  p99 ${ms(r.baseline.toAnswer.p99)}`,
    `  targets        p99 ≤ 20 ms with ${r.live.clients} clients: ${ok ? 'meets target' : 'BELOW TARGET'}`,
    '',
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  benchLive().then(
    (r) => {
      process.stdout.write(formatLiveBench(r));
      process.exit(0);
    },
    (err) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
