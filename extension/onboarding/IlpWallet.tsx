/**
 * Settings: the person's Interledger wallet. They type its wallet address; the worker asks the hub
 * to link it (`PUT /ilp/wallet`), and the hub fetches it and says whether it can pay from it. The
 * linked wallet is shown with its asset and scale, as the hub read it; a refusal is shown in the
 * hub's own words. Shown only when the hub's GET /rails (as the worker cached it) lists the ilp rail.
 */
import { useEffect, useState } from 'preact/hooks';
import { ILP_KEY, IlpView } from '../common/ilp.js';
import { t } from '../common/i18n.js';
import { send, useStoredValue } from '../common/page.js';
import { KEYS, RailsView } from '../common/state.js';
import { displayText } from '../common/text.js';

export function IlpWallet({ hubUrl }: { hubUrl: string }) {
  const view = IlpView.safeParse(useStoredValue(ILP_KEY, 'session'));
  const rails = RailsView.safeParse(useStoredValue(KEYS.rails, 'session'));
  const [address, setAddress] = useState('');
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState<{ text: string; problem: boolean } | null>(null);

  useEffect(() => void send({ type: 'ilp.sync' }), []);

  // Only on a hub known to have the rail: other hubs' settings stay as they were.
  if (!rails.success || rails.data.hubUrl !== hubUrl || !rails.data.info.rails.some((r) => r.name === 'ilp')) return null;
  const wallet = view.success && view.data.hubUrl === hubUrl ? view.data.wallet : null;

  const run = async (message: Parameters<typeof send>[0], done: string) => {
    setBusy(true);
    const r = await send(message);
    setBusy(false);
    setStatus(r.ok ? { text: done, problem: false } : { text: r.error, problem: true });
    return r.ok;
  };
  const link = async (e: Event) => {
    e.preventDefault();
    const typed = address.trim();
    let url: URL;
    try {
      url = new URL(typed);
    } catch {
      return setStatus({ text: t('ilp_wallet_bad_address'), problem: true });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return setStatus({ text: t('ilp_wallet_bad_address'), problem: true });
    if (await run({ type: 'ilp.link', walletAddress: url.href }, t('ilp_wallet_linked_now'))) setAddress('');
  };

  return (
    <section class="card" aria-labelledby="ilp-wallet-title" data-testid="ilp-wallet">
      <h2 id="ilp-wallet-title">{t('ilp_wallet_title')}</h2>
      <p class="muted small">{t('ilp_wallet_intro')}</p>
      {wallet ? (
        <div class="stack">
          <dl>
            <dt>{t('ilp_wallet_address')}</dt>
            <dd class="break mono" data-testid="ilp-wallet-address">
              {displayText(wallet.walletAddress, 300)}
            </dd>
            {wallet.publicName && (
              <>
                <dt>{t('ilp_wallet_name')}</dt>
                <dd>{displayText(wallet.publicName, 120)}</dd>
              </>
            )}
            <dt>{t('ilp_wallet_asset')}</dt>
            <dd data-testid="ilp-wallet-asset">{t('ilp_wallet_asset_value', displayText(wallet.assetCode, 16), wallet.assetScale)}</dd>
          </dl>
          <div class="actions">
            <button type="button" disabled={busy} onClick={() => void run({ type: 'ilp.unlink' }, t('ilp_wallet_unlinked'))}>
              {t('ilp_wallet_unlink')}
            </button>
          </div>
        </div>
      ) : (
        <form onSubmit={(e) => void link(e)} aria-label={t('ilp_wallet_form')}>
          <div class="field">
            <label for="ilp-wallet-input">{t('ilp_wallet_address')}</label>
            <input
              id="ilp-wallet-input"
              type="url"
              placeholder="https://wallet.example/alice"
              value={address}
              onInput={(e) => setAddress(e.currentTarget.value)}
            />
          </div>
          <div class="actions">
            <button type="submit" class="primary" disabled={busy || !address.trim()}>
              {t('ilp_wallet_link')}
            </button>
          </div>
        </form>
      )}
      {status && (
        <p
          role={status.problem ? 'alert' : 'status'}
          class={status.problem ? 'callout callout-danger' : undefined}
          data-testid="ilp-wallet-status"
        >
          {status.text}
        </p>
      )}
    </section>
  );
}
