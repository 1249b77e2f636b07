import { describe, expect, it } from 'vitest';
import { createReminders, dueReminders, nextReminderAt, REMINDER_PREFIX } from '../../extension/background/reminders.js';
import { DAY_MS, type Holding, readHoldings } from '../../extension/common/holdings.js';
import { KEYS } from '../../extension/common/state.js';
import { tEn } from '../helpers/i18n-en.js';
import { MemoryStorage } from '../helpers/memory-storage.js';

const NOW = Date.parse('2026-03-10T12:00:00Z');
const HOUR = 3_600_000;

const slot = (over: Partial<Holding> = {}): Holding => ({
  key: 'https://shop.example/slots#1',
  site: 'https://shop.example',
  api: 'https://shop.example/slots',
  slotId: 1,
  page: 'https://shop.example/publication',
  title: 'Publication',
  feeRatePerMonthMsat: '300000',
  expiresAt: NOW + 10 * DAY_MS,
  checkedAt: NOW,
  transactions: ['pay_1'],
  ...over,
});

describe('reminders: which are due and when the next one is', () => {
  it('is due from a day before expiry until expiry, once per expiry', () => {
    expect(dueReminders([slot({ expiresAt: NOW + DAY_MS + 1 })], NOW)).toEqual([]);
    expect(dueReminders([slot({ expiresAt: NOW + DAY_MS })], NOW)).toHaveLength(1);
    expect(dueReminders([slot({ expiresAt: NOW + HOUR })], NOW)).toHaveLength(1);
    // Reminded for this expiry already; expired (nothing left to warn of).
    expect(dueReminders([slot({ expiresAt: NOW + HOUR, remindedFor: NOW + HOUR })], NOW)).toEqual([]);
    expect(dueReminders([slot({ expiresAt: NOW })], NOW)).toEqual([]);
    // Renewed: the reminder was for the old expiry, the new one gets its own.
    expect(dueReminders([slot({ expiresAt: NOW + HOUR, remindedFor: NOW - DAY_MS })], NOW)).toHaveLength(1);
  });

  it('sets the alarm at the earliest day-before among slots not reminded for their expiry; none when there is none', () => {
    const a = slot({ key: 'a', expiresAt: NOW + 10 * DAY_MS });
    const b = slot({ key: 'b', expiresAt: NOW + 3 * DAY_MS });
    const c = slot({ key: 'c', expiresAt: NOW + 2 * DAY_MS, remindedFor: NOW + 2 * DAY_MS });
    expect(nextReminderAt([a, b, c], NOW)).toBe(NOW + 2 * DAY_MS);
    // Already inside the day: at once.
    expect(nextReminderAt([slot({ expiresAt: NOW + HOUR })], NOW)).toBe(NOW);
    expect(nextReminderAt([c, slot({ expiresAt: NOW - 1 })], NOW)).toBeNull();
    expect(nextReminderAt([], NOW)).toBeNull();
  });
});

describe('reminders: the service with a clock the test moves', () => {
  function world(list: Holding[]) {
    const local = new MemoryStorage();
    void local.set({ [KEYS.holdings]: list });
    const shown: { id: string; title: string; message: string }[] = [];
    const alarms: (number | null)[] = [];
    let clock = NOW;
    const make = () =>
      createReminders({
        t: tEn,
        update: async (change) => {
          const next = change(readHoldings(local.peek(KEYS.holdings)));
          await local.set({ [KEYS.holdings]: next });
          return next;
        },
        notify: async (id, n) => void shown.push({ id, ...n }),
        schedule: async (at) => void alarms.push(at),
        when: (at) => new Date(at).toISOString(),
        now: () => clock,
      });
    return { local, shown, alarms, make, move: (to: number) => (clock = to) };
  }

  it('shows one notification a day before expiry, never again for that expiry, even after a restart; a renewal gets its own', async () => {
    const expiresAt = NOW + 3 * DAY_MS;
    const w = world([slot({ expiresAt })]);
    const r = w.make();
    expect(await r.run()).toBe(0);
    expect(w.shown).toEqual([]);
    expect(w.alarms.at(-1)).toBe(expiresAt - DAY_MS);

    w.move(expiresAt - DAY_MS + 1000);
    expect(await r.run()).toBe(1);
    expect(w.shown).toEqual([
      {
        id: `${REMINDER_PREFIX}https://shop.example/slots#1`,
        title: 'Your slot at shop.example expires soon',
        message: `Slot 1 expires ${new Date(expiresAt).toISOString()}. Renew it from Tollway's Slots and passes.`,
      },
    ]);
    expect(readHoldings(w.local.peek(KEYS.holdings))[0]!.remindedFor).toBe(expiresAt);
    expect(w.alarms.at(-1)).toBeNull();

    // A new worker over the same storage (restart), later the same day: nothing shown again.
    w.move(expiresAt - HOUR);
    expect(await w.make().run()).toBe(0);
    expect(w.shown).toHaveLength(1);

    // Renewed by 30 days: the new expiry's day-before is the next alarm, and it comes then.
    const renewed = expiresAt + 30 * DAY_MS;
    await w.local.set({ [KEYS.holdings]: [{ ...readHoldings(w.local.peek(KEYS.holdings))[0]!, expiresAt: renewed }] });
    expect(await w.make().run()).toBe(0);
    expect(w.alarms.at(-1)).toBe(renewed - DAY_MS);
    w.move(renewed - DAY_MS);
    expect(await w.make().run()).toBe(1);
    expect(w.shown).toHaveLength(2);
  });

  it('shows none for a slot that has already expired, and reminds each slot on its own', async () => {
    const w = world([
      slot({ key: 'gone', slotId: 7, expiresAt: NOW - HOUR }),
      slot({ key: 'soon', slotId: 8, expiresAt: NOW + 2 * HOUR }),
      slot({ key: 'later', slotId: 9, expiresAt: NOW + 5 * DAY_MS }),
    ]);
    expect(await w.make().run()).toBe(1);
    expect(w.shown.map((n) => n.id)).toEqual([`${REMINDER_PREFIX}soon`]);
    expect(w.alarms.at(-1)).toBe(NOW + 4 * DAY_MS);
  });
});
