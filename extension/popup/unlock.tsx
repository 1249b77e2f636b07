/**
 * The popup's password field, in a frame of its own: decrypting the keystore needs ethers' scrypt
 * keystore code (~40 KB gzipped), which the popup's own JavaScript budget has no room for, and a
 * password never travels in a message. So the popup shows this page inside itself only while the
 * wallet is locked; it decrypts here, keeps the key in session storage, and asks the worker to sign
 * in to the hub the settings name. The popup follows storage and re-renders signed in.
 */
import { render } from 'preact';
import { useState } from 'preact/hooks';
import '../common/page.css';
import { t } from '../common/i18n.js';
import { send } from '../common/page.js';
import { KEYS, Settings, StoredKeystore } from '../common/state.js';
import { unlockKeystore } from '../common/wallet.js';

function Unlock() {
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      const got = await chrome.storage.local.get([KEYS.keystore, KEYS.settings]);
      const keystore = StoredKeystore.parse(got[KEYS.keystore]);
      const settings = Settings.safeParse(got[KEYS.settings]);
      await chrome.storage.session.set({ [KEYS.unlocked]: await unlockKeystore(keystore, password) });
      setPassword('');
      if (settings.success) {
        const r = await send({ type: 'auth.signIn', hubUrl: settings.data.hubUrl });
        if (!r.ok) setProblem(r.error);
      }
    } catch (err) {
      setProblem(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} class="stack-sm">
      <label for="password">{t('popup_password')}</label>
      <div class="cluster">
        <input
          id="password"
          class="grow"
          type="password"
          autocomplete="current-password"
          required
          value={password}
          aria-invalid={problem ? 'true' : undefined}
          aria-describedby={problem ? 'unlock-problem' : undefined}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? t('popup_unlocking') : t('popup_unlock')}
        </button>
      </div>
      {problem && (
        <p id="unlock-problem" class="small failed" role="alert">
          {problem}
        </p>
      )}
    </form>
  );
}

render(<Unlock />, document.getElementById('app')!);
