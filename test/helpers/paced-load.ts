import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** What the generator process (paced-load-child.ts) is told. */
export interface PacedLoadConfig {
  url: string;
  /** Payments a second, sent on schedule whatever the answers. */
  rate: number;
  /** Keep-alive connections at most. */
  connections: number;
  /** Unanswered requests at most; a slot that finds this many is skipped and counted. */
  maxOutstanding: number;
  /** Access tokens, used in turn. */
  tokens: string[];
  payTo: string;
  /** Every n-th payment goes to `outsideRail` (0: none). */
  outsideEvery: number;
  outsideRail: string;
  keyPrefix: string;
}

export interface PacedLoadSummary {
  /** How long it sent for. */
  seconds: number;
  /** Slots the schedule had (rate × seconds): sent + skipped. */
  offered: number;
  sent: number;
  acked: number;
  refused: number;
  /** Slots not sent because `maxOutstanding` requests were unanswered: the hub was the limit. */
  skipped: number;
  maxOutstanding: number;
  latencyMs: { p50: number; p99: number; max: number };
  /** The generator's own CPU time over `seconds`: well under 1 means it was not what limited the rate. */
  cpuShare: number;
}

export interface PacedLoad {
  /** Acknowledged payments as they come: id and when (epoch ms, `performance.timeOrigin + performance.now()`). */
  readonly acked: { id: string; at: number }[];
  /** Refusals and errors (each `<index> <status or error> <body>`). */
  readonly errors: string[];
  /** Stops sending, waits for every answer, and gives the counts. */
  stop(): Promise<PacedLoadSummary>;
}

/**
 * An open-loop load of payments from a process of its own (see paced-load-child.ts). Resolves once
 * it is sending.
 */
export async function startPacedLoad(config: PacedLoadConfig): Promise<PacedLoad> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/paced-load-child.ts'], {
    env: { ...process.env, PACED_LOAD_CONFIG: JSON.stringify(config) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const acked: { id: string; at: number }[] = [];
  const errors: string[] = [];
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  let ready!: () => void;
  let finished!: (s: PacedLoadSummary) => void;
  let failed!: (e: Error) => void;
  const isReady = new Promise<void>((r) => (ready = r));
  const summary = new Promise<PacedLoadSummary>((resolve, reject) => {
    finished = resolve;
    failed = reject;
  });
  summary.catch(() => undefined);
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    if (line.startsWith('a ')) {
      const [, id, at] = line.split(' ');
      acked.push({ id: id!, at: Number(at) });
    } else if (line.startsWith('e ')) errors.push(line.slice(2));
    else if (line === 'ready') ready();
    else if (line.startsWith('done ')) finished(JSON.parse(line.slice(5)) as PacedLoadSummary);
  });
  // 'close', not 'exit': the last lines may still be in the pipe when the process has exited.
  proc.once('close', (code) => failed(new Error(`the load generator exited with ${code}: ${stderr}`)));
  await Promise.race([isReady, summary]);
  return {
    acked,
    errors,
    async stop() {
      proc.stdin!.end();
      return summary;
    },
  };
}
