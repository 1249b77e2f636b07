/**
 * Onboarding and account settings, one page: without a wallet, the setup steps (Setup.tsx); with
 * one, unlock it, sign in to the hub, and signed in, the account and its site access (Account.tsx).
 * Saving a new wallet happens here, once the steps are done: only the encrypted keystore reaches
 * local storage, the key itself goes to session storage, then the worker signs in with it.
 */
import { useState } from 'preact/hooks';
import { t } from '../common/i18n.js';
import { send, useStoredEntry, useStoredValue } from '../common/page.js';
import { HubSession, KEYS, Settings, StoredKeystore, UnlockedKey } from '../common/state.js';
import { type AnyWallet, encryptWallet, unlockedOf, unlockKeystore, WrongPasswordError } from '../common/wallet.js';
import { SignedIn, SignInForm, UnlockForm } from './Account.js';
import { Setup } from './Setup.js';

const DEFAULT_HUB = 'http://127.0.0.1:8402';

/** What the page is doing, shown (and announced) while it runs. */
interface Busy {
  text: string;
  /** 0..1 while the keystore is encrypted or decrypted (scrypt takes a moment on purpose). */
  progress?: number;
}

export function Onboarding() {
  const stored = useStoredEntry(KEYS.keystore);
  const keystore = StoredKeystore.safeParse(stored.value);
  const unlocked = UnlockedKey.safeParse(useStoredValue(KEYS.unlocked, 'session'));
  const hub = HubSession.safeParse(useStoredValue(KEYS.hub, 'session'));
  const settings = Settings.safeParse(useStoredValue(KEYS.settings));
  const [busy, setBusy] = useState<Busy | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Setting up: the steps stay on screen until the wallet is saved and signed in (or that failed).
  const [finishing, setFinishing] = useState(false);
  const [justSetUp, setJustSetUp] = useState(false);

  const run = async (text: string, task: () => Promise<void>) => {
    setBusy({ text });
    setError(null);
    try {
      await task();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(null);
    }
  };

  const signIn = async (hubUrl: string) => {
    const reply = await send({ type: 'auth.signIn', hubUrl });
    if (!reply.ok) throw new Error(t('onboarding_signin_failed', reply.error));
  };
  const lock = () => run(t('onboarding_busy_locking'), async () => void (await send({ type: 'wallet.lock' })));
  const initialHub = settings.success ? settings.data.hubUrl : DEFAULT_HUB;

  const finish = (hubUrl: string, wallet: AnyWallet, password: string) => {
    setFinishing(true);
    void run(t('onboarding_busy_encrypting'), async () => {
      const ks = await encryptWallet(wallet, password, t, (p) => setBusy({ text: t('onboarding_busy_encrypting'), progress: p }));
      await chrome.storage.local.set({ [KEYS.keystore]: ks, [KEYS.settings]: { hubUrl } });
      await chrome.storage.session.set({ [KEYS.unlocked]: unlockedOf(wallet) });
      setBusy({ text: t('onboarding_busy_signing_in') });
      await signIn(hubUrl);
      setJustSetUp(true);
    }).finally(() => setFinishing(false));
  };

  let body = null;
  if (!stored.loaded) body = null;
  else if (finishing || !keystore.success) body = <Setup initialHub={initialHub} busy={busy !== null} onFinish={finish} />;
  else if (hub.success && unlocked.success)
    body = (
      <SignedIn
        session={hub.data}
        busy={busy !== null}
        justSetUp={justSetUp}
        onSignOut={() => run(t('onboarding_busy_signing_out'), async () => void (await send({ type: 'auth.signOut' })))}
        onLock={lock}
      />
    );
  else if (unlocked.success)
    body = (
      <SignInForm
        address={unlocked.data.address}
        initialHub={initialHub}
        busy={busy !== null}
        onSubmit={(url) => run(t('onboarding_busy_signing_in'), () => signIn(url))}
        onLock={lock}
      />
    );
  else
    body = (
      <UnlockForm
        address={keystore.data.address}
        busy={busy !== null}
        onSubmit={(password) =>
          run(t('onboarding_busy_unlocking'), async () => {
            let key: UnlockedKey;
            try {
              key = await unlockKeystore(keystore.data, password, t, (p) => setBusy({ text: t('onboarding_busy_unlocking'), progress: p }));
            } catch (e) {
              // A keystore that would not decrypt is a wrong password; anything else is shown as a failure to unlock.
              throw new Error(e instanceof WrongPasswordError ? e.message : t('onboarding_unlock_failed'));
            }
            await chrome.storage.session.set({ [KEYS.unlocked]: key });
            if (settings.success) await signIn(settings.data.hubUrl);
          })
        }
      />
    );

  return (
    <main class="narrow stack">
      <header class="brand">
        <h1>{keystore.success && !finishing ? t('onboarding_page_title_settings') : t('onboarding_page_title')}</h1>
      </header>
      {body}
      <div role="status" class="busy" data-testid="busy">
        {busy && (
          <>
            <span>{busy.text}</span>
            {busy.progress !== undefined && (
              <progress max={1} value={busy.progress} aria-label={busy.text}>
                {Math.round(busy.progress * 100)}%
              </progress>
            )}
          </>
        )}
      </div>
      <div role="alert">
        {error && (
          <p class="callout callout-danger" data-testid="error">
            {error}
          </p>
        )}
      </div>
    </main>
  );
}
