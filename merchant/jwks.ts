/**
 * The hub's receipt keys, fetched from `<hub>/.well-known/jwks.json` and cached.
 *
 * - Loaded on first use, kept `maxAgeMs` (then refreshed on the next use; a failed refresh keeps
 *   serving the keys it had).
 * - An unknown `kid` triggers one refresh (the hub may have rotated its key), but at most one
 *   attempt per `cooldownMs`, so a stream of proofs with made-up kids cannot make the merchant
 *   hammer the hub. Concurrent look-ups share one request.
 * - Only EC P-256 keys meant for ES256 signatures are taken from the set.
 */
import { importJWK, type JWK } from 'jose';

export interface KeySource {
  /** The verification key for `kid`, or null when the hub does not list it. Throws JwksUnavailableError. */
  getKey(kid: string): Promise<CryptoKey | null>;
}

export class JwksUnavailableError extends Error {
  override name = 'JwksUnavailableError';
}

export interface JwksCacheOptions {
  /** Full URL of the JWKS, e.g. `https://hub.example/.well-known/jwks.json`. */
  url: string;
  fetch?: typeof fetch;
  /** Least time between two fetches caused by unknown kids or failures. Default 30 s. */
  cooldownMs?: number;
  /** How long a fetched set is used before it is fetched again. Default 10 min. */
  maxAgeMs?: number;
  /** Per request. Default 5 s. */
  timeoutMs?: number;
  now?: () => number;
}

const MAX_JWKS_CHARS = 256 * 1024;

export interface JwksCache extends KeySource {
  /** Fetches now (respecting nothing); resolves when done. */
  refresh(): Promise<void>;
  /** How many fetches were started: for tests and metrics. */
  readonly fetches: number;
}

export function createJwksCache(opts: JwksCacheOptions): JwksCache {
  const doFetch = opts.fetch ?? fetch;
  const cooldownMs = opts.cooldownMs ?? 30_000;
  const maxAgeMs = opts.maxAgeMs ?? 600_000;
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const now = opts.now ?? Date.now;

  let keys: Map<string, CryptoKey> | null = null;
  let fetchedAt = -Infinity;
  let lastAttempt = -Infinity;
  let inflight: Promise<void> | null = null;
  let fetches = 0;

  async function load(): Promise<void> {
    fetches++;
    lastAttempt = now();
    let text: string;
    try {
      const res = await doFetch(opts.url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      text = await res.text();
    } catch (err) {
      throw new JwksUnavailableError(`cannot fetch ${opts.url}: ${(err as Error).message}`);
    }
    if (text.length > MAX_JWKS_CHARS) throw new JwksUnavailableError(`${opts.url} is too large`);
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new JwksUnavailableError(`${opts.url} is not JSON`);
    }
    const list = (doc as { keys?: unknown })?.keys;
    if (!Array.isArray(list)) throw new JwksUnavailableError(`${opts.url} has no "keys" list`);
    const next = new Map<string, CryptoKey>();
    for (const jwk of list as JWK[]) {
      if (!jwk || typeof jwk !== 'object' || typeof jwk.kid !== 'string') continue;
      if (jwk.kty !== 'EC' || jwk.crv !== 'P-256') continue;
      if (jwk.alg !== undefined && jwk.alg !== 'ES256') continue;
      if (jwk.use !== undefined && jwk.use !== 'sig') continue;
      if ('d' in jwk) continue; // never accept a private key as a verification key
      try {
        next.set(jwk.kid, (await importJWK(jwk, 'ES256')) as CryptoKey);
      } catch {
        // an unusable entry is skipped, not fatal
      }
    }
    keys = next;
    fetchedAt = now();
  }

  function refresh(): Promise<void> {
    inflight ??= load().finally(() => {
      inflight = null;
    });
    return inflight;
  }

  return {
    refresh,
    get fetches() {
      return fetches;
    },
    async getKey(kid: string): Promise<CryptoKey | null> {
      if (inflight) await inflight.catch(() => undefined);
      const coolingDown = now() - lastAttempt < cooldownMs;
      if (!keys || now() - fetchedAt >= maxAgeMs) {
        if (!keys && coolingDown) throw new JwksUnavailableError(`${opts.url} was unreachable; retrying after the cooldown`);
        if (!coolingDown) {
          try {
            await refresh();
          } catch (err) {
            if (!keys) throw err; // stale keys beat none
          }
        }
      } else if (!keys.has(kid) && !coolingDown) {
        // Possibly a rotated key: look once, then stay quiet for the cooldown.
        try {
          await refresh();
        } catch {
          // keep the keys we had; the kid stays unknown
        }
      }
      return keys?.get(kid) ?? null;
    },
  };
}

const shared = new Map<string, JwksCache>();

/** One cache per JWKS URL in this process, shared by every paywall that names the same hub. */
export function hubJwks(hub: string): JwksCache {
  const url = `${hub.replace(/\/+$/, '')}/.well-known/jwks.json`;
  let cache = shared.get(url);
  if (!cache) {
    cache = createJwksCache({ url });
    shared.set(url, cache);
  }
  return cache;
}
