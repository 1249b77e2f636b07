/**
 * Step 1: the hub's address, checked live. A moment after the person stops typing (and once at the
 * start, for the address already there) the page asks that address for `GET /rails`; what it finds
 * is said in a polite live region, and Next goes on only to an address where a hub answered.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Rail } from '../../shared/api.js';
import { t, type MessageKey } from '../common/i18n.js';
import { checkHub, type HubCheck } from './hub-check.js';
import { type StepName, StepFrame } from './Step.js';

const SETTLE_MS = 500;

const PROBLEMS: Record<Extract<HubCheck, { ok: false }>['problem'], MessageKey> = {
  'not-a-url': 'onboarding_hub_not_url',
  unreachable: 'onboarding_hub_unreachable',
  'not-a-hub': 'onboarding_hub_not_hub',
};
// By name, not typed as Record<Rail, …>: a rail added to the hub shows as its name until it has words here.
const RAILS: Partial<Record<string, MessageKey>> = {
  internal: 'onboarding_rail_internal',
  sovr: 'onboarding_rail_sovr',
  lightning: 'onboarding_rail_lightning',
  ilp: 'onboarding_rail_ilp',
};
const railName = (r: Rail) => {
  const key = RAILS[r];
  return key ? t(key) : r;
};

const problemText = (c: Extract<HubCheck, { ok: false }>) => t(PROBLEMS[c.problem], c.url ?? '');
const foundText = (c: Extract<HubCheck, { ok: true }>) => t('onboarding_hub_found', c.rails.map(railName).join(', '));

export function HubStep(props: { steps: readonly StepName[]; initial: string; onNext: (hubUrl: string) => void }) {
  const [typed, setTyped] = useState(props.initial);
  // The check of what is typed now; null while it runs.
  const [check, setCheck] = useState<{ typed: string; result: HubCheck } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [going, setGoing] = useState(false);
  const latest = useRef(typed);

  const run = (value: string) =>
    checkHub(value).then((result) => {
      if (latest.current === value) setCheck({ typed: value, result });
      return result;
    });

  useEffect(() => {
    latest.current = typed;
    setCheck(null);
    const timer = setTimeout(() => void run(typed), SETTLE_MS);
    return () => clearTimeout(timer);
  }, [typed]);

  const next = async () => {
    setError(null);
    setGoing(true);
    const result = check?.typed === typed ? check.result : await run(typed);
    setGoing(false);
    if (result.ok) props.onNext(result.url);
    else setError(problemText(result));
  };

  const current = check?.typed === typed ? check.result : null;
  return (
    <StepFrame
      steps={props.steps}
      current="hub"
      title={t('onboarding_hub_title')}
      error={error}
      busy={going}
      next={t('onboarding_next')}
      onNext={() => void next()}
    >
      <p>{t('onboarding_hub_intro')}</p>
      <div class="field">
        <label for="hub-url">{t('onboarding_hub_label')}</label>
        <input
          id="hub-url"
          type="url"
          inputMode="url"
          autocomplete="url"
          spellcheck={false}
          aria-describedby="hub-hint hub-status"
          aria-invalid={error ? true : undefined}
          value={typed}
          onInput={(e) => {
            setError(null);
            setTyped(e.currentTarget.value);
          }}
        />
        <span id="hub-hint" class="hint">
          {t('onboarding_hub_hint')}
        </span>
      </div>
      <p id="hub-status" role="status" class="hub-status" data-testid="hub-status">
        {current === null ? (
          typed.trim() ? (
            <span class="chip chip-pending">
              <span class="spinner" aria-hidden="true" />
              {t('onboarding_hub_checking')}
            </span>
          ) : null
        ) : current.ok ? (
          <span class="chip chip-ok">{foundText(current)}</span>
        ) : (
          <span class="chip chip-warn">{problemText(current)}</span>
        )}
      </p>
    </StepFrame>
  );
}
