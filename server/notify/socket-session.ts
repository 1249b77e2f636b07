/**
 * A signed-in socket lives no longer than what let it in: the access token it presented (its
 * `exp`) and the session that token belongs to (the refresh-token family, `sid`). A socket is put
 * in its session's room, so a logout reaches it through the adapter on whichever hub process holds
 * it; and since an access token outlives its session's logout by up to its lifetime, a socket
 * opened with such a token is checked against the session once it has joined the room.
 */
import type { Socket } from 'socket.io';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';

export const sessionRoom = (sessionId: string) => `session:${sessionId}`;

/** setTimeout's largest delay (about 24.8 days); a longer one fires at once, so it is re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface SocketSessionOptions {
  clock: Clock;
  /** Says whether the session is still signed in; absent, only expiry is enforced. */
  sessionActive?: (sessionId: string) => Promise<boolean>;
  logger?: Pick<Logger, 'warn'>;
}

/**
 * Joins the session's room, arms the expiry, and checks the session. Resolves true while the
 * socket may stay (replays wait for it), false when it was disconnected.
 */
export function followSession(
  socket: Socket,
  session: { sessionId: string | null; expiresAt: number | null },
  opts: SocketSessionOptions,
): Promise<boolean> {
  if (session.expiresAt !== null) disconnectAt(socket, session.expiresAt, opts.clock);
  if (session.sessionId === null || !opts.sessionActive) return Promise.resolve(socket.connected);
  const { sessionId } = session;
  // Joined before the check: a logout committed after the check broadcasts to a room we are in.
  void socket.join(sessionRoom(sessionId));
  return opts.sessionActive(sessionId).then(
    (active) => {
      if (!active) socket.disconnect(true);
      return active && socket.connected;
    },
    (err: Error) => {
      // Unknown is not signed in: drop the transport (not a server disconnect), so the client
      // reconnects and the check runs again.
      opts.logger?.warn({ sid: socket.id, reason: err.message }, 'session check failed; dropping the connection');
      socket.conn.close();
      return false;
    },
  );
}

/** Disconnects at `expiresAt` by the injected clock, read again each time the timer fires. */
function disconnectAt(socket: Socket, expiresAt: number, clock: Clock): void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    const left = expiresAt - clock.now();
    if (left <= 0) {
      socket.disconnect(true);
      return;
    }
    timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
  };
  socket.once('disconnect', () => clearTimeout(timer));
  arm();
}
