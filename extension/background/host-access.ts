/**
 * Host access: Tollway sees a 402 (webRequest), adds a proof to a reload (declarativeNetRequest with
 * host access) and offers `window.tollway` only on sites it has host permission for. The person
 * chooses at onboarding between all sites (`<all_urls>`) and sites they list, and can change it in
 * the settings; Chrome keeps the grants (chrome.permissions), so they are read from there, never
 * mirrored. The hub needs none: it answers CORS for the extension's origin.
 */

export const ALL_SITES = '<all_urls>';
const ALL_PATTERNS = new Set([ALL_SITES, '*://*/*']);

/** `https://shop.example:8443` → `https://shop.example:8443/*`, the match pattern of that origin. */
export function originPattern(origin: string): string {
  const u = new URL(origin);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('only http and https sites can be paid on');
  return `${u.origin}/*`;
}

/** The origin a granted pattern names (`https://shop.example/*` → `https://shop.example`), or null for wildcards. */
export function patternOrigin(pattern: string): string | null {
  const m = /^(https?):\/\/([^/*]+)\/\*$/.exec(pattern);
  if (!m) return null;
  try {
    return new URL(`${m[1]}://${m[2]}`).origin;
  } catch {
    return null;
  }
}

export interface HostAccess {
  mode: 'all' | 'chosen';
  /** The sites granted one by one (origins), sorted. */
  sites: string[];
}

export function hostAccessOf(granted: readonly string[]): HostAccess {
  if (granted.some((p) => ALL_PATTERNS.has(p))) return { mode: 'all', sites: [] };
  const sites = [...new Set(granted.map(patternOrigin).filter((o): o is string => o !== null))].sort();
  return { mode: 'chosen', sites };
}

/** Where the in-page provider is registered: the granted sites exactly. */
export function providerMatches(granted: readonly string[]): string[] {
  const access = hostAccessOf(granted);
  return access.mode === 'all' ? [ALL_SITES] : access.sites.map(originPattern);
}

/** Origins typed one per line (or separated by spaces or commas) → match patterns; throws on a bad one. */
export function sitePatterns(text: string): string[] {
  return [
    ...new Set(
      text
        .split(/[\s,]+/)
        .filter(Boolean)
        .map((s) => {
          try {
            return originPattern(new URL(/^[a-z]+:\/\//i.test(s) ? s : `https://${s}`).origin);
          } catch {
            throw new Error(`“${s}” is not a site address (like https://shop.example)`);
          }
        }),
    ),
  ];
}
