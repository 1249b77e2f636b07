/**
 * The hub's Interledger routes the worker calls: the linked wallet address (`/ilp/wallet`) and the
 * budget grants the hub holds on it (`/ilp/grants`). Answers are checked with the shared schemas; a
 * refusal is a HubError carrying the hub's own words (its problem's detail), which the pages show.
 */
import type { z } from 'zod';
import { ProblemDetails } from '../../shared/api.js';
import { IlpGrantList, IlpWallet } from '../../shared/ilp.js';
import type { T } from '../common/i18n.js';
import type { HubSession } from '../common/state.js';
import { HubError } from './hub-api.js';

export interface IlpApi {
  /** The wallet linked now, or null (none, or a hub without the ilp rail). */
  wallet(s: HubSession): Promise<IlpWallet | null>;
  link(s: HubSession, walletAddress: string): Promise<IlpWallet>;
  /** Resolves also when nothing was linked: it is gone either way. */
  unlink(s: HubSession): Promise<void>;
  grants(s: HubSession): Promise<z.infer<typeof IlpGrantList>['data']>;
  /** Resolves also when the grant is gone already. */
  revoke(s: HubSession, grantId: string): Promise<void>;
}

export function createIlpApi(deps: { fetch: typeof fetch; t: T; timeoutMs?: number }): IlpApi {
  async function call<V>(
    s: HubSession,
    path: string,
    init: { method?: string; body?: unknown },
    schema: { safeParse(v: unknown): { success: true; data: V } | { success: false } } | null,
  ): Promise<V> {
    let res: Response;
    try {
      res = await deps.fetch(new URL(path, s.url), {
        method: init.method ?? 'GET',
        headers: {
          authorization: `Bearer ${s.accessToken}`,
          ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
        signal: AbortSignal.timeout(deps.timeoutMs ?? 30_000),
        cache: 'no-store',
      });
    } catch (e) {
      throw new HubError(0, 'about:blank', deps.t('worker_hub_unreachable', (e as Error).message));
    }
    const json: unknown = res.status === 204 ? undefined : await res.json().catch(() => undefined);
    if (!res.ok) {
      const problem = ProblemDetails.safeParse(json);
      throw new HubError(
        res.status,
        problem.success ? problem.data.type : 'about:blank',
        problem.success ? (problem.data.detail ?? problem.data.title) : deps.t('worker_hub_answered', res.status),
      );
    }
    if (!schema) return undefined as V;
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new HubError(res.status, 'about:blank', deps.t('worker_hub_unexpected_answer_from', path));
    return parsed.data;
  }
  /** 404: nothing there. A hub without the rail answers a problem of its own (unsupported-rail). */
  const absent = (e: unknown) => e instanceof HubError && (e.status === 404 || e.type.endsWith('/unsupported-rail'));

  return {
    wallet: (s) => call(s, '/ilp/wallet', {}, IlpWallet).catch((e: unknown) => (absent(e) ? null : Promise.reject(e))),
    link: (s, walletAddress) => call(s, '/ilp/wallet', { method: 'PUT', body: { walletAddress } }, IlpWallet),
    unlink: (s) =>
      call<void>(s, '/ilp/wallet', { method: 'DELETE' }, null).catch((e: unknown) => (absent(e) ? undefined : Promise.reject(e))),
    grants: async (s) => (await call(s, '/ilp/grants', {}, IlpGrantList)).data,
    revoke: (s, grantId) =>
      call<void>(s, `/ilp/grants/${encodeURIComponent(grantId)}`, { method: 'DELETE' }, null).catch((e: unknown) =>
        e instanceof HubError && e.status === 404 ? undefined : Promise.reject(e),
      ),
  };
}
