/**
 * What every 402 codec here shares: results that never throw, the limits on hostile input, and
 * JSON and base64 decoding without prototype keys or unbounded nesting. Runs in Node and in the
 * browser alike: only atob/btoa and TextEncoder/TextDecoder.
 */
export type ChallengeErrorCode =
  | 'absent' // no challenge of any kind we know
  | 'too-large' // over the size limits below
  | 'bad-encoding' // not base64 / not UTF-8
  | 'bad-json' // not JSON, or too deeply nested
  | 'unsupported-version' // a version we do not speak (x402Version 3, L402 version="1", …)
  | 'invalid'; // the right shape nowhere: no option that validates

export interface ChallengeError {
  code: ChallengeErrorCode;
  message: string;
}

export type ChallengeResult<T> = { ok: true; value: T } | { ok: false; error: ChallengeError };

export const fail = (code: ChallengeErrorCode, message: string): { ok: false; error: ChallengeError } => ({
  ok: false,
  error: { code, message },
});

/** Limits that keep a hostile server from making the extension decode megabytes. */
export const CHALLENGE_LIMITS = {
  headerChars: 64 * 1024,
  bodyChars: 256 * 1024,
  jsonDepth: 32,
  accepts: 16,
  authChallenges: 16,
} as const;

/** Keys that could reach an object's prototype if the parsed value were ever merged or spread. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function depthOf(value: unknown, limit: number): number {
  // Iterative, so a hostile nesting depth cannot overflow the stack here.
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d > max) max = d;
    if (max > limit) return max;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

/** JSON.parse without prototype keys and without unbounded nesting. */
export function parseJsonSafely(text: string): ChallengeResult<unknown> {
  let value: unknown;
  try {
    // Returning undefined from a reviver deletes the key from the parsed object.
    value = JSON.parse(text, (k, v: unknown) => (FORBIDDEN_KEYS.has(k) ? undefined : v));
  } catch {
    return fail('bad-json', 'not JSON');
  }
  if (depthOf(value, CHALLENGE_LIMITS.jsonDepth) > CHALLENGE_LIMITS.jsonDepth) return fail('bad-json', 'JSON nested too deeply');
  return { ok: true, value };
}

/** Standard or URL-safe base64, padded or not, holding UTF-8 text. */
export function decodeBase64Text(s: string): ChallengeResult<string> {
  const t = s.trim();
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(t)) return fail('bad-encoding', 'not base64');
  const std = t.replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/');
  if (std.length % 4 === 1) return fail('bad-encoding', 'not base64');
  let binary: string;
  try {
    binary = atob(std + '='.repeat((4 - (std.length % 4)) % 4));
  } catch {
    return fail('bad-encoding', 'not base64');
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  try {
    return { ok: true, value: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    return fail('bad-encoding', 'not UTF-8');
  }
}

export function encodeBase64Text(s: string): string {
  const bytes = new TextEncoder().encode(s);
  let binary = '';
  // Chunks keep String.fromCharCode's argument list short.
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}
