/**
 * ISO 8601 repeating intervals as outgoing-payment grant limits use them (`R12/2025-01-01T00:00:00Z/P1M`):
 * a grant's amount limit applies to each repetition separately, so a budget renews every period.
 * Only the `R[n]/<start>/<duration>` form is accepted; the others are refused as invalid requests.
 */

export interface Window {
  start: Date;
  end: Date;
}

const DURATION = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

interface Duration {
  years: number;
  months: number;
  days: number;
  ms: number;
}

function parseDuration(text: string): Duration | undefined {
  const m = DURATION.exec(text);
  if (!m || text === 'P' || text.endsWith('T')) return undefined;
  const n = (i: number) => Number(m[i] ?? 0);
  const duration = { years: n(1), months: n(2), days: n(3) * 7 + n(4), ms: ((n(5) * 60 + n(6)) * 60 + n(7)) * 1000 };
  if (duration.years + duration.months + duration.days + duration.ms === 0) return undefined;
  return duration;
}

function add(date: Date, d: Duration): Date {
  const next = new Date(date.getTime());
  next.setUTCFullYear(next.getUTCFullYear() + d.years, next.getUTCMonth() + d.months, next.getUTCDate() + d.days);
  return new Date(next.getTime() + d.ms);
}

export interface RepeatingInterval {
  /** The window that contains `now`; undefined before the first or after the last repetition. */
  windowAt(now: Date): Window | undefined;
}

export function parseInterval(text: string): RepeatingInterval | undefined {
  const [r, startText, durationText, ...rest] = text.split('/');
  if (rest.length || !r || !startText || !durationText) return undefined;
  const reps = /^R(\d*)$/.exec(r);
  if (!reps) return undefined;
  // R0 is one occurrence, Rn is n+1 (ISO 8601 counts repetitions after the first); R alone never ends.
  const occurrences = reps[1] === '' ? Number.POSITIVE_INFINITY : Number(reps[1]) + 1;
  const start = new Date(startText);
  if (Number.isNaN(start.getTime()) || !/\d{4}-\d{2}-\d{2}T/.test(startText)) return undefined;
  const duration = parseDuration(durationText);
  if (!duration) return undefined;
  return {
    windowAt(now) {
      if (now < start) return undefined;
      let from = start;
      for (let i = 0; i < occurrences; i++) {
        const to = add(from, duration);
        if (now < to) return { start: from, end: to };
        from = to;
        // A budget that renews every second for decades is not a case worth looping for.
        if (i > 100_000) return undefined;
      }
      return undefined;
    },
  };
}
