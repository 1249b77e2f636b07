/**
 * The machine a benchmark ran on, printed beside its figures: CPU count and model, and the load
 * average before the run, with a warning above 0.5 per core (on a busy machine the rates mostly
 * measure the other work; read the ratios, which compare servers loaded in alternation).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

export interface MachineState {
  cpus: number;
  model: string;
  /** 1, 5 and 15 minute load averages. */
  load: [number, number, number];
  /** The 1-minute load average per core is above 0.5. */
  busy: boolean;
}

export const BUSY_LOAD_PER_CORE = 0.5;

export function machineState(): MachineState {
  const c = cpus();
  const [a = 0, b = 0, d = 0] = loadavg();
  return { cpus: c.length, model: c[0]?.model.trim() ?? 'cpu', load: [a, b, d], busy: a / c.length > BUSY_LOAD_PER_CORE };
}

export function formatMachine(m: MachineState, when = 'before the run'): string {
  const load = m.load.map((l) => l.toFixed(2)).join(' ');
  const warning = m.busy
    ? `   WARNING: above ${BUSY_LOAD_PER_CORE} per core (${(m.load[0] / m.cpus).toFixed(2)}): other work shares the CPUs, read the ratios, not the rates`
    : '';
  return `  machine        ${m.cpus} × ${m.model}; load average ${when} ${load}${warning}`;
}

let ticks: number | undefined;
/** Clock ticks per second, for /proc's CPU times. */
function clockTicks(): number {
  ticks ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;
  return ticks;
}

/**
 * User + system CPU time a process has used so far, in ms (Linux /proc; NaN elsewhere). CPU per
 * request is what a server's work costs whatever else the machine runs, which moves rates far more.
 */
export function processCpuMs(pid: number | undefined, stat = `/proc/${pid}/stat`): number {
  if (pid === undefined) return Number.NaN;
  try {
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    const rest = readFileSync(stat, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / clockTicks();
  } catch {
    return Number.NaN;
  }
}

/**
 * CPU time this process's main thread has used so far, in ms (Linux /proc, 10 ms ticks; NaN
 * elsewhere): the work of code that runs synchronously on it, without its worker threads.
 */
export function mainThreadCpuMs(): number {
  return processCpuMs(process.pid, `/proc/${process.pid}/task/${process.pid}/stat`);
}
