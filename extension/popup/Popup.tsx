/**
 * The toolbar popup, first slice: which hub the wallet pays through, what waits for approval, and
 * the latest outcomes. Balance, receipts with live status and export come with the hub session.
 */
import { displayAmount } from '../common/format.js';
import { useStoredValue } from '../common/page.js';
import { HubSession, KEYS } from '../common/state.js';
import { readRequestList } from '../common/storage.js';
import { pendingOf } from '../background/queue.js';

export function Popup() {
  const hub = HubSession.safeParse(useStoredValue(KEYS.hub));
  const active = readRequestList(useStoredValue(KEYS.approvals)).requests;
  const history = readRequestList(useStoredValue(KEYS.history)).requests.slice(0, 10);
  const waiting = pendingOf(active).length;
  return (
    <main>
      <h1>Tollway</h1>
      <p data-testid="hub">{hub.success ? `Hub: ${hub.data.url}` : 'Not connected to a hub yet.'}</p>
      {waiting > 0 && <p>{waiting === 1 ? '1 request waits for approval.' : `${waiting} requests wait for approval.`}</p>}
      {history.length > 0 && (
        <ul aria-label="Recent requests">
          {history.map((r) => (
            <li key={r.id}>
              {r.site}: {r.payment ? displayAmount(r.payment.amount, r.payment.asset) : 'no payment'} · {r.status}
              {r.error ? ` (${r.error})` : ''}
            </li>
          ))}
        </ul>
      )}
    </main>
  );
}
