/**
 * The approval window: one pending request at a time ("1 of N", previous and next), with approve,
 * reject and reject all. It renders what the worker stored; its buttons only ask the worker to act.
 * What a person needs to decide comes first — the site the tab shows (from the browser), who is
 * paid, the amount, what it is for, where the money comes from — and the technical details sit
 * behind a disclosure. Every string the merchant or the page chose goes through displayText.
 * Paying SOVR on chain, it shows what the worker will sign (payee, amount, the validity window as
 * times) and sends that window back with the approval, so what is signed is what was shown. No
 * ethers here: signing is the worker's. Enter approves and Escape rejects, from anywhere that is
 * not a control with its own use for the key.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { formatUnits } from '../../shared/amount.js';
import type { AllowancePeriod } from '../../shared/api.js';
import { authorizationWindow } from '../../shared/eip3009.js';
import { expiryOf, pendingOf } from '../background/queue.js';
import { decimalsOf, findBudget, parseUnits } from '../common/budget.js';
import { balanceAfter, budgetText, countdown, describeRequest, localAmount, localAmountText, resetsText } from '../common/format.js';
import { t } from '../common/i18n.js';
import { Icon } from '../common/icons.js';
import { send, useStoredValue } from '../common/page.js';
import { AccountView, BudgetsView, KEYS, type ApprovalRequest, type OnChainPlan, type PayFrom } from '../common/state.js';
import { readRequestList } from '../common/storage.js';
import { displayText } from '../common/text.js';
import { EvmEntry } from './EvmEntry.js';
import type { FirstRead } from './first-read.js';
import { SHOWN_MARK } from './marks.js';
import { evmAmountOn } from './evm-text.js';
import { defaultPayFrom, timeText } from './pay-from.js';
import { payeeText } from './payee-text.js';

function useNow(ms: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}

function originOf(url: string): string | null {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

function faviconUrl(site: string): string {
  // Chrome's own favicon cache: no request leaves the browser.
  return `/_favicon/?pageUrl=${encodeURIComponent(site)}&size=32`;
}

/** A translated sentence with an element where its `$1` goes (the element keeps its test id and style). */
const SLOT = '\ue000';
function slotted(text: string, node: ComponentChildren): ComponentChildren {
  const [before, after] = text.split(SLOT);
  return (
    <>
      {before}
      {node}
      {after}
    </>
  );
}

/** Keys a focused control handles itself: Enter there must not also approve. */
function ownsEnter(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target instanceof HTMLInputElement) return target.type !== 'checkbox' && target.type !== 'radio';
  return ['BUTTON', 'A', 'SELECT', 'TEXTAREA', 'SUMMARY'].includes(target.tagName);
}

export function ApprovalQueue({ first }: { first?: FirstRead } = {}) {
  const stored = useStoredValue(KEYS.approvals, 'local', first && { value: first.approvals });
  // Validated once per stored value, not on every render (the countdown renders every second).
  const requests = useMemo(() => (stored === undefined ? [] : readRequestList(stored).requests), [stored]);
  const pending = pendingOf(requests);
  const paying = requests.filter((r) => r.status === 'paying');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [budget, setBudget] = useState<BudgetChoice>({ on: false, amount: '', period: 'day' });
  // The request shown: the one picked with previous/next while it waits, else the oldest.
  const [pickedId, setPickedId] = useState<string | null>(null);
  const index = Math.max(
    0,
    pending.findIndex((r) => r.id === pickedId),
  );
  const current = pending[index];
  // A fresh choice for every request shown: ten times its price per day, unticked.
  useEffect(() => {
    setBudget({
      on: false,
      amount: current?.payment
        ? suggestedBudget(current.payment.amount, current.evm?.token.decimals ?? decimalsOf(current.payment.asset))
        : '',
      period: 'day',
    });
    setError(null);
  }, [current?.id]);
  // Preact runs effects after the frame is painted: this is when the person can first see what
  // they are asked. The benchmark (bench/extension.ts) times the window by it.
  const shown = current !== undefined;
  useEffect(() => {
    if (shown && performance.getEntriesByName(SHOWN_MARK).length === 0) performance.mark(SHOWN_MARK);
  }, [shown]);
  const view = AccountView.safeParse(useStoredValue(KEYS.account, 'session', first && { value: first.account }));
  const balances = view.success ? view.data.balances : null;
  // "Pay from": the default follows the balances as they load, until the person picks one.
  const [payFrom, setPayFrom] = useState<{ id: string | null; from: PayFrom; picked: boolean }>({ id: null, from: 'hub', picked: false });
  const from = current && payFrom.id === current.id && payFrom.picked ? payFrom.from : current ? defaultPayFrom(current, balances) : 'hub';
  const now = useNow(1000);
  const plan = current?.onChain && from === 'wallet' ? current.onChain : null;
  // The window shown is the window signed: it is sent back with the approval.
  const signWindow = plan ? authorizationWindow(Math.floor(now / 1000), plan.validitySeconds) : null;
  // An `exact` entry on another EVM network: paid only once the person's list has it enabled.
  const evm = current?.evm;
  const evmWindow = evm?.state === 'enabled' ? authorizationWindow(Math.floor(now / 1000), evm.validitySeconds) : null;
  const payable = Boolean(current?.payment) && (!evm || evm.state === 'enabled');

  const act = async (message: Parameters<typeof send>[0]) => {
    setBusy(true);
    const reply = await send(message);
    setBusy(false);
    setError(reply.ok ? null : reply.error);
  };
  const approve = () => {
    if (!current?.payment || busy || !payable) return;
    const how =
      current.onChain || current.ilp
        ? { payFrom: from, ...(signWindow ? { window: signWindow } : {}) }
        : evmWindow
          ? { window: evmWindow }
          : {};
    // From the Interledger wallet the budget is a grant on that wallet: no hub payee needed.
    if (!budget.on || (from !== 'ilp' && (current.payment.rail === 'sovr' || !current.payee)))
      return void act({ type: 'approval.decide', id: current.id, approve: true, ...how });
    const base = parseUnits(budget.amount, current.evm?.token.decimals ?? decimalsOf(current.payment.asset) ?? 0);
    if (base === null || base <= 0n) return setError(t('approve_budget_invalid'));
    void act({
      type: 'approval.decide',
      id: current.id,
      approve: true,
      budget: { amount: base.toString(), period: budget.period },
      ...how,
    });
  };
  const reject = () => current && !busy && void act({ type: 'approval.decide', id: current.id, approve: false });

  // The key handler reads the latest approve/reject (they close over this render's state).
  const keys = useRef({ approve, reject });
  keys.current = { approve, reject };
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        keys.current.reject();
      } else if (e.key === 'Enter' && !e.isComposing && !ownsEnter(e.target)) {
        e.preventDefault();
        keys.current.approve();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  if (!current) {
    return (
      <main class="approve">
        <p role="status" class="cluster muted">
          {paying.length ? (
            <>
              <span class="spinner" aria-hidden="true" /> {t('approve_paying')}
            </>
          ) : (
            t('approve_nothing')
          )}
        </p>
      </main>
    );
  }
  const expiresAt = expiryOf(current);
  return (
    <main class="approve stack">
      <header class="spread">
        <div class="cluster">
          {pending.length > 1 && (
            <button
              type="button"
              class="btn-ghost btn-icon"
              aria-label={t('approve_previous')}
              disabled={index === 0}
              onClick={() => setPickedId(pending[index - 1]!.id)}
            >
              <Icon name="back" />
            </button>
          )}
          <p class="position" data-testid="position" aria-live="polite">
            {t('approve_position', index + 1, pending.length)}
          </p>
          {pending.length > 1 && (
            <button
              type="button"
              class="btn-ghost btn-icon"
              aria-label={t('approve_next')}
              disabled={index === pending.length - 1}
              onClick={() => setPickedId(pending[index + 1]!.id)}
            >
              <Icon name="next" />
            </button>
          )}
        </div>
        <span class={`chip ${expiresAt - now < 60_000 ? 'chip-warn' : ''}`} role="timer" data-testid="expires">
          {expiresAt > now ? t('approve_expires_in', countdown(expiresAt, now)) : t('approve_expired')}
        </span>
      </header>
      <Request request={current} now={now} from={from} balances={balances} />
      {choosesFrom(current) && (
        <PayFromChoice
          request={current}
          from={from}
          balances={balances}
          onChange={(f) => setPayFrom({ id: current.id, from: f, picked: true })}
        />
      )}
      {plan && signWindow && <WhatIsSigned request={current} plan={plan} window={signWindow} />}
      {evm && <EvmEntry plan={evm} window={evmWindow} />}
      {payable && current.payment && (from === 'ilp' || (current.payment.rail !== 'sovr' && current.payee)) && (
        <BudgetOption request={current} value={budget} onChange={setBudget} ilp={from === 'ilp'} />
      )}
      <Details request={current} from={from} />
      {error && (
        <p class="callout callout-danger" role="alert">
          {error}
        </p>
      )}
      <div class="actions">
        <button type="button" class="primary" disabled={busy || !payable} onClick={approve}>
          {t('approve_approve')}
        </button>
        <button type="button" disabled={busy} onClick={reject}>
          {t('approve_reject')}
        </button>
        {pending.length > 1 && (
          <button type="button" class="btn-danger" disabled={busy} onClick={() => act({ type: 'approval.rejectAll' })}>
            {t('approve_reject_all', pending.length)}
          </button>
        )}
      </div>
      <p class="tiny muted" aria-hidden="true">
        {t('approve_keys')}
      </p>
    </main>
  );
}

interface BudgetChoice {
  on: boolean;
  amount: string;
  period: AllowancePeriod;
}

function suggestedBudget(amount: string, decimals: number | null | undefined): string {
  return decimals === null || decimals === undefined || !/^[0-9]{1,70}$/.test(amount) ? '' : formatUnits(BigInt(amount) * 10n, decimals);
}

/** The site, who is paid, the amount, what for, and where it is paid from: what the decision rests on. */
function Request({
  request,
  now,
  from,
  balances,
}: {
  request: ApprovalRequest;
  now: number;
  from: PayFrom;
  balances: AccountView['balances'] | null;
}) {
  const d = describeRequest(request, t);
  const budgets = BudgetsView.safeParse(useStoredValue(KEYS.budgets, 'session'));
  const budget =
    request.payment && budgets.success ? findBudget(budgets.data.data, request.site, request.payee, request.payment.asset) : undefined;
  // The tab's origin as the browser told the worker; a request stored before it was kept, or a tab
  // the browser would not describe, falls back to the asking frame's origin (also the browser's).
  const page = request.tabOrigin ?? request.site;
  const money = request.payment ?? request.challenge.x402?.accepts[0];
  const big = money && request.payment?.rail !== 'lightning' ? localAmount(money.amount, money.asset) : null;
  const description = request.challenge.x402?.resource?.description ?? request.challenge.payment?.params.description;
  return (
    <section class="card stack" aria-labelledby="site">
      <div class="cluster">
        <img src={faviconUrl(page)} alt="" width={24} height={24} />
        <div class="grow">
          <h1 id="site" class="break" data-testid="site">
            {displayText(page, 200)}
          </h1>
          <p class="muted small">
            {t('approve_asks')} <strong data-testid="payee">{payeeText(request, t)}</strong>
          </p>
        </div>
      </div>
      {page !== request.site && (
        <p class="callout callout-warn small">
          {t('approve_asked_by')}: <span data-testid="asked-by">{t('approve_asked_by_frame', displayText(request.site, 200))}</span>
        </p>
      )}
      {request.evm ? (
        <p class={evmAmountOn(request.evm, t).length > 14 ? 'amount-lg' : 'amount-xl'} data-testid="amount">
          {evmAmountOn(request.evm, t)}
        </p>
      ) : (
        d.amount && (
          <p class={(big?.value ?? d.amount).length > 14 ? 'amount-lg' : 'amount-xl'} data-testid="amount">
            {big ? (
              <>
                {big.value} <span class="muted">{big.unit}</span>
              </>
            ) : (
              d.amount
            )}
          </p>
        )
      )}
      {description && (
        <p>
          <span class="sr-only">{t('approve_what')}: </span>
          <span data-testid="description">{displayText(description, 300)}</span>
        </p>
      )}
      <p class="small muted break">
        {t('approve_for')}{' '}
        <span data-testid="resource">
          {displayText(request.method, 16)} {displayText(request.url, 300)}
        </span>
        {originOf(request.url) !== page && <span data-testid="resource-elsewhere"> {t('approve_resource_elsewhere')}</span>}
      </p>
      {!choosesFrom(request) && !request.evm && <PayFromLine request={request} from={from} balances={balances} />}
      {budget && (
        <p class="small">
          {t('approve_budget_remaining')}:{' '}
          <span data-testid="budget-remaining">
            {budgetText(budget, now, t)} ({resetsText(budget, now, t)})
          </span>
        </p>
      )}
      {request.note && (
        <p class="callout callout-warn" data-testid="note">
          {displayText(request.note, 500)}
        </p>
      )}
      {request.unpayable && !(request.evm && request.evm.state !== 'enabled') && (
        <p class="callout callout-warn" data-testid="unpayable">
          {t('approve_cannot_pay', displayText(request.unpayable, 300))}
        </p>
      )}
      {request.challenge.problems.length > 0 && (
        <p class="callout callout-warn small">
          {t('approve_unreadable', displayText(request.challenge.problems.map((p) => p.message).join('; '), 300))}
        </p>
      )}
    </section>
  );
}

/** "Pay from" when there is one way: the Tollway balance (and what is left after), or the wallet on chain. */
function PayFromLine({ request, from, balances }: { request: ApprovalRequest; from: PayFrom; balances: AccountView['balances'] | null }) {
  if (!request.payment) return null;
  if (request.payment.rail === 'sovr' || from === 'wallet')
    return (
      <p>
        <strong>{t('approve_pay_from')}:</strong> {t('approve_from_wallet_only', request.onChain?.from ?? '')}
      </p>
    );
  const after = balances ? balanceAfter(balances, request.payment, t) : null;
  const amount = after && (
    <span data-testid="balance-after" class={after.short ? 'warning' : undefined}>
      {after.text}
    </span>
  );
  return (
    <p class={after?.short ? 'callout callout-warn' : undefined}>
      <strong>{t('approve_pay_from')}:</strong>{' '}
      {after ? slotted(t(after.short ? 'approve_from_hub_short' : 'approve_from_hub_after', SLOT), amount) : t('approve_from_hub')}
    </p>
  );
}

/** Scheme, network, rail and challenge id: there for whoever wants them, folded away by default. */
function Details({ request, from }: { request: ApprovalRequest; from: PayFrom }) {
  const d = describeRequest(request, t);
  const option = request.payment?.requirement ?? request.challenge.x402?.accepts[0];
  const challengeId = option?.extra?.challengeId ?? request.challenge.payment?.params.id;
  const lightning = request.payment?.rail === 'lightning' || (!option && d.rail);
  const row = (name: string, value: ComponentChildren, testId?: string) => (
    <>
      <dt>{name}</dt>
      <dd data-testid={testId}>{value}</dd>
    </>
  );
  return (
    <details data-testid="details">
      <summary>{t('approve_details')}</summary>
      <dl class="small">
        {option && !lightning
          ? [row(t('approve_scheme'), displayText(option.scheme, 64)), row(t('approve_network'), displayText(option.network, 200))]
          : d.scheme && row(t('approve_scheme'), displayText(d.scheme, 300))}
        {d.rail &&
          row(
            t('approve_rail'),
            from === 'wallet' && request.onChain ? t('rail_sovr_wallet') : from === 'ilp' && request.ilp ? t('rail_ilp_wallet') : d.rail,
            'rail',
          )}
        {typeof challengeId === 'string' && row(t('approve_challenge_id'), <code>{displayText(challengeId, 200)}</code>)}
      </dl>
    </details>
  );
}

/**
 * "Pay automatically on this site up to … per …", saved at the hub together with the approval, for
 * this payee only: the same site asking to pay anyone else is asked about again.
 */
function BudgetOption({
  request,
  value,
  onChange,
  ilp,
}: {
  request: ApprovalRequest;
  value: BudgetChoice;
  onChange: (v: BudgetChoice) => void;
  /** Paid from the Interledger wallet: the budget is a grant approved on the wallet's own page. */
  ilp: boolean;
}) {
  // A token on another network is named by its listed symbol, not its CAIP-19 id.
  const asset = request.evm?.token.symbol ?? request.payment!.asset;
  return (
    <fieldset class="budget">
      <legend>{t('approve_budget_legend')}</legend>
      <label class="inline">
        <input
          type="checkbox"
          data-testid="budget-on"
          checked={value.on}
          onChange={(e) => onChange({ ...value, on: e.currentTarget.checked })}
        />{' '}
        {t('approve_budget_check')}
      </label>
      <span class="row">
        <input
          type="text"
          inputMode="decimal"
          aria-label={t('approve_budget_amount', asset)}
          data-testid="budget-amount"
          value={value.amount}
          disabled={!value.on}
          onInput={(e) => onChange({ ...value, amount: e.currentTarget.value })}
        />{' '}
        {asset} {t('approve_budget_per')}{' '}
        <select
          aria-label={t('approve_budget_period')}
          data-testid="budget-period"
          value={value.period}
          disabled={!value.on}
          onChange={(e) => onChange({ ...value, period: e.currentTarget.value as AllowancePeriod })}
        >
          <option value="day">{t('period_day')}</option>
          <option value="week">{t('period_week')}</option>
          <option value="month">{t('period_month')}</option>
        </select>
      </span>
      <p class="hint" data-testid="budget-payee">
        {ilp && request.ilp
          ? t('approve_budget_explain_ilp', displayText(request.ilp.walletAddress, 200), t(`period_${value.period}`))
          : t('approve_budget_explain', displayText(request.site, 120), payeeText(request, t), t(`period_${value.period}`))}
      </p>
    </fieldset>
  );
}

/** More than one place to pay from: the window asks which. */
const choosesFrom = (r: ApprovalRequest) => Boolean((r.onChain && r.payment?.rail !== 'sovr') || r.ilp);

/**
 * Hub balance or own wallet, for a hub merchant's SOVR entry on a hub with the sovr rail, and/or
 * the person's Interledger wallet, for an entry naming the ilp rail.
 */
function PayFromChoice({
  request,
  from,
  balances,
  onChange,
}: {
  request: ApprovalRequest;
  from: PayFrom;
  balances: AccountView['balances'] | null;
  onChange: (f: PayFrom) => void;
}) {
  const payment = request.payment!;
  const after = balances ? balanceAfter(balances, payment, t) : null;
  const hub = balances?.find((b) => b.asset === payment.asset);
  const hubText = after
    ? slotted(
        t(after.short ? 'approve_from_hub_short' : 'approve_from_hub_after', SLOT),
        <span data-testid="balance-after">{after.text}</span>,
      )
    : hub
      ? `${t('approve_from_hub')} (${t('approve_from_hub_available', localAmountText(hub.available, hub.asset, t))})`
      : `${t('approve_from_hub')} (${balances ? t('approve_from_hub_none', payment.asset) : t('common_loading')})`;
  return (
    <fieldset class="pay-from" data-testid="pay-from">
      <legend>{t('approve_pay_from')}</legend>
      <FromChoice value="hub" from={from} onChange={onChange}>
        {hubText}
      </FromChoice>
      {request.onChain && (
        <FromChoice value="wallet" from={from} onChange={onChange}>
          {t('approve_from_wallet')} <span class="muted small mono">{request.onChain.from}</span>
        </FromChoice>
      )}
      {request.ilp && (
        <FromChoice value="ilp" from={from} onChange={onChange}>
          {t('approve_from_ilp', displayText(request.ilp.walletAddress, 200))}
        </FromChoice>
      )}
    </fieldset>
  );
}

function FromChoice({
  value,
  from,
  onChange,
  children,
}: {
  value: PayFrom;
  from: PayFrom;
  onChange: (f: PayFrom) => void;
  children: ComponentChildren;
}) {
  return (
    <label>
      <input
        type="radio"
        name="pay-from"
        value={value}
        data-testid={`pay-from-${value}`}
        checked={from === value}
        onChange={() => onChange(value)}
      />{' '}
      {children}
    </label>
  );
}

/** Exactly what the worker signs (EIP-3009 TransferWithAuthorization), in words and times. */
function WhatIsSigned({
  request,
  plan,
  window,
}: {
  request: ApprovalRequest;
  plan: OnChainPlan;
  window: { validAfter: number; validBefore: number };
}) {
  return (
    <section class="card" aria-labelledby="signing-heading" data-testid="signing">
      <h2 id="signing-heading">{t('sign_heading')}</h2>
      <dl class="small">
        <dt>{t('sign_amount')}</dt>
        <dd data-testid="sign-amount">{localAmountText(plan.payment.amount, 'SOVR', t)}</dd>
        <dt>{t('sign_from')}</dt>
        <dd data-testid="sign-from">{t('sign_from_value', plan.from)}</dd>
        <dt>{t('sign_to')}</dt>
        <dd data-testid="sign-to">
          {plan.kind === 'merchant'
            ? t('sign_to_merchant', plan.to, displayText(plan.payment.payTo, 120), displayText(request.site, 120))
            : t('sign_to_exact', plan.to, displayText(request.site, 120))}
        </dd>
        <dt>{t('sign_valid')}</dt>
        <dd data-testid="sign-valid">{t('sign_valid_value', timeText(window.validAfter, t), timeText(window.validBefore, t))}</dd>
        <dt>{t('sign_token')}</dt>
        <dd data-testid="sign-token">
          {t('sign_token_value', plan.domain.name, plan.domain.version, plan.domain.verifyingContract, plan.domain.chainId)}
        </dd>
        <dt>{t('sign_nonce')}</dt>
        <dd>{t('sign_nonce_value')}</dd>
      </dl>
      <p class="hint">
        {plan.kind === 'merchant' ? t('sign_note_merchant') : t('sign_note_exact')} {t('sign_note_balance')}
      </p>
    </section>
  );
}
