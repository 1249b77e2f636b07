/**
 * The approval window's part for an x402 `exact` entry on an EVM network, by the plan's state:
 *
 * - enabled: what the wallet signs: the payee (short, with the whole address to copy), the amount
 *   in the token's units on its network, the validity window as times (live: it is the window sent
 *   back with the approval and signed), and, only when the person gave the network an RPC URL,
 *   their balance of the token (read by the worker; without an RPC URL no one is asked).
 * - disabled: the token is listed but off. "Enable USDC on Base" asks first, here in the window,
 *   saying what it allows; confirmed, the worker switches it on and plans the request again.
 * - unknown: the network or token is not in the list: never paid; settings can add it.
 * - mismatch: the entry's EIP-712 name or version is not the listed token's: refused.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { t } from '../common/i18n.js';
import { Icon } from '../common/icons.js';
import { type EvmExactPlan, NETWORKS_KEY, readNetworks } from '../common/networks.js';
import { send, useStoredValue } from '../common/page.js';
import { evmAmount, evmAmountOn, networkText, shortAddress, tokenOn, tokenUnits } from './evm-text.js';
import { timeText } from './pay-from.js';

const SETTINGS_PAGE = 'extension/onboarding/index.html';

export function EvmEntry({ plan, window }: { plan: EvmExactPlan; window: { validAfter: number; validBefore: number } | null }) {
  switch (plan.state) {
    case 'enabled':
      return window && <Signing plan={plan} window={window} />;
    case 'disabled':
      return <NotEnabled plan={plan} />;
    case 'unknown':
      return (
        <section class="card stack-sm" data-testid="evm-unknown" aria-labelledby="evm-heading">
          <h2 id="evm-heading">{t('evm_unknown_title', networkText(plan, t))}</h2>
          <p>{t('evm_unknown_text', evmAmount(plan, t))}</p>
          <p>
            <a href={chrome.runtime.getURL(SETTINGS_PAGE)} target="_blank" rel="noreferrer" data-testid="evm-settings">
              {t('evm_open_settings')}
            </a>
          </p>
        </section>
      );
    case 'mismatch':
      return (
        <section class="card stack-sm" data-testid="evm-mismatch" aria-labelledby="evm-heading">
          <h2 id="evm-heading">{t('evm_mismatch_title', tokenOn(plan, t))}</h2>
          <p>{t('evm_mismatch_text')}</p>
        </section>
      );
  }
}

function Signing({ plan, window }: { plan: EvmExactPlan; window: { validAfter: number; validBefore: number } }) {
  const networks = readNetworks(useStoredValue(NETWORKS_KEY));
  const rpcUrl = networks.find((n) => n.chainId === plan.chainId)?.rpcUrl;
  return (
    <section class="card" aria-labelledby="evm-heading" data-testid="evm-signing">
      <h2 id="evm-heading">{t('sign_heading')}</h2>
      <dl class="small">
        <dt>{t('sign_amount')}</dt>
        <dd data-testid="evm-amount">{evmAmountOn(plan, t)}</dd>
        <dt>{t('sign_to')}</dt>
        <dd class="cluster" data-testid="evm-payee">
          <span class="mono" title={plan.payTo}>
            {shortAddress(plan.payTo)}
          </span>
          <CopyAddress value={plan.payTo} />
        </dd>
        <dt>{t('approve_network')}</dt>
        <dd data-testid="evm-network">{t('evm_network_value', networkText(plan, t), plan.chainId)}</dd>
        <dt>{t('sign_valid')}</dt>
        <dd data-testid="evm-valid">{t('sign_valid_value', timeText(window.validAfter, t), timeText(window.validBefore, t))}</dd>
        {rpcUrl && (
          <>
            <dt>{t('evm_balance')}</dt>
            <dd data-testid="evm-balance">
              <Balance plan={plan} rpcUrl={rpcUrl} />
            </dd>
          </>
        )}
      </dl>
      <p class="hint">{t('evm_sign_note')}</p>
    </section>
  );
}

/** The wallet's balance of the token, asked once per RPC URL; the worker makes the call. */
function Balance({ plan, rpcUrl }: { plan: EvmExactPlan; rpcUrl: string }) {
  const [shown, setShown] = useState<{ text: string; short: boolean } | null>(null);
  useEffect(() => {
    let live = true;
    setShown(null);
    void send({ type: 'evm.balance', chainId: plan.chainId, token: plan.token.address }).then((reply) => {
      if (!live) return;
      if (!reply.ok || reply.balance === undefined || plan.token.decimals === undefined) {
        setShown({ text: t('evm_balance_unknown', reply.ok ? '' : reply.error), short: false });
        return;
      }
      const units = tokenUnits(reply.balance, plan.token.decimals);
      setShown({ text: `${units ?? reply.balance} ${plan.token.symbol ?? ''}`.trim(), short: BigInt(reply.balance) < BigInt(plan.amount) });
    });
    return () => {
      live = false;
    };
  }, [plan.chainId, plan.token.address, rpcUrl]);
  if (!shown) return <span class="muted">{t('common_loading')}</span>;
  return shown.short ? <span class="warning">{t('evm_balance_short', shown.text)}</span> : <span>{shown.text}</span>;
}

function CopyAddress({ value }: { value: string }) {
  const [done, setDone] = useState(false);
  const label = t('common_copy_what', t('evm_payee_address'));
  return (
    <button
      type="button"
      class="btn-ghost btn-icon"
      aria-label={label}
      title={done ? t('common_copied') : label}
      data-testid="evm-copy-payee"
      onClick={() =>
        void navigator.clipboard.writeText(value).then(() => {
          setDone(true);
          setTimeout(() => setDone(false), 1500);
        })
      }
    >
      <Icon name={done ? 'check' : 'copy'} />
    </button>
  );
}

/** "Enable USDC on Base", asked first: what it allows, then a second, explicit yes. */
function NotEnabled({ plan }: { plan: EvmExactPlan }) {
  const [asking, setAsking] = useState(false);
  const [state, setState] = useState<{ busy: boolean; error: string | null }>({ busy: false, error: null });
  const question = useRef<HTMLParagraphElement>(null);
  const enableButton = useRef<HTMLButtonElement>(null);
  // The focus follows the step: to the question when it opens, back to Enable when it is cancelled.
  const opened = useRef(false);
  useEffect(() => {
    if (asking) question.current?.focus();
    else if (opened.current) enableButton.current?.focus();
    opened.current = asking;
  }, [asking]);
  const what = tokenOn(plan, t);
  const enable = async () => {
    setState({ busy: true, error: null });
    const reply = await send({ type: 'networks.enable', chainId: plan.chainId, token: plan.token.address });
    // On success the worker plans the request again and this part gives way to the signing one.
    setState({ busy: false, error: reply.ok ? null : reply.error });
    if (reply.ok) setAsking(false);
  };
  return (
    <section class="card stack-sm" data-testid="evm-disabled" aria-labelledby="evm-heading">
      <h2 id="evm-heading">{t('evm_disabled_title', what)}</h2>
      <p>{t('evm_disabled_text', evmAmountOn(plan, t))}</p>
      {asking ? (
        <fieldset
          class="callout callout-info stack-sm"
          data-testid="evm-confirm"
          aria-labelledby="evm-enable-question"
          // Escape here takes back the question; everywhere else in the window it rejects the request.
          onKeyDown={(e) => {
            if (e.key !== 'Escape') return;
            e.preventDefault();
            e.stopPropagation();
            setAsking(false);
          }}
        >
          <p id="evm-enable-question" ref={question} tabIndex={-1}>
            {t('evm_enable_question', what)}
          </p>
          <div class="cluster">
            <button type="button" class="primary" disabled={state.busy} onClick={() => void enable()}>
              {t('evm_enable_confirm', what)}
            </button>
            <button type="button" disabled={state.busy} onClick={() => setAsking(false)}>
              {t('networks_cancel')}
            </button>
          </div>
        </fieldset>
      ) : (
        <div>
          <button type="button" data-testid="evm-enable" ref={enableButton} onClick={() => setAsking(true)}>
            {t('evm_enable', what)}
          </button>
        </div>
      )}
      {state.error && (
        <p class="callout callout-danger" role="alert">
          {state.error}
        </p>
      )}
    </section>
  );
}
