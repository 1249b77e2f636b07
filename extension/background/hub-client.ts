/**
 * Calls to the hub. Answers are validated with the shared schemas; what the hub refused is told
 * apart from what may be retried safely with the same Idempotency-Key.
 */
import { type CreatePaymentRequest, Payment, ProblemDetails } from '../../shared/api.js';
import type { T } from '../common/i18n.js';
import type { HubSession } from '../common/state.js';

export type PayOutcome =
  /** The hub has the payment (in any state); its answer is stored against the key. */
  | { kind: 'answered'; payment: Payment }
  /** Refused before any state existed (insufficient funds, not signed in, …): nothing was paid. */
  | { kind: 'refused'; status: number; type: string; message: string }
  /** Unknown outcome (network, 5xx, 409 in flight): replay the same key later, never a new one. */
  | { kind: 'retry'; message: string };

export interface HubClient {
  pay(session: HubSession, idempotencyKey: string, body: CreatePaymentRequest): Promise<PayOutcome>;
}

/** What one call to the hub came to: its validated answer, a refusal, or an outcome to replay. */
export type HubAnswer<V> =
  | { kind: 'answered'; value: V }
  | { kind: 'refused'; status: number; type: string; message: string }
  | { kind: 'retry'; message: string };

/**
 * One authenticated call with a 200 answer checked against `schema`. 409 (the same key still
 * running), 429 and 5xx are replayable; `retryStatuses` adds more. Anything else is a refusal.
 */
export async function callHub<V>(
  deps: { fetch: typeof fetch; t: T; timeoutMs?: number },
  session: HubSession,
  path: string,
  init: { method: string; key?: string; body?: unknown; cache?: RequestCache },
  schema: { safeParse(v: unknown): { success: true; data: V } | { success: false } },
  retryStatuses: readonly number[] = [],
): Promise<HubAnswer<V>> {
  let res: Response;
  try {
    res = await deps.fetch(new URL(path, session.url), {
      method: init.method,
      headers: {
        authorization: `Bearer ${session.accessToken}`,
        ...(init.key ? { 'idempotency-key': init.key, 'content-type': 'application/json' } : {}),
      },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      ...(init.cache ? { cache: init.cache } : {}),
      signal: AbortSignal.timeout(deps.timeoutMs ?? 30_000),
    });
  } catch (e) {
    return { kind: 'retry', message: deps.t('worker_hub_unreachable', (e as Error).message) };
  }
  const json: unknown = await res.json().catch(() => undefined);
  if (res.status === 200) {
    const parsed = schema.safeParse(json);
    return parsed.success ? { kind: 'answered', value: parsed.data } : { kind: 'retry', message: deps.t('worker_hub_unexpected_answer') };
  }
  // 409: the same key is still running at the hub; 5xx: unknown. Both are safe to replay.
  if (res.status === 409 || res.status === 429 || res.status >= 500 || retryStatuses.includes(res.status))
    return { kind: 'retry', message: deps.t('worker_hub_answered', res.status) };
  const problem = ProblemDetails.safeParse(json);
  return {
    kind: 'refused',
    status: res.status,
    type: problem.success ? problem.data.type : 'about:blank',
    message: problem.success ? (problem.data.detail ?? problem.data.title) : deps.t('worker_hub_answered', res.status),
  };
}

export function createHubClient(deps: { fetch: typeof fetch; t: T; timeoutMs?: number }): HubClient {
  return {
    async pay(session, idempotencyKey, body) {
      const a = await callHub(deps, session, '/payments', { method: 'POST', key: idempotencyKey, body }, Payment);
      return a.kind === 'answered' ? { kind: 'answered', payment: a.value } : a;
    },
  };
}
