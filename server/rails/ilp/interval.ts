/**
 * Open Payments limits repeat over an ISO 8601 repeating interval, `R[n]/<start>/<duration>`: the
 * limit applies afresh in each window `[start + k·duration, start + (k+1)·duration)`. The hub
 * keeps what it charged to a grant per window, so it needs the window a time falls in.
 */

interface Duration {
  years: number;
  months: number;
  weeks: number;
  days: number;
  hours: number;
  minutes: number;
  seconds: number;
}

export interface RepeatingInterval {
  /** Windows after which the limit no longer renews; undefined for unbounded (`R/…`). */
  repetitions?: number;
  start: number;
  duration: Duration;
}

const PATTERN = /^R(\d*)\/([^/]+)\/P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

export function parseInterval(s: string): RepeatingInterval {
  const m = PATTERN.exec(s);
  const start = m ? Date.parse(m[2]!) : Number.NaN;
  if (!m || Number.isNaN(start)) throw new RangeError(`not an ISO 8601 repeating interval: ${JSON.stringify(s)}`);
  const n = (i: number) => Number(m[i] ?? 0);
  const duration = { years: n(3), months: n(4), weeks: n(5), days: n(6), hours: n(7), minutes: n(8), seconds: n(9) };
  if (Object.values(duration).every((v) => v === 0)) throw new RangeError('the interval has no length');
  return { ...(m[1] ? { repetitions: Number(m[1]) } : {}), start, duration };
}

function add(t: number, d: Duration, times: number): number {
  const x = new Date(t);
  x.setUTCFullYear(x.getUTCFullYear() + d.years * times, x.getUTCMonth() + d.months * times);
  return x.getTime() + times * (((d.weeks * 7 + d.days) * 24 + d.hours) * 3600_000 + d.minutes * 60_000 + d.seconds * 1000);
}

/**
 * The window `now` falls in, or undefined when the limit does not apply at `now` (before its start,
 * or after its last repetition). Calendar steps (months, years) are walked, fixed ones divided.
 */
export function windowAt(iv: RepeatingInterval, now: number): { start: number; end: number } | undefined {
  if (now < iv.start) return undefined;
  const d = iv.duration;
  let k: number;
  if (d.years === 0 && d.months === 0) {
    k = Math.floor((now - iv.start) / (add(iv.start, d, 1) - iv.start));
  } else {
    // A month is at least 28 days: start the walk close below and step up.
    const approx = (d.years * 365 + d.months * 28) * 86_400_000;
    k = Math.max(0, Math.floor((now - iv.start) / (approx * 1.2)));
    while (add(iv.start, d, k + 1) <= now) k++;
  }
  if (iv.repetitions !== undefined && k >= iv.repetitions) return undefined;
  return { start: add(iv.start, d, k), end: add(iv.start, d, k + 1) };
}
