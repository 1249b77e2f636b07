/**
 * "Add funds": an amount in sats, then the invoice the hub's Lightning node issued for it as a QR
 * code (a `lightning:` URI, drawn by the worker), Copy, and its status as the worker follows it
 * (live by socket) until it is credited or expires. Kept small: the popup's JavaScript budget.
 */
import { useState } from 'preact/hooks';
import { t } from '../common/i18n.js';
import { send, useStoredValue } from '../common/page.js';
import { parseSats, type StoredTopup, TOPUP_KEY, topupStatusText } from '../common/topup.js';

export function AddFunds({ hubUrl, onBack }: { hubUrl: string; onBack: () => void }) {
  const [text, setText] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const stored = useStoredValue(TOPUP_KEY) as StoredTopup | undefined;
  const s = stored?.hubUrl === hubUrl ? stored : null;
  const open = s?.status === 'open' && s.topup;
  const size = (s?.qr?.size ?? 0) + 8;

  const create = async (e: Event) => {
    e.preventDefault();
    const parsed = parseSats(text, t);
    if (!parsed.ok) return setProblem(parsed.error);
    const r = await send({ type: 'topup.create', amount: String(parsed.value) });
    setProblem(r.ok ? null : r.error);
  };

  return (
    <main>
      <h1>{t('topup_title')}</h1>
      <form onSubmit={create}>
        <label>
          {t('topup_amount')}
          <input inputMode="decimal" placeholder="1000" value={text} onInput={(e) => setText(e.currentTarget.value)} />
        </label>
        <div class="actions">
          <button class="primary" type="submit">
            {t('topup_get_invoice')}
          </button>
          <button type="button" onClick={onBack}>
            {t('common_back')}
          </button>
        </div>
      </form>
      {problem && (
        <p class="callout callout-danger" role="alert">
          {problem}
        </p>
      )}
      {s && (
        <section data-testid="topup" data-status={s.status}>
          {open && s.qr && (
            <svg data-testid="topup-qr" viewBox={`-4 -4 ${size} ${size}`} width="220" height="220" role="img" aria-label={t('topup_qr')}>
              <rect x="-4" y="-4" width={size} height={size} fill="#fff" />
              <path d={s.qr.path} fill="#000" />
            </svg>
          )}
          <p data-testid="topup-status" role="status">
            {topupStatusText(s, t)}
          </p>
          {open && (
            <button type="button" onClick={() => void navigator.clipboard.writeText(s.topup!.bolt11)}>
              {t('topup_copy')}
            </button>
          )}
        </section>
      )}
    </main>
  );
}
