/**
 * Access tokens: short-lived ES256 JWTs (RFC 9068 shape, header `typ: at+jwt`) that every
 * authenticated request carries. They are not stored and cannot be revoked; their lifetime
 * (15 minutes by default) bounds how long a logged-out session's token keeps working.
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

export interface AccessTokens {
  issue(user: { id: string; address: string }): Promise<{ token: string; expiresIn: number }>;
  /** Throws ProblemError('invalid-token') for anything but a valid, unexpired token of ours. */
  verify(token: string): Promise<AccessTokenClaims>;
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
  const cache = new Map<string, AccessTokenClaims & { exp: number }>();

  // Resolving the key by kid (rather than passing the key) makes a token naming another kid fail
  // cleanly, and leaves room for publishing a second key during a rotation.
  const keyFor = (header: JWTHeaderParameters) => {
    if (header.kid !== keys.kid) throw new ProblemError('invalid-token', 'unknown key id');
    return keys.publicKey;
  };

  return {
    async issue(user) {
      const token = await keys.sign(
        { addr: user.address, jti: randomBytes(16).toString('base64url') },
        { typ: ACCESS_TOKEN_TYP, issuer, audience: issuer, subject: user.id, expiresInSeconds: ttlSeconds, now: clock.now() },
      );
      return { token, expiresIn: ttlSeconds };
    },

    async verify(token) {
      if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
        throw new ProblemError('invalid-token', 'malformed token');
      }
      const nowSeconds = Math.floor(clock.now() / 1000);
      const hit = cache.get(token);
      if (hit) {
        // Same rule as jose's: expired once now >= exp.
        if (nowSeconds < hit.exp) return { userId: hit.userId, address: hit.address };
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
      const { sub, addr, exp } = payload;
      if (typeof sub !== 'string' || typeof addr !== 'string' || typeof exp !== 'number') {
        throw new ProblemError('invalid-token', 'missing claims');
      }

      if (cache.size >= cacheSize) {
        const oldest = cache.keys().next();
        if (!oldest.done) cache.delete(oldest.value);
      }
      cache.set(token, { userId: sub, address: addr, exp });
      return { userId: sub, address: addr };
    },
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
