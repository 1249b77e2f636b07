import { spawn, type ChildProcess } from 'node:child_process';
import { ADMIN_TOKEN } from './hub.js';

/** A hub in a process of its own, so a test can kill it with SIGKILL and start it again. */
export interface ChildHub {
  url: string;
  proc: ChildProcess;
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Resolves once /readyz answers. `startTimeoutMs` (30 s by default) is how long that may take: a
 * start compiles the sources with tsx, which a busy machine can stretch; past it the process is
 * killed, so that a retry finds the port free.
 */
export async function spawnHub(
  port: number,
  env: Record<string, string>,
  /** `cwd`: the checkout whose hub to run (a benchmark's baseline); this one by default. */
  opts: { startTimeoutMs?: number; cwd?: string } = {},
): Promise<ChildHub> {
  let out = '';
  const proc = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      TOLLWAY_DEV: '1',
      TOLLWAY_ADMIN_TOKEN: ADMIN_TOKEN,
      TOLLWAY_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000);
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`hub exited with ${proc.exitCode}:\n${out}`);
    const ok = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      if (proc.exitCode === null && proc.signalCode === null) {
        const gone = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGKILL');
        await gone;
      }
      throw new Error(`hub did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
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

export function runDoctor(env: Record<string, string>): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    let out = '';
    const p = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts', 'doctor'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    p.stdout!.on('data', (d) => (out += d));
    p.stderr!.on('data', (d) => (out += d));
    p.on('exit', (code) => resolve({ code: code ?? -1, output: out }));
  });
}
