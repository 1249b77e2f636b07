/**
 * Step 3: a new wallet or an imported one, and the password that encrypts it, with a strength
 * estimate (password-strength.ts) shown as the person types. Only too short a password or two that
 * differ stop the step; a weak one is said plainly but is the person's choice.
 */
import { useState } from 'preact/hooks';
import { t, type MessageKey } from '../common/i18n.js';
import { type AnyWallet, importWallet, MIN_PASSWORD } from '../common/wallet.js';
import { passwordStrength, STRENGTH_LEVELS, type StrengthHint, type StrengthLevel } from './password-strength.js';
import { type StepName, StepFrame } from './Step.js';

export type WalletMode = 'create' | 'import';

export interface WalletChoice {
  mode: WalletMode;
  password: string;
  /** The imported wallet; a new one is made by the next step. */
  imported: AnyWallet | null;
}

const LEVELS: Record<StrengthLevel, MessageKey> = {
  'too-short': 'onboarding_strength_too_short',
  weak: 'onboarding_strength_weak',
  fair: 'onboarding_strength_fair',
  good: 'onboarding_strength_good',
  strong: 'onboarding_strength_strong',
};
const HINTS: Record<Exclude<StrengthHint, null>, MessageKey> = {
  common: 'onboarding_strength_hint_common',
  pattern: 'onboarding_strength_hint_pattern',
  longer: 'onboarding_strength_hint_longer',
};

function StrengthMeter({ password }: { password: string }) {
  const s = passwordStrength(password);
  return (
    <div class={`strength strength-${s.level}`} data-testid="strength" data-level={s.level}>
      <label for="strength-meter" class="small">
        {t('onboarding_strength_label')}
      </label>
      <meter
        id="strength-meter"
        min={0}
        max={4}
        low={2}
        high={3}
        optimum={4}
        value={STRENGTH_LEVELS.indexOf(s.level)}
        aria-describedby="strength-text"
      />
      <span id="strength-text" class="small" aria-live="polite">
        <strong>{t(LEVELS[s.level], MIN_PASSWORD)}</strong>
        {s.hint ? ` ${t(HINTS[s.hint])}` : ''}
      </span>
    </div>
  );
}

export function WalletStep(props: {
  steps: readonly StepName[];
  initialMode: WalletMode;
  /** The password chosen before, when the person came Back to this step. */
  initialPassword: string;
  busy: boolean;
  onModeChange: (mode: WalletMode) => void;
  onBack: () => void;
  onNext: (choice: WalletChoice) => void;
}) {
  const [mode, setMode] = useState(props.initialMode);
  const [secret, setSecret] = useState('');
  const [password, setPassword] = useState(props.initialPassword);
  const [confirm, setConfirm] = useState(props.initialPassword);
  const [error, setError] = useState<{ text: string; field: 'secret' | 'password' | 'confirm' } | null>(null);

  const pick = (m: WalletMode) => {
    setMode(m);
    setError(null);
    props.onModeChange(m);
  };

  const next = () => {
    let imported: AnyWallet | null = null;
    if (mode === 'import') {
      try {
        imported = importWallet(secret, t);
      } catch {
        return setError({ text: t('onboarding_wallet_bad_secret'), field: 'secret' });
      }
    }
    if (password.length < MIN_PASSWORD) return setError({ text: t('onboarding_password_short', MIN_PASSWORD), field: 'password' });
    if (password !== confirm) return setError({ text: t('onboarding_password_differ'), field: 'confirm' });
    setError(null);
    // The secret typed leaves the page's state as soon as it became a wallet.
    setSecret('');
    props.onNext({ mode, password, imported });
  };

  // An edit answers the complaint: it goes until the next Next.
  const edit = (change: () => void) => {
    setError(null);
    change();
  };
  const invalid = (field: 'secret' | 'password' | 'confirm') => (error?.field === field ? true : undefined);
  return (
    <StepFrame
      steps={props.steps}
      current="wallet"
      title={t('onboarding_wallet_title')}
      error={error?.text ?? null}
      busy={props.busy}
      next={mode === 'create' ? t('onboarding_wallet_create_next') : t('onboarding_wallet_import_next')}
      onNext={next}
      onBack={props.onBack}
    >
      <fieldset>
        <legend>{t('onboarding_wallet_legend')}</legend>
        <label>
          <input type="radio" name="mode" checked={mode === 'create'} onChange={() => pick('create')} /> {t('onboarding_wallet_create')}
        </label>
        <label>
          <input type="radio" name="mode" checked={mode === 'import'} onChange={() => pick('import')} /> {t('onboarding_wallet_import')}
        </label>
        {mode === 'import' && (
          <div class="field">
            <label for="secret">{t('onboarding_wallet_secret_label')}</label>
            <textarea
              id="secret"
              rows={3}
              autocomplete="off"
              spellcheck={false}
              aria-describedby="secret-hint"
              aria-invalid={invalid('secret')}
              value={secret}
              onInput={(e) => edit(() => setSecret(e.currentTarget.value))}
            />
            <span id="secret-hint" class="hint">
              {t('onboarding_wallet_secret_hint')}
            </span>
          </div>
        )}
      </fieldset>
      <p class="hint">{t('onboarding_password_intro')}</p>
      <div class="field">
        <label for="password">{t('onboarding_password_label')}</label>
        <input
          id="password"
          type="password"
          autocomplete="new-password"
          aria-describedby="strength-text"
          aria-invalid={invalid('password')}
          value={password}
          onInput={(e) => edit(() => setPassword(e.currentTarget.value))}
        />
      </div>
      <StrengthMeter password={password} />
      <div class="field">
        <label for="confirm">{t('onboarding_password_confirm_label')}</label>
        <input
          id="confirm"
          type="password"
          autocomplete="new-password"
          aria-invalid={invalid('confirm')}
          value={confirm}
          onInput={(e) => edit(() => setConfirm(e.currentTarget.value))}
        />
      </div>
    </StepFrame>
  );
}
