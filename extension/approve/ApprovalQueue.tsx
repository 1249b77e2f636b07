/**
 * The approval window: the oldest pending request as "1 of N", with approve, reject and reject all.
 * It renders what the worker stored; its buttons only ask the worker to act.
 */
import { useEffect, useState } from 'preact/hooks';
import { balanceAfter, countdown, describeRequest } from '../common/format.js';
import { send, useStoredValue } from '../common/page.js';
import { AccountView, KEYS, type ApprovalRequest } from '../common/state.js';
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
  const current = pending[0];

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
      {error && (
        <p class="warning" role="alert">
          {error}
        </p>
      )}
      <div class="actions">
        <button class="primary" disabled={busy || !current.payment} onClick={() => act({ type: 'approval.decide', id: current.id, approve: true })}>
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

function Request({ request }: { request: ApprovalRequest }) {
  const now = useNow(1000);
  const d = describeRequest(request);
  const view = AccountView.safeParse(useStoredValue(KEYS.account, 'session'));
  const after = request.payment && view.success ? balanceAfter(view.data.balances, request.payment) : null;
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
        {d.expiresAt && (
          <>
            <dt>Expires in</dt>
            <dd>{countdown(d.expiresAt, now)}</dd>
          </>
        )}
      </dl>
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
