/**
 * From a webRequest `onHeadersReceived` event to a 402 with its challenge. MV3 lets the worker see
 * the status and headers but not the body, so an x402 version 1 server (requirements in the body)
 * is asked again for JSON, which also reaches servers (docs/protocols.md) that send browsers a
 * 402 page without the header.
 */
import { CHALLENGE_LIMITS, readChallenge, type HeaderEntry, type PaymentChallenge } from '../../shared/challenge.js';
import type { FrameType } from '../common/state.js';
import type { Seen402 } from './approvals.js';

/** The fields of a webRequest event used here. */
export interface HeadersReceived {
  statusCode: number;
  url: string;
  method: string;
  type: string;
  tabId: number;
  initiator?: string;
  responseHeaders?: HeaderEntry[];
}

export const WATCHED_TYPES: FrameType[] = ['main_frame', 'sub_frame', 'xmlhttprequest'];

export interface Noticed {
  site: string;
  tabId: number;
  frameType: FrameType;
  method: string;
  url: string;
  headers: HeaderEntry[];
}

/** Picks out 402s from pages; the extension's own requests (tabId -1) are not the person's. */
export function notice(e: HeadersReceived): Noticed | null {
  if (e.statusCode !== 402 || e.tabId < 0) return null;
  const frameType = WATCHED_TYPES.find((t) => t === e.type);
  if (!frameType) return null;
  let site: string;
  try {
    // A page load asks for its own origin; a fetch or a frame is asked for by the page around it.
    site = frameType === 'main_frame' || !e.initiator || e.initiator === 'null' ? new URL(e.url).origin : new URL(e.initiator).origin;
  } catch {
    return null;
  }
  return { site, tabId: e.tabId, frameType, method: e.method, url: e.url, headers: e.responseHeaders ?? [] };
}

/** Fetches a 402 again asking for JSON; returns its headers and (bounded) body. */
export type Reask = (url: string) => Promise<{ headers: HeaderEntry[]; body: string } | null>;

export async function challengeOf(n: Noticed, reask: Reask): Promise<Seen402 | null> {
  const seen = (challenge: PaymentChallenge): Seen402 => ({
    site: n.site,
    tabId: n.tabId,
    frameType: n.frameType,
    method: n.method,
    url: n.url,
    challenge,
  });
  const first = readChallenge({ headers: n.headers });
  if (first.ok) return seen(first.value);
  // A challenge that is there but unreadable is shown as such; only a missing one is asked again,
  // and only for GET, which is safe to repeat.
  if (first.error.code !== 'absent') return seen({ x402: null, l402: null, problems: [first.error] });
  if (n.method.toUpperCase() !== 'GET') return null;
  const again = await reask(n.url).catch(() => null);
  if (!again) return null;
  const second = readChallenge({ headers: again.headers, body: again.body });
  if (second.ok) return seen(second.value);
  return second.error.code === 'absent' ? null : seen({ x402: null, l402: null, problems: [second.error] });
}

/** The re-ask with fetch, the body cut at the parser's limit. */
export function fetchReask(fetchFn: typeof fetch): Reask {
  return async (url) => {
    const res = await fetchFn(url, {
      headers: { accept: 'application/json' },
      credentials: 'include',
      signal: AbortSignal.timeout(10_000),
    });
    if (res.status !== 402) return null;
    const headers: HeaderEntry[] = [];
    for (const [name, value] of res.headers) headers.push({ name, value });
    const text = await res.text();
    return { headers, body: text.slice(0, CHALLENGE_LIMITS.bodyChars + 1) };
  };
}
