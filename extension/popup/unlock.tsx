/**
 * The popup's password field, in a frame of its own: decrypting the keystore needs ethers' scrypt
 * keystore code (~40 KB gzipped), which the popup's own JavaScript budget has no room for, and a
 * password never travels in a message. So the popup shows this page inside itself only while the
 * wallet is locked; it decrypts here and keeps the key in session storage, where the popup sees it
 * and asks the worker to sign in.
 */
import { render } from 'preact';
import { useState } from 'preact/hooks';
import '../common/page.css';
import { t } from '../common/i18n.js';
import { KEYS, StoredKeystore } from '../common/state.js';
import { unlockKeystore } from '../common/wallet.js';
import { UNLOCKED } from './unlocked.js';

function Unlock() {
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      const got = await chrome.storage.local.get(KEYS.keystore);
      const key = await unlockKeystore(StoredKeystore.parse(got[KEYS.keystore]), password, t);
      setPassword('');
      // Told first (this frame is gone once the key is stored): the popup signs in when it sees the key.
      window.parent.postMessage({ type: UNLOCKED }, location.origin);
      await chrome.storage.session.set({ [KEYS.unlocked]: key });
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
