/**
 * Live status: one Socket.IO connection to the hub (websocket transport only: long-polling does not
 * work in a service worker), the access token and the last applied seq in `auth`, a REST reconcile
 * on every (re)connect, updates deduplicated by seq. The result is the AccountView in session
 * storage, which the popup renders.
 */
import { PaymentStatusUpdate, type Payment } from '../../shared/api.js';
import { DepositStatusUpdate } from '../../shared/deposits.js';
import { TopupStatusUpdate } from '../../shared/topups.js';
import { AccountView, KEYS, PAYMENTS_SHOWN, type HubSession } from '../common/state.js';
import type { StorageArea } from '../common/storage.js';
import { applyUpdate, emptyView, isNewer, mergePayments } from './account-view.js';
import type { HubApi } from './hub-api.js';
import { createSerial } from './serial.js';

/** The slice of a socket.io-client Socket used here. */
export interface LiveSocket {
  readonly connected: boolean;
  readonly active: boolean;
  on(event: 'connect', fn: () => void): unknown;
  on(event: 'disconnect', fn: (reason?: string) => void): unknown;
  on(event: 'connect_error', fn: (err: Error) => void): unknown;
  on(event: 'paymentStatusUpdate', fn: (u: unknown) => void): unknown;
  on(event: 'topupStatusUpdate', fn: (u: unknown) => void): unknown;
  on(event: 'depositStatusUpdate', fn: (u: unknown) => void): unknown;
  connect(): unknown;
  disconnect(): unknown;
}

export type AuthPayload = { token?: string; lastSeq?: number };
export type OpenSocket = (hubUrl: string, auth: (cb: (data: AuthPayload) => void) => void) => LiveSocket;

export interface LiveDeps {
  session: StorageArea;
  api: HubApi;
  /** The signed-in session with a fresh token. */
  current(): Promise<HubSession | null>;
  open: OpenSocket;
  now?: () => number;
  /** Told of every payment whose state changed, live or found by a reconcile (to follow payments in flight). */
  onUpdate?(p: Payment): void;
  /** Told of every top-up update heard live (Add funds follows its invoice). */
  onTopup?(u: TopupStatusUpdate): void;
  /** Told of every deposit update heard live (the deposit list follows it at once instead of at its next poll). */
  onDeposit?(u: DepositStatusUpdate): void;
}

export function createLive(deps: LiveDeps) {
  const now = deps.now ?? (() => Date.now());
  const serial = createSerial();
  let socket: LiveSocket | null = null;
  let owner: string | null = null; // `${url} ${userId}` the socket belongs to
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let backoff = 1000;
  const seen = new Set<number>();
  // Bumped whenever the socket is dropped: writes queued by an older socket are discarded.
  let generation = 0;

  async function loadView(): Promise<AccountView | null> {
    const parsed = AccountView.safeParse((await deps.session.get(KEYS.account))[KEYS.account]);
    return parsed.success ? parsed.data : null;
  }

  /** Read-modify-write of the view for the session's user; a view of someone else is replaced. */
  const update = (s: HubSession, change: (v: AccountView) => AccountView | null, gen = generation) =>
    serial(async () => {
      if (gen !== generation) return null;
      const userId = s.user?.id ?? '';
      let view = await loadView();
      if (!view || view.hubUrl !== s.url || view.userId !== userId) view = emptyView(s.url, userId);
      const next = change(view);
      if (next) await deps.session.set({ [KEYS.account]: next });
      return next;
    });

  async function reconcile(): Promise<void> {
    const s = await deps.current();
    if (!s) return;
    try {
      const [account, list] = await Promise.all([deps.api.account(s), deps.api.payments(s, PAYMENTS_SHOWN)]);
      const changed: Payment[] = [];
      await update(s, (v) => {
        // What moved on while the socket was away (a missed update) is followed like a live one.
        for (const p of list.data) {
          const had = v.payments.find((q) => q.transactionId === p.transactionId);
          if (!had || (had.status !== p.status && isNewer(had, p))) changed.push(p);
        }
        return { ...v, balances: account.balances, payments: mergePayments(list.data, v.payments), syncedAt: now(), error: null };
      });
      for (const p of changed) deps.onUpdate?.(p);
    } catch (e) {
      await update(s, (v) => ({ ...v, error: e instanceof Error ? e.message : String(e) }));
    }
  }

  let balanceQueued = false;
  async function refreshBalances(): Promise<void> {
    if (balanceQueued) return;
    balanceQueued = true;
    await Promise.resolve();
    balanceQueued = false;
    const s = await deps.current();
    if (!s) return;
    const account = await deps.api.account(s).catch(() => null);
    if (account) await update(s, (v) => ({ ...v, balances: account.balances }));
  }

  function stop(): void {
    generation++;
    clearTimeout(retryTimer);
    socket?.disconnect();
    socket = null;
    owner = null;
    seen.clear();
  }

  async function start(): Promise<void> {
    const s = await deps.current();
    if (!s?.user) return stop();
    const who = `${s.url} ${s.user.id}`;
    if (socket && owner === who) {
      if (!socket.connected && !socket.active) socket.connect();
      return;
    }
    stop();
    owner = who;
    const gen = generation;
    const sock = deps.open(s.url, (cb) => {
      // Called on every (re)connection attempt: a fresh token and the cursor, every time.
      void Promise.all([deps.current(), loadView()]).then(
        ([cur, view]) =>
          cb({
            ...(cur ? { token: cur.accessToken } : {}),
            ...(view?.lastSeq != null && view.userId === cur?.user?.id ? { lastSeq: view.lastSeq } : {}),
          }),
        () => cb({}),
      );
    });
    socket = sock;
    sock.on('connect', () => {
      backoff = 1000;
      void update(s, (v) => ({ ...v, live: true }), gen).then(reconcile);
    });
    // socket.io does not retry on its own after the hub refused the handshake or ended the socket
    // (its access token expired, its session was logged out); try again, with a fresh token, which
    // the auth callback asks for on every attempt. A signed-out session stops it all via stop().
    const retry = () => {
      if (sock.active || socket !== sock) return;
      clearTimeout(retryTimer);
      retryTimer = setTimeout(() => socket === sock && sock.connect(), backoff);
      backoff = Math.min(backoff * 2, 60_000);
    };
    sock.on('disconnect', (reason) => {
      void update(s, (v) => ({ ...v, live: false }), gen);
      if (reason === 'io server disconnect') retry();
    });
    sock.on('connect_error', () => {
      void update(s, (v) => ({ ...v, live: false }), gen);
      retry();
    });
    sock.on('paymentStatusUpdate', (raw) => {
      const u = PaymentStatusUpdate.safeParse(raw);
      if (!u.success) return;
      void update(s, (v) => applyUpdate(v, u.data, seen), gen).then((applied) => {
        // A duplicate (replay and live at once) is not news.
        if (!applied) return;
        const { previousStatus: _p, seq: _s, ...payment } = u.data;
        deps.onUpdate?.(payment);
        return refreshBalances();
      });
    });
    // Top-ups and deposits share the user's seq: each applied once, and the cursor moves past them
    // too (else the hub would replay them at every reconnect until the next payment).
    const sideEvent =
      <U extends { seq: number }>(
        schema: { safeParse(raw: unknown): { success: true; data: U } | { success: false } },
        tell?: (u: U) => void,
      ) =>
      (raw: unknown) => {
        const u = schema.safeParse(raw);
        if (!u.success) return;
        void update(
          s,
          (v) => {
            if (seen.has(u.data.seq)) return null;
            seen.add(u.data.seq);
            return { ...v, lastSeq: Math.max(v.lastSeq ?? 0, u.data.seq) };
          },
          gen,
        ).then((applied) => {
          if (!applied) return;
          tell?.(u.data);
          return refreshBalances();
        });
      };
    sock.on('topupStatusUpdate', sideEvent(TopupStatusUpdate, deps.onTopup));
    sock.on('depositStatusUpdate', sideEvent(DepositStatusUpdate, deps.onDeposit));
  }

  return {
    start,
    /** The popup opened: make sure the socket runs, and reconcile now. */
    async sync(): Promise<void> {
      await start();
      await reconcile();
    },
    async signedOut(): Promise<void> {
      stop();
      await serial(() => deps.session.remove(KEYS.account));
    },
    loadView,
  };
}
