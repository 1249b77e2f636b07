/**
 * A small TCP balancer for trying several hub processes on one machine, in the role nginx plays in
 * production (docs/self-hosting.md). It balances connections, not requests: a websocket (and a
 * keep-alive HTTP connection) stays on the process it reached, which is all the extension and the
 * page snippet need, since both use the websocket transport only.
 *
 * Health: every backend's /readyz is asked each `checkEveryMs`; new connections go round robin to
 * the backends that answered 200. A backend that refuses a connection is marked down at once and
 * the connection is tried on the next one, so a killed process costs no client more than the
 * connections it held.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface Backend {
  host: string;
  port: number;
}

export interface Balancer {
  url: string;
  port: number;
  /** Which backends take new connections now (by index). */
  up(): boolean[];
  /** Asks every backend's /readyz now, rather than at the next tick. */
  check(): Promise<void>;
  close(): Promise<void>;
}

export async function startBalancer(opts: { backends: Backend[]; port?: number; host?: string; checkEveryMs?: number }): Promise<Balancer> {
  const { backends } = opts;
  const host = opts.host ?? '127.0.0.1';
  // Until the first check answers, every backend counts as up: they were ready when given.
  const healthy = backends.map(() => true);
  const open = new Set<Socket>();
  let next = 0;

  const pick = (tried: Set<number>): number | undefined => {
    for (let i = 0; i < backends.length; i++) {
      const k = (next + i) % backends.length;
      if (healthy[k] && !tried.has(k)) {
        next = k + 1;
        return k;
      }
    }
    return undefined;
  };

  const forward = (client: Socket, tried: Set<number>) => {
    const k = pick(tried);
    if (k === undefined) return void client.destroy();
    tried.add(k);
    const b = backends[k]!;
    const upstream = connect(b.port, b.host);
    open.add(upstream);
    upstream.once('close', () => open.delete(upstream));
    upstream.once('connect', () => {
      upstream.removeAllListeners('error');
      client.pipe(upstream).pipe(client);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    });
    upstream.once('error', () => {
      healthy[k] = false;
      forward(client, tried);
    });
  };

  const server: Server = createServer((client) => {
    open.add(client);
    client.once('close', () => open.delete(client));
    // Hold the bytes the client sends until a backend is connected; pipe() resumes it.
    client.pause();
    client.on('error', () => undefined);
    forward(client, new Set());
  });

  const check = async () => {
    await Promise.all(
      backends.map(async (b, k) => {
        healthy[k] = await fetch(`http://${b.host}:${b.port}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
          (r) => r.ok,
          () => false,
        );
      }),
    );
  };
  const timer = setInterval(() => void check(), opts.checkEveryMs ?? 1000);
  timer.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://${host}:${port}`,
    port,
    up: () => [...healthy],
    check,
    close() {
      clearInterval(timer);
      for (const s of open) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
