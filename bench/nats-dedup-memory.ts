/**
 * What the JetStream de-duplication window costs the NATS server (docs/operations.md): its
 * resident memory after publishing N events with a `Nats-Msg-Id` each into a stream with a 1-day
 * window, beside the same N messages without ids (the baseline), each on a nats-server of its own.
 *
 *   npx tsx bench/nats-dedup-memory.ts        (N=200000 by default; needs /usr/sbin/nats-server)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, nanos, StorageType } from 'nats';

const N = Number(process.env.N ?? 200_000);

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

async function grown(withIds: boolean): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'nats-dedup-'));
  const port = await freePort();
  const server = spawn('/usr/sbin/nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], { stdio: 'ignore' });
  try {
    let nc: Awaited<ReturnType<typeof connect>> | undefined;
    for (let i = 0; i < 100 && !nc; i++)
      nc = await connect({ servers: `nats://127.0.0.1:${port}` }).catch(() => new Promise<undefined>((r) => setTimeout(r, 100)));
    if (!nc) throw new Error('nats-server did not start');
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'M', subjects: ['m.>'], storage: StorageType.File, duplicate_window: nanos(86_400_000) });
    const js = nc.jetstream();
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))![1]) * 1024;
    const before = rss();
    for (let i = 0; i < N; i += 500) {
      await Promise.all(
        Array.from({ length: Math.min(500, N - i) }, (_, j) =>
          js.publish(
            'm.payment.completed',
            '{"type":"payment.completed"}',
            withIds ? { msgID: `evt_${(i + j).toString(36).padStart(27, '0')}` } : {},
          ),
        ),
      );
    }
    const after = rss();
    await nc.close();
    return after - before;
  } finally {
    server.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

const baseline = await grown(false);
const withIds = await grown(true);
const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
console.log(
  `${N} events: server memory +${mb(withIds)} with ids, +${mb(baseline)} without; ${Math.round((withIds - baseline) / N)} bytes per id held`,
);
