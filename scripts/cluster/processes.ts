/**
 * N hub processes on one PostgreSQL and one Redis, behind the local balancer: what
 * docs/self-hosting.md describes for several machines, on one. `npm run cluster` (scripts/cluster.ts),
 * the cluster tests and `npm run bench -- scale` start it.
 *
 * The migrations run here, once, before any process starts; every process then finds none pending.
 * (Each process would also migrate on start, under an advisory lock, so nothing breaks if they race;
 * running them first keeps a schema change out of the moment several processes start.)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MIGRATIONS } from '../../server/store/migrations/index.js';
import { migrate, openPostgres } from '../../server/store/index.js';
import { type Balancer, startBalancer } from './balancer.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ClusterOptions {
  processes: number;
  /** A postgres:// URL, given to every process as DATABASE_URL. */
  databaseUrl: string;
  /** A schema to create if missing and migrate (the URL must then select it with `options=-c search_path=…`). */
  schema?: string;
  redisUrl: string;
  /** The one ES256 key every process signs with (PEM or JWK), so any of them verifies what another signed. */
  signingKey: string;
  adminToken: string;
  /** Each process keeps its own data directory under it (nothing lives there on PostgreSQL when the key is given). */
  dataDir: string;
  /** The balancer's port (0 or unset: any free one); its URL is every process's TOLLWAY_PUBLIC_URL. */
  balancerPort?: number;
  /** More environment for every process (TOLLWAY_DEV, log level, rails…). */
  env?: Record<string, string>;
  /** CPUs for `taskset -c` of process i (e.g. '1'); undefined leaves it unpinned. */
  cpus?: (i: number) => string | undefined;
  /** Where each process's output goes, besides being kept (default: kept only). */
  onOutput?: (i: number, chunk: string) => void;
  /** How long a process may take to answer /readyz; a loaded machine compiling with tsx is slow. */
  startTimeoutMs?: number;
}

export interface HubProcess {
  index: number;
  url: string;
  port: number;
  proc: ChildProcess;
  output(): string;
  /** Resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface Cluster {
  /** The balancer: the address people and tests use. */
  url: string;
  balancer: Balancer;
  hubs: HubProcess[];
  /** The migrations applied before the processes started (none when the schema was current). */
  migrated: string[];
  stop(): Promise<void>;
}

export function newSigningKey(): string {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Applies the hub's migrations to the database once; returns the ones it applied. */
export async function migrateOnce(databaseUrl: string, schema?: string): Promise<string[]> {
  const db = openPostgres({ connectionString: databaseUrl, ...(schema ? { schema } : {}), max: 1 });
  try {
    return await migrate(db, MIGRATIONS);
  } finally {
    await db.close();
  }
}

function spawnHubProcess(index: number, port: number, env: Record<string, string>, cpus: string | undefined): HubProcess {
  let out = '';
  const node = [process.execPath, '--import', 'tsx', 'server/main.ts'];
  const [cmd, ...args] = cpus ? ['taskset', '-c', cpus, ...node] : node;
  const proc = spawn(cmd!, args, { cwd: ROOT, env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (d: Buffer) => void (out += d.toString());
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  return {
    index,
    port,
    url: `http://127.0.0.1:${port}`,
    proc,
    output: () => out,
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      return new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill(signal);
      });
    },
  };
}

async function untilReady(hub: HubProcess, deadline: number): Promise<void> {
  for (;;) {
    if (hub.proc.exitCode !== null || hub.proc.signalCode !== null) {
      throw new Error(`hub process ${hub.index} exited (${hub.proc.exitCode ?? hub.proc.signalCode}):\n${hub.output()}`);
    }
    const ok = await fetch(`${hub.url}/readyz`, { signal: AbortSignal.timeout(5000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`hub process ${hub.index} did not become ready:\n${hub.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  if (!Number.isInteger(opts.processes) || opts.processes < 1) throw new Error('processes must be a whole number ≥ 1');
  const migrated = await migrateOnce(opts.databaseUrl, opts.schema);

  const ports = await Promise.all(Array.from({ length: opts.processes }, () => freePort()));
  const balancer = await startBalancer({ backends: ports.map((port) => ({ host: '127.0.0.1', port })), port: opts.balancerPort });
  const hubs: HubProcess[] = [];
  const stop = async () => {
    await Promise.all(hubs.map((h) => h.kill('SIGTERM')));
    await balancer.close();
  };
  try {
    for (const [i, port] of ports.entries()) {
      const dataDir = join(opts.dataDir, `hub-${i + 1}`);
      mkdirSync(dataDir, { recursive: true });
      const hub = spawnHubProcess(
        i,
        port,
        {
          HOST: '127.0.0.1',
          DATABASE_URL: opts.databaseUrl,
          REDIS_URL: opts.redisUrl,
          TOLLWAY_SIGNING_KEY: opts.signingKey,
          TOLLWAY_ADMIN_TOKEN: opts.adminToken,
          TOLLWAY_PUBLIC_URL: balancer.url,
          TOLLWAY_DATA_DIR: dataDir,
          // Every connection reaches a process from the balancer's address, so the per-client cap
          // on unused sign-in nonces counts all clients as one (docs/self-hosting.md).
          TOLLWAY_SIWE_NONCES_PER_CLIENT: '1000',
          ...opts.env,
        },
        opts.cpus?.(i),
      );
      if (opts.onOutput) {
        hub.proc.stdout!.on('data', (d: Buffer) => opts.onOutput!(i, d.toString()));
        hub.proc.stderr!.on('data', (d: Buffer) => opts.onOutput!(i, d.toString()));
      }
      hubs.push(hub);
    }
    const deadline = Date.now() + (opts.startTimeoutMs ?? 120_000);
    await Promise.all(hubs.map((h) => untilReady(h, deadline)));
    // The periodic check may have caught a process still starting.
    await balancer.check();
  } catch (err) {
    await Promise.all(hubs.map((h) => h.kill('SIGKILL')));
    await balancer.close();
    throw err;
  }
  return { url: balancer.url, balancer, hubs, migrated, stop };
}
