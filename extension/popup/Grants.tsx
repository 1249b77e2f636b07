/**
 * The budget grants on the person's Interledger wallet: approved once on the wallet's own consent
 * page, they let later payments go without one until they run out. Each shows what is left this
 * interval and how often it renews; Revoke deletes the grant at the wallet (through the hub), after
 * which the next payment asks for consent again.
 */
import { useEffect, useState } from 'preact/hooks';
import { ILP_KEY, IlpView } from '../common/ilp.js';
import { t } from '../common/i18n.js';
import { send, useStoredValue } from '../common/page.js';
import { displayText } from '../common/text.js';
import { grantText } from './grant-text.js';

export function Grants({ hubUrl, onBack }: { hubUrl: string; onBack: () => void }) {
  const view = IlpView.safeParse(useStoredValue(ILP_KEY, 'session'));
  const ilp = view.success && view.data.hubUrl === hubUrl ? view.data : null;
  const [status, setStatus] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => void send({ type: 'ilp.sync' }), []);

  const revoke = async (id: string) => {
    setBusy(true);
    const r = await send({ type: 'ilp.revoke', grantId: id });
    setBusy(false);
    setStatus(r.ok ? t('grants_revoked') : r.error);
  };

  return (
    <main>
      <h1>{t('grants_title')}</h1>
      <p class="muted small">{t('grants_intro')}</p>
      {!ilp ? (
        <p>{t('common_loading')}</p>
      ) : !ilp.wallet ? (
        <p data-testid="grants-no-wallet">{t('grants_no_wallet')}</p>
      ) : ilp.grants === null ? (
        <p class="callout callout-warn">{t('grants_unknown')}</p>
      ) : ilp.grants.length === 0 ? (
        <p data-testid="grants-none">{t('grants_none')}</p>
      ) : (
        <ul class="list">
          {ilp.grants.map((g) => (
            <li key={g.id} class="spread" data-testid="grant" data-grant={g.id}>
              <span>
                <span data-testid="grant-left">{grantText(g, t)}</span>
                <br />
                <span class="muted small break">{displayText(g.walletAddress, 200)}</span>
              </span>
              <button type="button" class="btn-sm" disabled={busy} onClick={() => void revoke(g.id)}>
                {t('grants_revoke')}
              </button>
            </li>
          ))}
        </ul>
      )}
      <div class="actions">
        <button type="button" onClick={onBack}>
          {t('common_back')}
        </button>
      </div>
      {status && (
        <p role="status" data-testid="grants-status">
          {status}
        </p>
      )}
    </main>
  );
}
