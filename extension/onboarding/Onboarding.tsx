/**
 * Onboarding and account settings: the hub URL; which sites Tollway may work on (all, or a list);
 * create or import a wallet (saved only as an encrypted keystore); unlock with the password; sign
 * in to the hub (the worker signs the SIWE message with the unlocked key); sign out and lock; and,
 * signed in, the site access to change later.
 */
import browser from 'webextension-polyfill';
import { useState } from 'preact/hooks';
import { send, useStoredEntry, useStoredValue } from '../common/page.js';
import { HubSession, KEYS, Settings, StoredKeystore, UnlockedKey } from '../common/state.js';
import { encryptWallet, importWallet, MIN_PASSWORD, newWallet, unlockedOf, unlockKeystore, type AnyWallet } from '../common/wallet.js';
import { ALL_SITES } from '../background/host-access.js';
import { requestSites, SiteAccess, sitePatterns } from './SiteAccess.js';

const DEFAULT_HUB = 'http://127.0.0.1:8402';

export function Onboarding() {
  const stored = useStoredEntry(KEYS.keystore);
  const keystore = StoredKeystore.safeParse(stored.value);
  const unlocked = UnlockedKey.safeParse(useStoredValue(KEYS.unlocked, 'session'));
  const hub = HubSession.safeParse(useStoredValue(KEYS.hub, 'session'));
  const settings = Settings.safeParse(useStoredValue(KEYS.settings));
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [phrase, setPhrase] = useState<string | null>(null);
  const [accessNote, setAccessNote] = useState<string | null>(null);

  const run = async (label: string, task: () => Promise<void>) => {
    setBusy(label);
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
    if (!reply.ok) throw new Error(`Sign-in failed: ${reply.error}`);
  };

  const loading = !stored.loaded;
  let body;
  if (hub.success && unlocked.success) {
    body = (
      <SignedIn
        session={hub.data}
        busy={busy}
        onSignOut={() => run('Signing out…', async () => void (await send({ type: 'auth.signOut' })))}
        onLock={() => run('Locking…', async () => void (await send({ type: 'wallet.lock' })))}
      />
    );
  } else if (unlocked.success) {
    body = (
      <SignInForm
        address={unlocked.data.address}
        initialHub={settings.success ? settings.data.hubUrl : DEFAULT_HUB}
        busy={busy}
        onSubmit={(url) => run('Signing in…', () => signIn(url))}
        onLock={() => run('Locking…', async () => void (await send({ type: 'wallet.lock' })))}
      />
    );
  } else if (keystore.success) {
    body = (
      <UnlockForm
        address={keystore.data.address}
        busy={busy}
        onSubmit={(password) =>
          run('Unlocking…', async () => {
            const key = await unlockKeystore(keystore.data, password);
            await browser.storage.session.set({ [KEYS.unlocked]: key });
            if (settings.success) await signIn(settings.data.hubUrl);
          })
        }
      />
    );
  } else {
    body = (
      <CreateForm
        initialHub={settings.success ? settings.data.hubUrl : DEFAULT_HUB}
        busy={busy}
        onSubmit={(hubUrl, wallet, password, created, access) =>
          run('Encrypting the wallet…', async () => {
            // Asked for in the click itself (Chrome's prompt needs the gesture); answered by now or soon.
            const granted = await access.catch(() => false);
            if (!granted)
              setAccessNote(
                'Tollway was not given access to those sites, so it will notice no payment request there yet. Grant access under Site access.',
              );
            const ks = await encryptWallet(wallet, password);
            // Only the encrypted keystore reaches local storage; the key itself goes to session.
            await browser.storage.local.set({ [KEYS.keystore]: ks, [KEYS.settings]: { hubUrl } });
            await browser.storage.session.set({ [KEYS.unlocked]: unlockedOf(wallet) });
            if (created) setPhrase(created);
            setBusy('Signing in…');
            await signIn(hubUrl);
          })
        }
      />
    );
  }

  return (
    <main class="narrow">
      <h1>Tollway</h1>
      {loading ? null : body}
      {busy && (
        <p role="status" data-testid="busy">
          {busy}
        </p>
      )}
      {error && (
        <p class="warning" role="alert" data-testid="error">
          {error}
        </p>
      )}
      {accessNote && (
        <p class="warning" data-testid="access-note">
          {accessNote}
        </p>
      )}
      {phrase && (
        <details>
          <summary>Recovery phrase (write it down; it is shown only now)</summary>
          <p data-testid="phrase">{phrase}</p>
        </details>
      )}
    </main>
  );
}

function HubField({ value, onInput }: { value: string; onInput: (v: string) => void }) {
  return (
    <label>
      Hub URL
      <input type="url" required value={value} onInput={(e) => onInput(e.currentTarget.value)} />
    </label>
  );
}

function CreateForm(props: {
  initialHub: string;
  busy: string | null;
  onSubmit: (hubUrl: string, w: AnyWallet, password: string, phrase: string | null, access: Promise<boolean>) => void;
}) {
  const [hubUrl, setHubUrl] = useState(props.initialHub);
  const [mode, setMode] = useState<'create' | 'import'>('create');
  const [sitesMode, setSitesMode] = useState<'all' | 'chosen'>('all');
  const [sites, setSites] = useState('');
  const [secret, setSecret] = useState('');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [problem, setProblem] = useState<string | null>(null);

  const submit = (e: Event) => {
    e.preventDefault();
    if (password.length < MIN_PASSWORD) return setProblem(`The password needs at least ${MIN_PASSWORD} characters.`);
    if (password !== confirm) return setProblem('The passwords differ.');
    let url: string;
    try {
      url = new URL(hubUrl).origin;
    } catch {
      return setProblem('The hub URL is not a URL.');
    }
    let patterns: string[];
    try {
      patterns = sitesMode === 'all' ? [ALL_SITES] : sitePatterns(sites);
    } catch (err) {
      return setProblem((err as Error).message);
    }
    let wallet: AnyWallet;
    let phrase: string | null = null;
    try {
      if (mode === 'create') {
        const w = newWallet();
        wallet = w;
        phrase = w.mnemonic?.phrase ?? null;
      } else wallet = importWallet(secret);
    } catch (err) {
      return setProblem(err instanceof Error ? err.message : String(err));
    }
    setProblem(null);
    setSecret('');
    // Before anything is awaited: Chrome shows its permission prompt only inside the click.
    const access = requestSites(patterns);
    props.onSubmit(url, wallet, password, phrase, access);
  };

  return (
    <form onSubmit={submit} aria-label="Set up a wallet">
      <p>Tollway pays through a hub with a wallet key that stays in this browser, encrypted with your password.</p>
      <HubField value={hubUrl} onInput={setHubUrl} />
      <fieldset>
        <legend>Sites Tollway may work on</legend>
        <label>
          <input type="radio" name="sites" checked={sitesMode === 'all'} onChange={() => setSitesMode('all')} /> All sites
        </label>
        <label>
          <input type="radio" name="sites" checked={sitesMode === 'chosen'} onChange={() => setSitesMode('chosen')} /> Only sites I choose
        </label>
        {sitesMode === 'chosen' && (
          <label>
            Sites, one per line (you can add and remove sites later in the settings)
            <textarea
              spellcheck={false}
              placeholder="https://shop.example"
              value={sites}
              onInput={(e) => setSites(e.currentTarget.value)}
            />
          </label>
        )}
        <p class="muted">Tollway notices a request for payment only on sites it may access. Chrome asks you to confirm.</p>
      </fieldset>
      <fieldset>
        <legend>Wallet</legend>
        <label>
          <input type="radio" name="mode" checked={mode === 'create'} onChange={() => setMode('create')} /> Create a new wallet
        </label>
        <label>
          <input type="radio" name="mode" checked={mode === 'import'} onChange={() => setMode('import')} /> Import a private key or recovery
          phrase
        </label>
        {mode === 'import' && (
          <label>
            Private key or recovery phrase
            <textarea autocomplete="off" spellcheck={false} value={secret} onInput={(e) => setSecret(e.currentTarget.value)} />
          </label>
        )}
      </fieldset>
      <label>
        Password
        <input
          type="password"
          autocomplete="new-password"
          minLength={MIN_PASSWORD}
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
      </label>
      <label>
        Confirm password
        <input type="password" autocomplete="new-password" value={confirm} onInput={(e) => setConfirm(e.currentTarget.value)} />
      </label>
      {problem && (
        <p class="warning" role="alert">
          {problem}
        </p>
      )}
      <div class="actions">
        <button class="primary" type="submit" disabled={props.busy !== null}>
          {mode === 'create' ? 'Create wallet' : 'Import wallet'}
        </button>
      </div>
    </form>
  );
}

function UnlockForm(props: { address: string; busy: string | null; onSubmit: (password: string) => void }) {
  const [password, setPassword] = useState('');
  return (
    <form
      aria-label="Unlock"
      onSubmit={(e) => {
        e.preventDefault();
        props.onSubmit(password);
        setPassword('');
      }}
    >
      <p data-testid="state">Locked: {props.address}</p>
      <label>
        Password
        <input type="password" autocomplete="current-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
      </label>
      <div class="actions">
        <button class="primary" type="submit" disabled={props.busy !== null}>
          Unlock
        </button>
      </div>
    </form>
  );
}

function SignInForm(props: {
  address: string;
  initialHub: string;
  busy: string | null;
  onSubmit: (hubUrl: string) => void;
  onLock: () => void;
}) {
  const [hubUrl, setHubUrl] = useState(props.initialHub);
  return (
    <form
      aria-label="Sign in"
      onSubmit={(e) => {
        e.preventDefault();
        props.onSubmit(hubUrl);
      }}
    >
      <p data-testid="state">Unlocked, not signed in: {props.address}</p>
      <HubField value={hubUrl} onInput={setHubUrl} />
      <div class="actions">
        <button class="primary" type="submit" disabled={props.busy !== null}>
          Sign in
        </button>
        <button type="button" disabled={props.busy !== null} onClick={props.onLock}>
          Lock
        </button>
      </div>
    </form>
  );
}

function SignedIn(props: { session: HubSession; busy: string | null; onSignOut: () => void; onLock: () => void }) {
  return (
    <section aria-label="Account">
      <p data-testid="state">Signed in</p>
      <dl>
        <dt>Address</dt>
        <dd data-testid="address">{props.session.user?.address}</dd>
        <dt>Hub</dt>
        <dd data-testid="hub">{props.session.url}</dd>
      </dl>
      <div class="actions">
        <button type="button" disabled={props.busy !== null} onClick={props.onSignOut}>
          Sign out
        </button>
        <button type="button" disabled={props.busy !== null} onClick={props.onLock}>
          Lock
        </button>
      </div>
      <SiteAccess />
    </section>
  );
}
