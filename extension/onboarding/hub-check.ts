/**
 * Is there a Tollway hub at this address? Asked live while the person types the address: the page
 * calls the hub's public `GET /rails` (the hub answers CORS for the extension's origin, so no host
 * permission is needed) and accepts the answer only when it has the shape every hub gives. Any other
 * server — or none — is told apart, so the person learns at step 1 that the address is wrong rather
 * than at sign-in.
 */
import { RailsInfo, type Rail } from '../../shared/api.js';

export type HubCheck =
  | { ok: true; url: string; rails: Rail[] }
  | { ok: false; url: string | null; problem: 'not-a-url' | 'unreachable' | 'not-a-hub' };

const LOCAL_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?([/?#]|$)/i;

/**
 * The hub's origin from what was typed, or null. No scheme typed: https, or http for this
 * machine (where local hubs run without TLS).
 */
export function hubOrigin(typed: string): string | null {
  const s = typed.trim();
  if (!s) return null;
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s : `${LOCAL_HOST.test(s) ? 'http' : 'https'}://${s}`;
  try {
    const u = new URL(withScheme);
    if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username || u.password || !u.hostname) return null;
    return u.origin;
  } catch {
    return null;
  }
}

export async function checkHub(typed: string, fetchFn: typeof fetch = fetch, timeoutMs = 5000): Promise<HubCheck> {
  const url = hubOrigin(typed);
  if (!url) return { ok: false, url: null, problem: 'not-a-url' };
  let res: Response;
  try {
    res = await fetchFn(`${url}/rails`, { signal: AbortSignal.timeout(timeoutMs), credentials: 'omit', cache: 'no-store' });
  } catch {
    return { ok: false, url, problem: 'unreachable' };
  }
  const info = res.ok ? RailsInfo.safeParse(await res.json().catch(() => null)) : null;
  if (!info?.success) return { ok: false, url, problem: 'not-a-hub' };
  return { ok: true, url, rails: info.data.rails.map((r) => r.name) };
}
