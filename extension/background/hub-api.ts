/**
 * Hub calls other than paying: sign-in, token refresh and logout, balances and payments. Every
 * answer is validated with the shared schemas; a refusal is a HubError carrying the problem type.
 */
import type { z } from 'zod';
import {
  AccountsMe,
  Allowance,
  AllowanceList,
  NonceResponse,
  Payment,
  PaymentList,
  ProblemDetails,
  RailsInfo,
  TokenResponse,
  type AllowancePeriod,
} from '../../shared/api.js';
import type { T as Translate } from '../common/i18n.js';
import type { HubSession } from '../common/state.js';

export class HubError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = 'HubError';
  }
}

export type Tokens = z.infer<typeof TokenResponse>;

export interface HubApi {
  nonce(hubUrl: string): Promise<string>;
  signIn(hubUrl: string, message: string, signature: string): Promise<Tokens>;
  refresh(hubUrl: string, refreshToken: string): Promise<Tokens>;
  logout(hubUrl: string, refreshToken: string): Promise<void>;
  account(session: HubSession): Promise<z.infer<typeof AccountsMe>>;
  payments(session: HubSession, limit: number): Promise<z.infer<typeof PaymentList>>;
  payment(session: HubSession, id: string): Promise<Payment>;
  faucet(session: HubSession, asset: string, amount: string): Promise<z.infer<typeof AccountsMe>>;
  /** One page of the person's payments, newest first; `nextCursor` null at the end. */
  paymentsPage(session: HubSession, cursor: string | null, limit: number): Promise<z.infer<typeof PaymentList>>;
  allowances(session: HubSession): Promise<z.infer<typeof AllowanceList>>;
  putAllowance(
    session: HubSession,
    a: { site: string; payee: string; asset: string; amount: string; period: AllowancePeriod },
  ): Promise<z.infer<typeof Allowance>>;
  /**
   * Resolves also when there was no such allowance (404): it is gone either way. `payee` null: the
   * site's allowance kept from before allowances named a payee.
   */
  deleteAllowance(session: HubSession, site: string, payee: string | null, asset: string): Promise<void>;
}

/** Kept apart from HubApi so that stand-ins written against HubApi stay complete. */
export interface RailsApi {
  /** `GET /rails`: the rails the hub has and what a wallet signs for SOVR (public, no token). */
  rails(hubUrl: string): Promise<RailsInfo>;
}

export interface HubCallDeps {
  fetch: typeof fetch;
  t: Translate;
  timeoutMs?: number;
}

/**
 * One call to the hub: JSON in and out, the answer checked with `schema` (null: no body expected),
 * a refusal thrown as a HubError with the hub's own words, an unreachable hub as status 0.
 */
export async function hubCall<T>(
  deps: HubCallDeps,
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } } | null,
  hubUrl: string,
  path: string,
  init: { method?: string; token?: string; body?: unknown } = {},
): Promise<T> {
  const headers: Record<string, string> = {};
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await deps.fetch(new URL(path, hubUrl), {
      method: init.method ?? 'GET',
      headers,
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      signal: AbortSignal.timeout(deps.timeoutMs ?? 15_000),
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
  if (!schema) return undefined as T;
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new HubError(res.status, 'about:blank', deps.t('worker_hub_unexpected_answer_from', path));
  return parsed.data;
}

export function createHubApi(deps: HubCallDeps): HubApi & RailsApi {
  const call = <T>(
    schema: z.ZodType<T> | null,
    hubUrl: string,
    path: string,
    init: { method?: string; token?: string; body?: unknown } = {},
  ) => hubCall(deps, schema, hubUrl, path, init);

  return {
    nonce: async (hubUrl) => (await call(NonceResponse, hubUrl, '/auth/nonce')).nonce,
    signIn: (hubUrl, message, signature) => call(TokenResponse, hubUrl, '/auth/siwe', { method: 'POST', body: { message, signature } }),
    refresh: (hubUrl, refreshToken) => call(TokenResponse, hubUrl, '/auth/refresh', { method: 'POST', body: { refreshToken } }),
    logout: (hubUrl, refreshToken) => call(null, hubUrl, '/auth/logout', { method: 'POST', body: { refreshToken } }),
    account: (s) => call(AccountsMe, s.url, '/accounts/me', { token: s.accessToken }),
    payments: (s, limit) => call(PaymentList, s.url, `/payments?limit=${limit}`, { token: s.accessToken }),
    payment: (s, id) => call(Payment, s.url, `/payments/${encodeURIComponent(id)}`, { token: s.accessToken }),
    faucet: (s, asset, amount) => call(AccountsMe, s.url, '/dev/faucet', { method: 'POST', token: s.accessToken, body: { asset, amount } }),
    paymentsPage: (s, cursor, limit) =>
      call(PaymentList, s.url, `/payments?${new URLSearchParams({ limit: String(limit), ...(cursor ? { cursor } : {}) })}`, {
        token: s.accessToken,
      }),
    allowances: (s) => call(AllowanceList, s.url, '/allowances', { token: s.accessToken }),
    putAllowance: (s, a) => call(Allowance, s.url, '/allowances', { method: 'PUT', token: s.accessToken, body: a }),
    rails: (hubUrl) => call(RailsInfo, hubUrl, '/rails'),
    deleteAllowance: async (s, site, payee, asset) => {
      try {
        await call(null, s.url, `/allowances?${new URLSearchParams({ site, ...(payee === null ? {} : { payee }), asset })}`, {
          method: 'DELETE',
          token: s.accessToken,
        });
      } catch (e) {
        if (!(e instanceof HubError && e.status === 404)) throw e;
      }
    },
  };
}
