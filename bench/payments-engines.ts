/**
 * POST /payments on the internal rail, SQLite beside PostgreSQL, each with the payments spread
 * (32 payers paying 32 merchants) and with one hot merchant (32 payers paying one merchant, whose
 * account row every payment locks). Four hub processes (two per engine, so the hot runs do not
 * land on the spread runs' tables) are loaded in alternating rounds, so the machine's other load
 * weighs on every row alike; the figures to read are the ratios.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { spawnHub, type ChildHub } from '../test/helpers/child-hub.js';
import { createMerchant, freePort, fund, signIn } from '../test/helpers/hub.js';
import { freshStore, type TestStore } from '../test/helpers/stores.js';

export type EngineCase = 'sqlite spread' | 'sqlite hot' | 'postgres spread' | 'postgres hot';
export const ENGINE_CASES: EngineCase[] = ['sqlite spread', 'sqlite hot', 'postgres spread', 'postgres hot'];

export interface EngineFigures {
  rps: number;
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

async function start(kind: EngineCase): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'tollway-bench-'));
  let store: TestStore | undefined;
  const env: Record<string, string> = { TOLLWAY_DATA_DIR: dir, TOLLWAY_LOG_LEVEL: 'warn' };
  if (kind.startsWith('postgres')) {
    store = await freshStore('postgres');
    Object.assign(env, store.env);
  }
  const hub = await spawnHub(await freePort(), env);
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
              'idempotency-key': `bench-${process.pid}-${n}`,
            },
          };
        },
      },
    ],
  });
}

/** Rounds of `round` seconds per case, in turn, until each case has had `seconds`. */
export async function benchPaymentEngines(opts: { seconds?: number; connections?: number; round?: number } = {}) {
  const seconds = opts.seconds ?? 10;
  const connections = opts.connections ?? 64;
  const round = Math.min(opts.round ?? 2, seconds);
  const targets = new Map<EngineCase, Target>();
  try {
    for (const c of ENGINE_CASES) targets.set(c, await start(c));
    for (const c of ENGINE_CASES) await load(targets.get(c)!, 2, connections); // warm-up: JIT, caches
    const sums = new Map<EngineCase, { requests: number; secs: number; p50: number[]; p99: number[]; errors: number; non2xx: number }>();
    for (const c of ENGINE_CASES) sums.set(c, { requests: 0, secs: 0, p50: [], p99: [], errors: 0, non2xx: 0 });
    for (let done = 0; done < seconds; done += round) {
      for (const c of ENGINE_CASES) {
        const r = await load(targets.get(c)!, round, connections);
        const s = sums.get(c)!;
        s.requests += r.requests.total;
        s.secs += r.duration;
        s.p50.push(r.latency.p50);
        s.p99.push(r.latency.p99);
        s.errors += r.errors + r.timeouts;
        s.non2xx += r.non2xx;
      }
    }
    const figures = {} as Record<EngineCase, EngineFigures>;
    for (const [c, s] of sums) {
      figures[c] = {
        rps: s.requests / s.secs,
        p50: median(s.p50),
        // The worst round's p99: a round's tail is not averaged away.
        p99: Math.max(...s.p99),
        errors: s.errors,
        non2xx: s.non2xx,
      };
    }
    return { figures, connections, seconds, round, payers: PAYERS };
  } finally {
    for (const t of targets.values()) await t.cleanup();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}
