/**
 * `POST /deposits` and `GET /deposits/:id`. Like the payment client, it tells what the hub refused
 * (nothing stored there: shown, never retried) from an answer that never arrived or may change
 * (network, 409 in flight, 429, 5xx: the same body is sent again under the same key).
 */
import { Deposit } from '../../shared/deposits.js';
import type { T } from '../common/i18n.js';
import type { HubSession } from '../common/state.js';
import { callHub } from './hub-client.js';

export type DepositOutcome =
  | { kind: 'answered'; deposit: Deposit }
  | { kind: 'refused'; status: number; type: string; message: string }
  | { kind: 'retry'; message: string };

export interface DepositClient {
  create(session: HubSession, idempotencyKey: string, body: unknown): Promise<DepositOutcome>;
  get(session: HubSession, depositId: string): Promise<DepositOutcome>;
}

/** "insufficient-funds: …": the problem type's last segment, so the person sees which refusal it was. */
export function refusalText(o: { type: string; message: string }): string {
  const slug = o.type.split('/').pop();
  return slug && slug !== 'about:blank' ? `${slug}: ${o.message}` : o.message;
}

export function createDepositClient(deps: { fetch: typeof fetch; t: T; timeoutMs?: number }): DepositClient {
  // 401 too: the access token is refreshed by its own alarm, and the key may already be at the hub.
  const call = async (
    session: HubSession,
    path: string,
    init: { method: string; key?: string; body?: unknown },
  ): Promise<DepositOutcome> => {
    const a = await callHub(deps, session, path, { ...init, cache: 'no-store' }, Deposit, [401]);
    return a.kind === 'answered' ? { kind: 'answered', deposit: a.value } : a;
  };
  return {
    create: (s, key, body) => call(s, '/deposits', { method: 'POST', key, body }),
    get: (s, id) => call(s, `/deposits/${encodeURIComponent(id)}`, { method: 'GET' }),
  };
}
