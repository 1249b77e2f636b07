/**
 * The hub session in the worker: SIWE sign-in with the unlocked key, access tokens refreshed before
 * they expire (refresh tokens rotate, so refreshes run one at a time: replaying a rotated token
 * would revoke the whole family), sign-out and lock. Tokens live in `session` storage only.
 */
import type { T } from '../common/i18n.js';
import { KEYS, HubSession, type Settings, UnlockedKey } from '../common/state.js';
import type { StorageArea } from '../common/storage.js';
import { siweMessage } from '../common/siwe.js';
import { HubError, type HubApi, type Tokens } from './hub-api.js';
import { createSerial } from './serial.js';

/** Refresh this long before the access token expires. */
export const REFRESH_MARGIN_MS = 60_000;

export interface AuthDeps {
  local: StorageArea;
  t: T;
  session: StorageArea;
  api: HubApi;
  /** EIP-191 personal_sign of `message` with the key. */
  sign(privateKey: string, message: string): Promise<string>;
  now?: () => number;
  /** Asks to be woken at `at` (ms) to refresh; null cancels. */
  scheduleRefresh?(at: number | null): Promise<void>;
  /** Told after every change of the session (sign-in, refresh, sign-out). */
  onChange?(session: HubSession | null): void;
}

export type Auth = ReturnType<typeof createAuth>;

export function hubOrigin(url: string): string {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('the hub URL must be http(s)');
  return u.origin;
}

export function createAuth(deps: AuthDeps) {
  const now = deps.now ?? (() => Date.now());
  const serial = createSerial();

  async function stored(): Promise<HubSession | null> {
    const got = await deps.session.get(KEYS.hub);
    const parsed = HubSession.safeParse(got[KEYS.hub]);
    return parsed.success ? parsed.data : null;
  }

  async function unlocked(): Promise<UnlockedKey | null> {
    const got = await deps.session.get(KEYS.unlocked);
    const parsed = UnlockedKey.safeParse(got[KEYS.unlocked]);
    return parsed.success ? parsed.data : null;
  }

  async function save(url: string, t: Tokens): Promise<HubSession> {
    const s: HubSession = {
      url,
      accessToken: t.accessToken,
      refreshToken: t.refreshToken,
      accessTokenExpiresAt: now() + t.expiresIn * 1000,
      user: t.user,
    };
    await deps.session.set({ [KEYS.hub]: s });
    await deps.scheduleRefresh?.(Math.max(now(), s.accessTokenExpiresAt! - REFRESH_MARGIN_MS));
    deps.onChange?.(s);
    return s;
  }

  async function clear(): Promise<void> {
    await deps.session.remove(KEYS.hub);
    await deps.scheduleRefresh?.(null);
    deps.onChange?.(null);
  }

  async function siwe(hubUrl: string): Promise<HubSession> {
    const key = await unlocked();
    if (!key) throw new Error(deps.t('worker_locked'));
    const url = hubOrigin(hubUrl);
    const nonce = await deps.api.nonce(url);
    const message = siweMessage({ hubUrl: url, address: key.address, nonce, issuedAt: new Date(now()) }, deps.t);
    const signature = await deps.sign(key.privateKey, message);
    const tokens = await deps.api.signIn(url, message, signature);
    if (tokens.user.address.toLowerCase() !== key.address.toLowerCase()) throw new Error(deps.t('worker_hub_other_address'));
    await deps.local.set({ [KEYS.settings]: { hubUrl: url } satisfies Settings });
    return save(url, tokens);
  }

  /** Rotates the refresh token; a rejected one means signing in again (when unlocked) or out. */
  async function rotate(s: HubSession): Promise<HubSession | null> {
    if (!s.refreshToken) return null;
    try {
      return await save(s.url, await deps.api.refresh(s.url, s.refreshToken));
    } catch (e) {
      const rejected = e instanceof HubError && e.status >= 400 && e.status < 500;
      if (!rejected) throw e;
      await clear();
      if (await unlocked()) return siwe(s.url).catch(() => null);
      return null;
    }
  }

  const fresh = (s: HubSession) => s.accessTokenExpiresAt === undefined || s.accessTokenExpiresAt - now() > REFRESH_MARGIN_MS / 2;

  return {
    signIn: (hubUrl: string) => serial(() => siwe(hubUrl)),

    /** The session with an access token good for a while, refreshing it first if needed. */
    current: () =>
      serial(async () => {
        const s = await stored();
        if (!s || fresh(s)) return s;
        try {
          return await rotate(s);
        } catch {
          // The hub is unreachable: the token may still work for a few seconds.
          return s.accessTokenExpiresAt !== undefined && s.accessTokenExpiresAt > now() ? s : null;
        }
      }),

    /** The refresh alarm: rotate now. */
    refresh: () =>
      serial(async () => {
        const s = await stored();
        if (!s) return null;
        try {
          return await rotate(s);
        } catch {
          await deps.scheduleRefresh?.(now() + 30_000);
          return s;
        }
      }),

    signOut: () =>
      serial(async () => {
        const s = await stored();
        await clear();
        // Revoking is best effort: the tokens are forgotten here either way.
        if (s?.refreshToken) await deps.api.logout(s.url, s.refreshToken).catch(() => undefined);
      }),

    lock: () =>
      serial(async () => {
        const s = await stored();
        await deps.session.remove(KEYS.unlocked);
        await clear();
        if (s?.refreshToken) await deps.api.logout(s.url, s.refreshToken).catch(() => undefined);
      }),

    stored,
  };
}
