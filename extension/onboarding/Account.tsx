/**
 * The settings page once a wallet exists: unlock it with the password; unlocked, sign in to the
 * hub; signed in, the account with sign out, lock and the site access to change. Each view's
 * heading takes the focus when it appears.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { t } from '../common/i18n.js';
import type { HubSession } from '../common/state.js';
import { Networks } from './Networks.js';
import { SiteAccess } from './SiteAccess.js';
import { IlpWallet } from './IlpWallet.js';

function FocusedHeading({ id, text }: { id: string; text: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <h2 id={id} ref={ref} tabIndex={-1}>
      {text}
    </h2>
  );
}

export function UnlockForm(props: { address: string; busy: boolean; onSubmit: (password: string) => void }) {
  const [password, setPassword] = useState('');
  return (
    <form
      class="card stack"
      aria-labelledby="unlock-title"
      onSubmit={(e) => {
        e.preventDefault();
        props.onSubmit(password);
        setPassword('');
      }}
    >
      <FocusedHeading id="unlock-title" text={t('onboarding_unlock_title')} />
      <p data-testid="state" class="break">
        {t('onboarding_state_locked', props.address)}
      </p>
      <div class="field">
        <label for="unlock-password">{t('onboarding_password_label')}</label>
        <input
          id="unlock-password"
          type="password"
          autocomplete="current-password"
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
      </div>
      <div class="actions">
        <button class="primary" type="submit" disabled={props.busy}>
          {t('onboarding_unlock')}
        </button>
      </div>
    </form>
  );
}

export function SignInForm(props: {
  address: string;
  initialHub: string;
  busy: boolean;
  onSubmit: (hubUrl: string) => void;
  onLock: () => void;
}) {
  const [hubUrl, setHubUrl] = useState(props.initialHub);
  return (
    <form
      class="card stack"
      aria-labelledby="signin-title"
      onSubmit={(e) => {
        e.preventDefault();
        props.onSubmit(hubUrl);
      }}
    >
      <FocusedHeading id="signin-title" text={t('onboarding_signin_title')} />
      <p data-testid="state" class="break">
        {t('onboarding_state_unlocked', props.address)}
      </p>
      <div class="field">
        <label for="signin-hub">{t('onboarding_hub_label')}</label>
        <input id="signin-hub" type="url" required value={hubUrl} onInput={(e) => setHubUrl(e.currentTarget.value)} />
      </div>
      <div class="actions">
        <button type="button" disabled={props.busy} onClick={props.onLock}>
          {t('onboarding_lock')}
        </button>
        <button class="primary" type="submit" disabled={props.busy}>
          {t('onboarding_signin')}
        </button>
      </div>
    </form>
  );
}

export function SignedIn(props: { session: HubSession; busy: boolean; justSetUp: boolean; onSignOut: () => void; onLock: () => void }) {
  return (
    <section class="stack" aria-labelledby="account-title">
      <div class="card stack">
        <FocusedHeading id="account-title" text={props.justSetUp ? t('onboarding_ready_title') : t('onboarding_account_title')} />
        {props.justSetUp && <p data-testid="ready">{t('onboarding_ready_text')}</p>}
        <p data-testid="state" class="chip chip-ok state-chip">
          {t('onboarding_state_signed_in')}
        </p>
        <dl>
          <dt>{t('onboarding_account_address')}</dt>
          <dd data-testid="address" class="mono">
            {props.session.user?.address}
          </dd>
          <dt>{t('onboarding_account_hub')}</dt>
          <dd data-testid="hub">{props.session.url}</dd>
        </dl>
        <div class="actions">
          <button type="button" disabled={props.busy} onClick={props.onSignOut}>
            {t('onboarding_sign_out')}
          </button>
          <button type="button" disabled={props.busy} onClick={props.onLock}>
            {t('onboarding_lock')}
          </button>
        </div>
      </div>
      <div class="card">
        <SiteAccess />
      </div>
      <div class="card">
        <Networks />
      </div>
      <IlpWallet hubUrl={props.session.url} />
    </section>
  );
}
