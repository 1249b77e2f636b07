/**
 * The hub's Interledger routes the worker calls: the linked wallet address (`/ilp/wallet`) and the
 * budget grants the hub holds on it (`/ilp/grants`). Answers are checked with the shared schemas; a
 * refusal is a HubError carrying the hub's own words (its problem's detail), which the pages show.
 */
import type { z } from 'zod';
import { IlpGrantList, IlpWallet } from '../../shared/ilp.js';
import type { T } from '../common/i18n.js';
import type { HubSession } from '../common/state.js';
import { HubError, hubCall } from './hub-api.js';

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
  // 30 s: linking fetches and checks the wallet address document at the wallet's server.
  const call = <V>(
    s: HubSession,
    path: string,
    init: { method?: string; body?: unknown },
    schema: { safeParse(v: unknown): { success: true; data: V } | { success: false } } | null,
  ) => hubCall({ ...deps, timeoutMs: deps.timeoutMs ?? 30_000 }, schema, s.url, path, { ...init, token: s.accessToken });
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
