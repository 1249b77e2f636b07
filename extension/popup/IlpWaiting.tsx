/**
 * Payments from the Interledger wallet that wait for the person's answer on the wallet's own page,
 * each with a button that opens that page again (its window may have been closed, or never opened).
 * Read from the worker's history: the hub's payment list does not carry the consent page.
 */
import { useState } from 'preact/hooks';
import { t } from '../common/i18n.js';
import { send } from '../common/page.js';
import type { ApprovalRequest } from '../common/state.js';
import { displayText } from '../common/text.js';

export function IlpWaiting({ history, now }: { history: readonly ApprovalRequest[]; now: number }) {
  const [problem, setProblem] = useState<string | null>(null);
  const waiting = history.filter(
    (r) =>
      r.status === 'submitted' &&
      r.result?.rail === 'ilp' &&
      r.result.status === 'pending' &&
      Date.parse(r.result.interact?.expiresAt ?? '') > now,
  );
  if (!waiting.length) return null;
  return (
    <section class="callout callout-warn small stack-sm" data-testid="ilp-waiting" aria-label={t('popup_ilp_waiting')}>
      {waiting.map((r) => (
        <p key={r.id} class="spread">
          <span>{t('popup_ilp_waiting_one', displayText(r.tabOrigin ?? r.site, 120))}</span>
          <button
            type="button"
            class="btn-sm"
            onClick={() =>
              void send({ type: 'ilp.consent', transactionId: r.result!.transactionId }).then((x) => setProblem(x.ok ? null : x.error))
            }
          >
            {t('popup_ilp_open_page')}
          </button>
        </p>
      ))}
      {problem && <p role="alert">{problem}</p>}
    </section>
  );
}
