/**
 * Step 2: which sites Tollway may work on. Next asks Chrome for that host access inside the click
 * (Chrome shows its prompt only during a user gesture). Refused, the step says what that means and
 * offers to go on without it; access can be given later in the settings.
 */
import { useState } from 'preact/hooks';
import { ALL_SITES } from '../background/host-access.js';
import { t } from '../common/i18n.js';
import { requestSites, sitePatterns } from './SiteAccess.js';
import { type StepName, StepFrame } from './Step.js';

export interface AccessChoice {
  mode: 'all' | 'chosen';
  sites: string;
}

/** The match patterns typed, or the first entry that is not a site. */
function patternsOf(choice: AccessChoice): { patterns: string[] } | { bad: string } {
  if (choice.mode === 'all') return { patterns: [ALL_SITES] };
  const patterns: string[] = [];
  for (const entry of choice.sites.split(/[\s,]+/).filter(Boolean)) {
    try {
      patterns.push(...sitePatterns(entry));
    } catch {
      return { bad: entry };
    }
  }
  return { patterns: [...new Set(patterns)] };
}

export function AccessStep(props: {
  steps: readonly StepName[];
  initial: AccessChoice;
  onBack: (choice: AccessChoice) => void;
  onNext: (choice: AccessChoice) => void;
}) {
  const [choice, setChoice] = useState(props.initial);
  const [error, setError] = useState<string | null>(null);
  const [refused, setRefused] = useState(false);
  const [asking, setAsking] = useState(false);

  const next = () => {
    const parsed = patternsOf(choice);
    if ('bad' in parsed) return setError(t('onboarding_access_bad_site', parsed.bad));
    if (!parsed.patterns.length) return setError(t('onboarding_access_none'));
    setError(null);
    setAsking(true);
    // Called before anything is awaited: the click's gesture is what lets Chrome ask.
    void requestSites(parsed.patterns)
      .catch(() => false)
      .then((granted) => {
        setAsking(false);
        if (granted) return props.onNext(choice);
        setRefused(true);
        setError(t('onboarding_access_refused'));
      });
  };

  const pick = (mode: AccessChoice['mode']) => {
    setError(null);
    setChoice({ ...choice, mode });
  };

  return (
    <StepFrame
      steps={props.steps}
      current="access"
      title={t('onboarding_access_title')}
      error={error}
      busy={asking}
      next={refused ? t('onboarding_access_try_again') : t('onboarding_next')}
      onNext={next}
      onBack={() => props.onBack(choice)}
      extra={
        refused ? (
          <button type="button" onClick={() => props.onNext(choice)}>
            {t('onboarding_access_skip')}
          </button>
        ) : null
      }
    >
      <p>{t('onboarding_access_intro')}</p>
      <fieldset>
        <legend>{t('onboarding_access_legend')}</legend>
        <label>
          <input type="radio" name="sites" checked={choice.mode === 'all'} onChange={() => pick('all')} /> {t('onboarding_access_all')}
        </label>
        <label>
          <input type="radio" name="sites" checked={choice.mode === 'chosen'} onChange={() => pick('chosen')} />{' '}
          {t('onboarding_access_chosen')}
        </label>
        {choice.mode === 'chosen' && (
          <div class="field">
            <label for="sites">{t('onboarding_access_sites_label')}</label>
            <textarea
              id="sites"
              rows={3}
              spellcheck={false}
              placeholder="https://shop.example"
              aria-describedby="sites-hint"
              aria-invalid={error && !refused ? true : undefined}
              value={choice.sites}
              onInput={(e) => {
                setError(null);
                setChoice({ ...choice, sites: e.currentTarget.value });
              }}
            />
            <span id="sites-hint" class="hint">
              {t('onboarding_access_sites_hint')}
            </span>
          </div>
        )}
      </fieldset>
      <p class="hint">{t('onboarding_access_note')}</p>
    </StepFrame>
  );
}
