/**
 * The fallback wait for a payment made elsewhere: ask the page until its 402 is gone (a strict CSP
 * or a proxy without websockets keeps the hub socket away), slowly while the socket is up.
 */

/** How long a page waits for its payment before giving up. */
export const POLL_LIMIT_MS = 30 * 60 * 1000;

/** Milliseconds before poll number `attempt` (0-based): 2 s growing to 15 s; 60 s while the socket listens. */
export function pollDelay(attempt: number, socketLive = false): number {
  if (socketLive) return 60_000;
  return Math.min(15_000, Math.round(2000 * 1.5 ** Math.max(0, attempt)));
}

export type PollVerdict = 'paid' | 'waiting' | 'retry-get';

/** What a poll answer means: 'paid' (the 402 is gone: reload), 'waiting', or 'retry-get' (HEAD unsupported). */
export function pollVerdict(status: number, method: string): PollVerdict {
  if (status === 402) return 'waiting';
  if (method === 'HEAD' && (status === 405 || status === 501)) return 'retry-get';
  if (status >= 200 && status < 400) return 'paid';
  return 'waiting';
}

export interface Poller {
  stop(): void;
}

/** Polls `resource` until it stops answering 402 (`onPaid`) or POLL_LIMIT_MS passed (`onGiveUp`). */
export function pollUntilPaid(
  win: Window,
  resource: string,
  on: { socketLive: () => boolean; onPaid: () => void; onGiveUp: () => void },
): Poller {
  let method = 'HEAD';
  let attempt = 0;
  let stopped = false;
  let timer: number | undefined;
  const started = Date.now();
  const schedule = () => {
    if (!stopped) timer = win.setTimeout(tick, pollDelay(attempt++, on.socketLive()));
  };
  const tick = () => {
    if (stopped) return;
    if (Date.now() - started > POLL_LIMIT_MS) {
      stopped = true;
      on.onGiveUp();
      return;
    }
    // A hidden tab waits; the socket (if any) still hears the payment.
    if (win.document.hidden) return schedule();
    win
      .fetch(resource, { method, headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' })
      .then((res) => {
        const verdict = pollVerdict(res.status, method);
        if (verdict === 'paid') return on.onPaid();
        if (verdict === 'retry-get') method = 'GET';
        schedule();
      })
      .catch(schedule);
  };
  schedule();
  return {
    stop() {
      stopped = true;
      win.clearTimeout(timer);
    },
  };
}
