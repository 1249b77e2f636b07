/**
 * The wait for a payment made elsewhere, by socket: the hub announces on its /challenges namespace
 * when the challenge this page holds is paid (docs/protocols.md §9). The official Socket.IO client
 * is loaded from the hub itself (`/socket.io/socket.io.min.js`) rather than bundled, so the snippet
 * stays small and always speaks the hub's protocol version.
 */
import type { ChallengeKey } from './challenge.js';

/** The part of the Socket.IO client the snippet uses. */
interface ClientSocket {
  on(event: 'connect' | 'disconnect', listener: () => void): unknown;
  on(event: 'challengeStatus', listener: (update: unknown) => void): unknown;
  close(): unknown;
}
type Io = (url: string, opts: { transports: string[]; auth: ChallengeKey; path: string }) => ClientSocket;
type IoWindow = Window & { io?: Io };

export interface PaymentEvents {
  /** The socket is up (true) or down (false): polling slows down while it is up. */
  onLive(live: boolean): void;
  onCompleted(): void;
  onFailed(): void;
}

export function listenForPayment(win: Window, hub: string, key: ChallengeKey, on: PaymentEvents): void {
  loadSocketClient(win as IoWindow, hub, (io) => {
    const url = new URL(hub);
    const socket = io(`${url.origin}/challenges`, {
      transports: ['websocket'],
      auth: { challengeId: key.challengeId, merchantId: key.merchantId },
      path: `${url.pathname.replace(/\/$/, '')}/socket.io`,
    });
    socket.on('connect', () => on.onLive(true));
    socket.on('disconnect', () => on.onLive(false));
    socket.on('challengeStatus', (update) => {
      const u = update as { challengeId?: unknown; status?: unknown } | null;
      if (!u || u.challengeId !== key.challengeId) return;
      if (u.status === 'completed') {
        socket.close();
        on.onCompleted();
      } else if (u.status === 'failed') on.onFailed();
    });
  });
}

function loadSocketClient(win: IoWindow, hub: string, then: (io: Io) => void): void {
  if (typeof win.io === 'function') {
    then(win.io);
    return;
  }
  const doc = win.document;
  const s = doc.createElement('script');
  s.src = `${hub}/socket.io/socket.io.min.js`;
  s.async = true;
  s.onload = () => {
    if (typeof win.io === 'function') then(win.io);
  };
  (doc.head || doc.documentElement).appendChild(s);
}
