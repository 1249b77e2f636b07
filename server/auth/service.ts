/**
 * The auth service the HTTP layer and the socket server call: SIWE login, refresh, logout,
 * access-token verification and the JWKS. It only wires the parts together.
 */
import type { z } from 'zod';
import type { TokenResponse } from '../../shared/api.js';
import { ProblemError } from '../../shared/problem.js';
import type { Clock } from '../clock.js';
import type { Db } from '../store/types.js';
import type { JWK } from 'jose';
import type { SigningKeys } from './keys.js';
import { createRefreshTokens } from './refresh.js';
import { createSiweAuth, SIWE_CHAIN_ID } from './siwe.js';
import { createAccessTokens, type AccessTokenClaims, type AccessTokenSession } from './tokens.js';
import { findUserById, upsertUserByAddress, type User } from './users.js';

export type TokenResponseBody = z.infer<typeof TokenResponse>;

export interface AuthServiceOptions {
  db: Db;
  keys: SigningKeys;
  clock: Clock;
  /** TOLLWAY_PUBLIC_URL: issuer and audience of access tokens; its host[:port] is the SIWE domain. */
  publicUrl: string;
  accessTtlSeconds?: number;
  refreshTtlSeconds?: number;
  nonceTtlSeconds?: number;
  /** The chain id SIWE messages must name; SIWE_CHAIN_ID (what the extension signs) by default. */
  siweChainId?: number;
  /** Live unused SIWE nonces per client key, and for everyone together (see siwe.ts). */
  noncesPerClient?: number;
  noncesTotal?: number;
  /**
   * Told after a session (refresh-token family) was revoked, by logout or by a refresh-token reuse:
   * whatever was opened with that session's access tokens (sockets) should be closed.
   */
  onSessionRevoked?(sessionId: string): void;
}

export interface AuthService {
  /** `client`: the caller's clientKey(), which the per-client nonce cap counts under. */
  nonce(client?: string): Promise<{ nonce: string }>;
  loginWithSiwe(message: string, signature: string): Promise<TokenResponseBody>;
  refresh(refreshToken: string): Promise<TokenResponseBody>;
  /** Idempotent: an unknown or already revoked token succeeds. */
  logout(refreshToken: string): Promise<void>;
  verifyAccessToken(token: string): Promise<AccessTokenClaims>;
  /** verifyAccessToken plus the session id and expiry: for connections that outlive a request. */
  verifyAccessTokenSession(token: string): Promise<AccessTokenSession>;
  /** False once the session was logged out or revoked. */
  isSessionActive(sessionId: string): Promise<boolean>;
  jwks(): { keys: JWK[] };
}

export function createAuthService(opts: AuthServiceOptions): AuthService {
  const { db, keys, clock } = opts;
  const url = new URL(opts.publicUrl);
  // Config strips the trailing slash; do it here too so iss/aud compare equal whoever builds us.
  const issuer = opts.publicUrl.replace(/\/+$/, '');
  const access = createAccessTokens({ keys, issuer, clock, ttlSeconds: opts.accessTtlSeconds });
  const refreshTokens = createRefreshTokens({
    db,
    clock,
    ttlSeconds: opts.refreshTtlSeconds,
    onFamilyRevoked: (familyId) => opts.onSessionRevoked?.(familyId),
  });
  const siwe = createSiweAuth({
    db,
    clock,
    domain: url.host,
    scheme: url.protocol.replace(/:$/, ''),
    uri: url.origin,
    chainId: opts.siweChainId ?? SIWE_CHAIN_ID,
    nonceTtlSeconds: opts.nonceTtlSeconds,
    maxNoncesPerClient: opts.noncesPerClient,
    maxNonces: opts.noncesTotal,
  });

  // The refresh-token family is the session: its id goes into every access token as `sid`.
  const respond = async (user: User, session: { token: string; familyId: string }): Promise<TokenResponseBody> => {
    const { token, expiresIn } = await access.issue(user, session.familyId);
    return {
      accessToken: token,
      refreshToken: session.token,
      expiresIn,
      tokenType: 'Bearer',
      user: { id: user.id, address: user.address },
    };
  };

  return {
    nonce: async (client) => ({ nonce: await siwe.issueNonce(client) }),

    async loginWithSiwe(message, signature) {
      const { address } = await siwe.verifyLogin(message, signature);
      const { user, session } = await db.transaction(async (tx) => {
        const user = await upsertUserByAddress(tx, address, clock);
        return { user, session: await refreshTokens.issue(tx, user.id) };
      });
      return respond(user, session);
    },

    async refresh(refreshToken) {
      const { userId, ...session } = await refreshTokens.rotate(refreshToken);
      const user = await findUserById(db, userId);
      if (!user) throw new ProblemError('invalid-token', 'user no longer exists');
      return respond(user, session);
    },

    logout: (refreshToken) => refreshTokens.revoke(refreshToken),
    verifyAccessToken: (token) => access.verify(token),
    verifyAccessTokenSession: (token) => access.verifySession(token),
    isSessionActive: (sessionId) => refreshTokens.isActive(sessionId),
    jwks: () => keys.jwks(),
  };
}
