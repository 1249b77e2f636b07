/**
 * The toolbar popup: who you are (identicon, short address to copy), the hub and whether it is
 * live, balances per asset, activity by day with status chips, a receipt per payment, budgets, CSV
 * export, and what waits for approval. Locked, it unlocks in place; the hub unreachable, it says so
 * with Retry; empty, it says what to do first. It renders what the worker keeps in storage and asks
 * the worker to reconcile with the hub when it opens.
 */
import { useEffect, useState } from 'preact/hooks';
import { pendingOf } from '../background/queue.js';
import { depositRailOf } from '../common/deposit.js';
import { ILP_KEY, IlpView } from '../common/ilp.js';
import { localAmount } from '../common/format.js';
import { t } from '../common/i18n.js';
import { Icon, Identicon } from '../common/icons.js';
import { send, useStoredEntry, useStoredValue } from '../common/page.js';
import { AccountView, HubSession, KEYS, RailsView, Settings, StoredKeystore, UnlockedKey } from '../common/state.js';
import { readRequestList } from '../common/storage.js';
import { displayText } from '../common/text.js';
import { Activity } from './Activity.js';
import { AddFunds } from './AddFunds.js';
import { Budgets } from './Budgets.js';
import { Grants } from './Grants.js';
import { IlpWaiting } from './IlpWaiting.js';
import { CopyButton } from './Copy.js';
import { Deposit, DepositList } from './Deposit.js';
import { Receipt } from './Receipt.js';
import { UNLOCKED } from './unlocked.js';

const openSettings = () => void chrome.runtime.openOptionsPage();

/** "0x1234…abcd": enough to recognise, short enough for the header. */
export const shortAddress = (a: string) => (a.length > 12 ? `${a.slice(0, 6)}…${a.slice(-4)}` : a);

type View = 'home' | 'budgets' | 'deposit' | 'addFunds' | 'grants';

export function Popup() {
  const hubEntry = useStoredEntry(KEYS.hub, 'session');
  const hub = HubSession.safeParse(hubEntry.value);
  const view = AccountView.safeParse(useStoredValue(KEYS.account, 'session'));
  const active = readRequestList(useStoredValue(KEYS.approvals)).requests;
  const history = readRequestList(useStoredValue(KEYS.history)).requests;
  const [selected, setSelected] = useState<string | null>(null);
  const [shown, setShown] = useState<View>('home');
  const railsRaw = useStoredValue(KEYS.rails, 'session');
  const ilpRaw = useStoredValue(ILP_KEY, 'session');
  const [notice, setNotice] = useState<string | null>(null);
  const [noAccess, setNoAccess] = useState(false);
  // Slots and passes held: loaded on first use, so the popup's first paint does not carry it.
  const [HoldingsView, setHoldingsView] = useState<typeof import('./Holdings.js').Holdings | null>(null);
  const openHoldings = () => void import('./Holdings.js').then((m) => setHoldingsView(() => m.Holdings));
  const testMoney = async () => {
    const r = await send({ type: 'dev.faucet' });
    setNotice(r.ok ? t('popup_test_money_added') : r.error);
  };
  const exportAll = async () => {
    setNotice(t('popup_exporting'));
    const r = await send({ type: 'payments.export' });
    if (!r.ok || r.csv === undefined) return setNotice(r.ok ? t('popup_export_empty') : r.error);
    download(r.csv);
    setNotice(t('popup_exported', Math.max(0, r.csv.split('\r\n').length - 2)));
  };

  useEffect(() => void send({ type: 'account.sync' }), []);
  useEffect(() => void chrome.permissions.getAll().then((p) => setNoAccess(!p.origins?.length)), []);

  // Not read yet: render nothing rather than flash the signed-out state.
  if (!hubEntry.loaded) return <main aria-busy="true" />;
  if (!hub.success) return <SignedOut />;

  const account = view.success && view.data.hubUrl === hub.data.url ? view.data : null;
  const payments = account?.payments ?? [];
  const detail = selected ? payments.find((p) => p.transactionId === selected) : undefined;
  if (detail) return <Receipt payment={detail} onBack={() => setSelected(null)} />;
  if (shown === 'budgets') return <Budgets hubUrl={hub.data.url} onBack={() => setShown('home')} />;
  if (HoldingsView) return <HoldingsView onBack={() => setHoldingsView(null)} />;
  if (shown === 'grants') return <Grants hubUrl={hub.data.url} onBack={() => setShown('home')} />;
  // Interledger grants: offered once the person has linked a wallet (the worker's mirror of the hub).
  const ilpView = IlpView.safeParse(ilpRaw);
  const ilpLinked = ilpView.success && ilpView.data.hubUrl === hub.data.url && ilpView.data.wallet !== null;
  // Offered only when the hub has the SOVR rail (GET /rails, as the worker cached it).
  const depositRail = hub.data.user ? depositRailOf(railsRaw, hub.data.url) : null;
  if (shown === 'deposit' && depositRail && hub.data.user)
    return <Deposit rail={depositRail} wallet={hub.data.user.address} hubUrl={hub.data.url} onBack={() => setShown('home')} />;
  // Offered only when the hub has the Lightning rail: its node issues the invoice.
  const rails = RailsView.safeParse(railsRaw).data;
  const receives = hub.data.user && rails?.hubUrl === hub.data.url && rails.info.rails.some((r) => r.name === 'lightning');
  if (shown === 'addFunds' && receives) return <AddFunds hubUrl={hub.data.url} onBack={() => setShown('home')} />;

  const waiting = pendingOf(active).length;
  // Refused before the hub stored anything (insufficient funds, not signed in): shown, never hidden.
  const notPaid = history.filter((r) => r.status === 'failed' && !r.result).slice(0, 5);
  const address = hub.data.user?.address;
  return (
    <main class="stack">
      <header class="spread">
        <div class="cluster">
          {address && <Identicon address={address} label={t('popup_identicon')} />}
          <div class="stack-sm">
            {address && (
              <span class="cluster">
                <span class="mono" title={address} data-testid="account-address">
                  {shortAddress(address)}
                </span>
                <CopyButton value={address} what={t('popup_copy_address')} />
              </span>
            )}
            <span class="cluster tiny muted" data-testid="hub">
              <span class={`dot ${account?.live ? 'dot-live' : ''}`} aria-hidden="true" />
              <span data-testid="live">{account?.live ? t('popup_hub_live') : t('popup_hub_offline')}</span>
              <span class="ellipsis">· {displayText(hub.data.url.replace(/^https?:\/\//, ''), 60)}</span>
            </span>
          </div>
        </div>
        <button
          type="button"
          class="btn-ghost btn-icon"
          aria-label={t('common_settings')}
          title={t('common_settings')}
          onClick={openSettings}
        >
          <Icon name="settings" />
        </button>
      </header>

      {account?.error && (
        <div class="callout callout-danger stack-sm" role="alert" data-testid="unreachable">
          <strong>{t('popup_unreachable_title')}</strong>
          <span class="small">{t('popup_unreachable_text', displayText(hub.data.url, 120), displayText(account.error, 200))}</span>
          <span>
            <button type="button" class="btn-sm" onClick={() => void send({ type: 'account.sync' })}>
              <Icon name="refresh" /> {t('popup_retry')}
            </button>
          </span>
        </div>
      )}

      <section class="card stack-sm" aria-labelledby="balances-heading">
        <h2 id="balances-heading" class="sr-only">
          {t('popup_balances')}
        </h2>
        {account?.balances.length ? (
          account.balances.map((b) => {
            const a = localAmount(b.available, b.asset);
            const pending = b.pending !== '0' ? localAmount(b.pending, b.asset) : null;
            return (
              <div key={b.asset}>
                <p class="balance" data-testid={`balance-${b.asset}`}>
                  <span class={(a?.value ?? b.available).length > 12 ? 'amount-lg' : 'amount-xl'}>{a?.value ?? b.available}</span>{' '}
                  <span class="muted">{a?.unit ?? b.asset}</span>
                </p>
                {pending && <p class="tiny muted">{t('popup_pending_amount', `${pending.value} ${pending.unit}`)}</p>}
              </div>
            );
          })
        ) : (
          <p class="muted" data-testid="balance-none">
            {account?.syncedAt ? t('popup_no_balance') : t('common_loading')}
          </p>
        )}
        <div class="cluster">
          {receives && (
            <button type="button" class="primary btn-sm" onClick={() => setShown('addFunds')}>
              <Icon name="plus" /> {t('popup_add_funds')}
            </button>
          )}
          {depositRail && (
            <button type="button" class="btn-sm" onClick={() => setShown('deposit')}>
              <Icon name="wallet" /> {t('popup_move_sovr')}
            </button>
          )}
          <button type="button" class="btn-sm" onClick={() => void testMoney()} title={t('popup_test_money_title')}>
            {t('popup_test_money')}
          </button>
        </div>
      </section>

      {notice && (
        <p role="status" class="callout callout-info small" data-testid="notice">
          {notice}
        </p>
      )}
      {waiting > 0 && (
        <p class="callout callout-warn small" data-testid="waiting">
          {waiting === 1 ? t('popup_waiting_one') : t('popup_waiting_many', waiting)}
        </p>
      )}
      <IlpWaiting history={history} now={Date.now()} />
      {noAccess && (
        <p class="callout callout-warn small" data-testid="no-access">
          {t('popup_no_access')}
        </p>
      )}
      {depositRail && <DepositList hubUrl={hub.data.url} limit={3} />}

      {payments.length === 0 ? (
        <section class="card stack-sm" data-testid="empty" aria-labelledby="empty-heading">
          <h2 id="empty-heading">{t('popup_empty_title')}</h2>
          <p class="small">{t('popup_empty_text')}</p>
          <p class="tiny muted">{t('popup_empty_dev')}</p>
        </section>
      ) : (
        <Activity payments={payments} onOpen={setSelected} />
      )}

      {notPaid.length > 0 && (
        <section aria-labelledby="not-paid-heading">
          <h2 id="not-paid-heading">{t('popup_not_paid')}</h2>
          <ul class="list small">
            {notPaid.map((r) => (
              <li key={r.id} class="failed">
                {displayText(r.site, 120)}: {displayText(r.error ?? 'failed', 200)}
              </li>
            ))}
          </ul>
        </section>
      )}

      <footer class="cluster">
        <button type="button" class="btn-sm" onClick={() => setShown('budgets')}>
          <Icon name="budget" /> {t('popup_budgets')}
        </button>
        <button type="button" class="btn-sm" onClick={openHoldings}>
          {t('popup_holdings')}
        </button>
        {ilpLinked && (
          <button type="button" class="btn-sm" onClick={() => setShown('grants')}>
            <Icon name="wallet" /> {t('popup_grants')}
          </button>
        )}
        <button type="button" class="btn-sm" disabled={!payments.length} onClick={() => void exportAll()} title={t('popup_export_title')}>
          <Icon name="download" /> {t('popup_export')}
        </button>
      </footer>
    </main>
  );
}

/**
 * Not signed in to a hub: locked (a keystore is kept) → the password field, in a frame that holds
 * the keystore code; unlocked but signed out → sign in; nothing set up → onboarding.
 */
function SignedOut() {
  const keystore = StoredKeystore.safeParse(useStoredValue(KEYS.keystore));
  const unlocked = UnlockedKey.safeParse(useStoredValue(KEYS.unlocked, 'session'));
  const settings = Settings.safeParse(useStoredValue(KEYS.settings));
  const [problem, setProblem] = useState<string | null>(null);
  const [signingIn, setSigningIn] = useState(false);
  const hubUrl = settings.success ? settings.data.hubUrl : null;
  const signIn = async () => {
    if (!hubUrl) return openSettings();
    setSigningIn(true);
    const r = await send({ type: 'auth.signIn', hubUrl });
    setSigningIn(false);
    setProblem(r.ok ? null : r.error);
  };
  const canSignIn = unlocked.success && hubUrl !== null;
  // Unlocked in the frame just now: sign in at once (a failure is shown, with a button to try
  // again). Unlocked but signed out otherwise (signed out in the settings) waits for the button.
  const [justUnlocked, setJustUnlocked] = useState(false);
  useEffect(() => {
    const onMessage = (e: MessageEvent) => e.origin === location.origin && e.data?.type === UNLOCKED && setJustUnlocked(true);
    window.addEventListener('message', onMessage);
    return () => window.removeEventListener('message', onMessage);
  }, []);
  useEffect(() => {
    if (canSignIn && justUnlocked) void signIn();
  }, [canSignIn, justUnlocked]);
  if (keystore.success && !unlocked.success && hubUrl) {
    return (
      <main class="stack" data-testid="locked">
        <header class="cluster">
          <Identicon address={keystore.data.address} label={t('popup_identicon')} />
          <div class="stack-sm">
            <h1 class="cluster">
              <Icon name="lock" /> {t('popup_locked_title')}
            </h1>
            <span class="mono tiny muted">{shortAddress(keystore.data.address)}</span>
          </div>
        </header>
        <p class="small">{t('popup_locked_text', displayText(hubUrl, 120))}</p>
        <iframe class="unlock-frame" src="unlock.html" title={t('popup_unlock')} />
        <p>
          <button type="button" class="link" onClick={openSettings}>
            {t('common_settings')}
          </button>
        </p>
      </main>
    );
  }
  return (
    <main class="stack" data-testid="signed-out">
      <h1>{t('popup_signed_out_title')}</h1>
      <p class="small" data-testid="hub">
        {canSignIn ? t('popup_sign_in_text', displayText(hubUrl, 120)) : t('popup_signed_out_text')}
      </p>
      {problem && (
        <p class="callout callout-danger small" role="alert">
          {problem}
        </p>
      )}
      <div class="actions">
        {canSignIn ? (
          <button type="button" class="primary" disabled={signingIn} onClick={() => void signIn()}>
            {signingIn ? t('popup_signing_in') : t('popup_sign_in')}
          </button>
        ) : (
          <button type="button" class="primary" onClick={openSettings}>
            {t('popup_set_up')}
          </button>
        )}
      </div>
    </main>
  );
}

function download(csv: string): void {
  const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = `tollway-payments-${new Date().toISOString().slice(0, 10)}.csv`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
