/**
 * `npm run cluster -- [N] [--port P]`: N hub processes (2 by default) on one PostgreSQL and one
 * Redis, behind a local balancer on :8402 (docs/self-hosting.md#trying-it-on-one-machine).
 *
 * DATABASE_URL and REDIS_URL choose the servers (default: PostgreSQL at 127.0.0.1:5432, database
 * `postgres`, schema `tollway_cluster`; Redis at 127.0.0.1:6379). The signing key is kept in
 * data/cluster/signing-key.pem unless TOLLWAY_SIGNING_KEY is given, so sessions and receipts survive
 * a restart of the cluster. Ctrl-C stops every process.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { newSigningKey, startCluster } from './cluster/processes.js';

const DEFAULT_SCHEMA = 'tollway_cluster';

function signingKey(dir: string): string {
  if (process.env.TOLLWAY_SIGNING_KEY) return process.env.TOLLWAY_SIGNING_KEY;
  const file = join(dir, 'signing-key.pem');
  if (!existsSync(file)) writeFileSync(file, newSigningKey(), { mode: 0o600, flag: 'wx' });
  return readFileSync(file, 'utf8');
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({ options: { port: { type: 'string', default: '8402' } }, allowPositionals: true });
  const processes = Number(positionals[0] ?? 2);
  const port = Number(values.port);
  if (!Number.isInteger(processes) || processes < 1 || processes > 64) {
    process.stderr.write('usage: npm run cluster -- [processes (1–64)] [--port 8402]\n');
    return 2;
  }
  const dir = resolve('data/cluster');
  mkdirSync(dir, { recursive: true });

  // Without DATABASE_URL: a schema of its own in the server's `postgres` database, created here.
  const given = process.env.DATABASE_URL;
  const databaseUrl =
    given ?? `postgres://postgres@127.0.0.1:5432/postgres?options=${encodeURIComponent(`-c search_path=${DEFAULT_SCHEMA}`)}`;
  const adminToken = process.env.TOLLWAY_ADMIN_TOKEN ?? `tw_admin_${randomBytes(18).toString('base64url')}`;
  const cluster = await startCluster({
    processes,
    databaseUrl,
    ...(given ? {} : { schema: DEFAULT_SCHEMA }),
    redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    signingKey: signingKey(dir),
    adminToken,
    dataDir: dir,
    balancerPort: port,
    env: { TOLLWAY_DEV: process.env.TOLLWAY_DEV ?? '1', TOLLWAY_LOG_LEVEL: process.env.TOLLWAY_LOG_LEVEL ?? 'warn' },
    onOutput: (i, chunk) => {
      for (const line of chunk.split('\n')) if (line) process.stdout.write(`[hub ${i + 1}] ${line}\n`);
    },
  });
  process.stdout.write(
    [
      '',
      `  ${processes} hub processes behind ${cluster.url} (TOLLWAY_PUBLIC_URL of each)`,
      ...cluster.hubs.map((h) => `  hub ${h.index + 1}  ${h.url}  pid ${h.proc.pid}`),
      `  storage      PostgreSQL ${given ? '(DATABASE_URL)' : `127.0.0.1:5432/postgres, schema ${DEFAULT_SCHEMA}`}; migrated once, before the processes started`,
      `  sockets      Redis ${process.env.REDIS_URL ? '(REDIS_URL)' : '127.0.0.1:6379'}`,
      `  admin token  ${process.env.TOLLWAY_ADMIN_TOKEN ? '(from TOLLWAY_ADMIN_TOKEN)' : adminToken}`,
      '  Kill one (kill -9 <pid>) and the balancer sends new connections to the others. Ctrl-C stops all.',
      '',
    ].join('\n') + '\n',
  );

  const exited = cluster.hubs.map(
    (h) =>
      new Promise<void>((r) =>
        h.proc.once('exit', (code, signal) => {
          process.stdout.write(`[hub ${h.index + 1}] exited (${code ?? signal})\n`);
          r();
        }),
      ),
  );
  await Promise.race([
    new Promise<void>((r) => {
      process.once('SIGINT', r);
      process.once('SIGTERM', r);
    }),
    Promise.all(exited),
  ]);
  await cluster.stop();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`cluster: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
