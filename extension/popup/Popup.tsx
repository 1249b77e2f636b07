/**
 * The toolbar popup: the account at the hub (balance, payments with live status, failures shown),
 * a detail view per payment, the budgets, CSV export of every payment, and what waits for approval.
 * It renders what the worker keeps in storage and asks the worker to reconcile with the hub when
 * it opens.
 */
import { useEffect, useState } from 'preact/hooks';
import type { Payment } from '../../shared/api.js';
import { displayAmount } from '../common/format.js';
import { displayText } from '../common/text.js';
import { send, useStoredValue } from '../common/page.js';
import { AccountView, HubSession, KEYS, RailsView } from '../common/state.js';
import { readRequestList } from '../common/storage.js';
import { pendingOf } from '../background/queue.js';
import { Budgets } from './Budgets.js';
import { depositRailOf } from '../common/deposit.js';
import { Deposit, DepositList } from './Deposit.js';
import { AddFunds } from './AddFunds.js';

const openSettings = () => void chrome.runtime.openOptionsPage();

export function Popup() {
  const hub = HubSession.safeParse(useStoredValue(KEYS.hub, 'session'));
  const view = AccountView.safeParse(useStoredValue(KEYS.account, 'session'));
  const active = readRequestList(useStoredValue(KEYS.approvals)).requests;
  const history = readRequestList(useStoredValue(KEYS.history)).requests;
  const [selected, setSelected] = useState<string | null>(null);
  const [showBudgets, setShowBudgets] = useState(false);
  const [showDeposit, setShowDeposit] = useState(false);
  const [showAddFunds, setShowAddFunds] = useState(false);
  const railsRaw = useStoredValue(KEYS.rails, 'session');
  const [notice, setNotice] = useState<string | null>(null);
  const [noAccess, setNoAccess] = useState(false);
  const testMoney = async () => {
    const r = await send({ type: 'dev.faucet' });
    setNotice(r.ok ? 'Added 10 test SOVR.' : r.error);
  };
  const exportAll = async () => {
    setNotice('Exporting every payment…');
    const r = await send({ type: 'payments.export' });
    if (!r.ok || r.csv === undefined) return setNotice(r.ok ? 'The export came back empty.' : r.error);
    download(r.csv);
    setNotice(`Exported ${Math.max(0, r.csv.split('\r\n').length - 2)} payments.`);
  };

  useEffect(() => void send({ type: 'account.sync' }), []);
  useEffect(() => void chrome.permissions.getAll().then((p) => setNoAccess(!p.origins?.length)), []);

  if (!hub.success) {
    return (
      <main>
        <h1>Tollway</h1>
        <p data-testid="hub">Not signed in to a hub.</p>
        <button type="button" class="primary" onClick={openSettings}>
          Set up or unlock
        </button>
      </main>
    );
  }
  const account = view.success && view.data.hubUrl === hub.data.url ? view.data : null;
  const payments = account?.payments ?? [];
  const detail = selected ? payments.find((p) => p.transactionId === selected) : undefined;
  if (detail) return <Detail payment={detail} onBack={() => setSelected(null)} />;
  if (showBudgets) return <Budgets hubUrl={hub.data.url} onBack={() => setShowBudgets(false)} />;
  // Offered only when the hub has the SOVR rail (GET /rails, as the worker cached it).
  const depositRail = hub.data.user ? depositRailOf(railsRaw, hub.data.url) : null;
  if (showDeposit && depositRail && hub.data.user)
    return <Deposit rail={depositRail} wallet={hub.data.user.address} hubUrl={hub.data.url} onBack={() => setShowDeposit(false)} />;

  // Offered only when the hub has the Lightning rail: its node issues the invoice.
  const rails = RailsView.safeParse(railsRaw).data;
  const receives = hub.data.user && rails?.hubUrl === hub.data.url && rails.info.rails.some((r) => r.name === 'lightning');
  if (showAddFunds && receives) return <AddFunds hubUrl={hub.data.url} onBack={() => setShowAddFunds(false)} />;

  const waiting = pendingOf(active).length;
  // Refused before the hub stored anything (insufficient funds, not signed in): shown, never hidden.
  const notPaid = history.filter((r) => r.status === 'failed' && !r.result).slice(0, 5);
  return (
    <main>
      <h1>Tollway</h1>
      <p data-testid="hub" class="muted">
        {hub.data.url} · <span data-testid="live">{account?.live ? 'live' : 'offline'}</span>
      </p>
      <section aria-label="Balance">
        {account?.balances.length ? (
          account.balances.map((b) => (
            <p key={b.asset} class="amount" data-testid={`balance-${b.asset}`}>
              {displayAmount(b.available, b.asset)}
              {b.pending !== '0' && <small> ({displayAmount(b.pending, b.asset)} pending)</small>}
            </p>
          ))
        ) : (
          <p data-testid="balance-none">{account?.syncedAt ? 'No balance yet.' : 'Loading…'}</p>
        )}
        {account?.error && (
          <p class="warning" role="alert">
            {account.error}
          </p>
        )}
      </section>
      {depositRail && <DepositList hubUrl={hub.data.url} limit={3} />}
      {waiting > 0 && <p>{waiting === 1 ? '1 request waits for approval.' : `${waiting} requests wait for approval.`}</p>}
      {noAccess && (
        <p class="warning" data-testid="no-access">
          Tollway may not access any site, so it notices no payment request. Choose sites in Settings.
        </p>
      )}
      <section aria-label="Payments">
        <h2>Payments</h2>
        {payments.length === 0 ? (
          <p>No payments yet.</p>
        ) : (
          <table>
            <tbody>
              {payments.map((p) => (
                <tr key={p.transactionId} data-testid="payment" data-id={p.transactionId}>
                  <td>
                    <button type="button" class="link" onClick={() => setSelected(p.transactionId)} title="Details">
                      {displayText(siteOf(p), 60)}
                    </button>
                  </td>
                  <td>{displayAmount(p.amount, p.asset)}</td>
                  <td class={p.status === 'failed' ? 'failed' : undefined} data-testid="status">
                    {p.status}
                    {p.failureReason ? `: ${displayText(p.failureReason, 200)}` : ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      {notPaid.length > 0 && (
        <section aria-label="Not paid">
          <h2>Not paid</h2>
          <ul>
            {notPaid.map((r) => (
              <li key={r.id} class="failed">
                {displayText(r.site, 120)}: {displayText(r.error ?? 'failed', 200)}
              </li>
            ))}
          </ul>
        </section>
      )}
      <div class="actions">
        {receives && (
          <button type="button" class="primary" onClick={() => setShowAddFunds(true)}>
            Add funds
          </button>
        )}
        {depositRail && (
          <button type="button" onClick={() => setShowDeposit(true)}>
            Move SOVR from my wallet
          </button>
        )}
        <button type="button" onClick={() => setShowBudgets(true)}>
          Budgets
        </button>
        <button type="button" disabled={!payments.length} onClick={() => void exportAll()} title="Every payment at the hub, as CSV">
          Export CSV
        </button>
        <button type="button" onClick={() => void testMoney()} title="Only on a hub started in dev mode">
          Get test money
        </button>
        <button type="button" onClick={openSettings}>
          Settings
        </button>
      </div>
      {notice && (
        <p role="status" data-testid="notice">
          {notice}
        </p>
      )}
    </main>
  );
}

function siteOf(p: Payment): string {
  try {
    return p.resource ? new URL(p.resource.url).host : p.payTo;
  } catch {
    return p.payTo;
  }
}

const safeLink = (url: string | undefined) => {
  if (!url) return null;
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
  } catch {
    return null;
  }
};

function Detail({ payment: p, onBack }: { payment: Payment; onBack: () => void }) {
  const explorer = safeLink(p.receipt.blockExplorerUrl);
  return (
    <main>
      <h1>Payment</h1>
      <dl data-testid="detail">
        <dt>Transaction</dt>
        <dd data-testid="detail-id">{p.transactionId}</dd>
        <dt>Status</dt>
        <dd data-testid="detail-status" class={p.status === 'failed' ? 'failed' : undefined}>
          {p.status}
        </dd>
        {p.failureReason && (
          <>
            <dt>Why</dt>
            <dd class="failed">{displayText(p.failureReason, 500)}</dd>
          </>
        )}
        <dt>Amount</dt>
        <dd>{displayAmount(p.amount, p.asset)}</dd>
        <dt>To</dt>
        <dd>{displayText(p.payTo, 200)}</dd>
        <dt>Rail</dt>
        <dd>{p.rail}</dd>
        {p.resource && (
          <>
            <dt>For</dt>
            <dd>
              {displayText(p.resource.method, 16)} {displayText(p.resource.url, 300)}
            </dd>
          </>
        )}
        {p.description && (
          <>
            <dt>What</dt>
            <dd>{displayText(p.description, 500)}</dd>
          </>
        )}
        <dt>Created</dt>
        <dd>{p.createdAt}</dd>
        <dt>Updated</dt>
        <dd>{p.updatedAt}</dd>
        {p.receipt.transactionHash && (
          <>
            <dt>Tx hash</dt>
            <dd>
              {explorer ? (
                <a href={explorer} target="_blank" rel="noreferrer">
                  {p.receipt.transactionHash}
                </a>
              ) : (
                p.receipt.transactionHash
              )}
            </dd>
          </>
        )}
        {p.receipt.preimage && (
          <>
            <dt>Preimage</dt>
            <dd>{p.receipt.preimage}</dd>
          </>
        )}
      </dl>
      <div class="actions">
        <button type="button" onClick={onBack}>
          Back
        </button>
      </div>
    </main>
  );
}

function download(csv: string): void {
  const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = `tollway-payments-${new Date().toISOString().slice(0, 10)}.csv`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
