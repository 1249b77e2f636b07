/**
 * The machine a benchmark ran on, printed beside its figures: CPU count and model, and the load
 * average before the run, with a warning above 0.5 per core (on a busy machine the rates mostly
 * measure the other work; read the ratios, which compare servers loaded in alternation).
 */
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
