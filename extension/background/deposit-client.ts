/**
 * `POST /deposits` and `GET /deposits/:id`. Like the payment client, it tells what the hub refused
 * (nothing stored there: shown, never retried) from an answer that never arrived or may change
 * (network, 409 in flight, 429, 5xx: the same body is sent again under the same key).
 */
import { ProblemDetails } from '../../shared/api.js';
import { Deposit } from '../../shared/deposits.js';
import type { HubSession } from '../common/state.js';

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

export function createDepositClient(deps: { fetch: typeof fetch; timeoutMs?: number }): DepositClient {
  async function call(session: HubSession, path: string, init: { method: string; key?: string; body?: unknown }): Promise<DepositOutcome> {
    let res: Response;
    try {
      res = await deps.fetch(new URL(path, session.url), {
        method: init.method,
        headers: {
          authorization: `Bearer ${session.accessToken}`,
          ...(init.key ? { 'idempotency-key': init.key, 'content-type': 'application/json' } : {}),
        },
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
        signal: AbortSignal.timeout(deps.timeoutMs ?? 30_000),
        cache: 'no-store',
      });
    } catch (e) {
      return { kind: 'retry', message: `hub unreachable: ${(e as Error).message}` };
    }
    const json: unknown = await res.json().catch(() => undefined);
    if (res.status === 200) {
      const d = Deposit.safeParse(json);
      return d.success ? { kind: 'answered', deposit: d.data } : { kind: 'retry', message: 'the hub answered something unexpected' };
    }
    // 401 too: the access token is refreshed by its own alarm, and the key may already be at the hub.
    if (res.status === 401 || res.status === 409 || res.status === 429 || res.status >= 500) return { kind: 'retry', message: `hub answered ${res.status}` };
    const problem = ProblemDetails.safeParse(json);
    return {
      kind: 'refused',
      status: res.status,
      type: problem.success ? problem.data.type : 'about:blank',
      message: problem.success ? (problem.data.detail ?? problem.data.title) : `hub answered ${res.status}`,
    };
  }
  return {
    create: (s, key, body) => call(s, '/deposits', { method: 'POST', key, body }),
    get: (s, id) => call(s, `/deposits/${encodeURIComponent(id)}`, { method: 'GET' }),
  };
}
