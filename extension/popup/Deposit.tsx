/**
 * "Move SOVR from my wallet": the amount typed in SOVR, a confirm step showing exactly what the
 * worker will sign (from the wallet, to the hub's treasury, the amount, the validity window), then
 * the deposits with their status as the worker follows them. The popup signs nothing (no ethers
 * here): it sends the amount and the window shown, and the worker signs exactly those.
 */
import { useState } from 'preact/hooks';
import { authorizationWindow, clampValidity } from '../../shared/eip3009.js';
import { timeText } from '../approve/pay-from.js';
import { DEPOSITS_KEY, parseSovrAmount, readDeposits, type SovrRail } from '../common/deposit.js';
import { localAmountText } from '../common/format.js';
import { t } from '../common/i18n.js';
import { send, useStoredValue } from '../common/page.js';

/** What the popup asks the worker to sign: within the hub's bounds, ten minutes ahead when they allow it. */
const VALIDITY_SECONDS = 600;

interface Review {
  amount: bigint;
  window: { validAfter: number; validBefore: number };
}

export function Deposit({ rail, wallet, hubUrl, onBack }: { rail: SovrRail; wallet: string; hubUrl: string; onBack: () => void }) {
  const [text, setText] = useState('');
  const [review, setReview] = useState<Review | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const toReview = (e: Event) => {
    e.preventDefault();
    const parsed = parseSovrAmount(text, t);
    if (!parsed.ok) return setProblem(parsed.error);
    setProblem(null);
    const validity = clampValidity(VALIDITY_SECONDS, rail);
    setReview({ amount: parsed.value, window: authorizationWindow(Date.now() / 1000, validity) });
  };
  const confirm = async () => {
    if (!review) return;
    setBusy(true);
    const r = await send({ type: 'deposit.create', amount: review.amount.toString(), window: review.window });
    setBusy(false);
    setReview(null);
    if (!r.ok) return setProblem(r.error);
    setText('');
  };

  return (
    <main>
      <h1>{t('popup_move_sovr')}</h1>
      <p class="muted small">{t('deposit_intro', hubUrl)}</p>
      {review ? (
        <section aria-label={t('deposit_review_label')} data-testid="deposit-review">
          <dl>
            <dt>{t('sign_amount')}</dt>
            <dd data-testid="sign-amount">{localAmountText(review.amount.toString(), 'SOVR', t)}</dd>
            <dt>{t('sign_from')}</dt>
            <dd data-testid="sign-from">{t('sign_from_value', wallet)}</dd>
            <dt>{t('sign_to')}</dt>
            <dd data-testid="sign-to">{t('sign_to_treasury', rail.treasury ?? '')}</dd>
            <dt>{t('sign_valid')}</dt>
            <dd data-testid="sign-valid">
              {t('sign_valid_value', timeText(review.window.validAfter, t), timeText(review.window.validBefore, t))}
            </dd>
            <dt>{t('sign_token')}</dt>
            <dd data-testid="sign-token">{t('sign_token_value', rail.eip712.name, rail.eip712.version, rail.token ?? '', rail.chainId)}</dd>
          </dl>
          <div class="actions">
            <button type="button" class="primary" disabled={busy} onClick={() => void confirm()}>
              {t('deposit_sign')}
            </button>
            <button type="button" disabled={busy} onClick={() => setReview(null)}>
              {t('common_cancel')}
            </button>
          </div>
        </section>
      ) : (
        <form onSubmit={toReview} aria-label={t('deposit_form_label')}>
          <label>
            {t('deposit_amount')}
            <input type="text" inputMode="decimal" placeholder="2" value={text} onInput={(e) => setText(e.currentTarget.value)} />
          </label>
          <div class="actions">
            <button class="primary" type="submit">
              {t('deposit_review')}
            </button>
            <button type="button" onClick={onBack}>
              {t('common_back')}
            </button>
          </div>
        </form>
      )}
      {problem && (
        <p class="callout callout-danger" role="alert" data-testid="deposit-problem">
          {problem}
        </p>
      )}
      <DepositList hubUrl={hubUrl} />
    </main>
  );
}

/** The deposits made through this hub, newest first, with their status and, when failed, why. */
export function DepositList({ hubUrl, limit = 5 }: { hubUrl: string; limit?: number }) {
  const list = readDeposits(useStoredValue(DEPOSITS_KEY))
    .filter((d) => d.hubUrl === hubUrl)
    .slice(0, limit);
  if (!list.length) return null;
  return (
    <section aria-labelledby="deposits-heading">
      <h2 id="deposits-heading">{t('deposit_list')}</h2>
      <table>
        <tbody>
          {list.map((d) => (
            <tr key={d.id} data-testid="deposit" data-id={d.deposit?.depositId ?? ''}>
              <td>{localAmountText(d.body.amount, 'SOVR', t)}</td>
              <td class={d.status === 'failed' ? 'failed' : undefined} data-testid="deposit-status">
                {d.status === 'sending' ? t('deposit_sending') : t(`status_${d.status}`)}
                {d.error ? `: ${d.error}` : ''}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
