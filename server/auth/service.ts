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
import { createSiweAuth } from './siwe.js';
import { createAccessTokens, type AccessTokenClaims } from './tokens.js';
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
  /** If set, SIWE messages must name this chain id. */
  siweChainId?: number;
}

export interface AuthService {
  nonce(): Promise<{ nonce: string }>;
  loginWithSiwe(message: string, signature: string): Promise<TokenResponseBody>;
  refresh(refreshToken: string): Promise<TokenResponseBody>;
  /** Idempotent: an unknown or already revoked token succeeds. */
  logout(refreshToken: string): Promise<void>;
  verifyAccessToken(token: string): Promise<AccessTokenClaims>;
  jwks(): { keys: JWK[] };
}

export function createAuthService(opts: AuthServiceOptions): AuthService {
  const { db, keys, clock } = opts;
  const url = new URL(opts.publicUrl);
  // Config strips the trailing slash; do it here too so iss/aud compare equal whoever builds us.
  const issuer = opts.publicUrl.replace(/\/+$/, '');
  const access = createAccessTokens({ keys, issuer, clock, ttlSeconds: opts.accessTtlSeconds });
  const refreshTokens = createRefreshTokens({ db, clock, ttlSeconds: opts.refreshTtlSeconds });
  const siwe = createSiweAuth({
    db,
    clock,
    domain: url.host,
    scheme: url.protocol.replace(/:$/, ''),
    chainId: opts.siweChainId,
    nonceTtlSeconds: opts.nonceTtlSeconds,
  });

  const respond = async (user: User, refreshToken: string): Promise<TokenResponseBody> => {
    const { token, expiresIn } = await access.issue(user);
    return { accessToken: token, refreshToken, expiresIn, tokenType: 'Bearer', user: { id: user.id, address: user.address } };
  };

  return {
    nonce: async () => ({ nonce: await siwe.issueNonce() }),

    async loginWithSiwe(message, signature) {
      const { address } = await siwe.verifyLogin(message, signature);
      const { user, refreshToken } = await db.transaction(async (tx) => {
        const user = await upsertUserByAddress(tx, address, clock);
        return { user, refreshToken: await refreshTokens.issue(tx, user.id) };
      });
      return respond(user, refreshToken);
    },

    async refresh(refreshToken) {
      const { userId, token } = await refreshTokens.rotate(refreshToken);
      const user = await findUserById(db, userId);
      if (!user) throw new ProblemError('invalid-token', 'user no longer exists');
      return respond(user, token);
    },

    logout: (refreshToken) => refreshTokens.revoke(refreshToken),
    verifyAccessToken: (token) => access.verify(token),
    jwks: () => keys.jwks(),
  };
}
