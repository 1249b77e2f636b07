/**
 * The activity list: payments newest first, grouped by the day they were made (in the person's own
 * time zone), each one a button to its receipt. A failed payment says why right there.
 */
import type { Payment } from '../../shared/api.js';
import { localAmountText } from '../common/format.js';
import { t } from '../common/i18n.js';
import { displayText } from '../common/text.js';
import { StatusChip } from './status.js';

/** The site a payment was for (its resource's host), else who it paid. */
export function siteOf(p: Payment): string {
  try {
    return p.resource ? new URL(p.resource.url).host : p.payTo;
  } catch {
    return p.payTo;
  }
}

const dayKey = (d: Date) => `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;

/** "Today", "Yesterday", or the date in the browser's locale. */
function dayLabel(d: Date, now: Date): string {
  if (dayKey(d) === dayKey(now)) return t('popup_today');
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (dayKey(d) === dayKey(yesterday)) return t('popup_yesterday');
  return d.toLocaleDateString(undefined, { weekday: 'short', month: 'short', day: 'numeric', year: 'numeric' });
}

/** Payments in runs of the same day, in the order given (newest first). */
export function byDay(payments: readonly Payment[], now: Date): { label: string; payments: Payment[] }[] {
  const groups: { key: string; label: string; payments: Payment[] }[] = [];
  for (const p of payments) {
    const at = new Date(p.createdAt);
    const key = dayKey(at);
    const last = groups[groups.length - 1];
    if (last?.key === key) last.payments.push(p);
    else groups.push({ key, label: dayLabel(at, now), payments: [p] });
  }
  return groups;
}

export function Activity({ payments, onOpen }: { payments: readonly Payment[]; onOpen: (id: string) => void }) {
  return (
    <section aria-labelledby="activity-heading" class="stack-sm">
      <h2 id="activity-heading">{t('popup_activity')}</h2>
      {byDay(payments, new Date()).map((group) => (
        <div key={group.label}>
          <h3 class="tiny muted day">{group.label}</h3>
          <ul class="list card activity">
            {group.payments.map((p) => {
              const site = displayText(siteOf(p), 60);
              const amount = localAmountText(p.amount, p.asset, t);
              return (
                <li key={p.transactionId} data-testid="payment" data-id={p.transactionId}>
                  <button type="button" class="activity-row" onClick={() => onOpen(p.transactionId)}>
                    <span class="grow stack-sm">
                      <span class="ellipsis">{site}</span>
                      <span class="tiny muted">
                        {new Date(p.createdAt).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })}
                      </span>
                    </span>
                    <span class="stack-sm end">
                      <span class="amount">{amount}</span>
                      <StatusChip status={p.status} testId="status" />
                    </span>
                  </button>
                  {p.status === 'failed' && p.failureReason && (
                    <p class="tiny failed reason" data-testid="failure">
                      {displayText(p.failureReason, 200)}
                    </p>
                  )}
                </li>
              );
            })}
          </ul>
        </div>
      ))}
    </section>
  );
}
