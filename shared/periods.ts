import type { AllowancePeriod } from './api.js';

/**
 * The UTC calendar period containing `now` (ISO weeks start on Monday): its start and the start of
 * the next. One rule for the hub, which charges allowances by it, and the extension, which shows it.
 */
export function periodBounds(period: AllowancePeriod, now: number): { start: number; end: number } {
  const d = new Date(now);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  if (period === 'day') {
    const start = Date.UTC(y, m, d.getUTCDate());
    return { start, end: Date.UTC(y, m, d.getUTCDate() + 1) };
  }
  if (period === 'week') {
    const sinceMonday = (d.getUTCDay() + 6) % 7;
    const start = Date.UTC(y, m, d.getUTCDate() - sinceMonday);
    return { start, end: start + 7 * 24 * 3600 * 1000 };
  }
  return { start: Date.UTC(y, m, 1), end: Date.UTC(y, m + 1, 1) };
}
