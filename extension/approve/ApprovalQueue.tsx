/**
 * The approval window: the oldest pending request as "1 of N", with approve, reject and reject all.
 * It renders what the worker stored; its buttons only ask the worker to act.
 */
import { useEffect, useState } from 'preact/hooks';
import type { AllowancePeriod } from '../../shared/api.js';
import { decimalsOf, parseUnits } from '../common/budget.js';
import { balanceAfter, budgetText, countdown, describeRequest, resetsText } from '../common/format.js';
import { formatUnits } from '../../shared/amount.js';
import { send, useStoredValue } from '../common/page.js';
import { AccountView, BudgetsView, KEYS, type ApprovalRequest } from '../common/state.js';
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
  useEffect(() => setBudget({ on: false, amount: current?.payment ? suggestedBudget(current.payment.amount, current.payment.asset) : '', period: 'day' }), [current?.id]);

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
      <Request request={current} />
      {current.payment && <BudgetOption request={current} value={budget} onChange={setBudget} />}
      {error && (
        <p class="warning" role="alert">
          {error}
        </p>
      )}
      <div class="actions">
        <button
          class="primary"
          disabled={busy || !current.payment}
          onClick={() => {
            if (!budget.on || !current.payment) return void act({ type: 'approval.decide', id: current.id, approve: true });
            const base = parseUnits(budget.amount, decimalsOf(current.payment.asset) ?? 0);
            if (base === null || base <= 0n) return setError('The budget must be a positive amount.');
            void act({ type: 'approval.decide', id: current.id, approve: true, budget: { amount: base.toString(), period: budget.period } });
          }}
        >
          Approve
        </button>
        <button disabled={busy} onClick={() => act({ type: 'approval.decide', id: current.id, approve: false })}>
          Reject
        </button>
        {pending.length > 1 && (
          <button disabled={busy} onClick={() => act({ type: 'approval.rejectAll' })}>
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

/** "Pay automatically on this site up to … per …", saved at the hub together with the approval. */
function BudgetOption({ request, value, onChange }: { request: ApprovalRequest; value: BudgetChoice; onChange: (v: BudgetChoice) => void }) {
  const asset = request.payment!.asset;
  return (
    <fieldset class="budget">
      <legend>Budget for this site</legend>
      <label class="inline">
        <input type="checkbox" data-testid="budget-on" checked={value.on} onChange={(e) => onChange({ ...value, on: e.currentTarget.checked })} /> Pay automatically on this
        site up to
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
        <select aria-label="Budget period" data-testid="budget-period" value={value.period} disabled={!value.on} onChange={(e) => onChange({ ...value, period: e.currentTarget.value as AllowancePeriod })}>
          <option value="day">day</option>
          <option value="week">week</option>
          <option value="month">month</option>
        </select>
      </span>
    </fieldset>
  );
}

function Request({ request }: { request: ApprovalRequest }) {
  const now = useNow(1000);
  const d = describeRequest(request);
  const view = AccountView.safeParse(useStoredValue(KEYS.account, 'session'));
  const after = request.payment && view.success ? balanceAfter(view.data.balances, request.payment) : null;
  const budgets = BudgetsView.safeParse(useStoredValue(KEYS.budgets, 'session'));
  const budget = request.payment && budgets.success ? budgets.data.data.find((a) => a.site === request.site && a.asset === request.payment!.asset) : undefined;
  return (
    <section aria-label="Payment request">
      <h1>
        <img src={faviconUrl(request.site)} alt="" width={16} height={16} />
        <span data-testid="site">{request.site}</span>
      </h1>
      {d.amount && (
        <p class="amount" data-testid="amount">
          {d.amount}
        </p>
      )}
      <dl>
        <dt>For</dt>
        <dd data-testid="resource">
          {request.method} {request.url}
        </dd>
        {request.challenge.x402?.resource?.description && (
          <>
            <dt>What</dt>
            <dd>{request.challenge.x402.resource.description}</dd>
          </>
        )}
        {d.rail && (
          <>
            <dt>Rail</dt>
            <dd>{d.rail}</dd>
          </>
        )}
        {d.scheme && (
          <>
            <dt>Scheme</dt>
            <dd>{d.scheme}</dd>
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
          {request.note}
        </p>
      )}
      {request.unpayable && (
        <p class="warning" data-testid="unpayable">
          Cannot pay this request: {request.unpayable}
        </p>
      )}
      {request.challenge.problems.length > 0 && (
        <p class="warning">Parts of this challenge could not be read: {request.challenge.problems.map((p) => p.message).join('; ')}</p>
      )}
    </section>
  );
}
