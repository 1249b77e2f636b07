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
    setStatus(r.ok ? t('budgets_deleted', a.site) : r.error);
  };

  return (
    <main>
      <h1>{t('budgets_title')}</h1>
      <p class="muted small">{t('budgets_intro')}</p>
      {list === null ? (
        <p>Loading…</p>
      ) : list.length === 0 ? (
        <p data-testid="budgets-none">{t('budgets_none')}</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">{t('budgets_site')}</th>
              <th scope="col">{t('budgets_pays_to')}</th>
              <th scope="col">{t('budgets_left')}</th>
              <th scope="col">
                <span class="sr-only">{t('budgets_actions')}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((a) => {
              const payee = a.payee;
              const site = payee ? t('budgets_site_paying', displayText(a.site, 120), displayText(payee, 120)) : displayText(a.site, 120);
              return (
                <tr key={`${a.site} ${payee} ${a.asset}`} data-testid="budget" data-site={a.site} data-payee={payee ?? ''}>
                  <td>{displayText(a.site.replace(/^https?:\/\//, ''), 60)}</td>
                  <td data-testid="budget-payee" title={payee ? displayText(payee, 200) : undefined} class={payee ? undefined : 'warning'}>
                    {payee ? shortPayee(payee) : t('budgets_payee_unknown')}
                  </td>
                  <td data-testid="budget-left" title={resetsText(a, now, t)}>
                    {budgetText(a, now, t)}
                  </td>
                  <td class="nowrap">
                    {payee && (
                      <button type="button" class="link" aria-label={t('budgets_edit_label', site)} onClick={() => edit(a, payee)}>
                        {t('budgets_edit')}
                      </button>
                    )}{' '}
                    <button type="button" class="link" aria-label={t('budgets_delete_label', site)} onClick={() => void remove(a)}>
                      {t('budgets_delete')}
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
            {t('budgets_add')}
          </button>
          <button type="button" onClick={onBack}>
            {t('common_back')}
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
      return setProblem(t('budgets_bad_site'));
    }
    if (!isSiteOrigin(site)) return setProblem(t('budgets_bad_scheme'));
    const payee = d.payee.trim();
    if (!payee) return setProblem(t('budgets_no_payee'));
    const amount = parseUnits(d.amount, decimalsOf(d.asset) ?? 0);
    if (amount === null || amount <= 0n) return setProblem(t('budgets_bad_limit', d.asset));
    const r = await send({ type: 'budget.put', site, payee, asset: d.asset, amount: amount.toString(), period: d.period });
    if (!r.ok) return setProblem(r.error);
    onDone(t('budgets_saved', site));
  };
  return (
    <form onSubmit={(e) => void submit(e)} aria-label={d.existing ? t('budgets_form_edit') : t('budgets_form_add')}>
      <h2>{d.existing ? t('budgets_form_title', displayText(d.site, 120), shortPayee(d.payee)) : t('budgets_new')}</h2>
      {!d.existing && (
        <>
          <label>
            {t('budgets_site')}
            <input
              type="url"
              placeholder="https://shop.example"
              value={d.site}
              onInput={(e) => setD({ ...d, site: e.currentTarget.value })}
            />
          </label>
          <label>
            {t('budgets_pays_to')}
            <input
              type="text"
              placeholder={t('budgets_payee_placeholder')}
              value={d.payee}
              onInput={(e) => setD({ ...d, payee: e.currentTarget.value })}
            />
          </label>
        </>
      )}
      <label>
        {t('budgets_limit', d.asset)}
        <input type="text" inputMode="decimal" value={d.amount} onInput={(e) => setD({ ...d, amount: e.currentTarget.value })} />
      </label>
      {!d.existing && (
        <label>
          {t('budgets_asset')}
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
        {t('budgets_per')}
        <select value={d.period} onChange={(e) => setD({ ...d, period: e.currentTarget.value as AllowancePeriod })}>
          {(Object.keys(PERIOD_LABEL) as AllowancePeriod[]).map((p) => (
            <option key={p} value={p}>
              {t(`period_${p}`)}
            </option>
          ))}
        </select>
      </label>
      {problem && (
        <p class="callout callout-danger" role="alert">
          {problem}
        </p>
      )}
      <div class="actions">
        <button class="primary" type="submit">
          {t('budgets_save')}
        </button>
        <button type="button" onClick={onCancel}>
          {t('common_cancel')}
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
