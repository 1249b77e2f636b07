/**
 * Calls to the hub. Answers are validated with the shared schemas; what the hub refused is told
 * apart from what may be retried safely with the same Idempotency-Key.
 */
import { CreatePaymentRequest, Payment, ProblemDetails } from '../../shared/api.js';
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

export function createHubClient(deps: { fetch: typeof fetch; timeoutMs?: number }): HubClient {
  return {
    async pay(session, idempotencyKey, body) {
      let res: Response;
      try {
        res = await deps.fetch(new URL('/payments', session.url), {
          method: 'POST',
          headers: {
            authorization: `Bearer ${session.accessToken}`,
            'idempotency-key': idempotencyKey,
            'content-type': 'application/json',
          },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(deps.timeoutMs ?? 30_000),
        });
      } catch (e) {
        return { kind: 'retry', message: `hub unreachable: ${(e as Error).message}` };
      }
      let json: unknown;
      try {
        json = await res.json();
      } catch {
        json = undefined;
      }
      if (res.status === 200) {
        const payment = Payment.safeParse(json);
        return payment.success ? { kind: 'answered', payment: payment.data } : { kind: 'retry', message: 'the hub answered something unexpected' };
      }
      // 409: the same key is still running at the hub; 5xx: unknown. Both are safe to replay.
      if (res.status === 409 || res.status >= 500 || res.status === 429) return { kind: 'retry', message: `hub answered ${res.status}` };
      const problem = ProblemDetails.safeParse(json);
      return {
        kind: 'refused',
        status: res.status,
        type: problem.success ? problem.data.type : 'about:blank',
        message: problem.success ? (problem.data.detail ?? problem.data.title) : `hub answered ${res.status}`,
      };
    },
  };
}
