/**
 * The approval window: the oldest pending request as "1 of N", with approve, reject and reject all.
 * It renders what the worker stored; its buttons only ask the worker to act. It names the site the
 * tab shows (from the browser) and who is paid; every string the merchant or the page chose goes
 * through displayText first. Paying SOVR on chain,
 * it shows what the worker will sign (payee, amount, the validity window as times) and sends that
 * window back with the approval, so what is signed is what was shown. No ethers here: signing is
 * the worker's.
 */
import { useEffect, useState } from 'preact/hooks';
import type { AllowancePeriod } from '../../shared/api.js';
import { authorizationWindow } from '../../shared/eip3009.js';
import { decimalsOf, findBudget, parseUnits } from '../common/budget.js';
import { balanceAfter, budgetText, countdown, describeRequest, displayAmount, resetsText } from '../common/format.js';
import { payeeText } from './payee-text.js';
import { displayText } from '../common/text.js';
import { defaultPayFrom, timeText } from './pay-from.js';
import { formatUnits } from '../../shared/amount.js';
import { send, useStoredValue } from '../common/page.js';
import { AccountView, BudgetsView, KEYS, type ApprovalRequest, type OnChainPlan, type PayFrom } from '../common/state.js';
import { readRequestList } from '../common/storage.js';
import { pendingOf } from '../background/queue.js';

function useNow(ms: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
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

export function ApprovalQueue() {
  const stored = useStoredValue(KEYS.approvals);
  const requests = stored === undefined ? [] : readRequestList(stored).requests;
  const pending = pendingOf(requests);
  const paying = requests.filter((r) => r.status === 'paying');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [budget, setBudget] = useState<BudgetChoice>({ on: false, amount: '', period: 'day' });
  const current = pending[0];
  // A fresh choice for every request shown: ten times its price per day, unticked.
  useEffect(
    () =>
      setBudget({
        on: false,
        amount: current?.payment ? suggestedBudget(current.payment.amount, current.payment.asset) : '',
        period: 'day',
      }),
    [current?.id],
  );
  const view = AccountView.safeParse(useStoredValue(KEYS.account, 'session'));
  const balances = view.success ? view.data.balances : null;
  // "Pay from": the default follows the balances as they load, until the person picks one.
  const [payFrom, setPayFrom] = useState<{ id: string | null; from: PayFrom; picked: boolean }>({ id: null, from: 'hub', picked: false });
  const from = current && payFrom.id === current.id && payFrom.picked ? payFrom.from : current ? defaultPayFrom(current, balances) : 'hub';
  const now = useNow(1000);
  const plan = current?.onChain && from === 'wallet' ? current.onChain : null;
  // The window shown is the window signed: it is sent back with the approval.
  const signWindow = plan ? authorizationWindow(Math.floor(now / 1000), plan.validitySeconds) : null;

  const act = async (message: Parameters<typeof send>[0]) => {
    setBusy(true);
    const reply = await send(message);
    setBusy(false);
    setError(reply.ok ? null : reply.error);
  };

  useEffect(() => {
    if (!current) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') void act({ type: 'approval.decide', id: current.id, approve: false });
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [current?.id]);

  if (!current) {
    return <main>{paying.length ? <p role="status">Paying…</p> : <p role="status">Nothing to approve.</p>}</main>;
  }
  return (
    <main>
      <p class="position" data-testid="position" aria-live="polite">
        {`1 of ${pending.length}`}
      </p>
      <Request request={current} now={now} from={from} />
      {current.onChain && current.payment?.rail !== 'sovr' && (
        <PayFromChoice
          request={current}
          from={from}
          balances={balances}
          onChange={(f) => setPayFrom({ id: current.id, from: f, picked: true })}
        />
      )}
      {plan && signWindow && <WhatIsSigned request={current} plan={plan} window={signWindow} />}
      {current.payment && current.payment.rail !== 'sovr' && current.payee && (
        <BudgetOption request={current} value={budget} onChange={setBudget} />
      )}
      {error && (
        <p class="warning" role="alert">
          {error}
        </p>
      )}
      <div class="actions">
        <button
          type="button"
          class="primary"
          disabled={busy || !current.payment}
          onClick={() => {
            const how = current.onChain ? { payFrom: from, ...(signWindow ? { window: signWindow } : {}) } : {};
            if (!budget.on || !current.payment || current.payment.rail === 'sovr' || !current.payee)
              return void act({ type: 'approval.decide', id: current.id, approve: true, ...how });
            const base = parseUnits(budget.amount, decimalsOf(current.payment.asset) ?? 0);
            if (base === null || base <= 0n) return setError('The budget must be a positive amount.');
            void act({
              type: 'approval.decide',
              id: current.id,
              approve: true,
              budget: { amount: base.toString(), period: budget.period },
              ...how,
            });
          }}
        >
          Approve
        </button>
        <button type="button" disabled={busy} onClick={() => act({ type: 'approval.decide', id: current.id, approve: false })}>
          Reject
        </button>
        {pending.length > 1 && (
          <button type="button" disabled={busy} onClick={() => act({ type: 'approval.rejectAll' })}>
            Reject all ({pending.length})
          </button>
        )}
      </div>
    </main>
  );
}

interface BudgetChoice {
  on: boolean;
  amount: string;
  period: AllowancePeriod;
}

function suggestedBudget(amount: string, asset: string): string {
  const decimals = decimalsOf(asset);
  return decimals === null || !/^[0-9]{1,70}$/.test(amount) ? '' : formatUnits(BigInt(amount) * 10n, decimals);
}

/**
 * "Pay automatically on this site up to … per …", saved at the hub together with the approval, for
 * this payee only: the same site asking to pay anyone else is asked about again.
 */
function BudgetOption({
  request,
  value,
  onChange,
}: {
  request: ApprovalRequest;
  value: BudgetChoice;
  onChange: (v: BudgetChoice) => void;
}) {
  const asset = request.payment!.asset;
  return (
    <fieldset class="budget">
      <legend>Budget for this site and payee</legend>
      <label class="inline">
        <input
          type="checkbox"
          data-testid="budget-on"
          checked={value.on}
          onChange={(e) => onChange({ ...value, on: e.currentTarget.checked })}
        />{' '}
        Pay automatically on this site up to
      </label>
      <span class="row">
        <input
          type="text"
          inputMode="decimal"
          aria-label={`Budget amount in ${asset}`}
          data-testid="budget-amount"
          value={value.amount}
          disabled={!value.on}
          onInput={(e) => onChange({ ...value, amount: e.currentTarget.value })}
        />{' '}
        {asset} per{' '}
        <select
          aria-label="Budget period"
          data-testid="budget-period"
          value={value.period}
          disabled={!value.on}
          onChange={(e) => onChange({ ...value, period: e.currentTarget.value as AllowancePeriod })}
        >
          <option value="day">day</option>
          <option value="week">week</option>
          <option value="month">month</option>
        </select>
      </span>
      <p class="muted" data-testid="budget-payee">
        Only payments from {displayText(request.site, 120)} to {payeeText(request)}; paying anyone else is asked about.
      </p>
    </fieldset>
  );
}

/** Hub balance or own wallet, for a hub merchant's SOVR entry on a hub with the sovr rail. */
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
  const hub = balances?.find((b) => b.asset === payment.asset);
  return (
    <fieldset class="pay-from" data-testid="pay-from">
      <legend>Pay from</legend>
      <label>
        <input
          type="radio"
          name="pay-from"
          value="hub"
          data-testid="pay-from-hub"
          checked={from === 'hub'}
          onChange={() => onChange('hub')}
        />{' '}
        Tollway balance
        <span class="muted">
          {' '}
          ({hub ? `${displayAmount(hub.available, hub.asset)} available` : balances ? `no ${payment.asset} at the hub` : 'balance loading'})
        </span>
      </label>
      <label>
        <input
          type="radio"
          name="pay-from"
          value="wallet"
          data-testid="pay-from-wallet"
          checked={from === 'wallet'}
          onChange={() => onChange('wallet')}
        />{' '}
        My wallet (on chain)
        <span class="muted"> {request.onChain!.from}</span>
      </label>
    </fieldset>
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
    <section aria-label="What you sign" data-testid="signing">
      <h2>You sign a transfer from your wallet</h2>
      <dl>
        <dt>Amount</dt>
        <dd data-testid="sign-amount">{displayAmount(plan.payment.amount, 'SOVR')}</dd>
        <dt>From</dt>
        <dd data-testid="sign-from">{plan.from} (your wallet)</dd>
        <dt>To</dt>
        <dd data-testid="sign-to">
          {plan.to}{' '}
          {plan.kind === 'merchant'
            ? `(the hub's treasury, for merchant ${displayText(plan.payment.payTo, 120)} at ${displayText(request.site, 120)})`
            : `(${displayText(request.site, 120)}'s own payout address)`}
        </dd>
        <dt>Valid</dt>
        <dd data-testid="sign-valid">
          from {timeText(window.validAfter)} until {timeText(window.validBefore)}
        </dd>
        <dt>Token</dt>
        <dd data-testid="sign-token">
          {plan.domain.name} {plan.domain.version} at {plan.domain.verifyingContract}, chain {plan.domain.chainId}
        </dd>
        <dt>Nonce</dt>
        <dd>32 random bytes, chosen when you approve (the transfer can happen once)</dd>
      </dl>
      <p class="muted">
        {plan.kind === 'merchant'
          ? 'The hub submits it and pays the gas; the page reloads once it is confirmed.'
          : 'Tollway records it at the hub, then the site submits it itself.'}{' '}
        Your on-chain balance is not shown here: the hub checks it when you approve and refuses, moving nothing, if it is short.
      </p>
    </section>
  );
}

function Request({ request, now, from }: { request: ApprovalRequest; now: number; from: PayFrom }) {
  const d = describeRequest(request);
  const view = AccountView.safeParse(useStoredValue(KEYS.account, 'session'));
  const after =
    request.payment && from === 'hub' && request.payment.rail !== 'sovr' && view.success
      ? balanceAfter(view.data.balances, request.payment)
      : null;
  const budgets = BudgetsView.safeParse(useStoredValue(KEYS.budgets, 'session'));
  const budget =
    request.payment && budgets.success ? findBudget(budgets.data.data, request.site, request.payee, request.payment.asset) : undefined;
  // The tab's origin as the browser told the worker; a request stored before it was kept, or a tab
  // the browser would not describe, falls back to the asking frame's origin (also the browser's).
  const page = request.tabOrigin ?? request.site;
  return (
    <section aria-label="Payment request">
      <h1>
        <img src={faviconUrl(page)} alt="" width={16} height={16} />
        <span data-testid="site">{displayText(page, 200)}</span>
      </h1>
      {d.amount && (
        <p class="amount" data-testid="amount">
          {d.amount}
        </p>
      )}
      <dl>
        {page !== request.site && (
          <>
            <dt>Asked by</dt>
            <dd data-testid="asked-by" class="warning">
              {displayText(request.site, 200)} (another site inside this page)
            </dd>
          </>
        )}
        <dt>Pays to</dt>
        <dd data-testid="payee">{payeeText(request)}</dd>
        <dt>For</dt>
        <dd data-testid="resource">
          {displayText(request.method, 16)} {displayText(request.url, 300)}
        </dd>
        {originOf(request.url) !== page && (
          <dd class="muted" data-testid="resource-elsewhere">
            (as the page names it: not this site's own address)
          </dd>
        )}
        {request.challenge.x402?.resource?.description && (
          <>
            <dt>What</dt>
            <dd data-testid="description">{displayText(request.challenge.x402.resource.description, 300)}</dd>
          </>
        )}
        {d.rail && (
          <>
            <dt>Rail</dt>
            <dd data-testid="rail">{from === 'wallet' && request.onChain ? 'SOVR on chain, from your wallet' : d.rail}</dd>
          </>
        )}
        {d.scheme && (
          <>
            <dt>Scheme</dt>
            <dd>{displayText(d.scheme, 300)}</dd>
          </>
        )}
        {after && (
          <>
            <dt>Balance after</dt>
            <dd data-testid="balance-after" class={after.short ? 'warning' : undefined}>
              {after.text}
            </dd>
          </>
        )}
        {budget && (
          <>
            <dt>Budget remaining</dt>
            <dd data-testid="budget-remaining">
              {budgetText(budget, now)} ({resetsText(budget, now)})
            </dd>
          </>
        )}
        {d.expiresAt && (
          <>
            <dt>Expires in</dt>
            <dd>{countdown(d.expiresAt, now)}</dd>
          </>
        )}
      </dl>
      {request.note && (
        <p class="warning" data-testid="note">
          {displayText(request.note, 500)}
        </p>
      )}
      {request.unpayable && (
        <p class="warning" data-testid="unpayable">
          Cannot pay this request: {displayText(request.unpayable, 300)}
        </p>
      )}
      {request.challenge.problems.length > 0 && (
        <p class="warning">
          Parts of this challenge could not be read: {displayText(request.challenge.problems.map((p) => p.message).join('; '), 300)}
        </p>
      )}
    </section>
  );
}
