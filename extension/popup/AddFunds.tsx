/**
 * "Add funds": an amount in sats, then the invoice the hub's Lightning node issued for it as a QR
 * code (a `lightning:` URI, drawn by the worker), Copy, and its status as the worker follows it
 * (live by socket) until it is credited or expires. Kept small: the popup's JavaScript budget.
 */
import { useState } from 'preact/hooks';
import { send, useStoredValue } from '../common/page.js';
import { parseSats, type StoredTopup, TOPUP_KEY, topupStatusText } from '../common/topup.js';

export function AddFunds({ hubUrl, onBack }: { hubUrl: string; onBack: () => void }) {
  const [text, setText] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const stored = useStoredValue(TOPUP_KEY) as StoredTopup | undefined;
  const t = stored?.hubUrl === hubUrl ? stored : null;
  const open = t?.status === 'open' && t.topup;
  const size = (t?.qr?.size ?? 0) + 8;

  const create = async (e: Event) => {
    e.preventDefault();
    const parsed = parseSats(text);
    const r = parsed.ok ? await send({ type: 'topup.create', amount: String(parsed.value) }) : parsed;
    setProblem(r.ok ? null : r.error);
  };

  return (
    <main>
      <h1>Add funds</h1>
      <form onSubmit={create}>
        <label>
          Amount (sats)
          <input inputMode="decimal" placeholder="1000" value={text} onInput={(e) => setText(e.currentTarget.value)} />
        </label>
        <div class="actions">
          <button class="primary" type="submit">
            Get invoice
          </button>
          <button type="button" onClick={onBack}>
            Back
          </button>
        </div>
      </form>
      {problem && (
        <p class="warning" role="alert">
          {problem}
        </p>
      )}
      {t && (
        <section data-testid="topup" data-status={t.status}>
          {open && t.qr && (
            <svg data-testid="topup-qr" viewBox={`-4 -4 ${size} ${size}`} width="220" height="220" role="img" aria-label="Invoice QR code">
              <rect x="-4" y="-4" width={size} height={size} fill="#fff" />
              <path d={t.qr.path} />
            </svg>
          )}
          <p data-testid="topup-status" role="status">
            {topupStatusText(t)}
          </p>
          {open && (
            <button type="button" onClick={() => void navigator.clipboard.writeText(t.topup!.bolt11)}>
              Copy invoice
            </button>
          )}
        </section>
      )}
    </main>
  );
}
