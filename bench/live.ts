/**
 * Settlement → `paymentStatusUpdate` at the paying user's socket, with 1,000 and then 10,000
 * clients connected, beside the same measurement with a single client connected (before the others
 * connect and after they have gone), in one run on one hub.
 *
 * The hub runs in a child process (SQLite, temp data dir), as in bench/payments.ts, so that the
 * client sockets do not share its event loop. The payers' sockets (500) are in this process, which
 * timestamps their events; the idle ones are in another child (live-idle.ts), so that 9,500
 * sockets' heartbeats and timers do not delay those timestamps. Every socket is a user of its own
 * (SIWE sign-in, websocket transport, as the extension connects). Each socket takes a file
 * descriptor here and one in the hub: a size the open-file limit cannot hold is skipped with a
 * note. 10,000 connections from 127.0.0.1 to one port use 10,000 of the ~28,000 local ports Linux
 * hands out by default, so one source address suffices.
 *
 * Latency of one payment = time the matching `paymentStatusUpdate` (status `completed`, same
 * transactionId) arrives − time the `POST /payments` answer (internal rail: settled, `completed`)
 * was received, both taken with performance.now() in this process. The hub writes the outbox event
 * in the payment's transaction and pokes the dispatcher after the commit, so the event can beat the
 * HTTP answer: such a payment counts as 0 ms and is reported as "event first".
 *
 * Baseline: the same hub, the same payments, with only the payer's socket connected (rather than a
 * bare Socket.IO server): it isolates what the other connections cost the hub.
 *
 * `npx tsx bench/live.ts` prints the figures.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Wallet } from 'ethers';
import { io, type Socket } from 'socket.io-client';
import type { PaymentStatusUpdate } from '../shared/api.js';
import { spawnHub } from '../test/helpers/child-hub.js';
import { createMerchant, freePort, fund, pay, signIn, type Session } from '../test/helpers/hub.js';
import { formatMachine, machineState } from './machine.js';
import { percentile } from './stats.js';

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
  /** One row per size, smallest first (1,000 and 10,000 clients by default). */
  live: LatencyFigures[];
  /** The payer's socket alone, before the others connect and again after they have gone. */
  baseline: LatencyFigures;
  baselineAfter: LatencyFigures;
  concurrency: number;
  /** Sizes left out, with why (a file-descriptor limit too low for them). */
  skipped: string[];
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

/**
 * The open-file limit of this process (each client socket takes one descriptor here and one in the
 * hub, a child that inherits the limit). Node raises the soft limit to the hard one at start, so
 * what is left is the hard limit: `ulimit -n` before `npm run bench` raises it.
 */
function openFileLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
  } catch {
    return Number.POSITIVE_INFINITY; // not Linux: let the connections say so
  }
}

/** Descriptors kept free beside the sockets: the hub's SQLite files, workers, HTTP clients. */
const SPARE_FDS = 512;

export async function benchLive(
  opts: { sizes?: number[]; payers?: number; payments?: number; concurrency?: number } = {},
): Promise<LiveBenchResult> {
  const limit = openFileLimit();
  const wanted = [...(opts.sizes ?? [1000, 10_000])].sort((a, b) => a - b);
  const sizes = wanted.filter((n) => n + SPARE_FDS <= limit);
  const skipped = wanted
    .filter((n) => !sizes.includes(n))
    .map(
      (n) =>
        `${n.toLocaleString('en-US')} clients: the open-file limit is ${limit}; raise it (ulimit -n ${n + SPARE_FDS * 2}) and run again`,
    );
  const clients = sizes[sizes.length - 1] ?? 1;
  const payerCount = Math.min(clients, opts.payers ?? 500);
  const payments = opts.payments ?? 500;
  const concurrency = opts.concurrency ?? 8;
  const dir = mkdtempSync(join(tmpdir(), 'tollway-bench-live-'));
  // More unused sign-in nonces than one address may hold by default: every client signs in from 127.0.0.1.
  const hub = await spawnHub(await freePort(), {
    TOLLWAY_DATA_DIR: dir,
    TOLLWAY_LOG_LEVEL: 'warn',
    TOLLWAY_SIWE_NONCES_PER_CLIENT: '1000',
  });
  const open: Client[] = [];
  let idle: IdleClients | undefined;
  try {
    const merchant = (await createMerchant(hub.url, 'Bench shop')).merchant.id;
    // A raw random key, not Wallet.createRandom(): no mnemonic derivation for 10,000 users.
    const sessions = await pool(Array.from({ length: clients }), 16, () =>
      signIn(hub.url, new Wallet(`0x${randomBytes(32).toString('hex')}`)),
    );
    await pool(sessions.slice(0, payerCount), 16, (s) => fund(hub.url, s, '1000000000'));

    // Baseline: only the payer's socket is connected.
    const solo = await connect(hub.url, sessions[0]!);
    open.push(solo);
    await measure(hub.url, merchant, [solo], 50, concurrency); // warm-up (JIT, SQLite cache)
    const baseline = figures(1, await measure(hub.url, merchant, [solo], payments, concurrency));

    // Then everybody, size by size: payments spread over the first `payerCount` users, whose
    // sockets are here; the others idle in a child process (live-idle.ts), so that their heartbeats
    // and timers do not delay the timestamps taken here.
    idle = await startIdleClients();
    let idleCount = 0;
    const live: LatencyFigures[] = [];
    for (const size of sizes) {
      const payersNow = Math.min(size, payerCount);
      open.push(...(await pool(sessions.slice(open.length, payersNow), 32, (s) => connect(hub.url, s))));
      const from = payerCount + idleCount;
      if (size > from)
        idleCount += await idle.connect(
          hub.url,
          sessions.slice(from, size).map((s) => s.accessToken),
        );
      const payers = open.slice(0, payerCount);
      await measure(hub.url, merchant, payers, 50, concurrency);
      live.push(figures(open.length + idleCount, await measure(hub.url, merchant, payers, payments, concurrency)));
    }

    // The baseline again once the others have gone: the two bracket whatever else the machine did meanwhile.
    await idle.disconnect();
    await Promise.all(open.splice(1).map((c) => disconnect(c)));
    await measure(hub.url, merchant, [solo], 50, concurrency);
    const baselineAfter = figures(1, await measure(hub.url, merchant, [solo], payments, concurrency));
    return { live, baseline, baselineAfter, concurrency, skipped };
  } finally {
    for (const c of open) c.socket.disconnect();
    idle?.stop();
    await hub.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

interface IdleClients {
  /** Connects a socket for each token; resolves with how many are up. */
  connect(url: string, tokens: string[]): Promise<number>;
  disconnect(): Promise<void>;
  stop(): void;
}

function startIdleClients(): Promise<IdleClients> {
  const child = fork(fileURLToPath(new URL('./live-idle.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = <T>(key: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const onMessage = (m: Record<string, unknown>) => {
        if (m.error !== undefined) reject(new Error(`idle clients: ${String(m.error)}`));
        else if (key in m) resolve(m[key] as T);
        else return;
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      const onExit = (code: number | null) => reject(new Error(`idle clients exited with ${code}`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  return next<boolean>('ready').then(() => ({
    async connect(url, tokens) {
      const done = next<number>('connected');
      child.send({ connect: { url, tokens } });
      return done;
    },
    async disconnect() {
      const done = next<boolean>('disconnected');
      child.send({ disconnect: true });
      await done;
    },
    stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
    },
  }));
}

function disconnect(c: Client): Promise<void> {
  return new Promise((resolve) => {
    if (!c.socket.connected) return resolve();
    c.socket.once('disconnect', () => resolve());
    c.socket.disconnect();
  });
}

/** Target: p99 ≤ 10 ms at the largest size (the 10,000 clients), every event arrived. */
export const LIVE_P99_TARGET_MS = 10;

export function formatLiveBench(r: LiveBenchResult, machine = ''): string {
  const ms = (n: number) => `${n.toLocaleString('en-US', { maximumFractionDigits: 1, minimumFractionDigits: 1 })} ms`;
  const row = (f: LatencyFigures) =>
    `p50 ${ms(f.p50)}   p90 ${ms(f.p90)}   p99 ${ms(f.p99)}   max ${ms(f.max)}   (${f.payments} payments, ${f.eventFirst} event first = 0 ms, ${f.missing} missing)`;
  const label = (f: LatencyFigures, what = '') =>
    `  ${f.clients.toLocaleString('en-US').padStart(6)} ${f.clients === 1 ? 'client ' : 'clients'}${what}`;
  const largest = r.live[r.live.length - 1];
  const ok = largest !== undefined && largest.clients >= 10_000 && largest.p99 <= LIVE_P99_TARGET_MS && largest.missing === 0;
  const lines = [
    `POST /payments answer → paymentStatusUpdate at the payer's socket, internal rail, SQLite, ${r.concurrency} payments in flight`,
  ];
  if (machine) lines.push(machine.trimEnd());
  lines.push(`${label(r.baseline)}   ${row(r.baseline)}   (before)`);
  for (const f of r.live) lines.push(`${label(f)}   ${row(f)}`);
  lines.push(`${label(r.baselineAfter)}   ${row(r.baselineAfter)}   (after)`);
  const unclipped = (f: LatencyFigures) =>
    `    ${f.clients.toLocaleString('en-US').padStart(6)}: request sent → event p50 ${ms(f.toEvent.p50)} p99 ${ms(f.toEvent.p99)};  → answer p50 ${ms(f.toAnswer.p50)} p99 ${ms(f.toAnswer.p99)}`;
  lines.push('  unclipped', unclipped(r.baseline), ...r.live.map(unclipped));
  for (const s of r.skipped) lines.push(`  SKIPPED ${s}`);
  lines.push(`  targets        p99 ≤ ${LIVE_P99_TARGET_MS} ms with 10,000 clients: ${ok ? 'meets target' : 'BELOW TARGET'}`, '');
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const sizes = process.env.BENCH_LIVE_SIZES?.split(',').map(Number);
  const before = formatMachine(machineState());
  benchLive(sizes ? { sizes } : {}).then(
    (r) => {
      process.stdout.write(`${formatLiveBench(r, before)}${formatMachine(machineState(), 'after')}\n`);
      process.exit(0);
    },
    (err) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
