/**
 * Step 4, for a new wallet: the recovery phrase, shown this once, then a check that it was written
 * down — the person retypes three of its words, chosen at random — before the wallet is saved or
 * used. A wrong word is refused and named; Back from the check shows the phrase again (it is still
 * only in this page: nothing was saved yet).
 */
import { useMemo, useRef, useState } from 'preact/hooks';
import { t } from '../common/i18n.js';
import { pickWordPositions, wrongWords } from './recovery-check.js';
import { type StepName, StepFrame } from './Step.js';

export function PhraseStep(props: {
  steps: readonly StepName[];
  phrase: string;
  busy: boolean;
  onBack: () => void;
  onConfirmed: () => void;
}) {
  const words = useMemo(() => props.phrase.split(' '), [props.phrase]);
  const [stage, setStage] = useState<'show' | 'check'>('show');

  return stage === 'show' ? (
    <StepFrame
      key="show"
      steps={props.steps}
      current="phrase"
      title={t('onboarding_phrase_title')}
      error={null}
      busy={props.busy}
      next={t('onboarding_phrase_written')}
      onNext={() => setStage('check')}
      onBack={props.onBack}
    >
      <p>{t('onboarding_phrase_intro', words.length)}</p>
      <ol class="phrase" data-testid="phrase" aria-label={t('onboarding_phrase_list_label')}>
        {words.map((w, i) => (
          <li key={i} data-testid="phrase-word">
            {w}
          </li>
        ))}
      </ol>
      <p class="callout callout-warn">{t('onboarding_phrase_warning')}</p>
    </StepFrame>
  ) : (
    <WordCheck key="check" {...props} words={words} onBack={() => setStage('show')} />
  );
}

function WordCheck(props: { steps: readonly StepName[]; words: string[]; busy: boolean; onBack: () => void; onConfirmed: () => void }) {
  // New positions each time the check is shown: Back and again cannot be answered from memory of the last ask.
  const positions = useMemo(() => pickWordPositions(props.words.length), [props.words]);
  const [answers, setAnswers] = useState<Map<number, string>>(() => new Map(positions.map((p) => [p, ''])));
  const [wrong, setWrong] = useState<number[]>([]);
  const form = useRef<HTMLDivElement>(null);

  const check = () => {
    const bad = wrongWords(props.words, answers);
    setWrong(bad);
    if (!bad.length) return props.onConfirmed();
    form.current?.querySelector<HTMLInputElement>(`#word-${bad[0]}`)?.focus();
  };

  const error = wrong.length
    ? wrong.length === 1
      ? t('onboarding_check_wrong_one', wrong[0]! + 1)
      : t('onboarding_check_wrong_many', wrong.map((p) => p + 1).join(', '))
    : null;
  return (
    <StepFrame
      steps={props.steps}
      current="phrase"
      title={t('onboarding_check_title')}
      error={error}
      busy={props.busy}
      next={t('onboarding_check_next')}
      onNext={check}
      onBack={props.onBack}
    >
      <p>{t('onboarding_check_intro')}</p>
      <div class="words" ref={form}>
        {positions.map((p) => (
          <div class="field" key={p}>
            <label for={`word-${p}`}>{t('onboarding_check_word_label', p + 1)}</label>
            <input
              id={`word-${p}`}
              type="text"
              autocomplete="off"
              autocapitalize="none"
              spellcheck={false}
              aria-invalid={wrong.includes(p) ? true : undefined}
              value={answers.get(p)}
              onInput={(e) => {
                const value = e.currentTarget.value;
                setAnswers((a) => new Map(a).set(p, value));
              }}
            />
          </div>
        ))}
      </div>
    </StepFrame>
  );
}
