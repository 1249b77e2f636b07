/**
 * One onboarding step: where the person is ("Step 2 of 4" and the row of steps), the step's
 * heading — which takes the focus when the step appears, so a screen reader announces it and Tab
 * starts from the top of the step — its fields as one form (Enter goes on), Back, and a live
 * region that announces what is wrong.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { t, type MessageKey } from '../common/i18n.js';

export type StepName = 'hub' | 'access' | 'wallet' | 'phrase';

const TITLES: Record<StepName, MessageKey> = {
  hub: 'onboarding_progress_hub',
  access: 'onboarding_progress_access',
  wallet: 'onboarding_progress_wallet',
  phrase: 'onboarding_progress_phrase',
};

export function StepFrame(props: {
  steps: readonly StepName[];
  current: StepName;
  title: string;
  /** What is wrong, announced at once (role=alert) and shown under the fields. */
  error: string | null;
  busy: boolean;
  next: string;
  onNext: () => void;
  onBack?: () => void;
  /** Another way on (e.g. go on without site access), shown beside Next. */
  extra?: ComponentChildren;
  children: ComponentChildren;
}) {
  const heading = useRef<HTMLHeadingElement>(null);
  const at = props.steps.indexOf(props.current);
  useEffect(() => heading.current?.focus(), []);

  return (
    <form
      class="card stack step"
      aria-labelledby="step-title"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        if (!props.busy) props.onNext();
      }}
    >
      <ol class="progress" aria-label={t('onboarding_progress_label')}>
        {props.steps.map((s, i) => (
          <li key={s} class={i < at ? 'done' : i === at ? 'current' : ''} aria-current={i === at ? 'step' : undefined}>
            <span class="sr-only">{i < at ? t('onboarding_progress_done') : ''}</span>
            {t(TITLES[s])}
          </li>
        ))}
      </ol>
      <h2 id="step-title" ref={heading} tabIndex={-1}>
        <span class="step-count" data-testid="progress">
          {t('onboarding_step_of', at + 1, props.steps.length)}
        </span>{' '}
        <span class="step-title">{props.title}</span>
      </h2>
      {props.children}
      <div role="alert" class="step-error" data-testid="step-error">
        {props.error ? <p class="callout callout-danger">{props.error}</p> : null}
      </div>
      <div class="actions">
        {props.onBack && (
          <button type="button" onClick={props.onBack} disabled={props.busy}>
            {t('common_back')}
          </button>
        )}
        {props.extra}
        <button class="primary" type="submit" disabled={props.busy}>
          {props.next}
        </button>
      </div>
    </form>
  );
}
