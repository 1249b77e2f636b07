/**
 * The budgets view: every site and payee that may be paid without the approval window, with what
 * is left this period, the limit and the period; edit, delete, and add one by hand. A budget is for
 * one payee: the site paying anyone else is asked about. Amounts are typed and shown in whole
 * units of the asset; the hub stores base units.
 */
import { useEffect, useState } from 'preact/hooks';
import { formatUnits } from '../../shared/amount.js';
import type { AllowancePeriod } from '../../shared/api.js';
import { ASSET_NAMES } from '../../shared/assets.js';
import { decimalsOf, isSiteOrigin, parseUnits, PERIOD_LABEL, type Allowance } from '../common/budget.js';
import { budgetText, resetsText } from '../common/format.js';
import { t } from '../common/i18n.js';
import { send, useStoredValue } from '../common/page.js';
import { BudgetsView, KEYS } from '../common/state.js';
import { displayText } from '../common/text.js';

interface Draft {
  site: string;
  /** A merchant id, an address, or a Lightning node key (shared/payee.ts). */
  payee: string;
  asset: string;
  amount: string;
  period: AllowancePeriod;
  /** Editing an existing budget (site, payee and asset fixed) or adding one. */
  existing: boolean;
}

export function Budgets({ hubUrl, onBack }: { hubUrl: string; onBack: () => void }) {
  const view = BudgetsView.safeParse(useStoredValue(KEYS.budgets, 'session'));
  const list = view.success && view.data.hubUrl === hubUrl ? view.data.data : null;
  const [draft, setDraft] = useState<Draft | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const now = Date.now();

  useEffect(() => void send({ type: 'budget.sync' }), []);

  const edit = (a: Allowance, payee: string) =>
    setDraft({
      site: a.site,
      payee,
      asset: a.asset,
      amount: formatUnits(BigInt(a.amount), decimalsOf(a.asset) ?? 0),
      period: a.period,
      existing: true,
    });
  const remove = async (a: Allowance) => {
    const r = await send({ type: 'budget.delete', site: a.site, payee: a.payee, asset: a.asset });
    setStatus(r.ok ? `Budget for ${a.site} deleted.` : r.error);
  };

  return (
    <main>
      <h1>Budgets</h1>
      <p class="muted">
        Sites that pay one payee without asking, up to a limit per day, week or month. The hub enforces the limit and the payee.
      </p>
      {list === null ? (
        <p>Loading…</p>
      ) : list.length === 0 ? (
        <p data-testid="budgets-none">No budgets yet. Tick “Pay automatically on this site” when approving, or add one below.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Site</th>
              <th scope="col">Pays to</th>
              <th scope="col">Left / limit</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((a) => {
              const payee = a.payee;
              const name = `the budget for ${displayText(a.site, 120)}${payee ? ` paying ${displayText(payee, 120)}` : ''}`;
              return (
                <tr key={`${a.site} ${payee} ${a.asset}`} data-testid="budget" data-site={a.site} data-payee={payee ?? ''}>
                  <td>{displayText(a.site.replace(/^https?:\/\//, ''), 60)}</td>
                  <td data-testid="budget-payee" title={payee ? displayText(payee, 200) : undefined} class={payee ? undefined : 'warning'}>
                    {payee ? shortPayee(payee) : 'not recorded: pays nothing automatically'}
                  </td>
                  <td data-testid="budget-left" title={resetsText(a, now, t)}>
                    {budgetText(a, now, t)}
                  </td>
                  <td class="nowrap">
                    {payee && (
                      <button type="button" class="link" aria-label={`Edit ${name}`} onClick={() => edit(a, payee)}>
                        Edit
                      </button>
                    )}{' '}
                    <button type="button" class="link" aria-label={`Delete ${name}`} onClick={() => void remove(a)}>
                      Delete
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {draft ? (
        <BudgetForm draft={draft} onDone={(message) => (setDraft(null), setStatus(message))} onCancel={() => setDraft(null)} />
      ) : (
        <div class="actions">
          <button
            type="button"
            onClick={() => setDraft({ site: '', payee: '', asset: ASSET_NAMES[0]!, amount: '', period: 'day', existing: false })}
          >
            Add a budget
          </button>
          <button type="button" onClick={onBack}>
            Back
          </button>
        </div>
      )}
      {status && (
        <p role="status" data-testid="budget-status">
          {status}
        </p>
      )}
    </main>
  );
}

function BudgetForm({ draft, onDone, onCancel }: { draft: Draft; onDone: (message: string) => void; onCancel: () => void }) {
  const [d, setD] = useState(draft);
  const [problem, setProblem] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    let site = d.site.trim();
    try {
      site = new URL(site).origin;
    } catch {
      return setProblem('The site must be an address like https://shop.example.');
    }
    if (!isSiteOrigin(site)) return setProblem('The site must be an http or https address.');
    const payee = d.payee.trim();
    if (!payee) return setProblem('Say who the site may pay: a merchant id, an address, or a Lightning node key.');
    const amount = parseUnits(d.amount, decimalsOf(d.asset) ?? 0);
    if (amount === null || amount <= 0n) return setProblem(`The limit must be a positive amount of ${d.asset}.`);
    const r = await send({ type: 'budget.put', site, payee, asset: d.asset, amount: amount.toString(), period: d.period });
    if (!r.ok) return setProblem(r.error);
    onDone(`Budget for ${site} saved.`);
  };
  return (
    <form onSubmit={(e) => void submit(e)} aria-label={d.existing ? 'Edit budget' : 'Add budget'}>
      <h2>{d.existing ? `Budget for ${displayText(d.site, 120)}, paying ${shortPayee(d.payee)}` : 'New budget'}</h2>
      {!d.existing && (
        <>
          <label>
            Site
            <input
              type="url"
              placeholder="https://shop.example"
              value={d.site}
              onInput={(e) => setD({ ...d, site: e.currentTarget.value })}
            />
          </label>
          <label>
            Pays to
            <input
              type="text"
              placeholder="merchant id, address or Lightning node key"
              value={d.payee}
              onInput={(e) => setD({ ...d, payee: e.currentTarget.value })}
            />
          </label>
        </>
      )}
      <label>
        Limit ({d.asset})
        <input type="text" inputMode="decimal" value={d.amount} onInput={(e) => setD({ ...d, amount: e.currentTarget.value })} />
      </label>
      {!d.existing && (
        <label>
          Asset
          <select value={d.asset} onChange={(e) => setD({ ...d, asset: e.currentTarget.value })}>
            {ASSET_NAMES.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </label>
      )}
      <label>
        Per
        <select value={d.period} onChange={(e) => setD({ ...d, period: e.currentTarget.value as AllowancePeriod })}>
          {(Object.keys(PERIOD_LABEL) as AllowancePeriod[]).map((p) => (
            <option key={p} value={p}>
              {PERIOD_LABEL[p]}
            </option>
          ))}
        </select>
      </label>
      {problem && (
        <p class="warning" role="alert">
          {problem}
        </p>
      )}
      <div class="actions">
        <button class="primary" type="submit">
          Save budget
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** A long payee (an address, a node key) as its two ends; the whole of it is in the title. */
function shortPayee(payee: string): string {
  const p = displayText(payee, 200);
  return p.length > 26 ? `${p.slice(0, 14)}…${p.slice(-8)}` : p;
}
