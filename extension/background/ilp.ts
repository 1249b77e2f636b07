/**
 * The person's Interledger wallet at the hub: linking and unlinking it, the budget grants on it and
 * their revocation, mirrored in session storage (IlpView) for the settings page, the popup and the
 * approval flow, which asks `wallet()` whether a 402 may be paid from it. The mirror is read again
 * at sign-in, after every change made here, and when a page asks.
 */
import type { IlpWallet } from '../../shared/ilp.js';
import { ILP_KEY, IlpView } from '../common/ilp.js';
import type { T } from '../common/i18n.js';
import type { HubSession } from '../common/state.js';
import type { StorageArea } from '../common/storage.js';
import type { IlpApi } from './ilp-api.js';
import { createSerial } from './serial.js';

export interface IlpDeps {
  session: StorageArea;
  api: IlpApi;
  t: T;
  current(): Promise<HubSession | null>;
  now?: () => number;
  /** How long a 402 waits for the hub when no mirror was read yet (ms). */
  lookupWaitMs?: number;
}

export type Ilp = ReturnType<typeof createIlp>;

export function createIlp(deps: IlpDeps) {
  const now = deps.now ?? (() => Date.now());
  const serial = createSerial();

  async function signedIn(): Promise<HubSession> {
    const s = await deps.current();
    if (!s) throw new Error(deps.t('worker_sign_in_first'));
    return s;
  }

  async function stored(s: HubSession): Promise<IlpView | null> {
    const parsed = IlpView.safeParse((await deps.session.get(ILP_KEY))[ILP_KEY]);
    return parsed.success && parsed.data.hubUrl === s.url && parsed.data.userId === (s.user?.id ?? '') ? parsed.data : null;
  }

  const write = (s: HubSession, wallet: IlpWallet | null, grants: IlpView['grants']) =>
    serial(() =>
      deps.session.set({ [ILP_KEY]: { hubUrl: s.url, userId: s.user?.id ?? '', wallet, grants, syncedAt: now() } satisfies IlpView }),
    );

  async function read(s: HubSession): Promise<IlpView['wallet']> {
    const wallet = await deps.api.wallet(s);
    // Grants are shown, not relied on: a failed read leaves them unknown, the wallet still linked.
    const grants = wallet ? await deps.api.grants(s).catch(() => null) : null;
    await write(s, wallet, grants);
    return wallet;
  }

  return {
    /** Reads the linked wallet and its grants from the hub into the mirror. */
    async sync(): Promise<void> {
      const s = await deps.current();
      if (s) await read(s);
    },

    async link(walletAddress: string): Promise<IlpWallet> {
      const s = await signedIn();
      const wallet = await deps.api.link(s, walletAddress);
      await write(s, wallet, await deps.api.grants(s).catch(() => null));
      return wallet;
    },

    async unlink(): Promise<void> {
      const s = await signedIn();
      await deps.api.unlink(s);
      await write(s, null, null);
    },

    async revoke(grantId: string): Promise<void> {
      const s = await signedIn();
      await deps.api.revoke(s, grantId);
      await read(s);
    },

    /**
     * The linked wallet for a 402 being queued: the mirror at once; without one, the hub, for at
     * most `lookupWaitMs` (the window must not wait on a slow hub: it is then offered without).
     */
    async wallet(): Promise<IlpWallet | null> {
      const s = await deps.current();
      if (!s?.user) return null;
      const copy = await stored(s);
      if (copy) return copy.wallet;
      const reading = read(s).catch(() => null);
      return Promise.race([reading, new Promise<null>((r) => setTimeout(() => r(null), deps.lookupWaitMs ?? 1000))]);
    },
  };
}
