/**
 * Access tokens: short-lived ES256 JWTs (RFC 9068 shape, header `typ: at+jwt`) that every
 * authenticated request carries. They are not stored and cannot be revoked; their lifetime
 * (15 minutes by default) bounds how long a logged-out session's token keeps working over HTTP.
 *
 * `sid` names the session (the refresh-token family of the login the token came from), so that
 * what lasts longer than one request, a live socket, can be cut when that session is logged out.
 */
import { randomBytes } from 'node:crypto';
import { errors as joseErrors, jwtVerify, type JWTHeaderParameters } from 'jose';
import { ProblemError } from '../../shared/problem.js';
import type { Clock } from '../clock.js';
import { SIGNING_ALG, type SigningKeys } from './keys.js';

export const ACCESS_TOKEN_TYP = 'at+jwt';
const DEFAULT_CACHE_SIZE = 10_000;
/** Longer than any token we issue; bounds the work (and cache memory) an attacker can cause. */
const MAX_TOKEN_LENGTH = 4096;

export interface AccessTokenClaims {
  userId: string;
  address: string;
}

/** What a long-lived connection needs besides the user: when to end, and which session to follow. */
export interface AccessTokenSession extends AccessTokenClaims {
  /** The refresh-token family the token was issued under; null for a token without `sid`. */
  sessionId: string | null;
  /** Milliseconds since the epoch at which the token stops verifying (its `exp`). */
  expiresAt: number;
}

export interface AccessTokens {
  /** `sessionId` becomes the `sid` claim: the refresh-token family the token belongs to. */
  issue(user: { id: string; address: string }, sessionId?: string): Promise<{ token: string; expiresIn: number }>;
  /** Throws ProblemError('invalid-token') for anything but a valid, unexpired token of ours. */
  verify(token: string): Promise<AccessTokenClaims>;
  /** verify(), plus the session and expiry (for sockets, which outlive a request). */
  verifySession(token: string): Promise<AccessTokenSession>;
}

export interface AccessTokensOptions {
  keys: SigningKeys;
  /** The hub's public URL: both `iss` and `aud`, since the hub is the only audience. */
  issuer: string;
  clock: Clock;
  ttlSeconds?: number;
  cacheSize?: number;
}

export function createAccessTokens(opts: AccessTokensOptions): AccessTokens {
  const { keys, issuer, clock } = opts;
  const ttlSeconds = opts.ttlSeconds ?? 900;
  const cacheSize = opts.cacheSize ?? DEFAULT_CACHE_SIZE;
  // An ES256 verify costs ~100µs of CPU and the payments endpoint must sustain >3,000 req/s, while
  // one client sends the same token many times. Verified tokens are remembered until their exp;
  // Map keeps insertion order, so evicting the first key drops the oldest entry.
  const cache = new Map<string, AccessTokenClaims & { exp: number; sid: string | null }>();

  // Resolving the key by kid (rather than passing the key) makes a token naming another kid fail
  // cleanly, and lets tokens signed before a key rotation verify under the retired key until
  // they expire (the retired key is still published, only the current one signs).
  const keyFor = (header: JWTHeaderParameters) => {
    const key = keys.verificationKey(header.kid);
    if (!key) throw new ProblemError('invalid-token', 'unknown key id');
    return key;
  };

  const session = (c: AccessTokenClaims & { exp: number; sid: string | null }): AccessTokenSession => ({
    userId: c.userId,
    address: c.address,
    sessionId: c.sid,
    expiresAt: c.exp * 1000,
  });

  async function verifySession(token: string): Promise<AccessTokenSession> {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
      throw new ProblemError('invalid-token', 'malformed token');
    }
    const nowSeconds = Math.floor(clock.now() / 1000);
    const hit = cache.get(token);
    if (hit) {
      // Same rule as jose's: expired once now >= exp.
      if (nowSeconds < hit.exp) return session(hit);
      cache.delete(token);
    }

    let payload, protectedHeader;
    try {
      ({ payload, protectedHeader } = await jwtVerify(token, keyFor, {
        algorithms: [SIGNING_ALG], // refuses `none`, HS256 with the public key as secret, RS*, …
        typ: ACCESS_TOKEN_TYP,
        issuer,
        audience: issuer,
        currentDate: new Date(clock.now()),
        requiredClaims: ['sub', 'exp', 'iat', 'jti'],
      }));
    } catch (err) {
      if (err instanceof ProblemError) throw err;
      throw new ProblemError('invalid-token', describe(err));
    }
    // jose compares typ case-insensitively and with an optional "application/"; we issue exactly
    // one spelling, so anything else did not come from us.
    if (protectedHeader.typ !== ACCESS_TOKEN_TYP) throw new ProblemError('invalid-token', 'unexpected token type');
    const { sub, addr, exp, sid } = payload;
    if (typeof sub !== 'string' || typeof addr !== 'string' || typeof exp !== 'number') {
      throw new ProblemError('invalid-token', 'missing claims');
    }
    // Tokens issued before `sid` existed have none; they still work until they expire.
    if (sid !== undefined && typeof sid !== 'string') throw new ProblemError('invalid-token', 'malformed sid');

    if (cache.size >= cacheSize) {
      const oldest = cache.keys().next();
      if (!oldest.done) cache.delete(oldest.value);
    }
    const entry = { userId: sub, address: addr, exp, sid: sid ?? null };
    cache.set(token, entry);
    return session(entry);
  }

  return {
    async issue(user, sessionId) {
      const token = await keys.sign(
        { addr: user.address, jti: randomBytes(16).toString('base64url'), ...(sessionId !== undefined ? { sid: sessionId } : {}) },
        { typ: ACCESS_TOKEN_TYP, issuer, audience: issuer, subject: user.id, expiresInSeconds: ttlSeconds, now: clock.now() },
      );
      return { token, expiresIn: ttlSeconds };
    },

    async verify(token) {
      const { userId, address } = await verifySession(token);
      return { userId, address };
    },

    verifySession,
  };
}

/** A short reason for the problem detail; never echoes the token. */
function describe(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'token expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `claim check failed: ${err.claim} (${err.reason})`;
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'algorithm not allowed';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'bad signature';
  if (err instanceof joseErrors.JWTInvalid || err instanceof joseErrors.JWSInvalid) return 'malformed token';
  return 'token could not be verified';
}
