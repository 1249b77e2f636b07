/**
 * The reminder a day before a held slot expires: one chrome.alarms alarm at the next time one is
 * due, and at it one notification per slot that is within a day of expiry. What was reminded is kept
 * on the holding itself (`remindedFor` = the expiry it was for), in the same write as the list, so a
 * restarted worker neither repeats a reminder nor loses one; a renewal moves the expiry, and the new
 * expiry gets its own reminder. A slot already expired gets none (there is nothing to warn of).
 */
import { DAY_MS, type Holding } from '../common/holdings.js';
import type { T } from '../common/i18n.js';

/** Slots whose reminder is due at `now`: within a day of expiry, not expired, not reminded for this expiry. */
export function dueReminders(holdings: readonly Holding[], now: number): Holding[] {
  return holdings.filter((h) => h.expiresAt > now && h.expiresAt - DAY_MS <= now && h.remindedFor !== h.expiresAt);
}

/** When the next reminder falls due (ms), or null when none will: the alarm to set. */
export function nextReminderAt(holdings: readonly Holding[], now: number): number | null {
  const times = holdings.filter((h) => h.expiresAt > now && h.remindedFor !== h.expiresAt).map((h) => Math.max(now, h.expiresAt - DAY_MS));
  return times.length ? Math.min(...times) : null;
}

export const REMINDER_PREFIX = 'tollway.slot.';

export interface RemindersDeps {
  t: T;
  /** Applies `change` to the stored holdings in one serialized write and returns the list after it. */
  update(change: (list: Holding[]) => Holding[]): Promise<Holding[]>;
  notify(id: string, n: { title: string; message: string }): Promise<void>;
  /** Sets the one reminder alarm at `at` (ms), or clears it (null). */
  schedule(at: number | null): Promise<void>;
  /** The expiry as a person reads it ("in 23 hours (7 Dec 2026, 10:00)"). */
  when(expiresAt: number, now: number): string;
  now?: () => number;
}

export function createReminders(deps: RemindersDeps) {
  const now = deps.now ?? (() => Date.now());
  return {
    /** Shows the reminders due now, marks them shown, and sets the alarm for the next one. */
    async run(): Promise<number> {
      const at = now();
      let due: Holding[] = [];
      // Marked before the notification is shown: a worker stopped in between loses one reminder
      // rather than showing it twice at every wake-up.
      const list = await deps.update((holdings) => {
        due = dueReminders(holdings, at);
        const ids = new Set(due.map((h) => h.key));
        return holdings.map((h) => (ids.has(h.key) ? { ...h, remindedFor: h.expiresAt } : h));
      });
      for (const h of due) {
        const host = hostOf(h.site);
        await deps
          .notify(`${REMINDER_PREFIX}${h.key}`, {
            title: deps.t('worker_slot_reminder_title', host),
            message: deps.t('worker_slot_reminder_message', h.slotId, deps.when(h.expiresAt, at)),
          })
          .catch((e: unknown) => console.error('tollway: slot reminder', e));
      }
      await deps.schedule(nextReminderAt(list, at));
      return due.length;
    },
  };
}

function hostOf(origin: string): string {
  try {
    return new URL(origin).host;
  } catch {
    return origin;
  }
}
