/**
 * Rotating refresh tokens (OAuth 2.0 Security BCP §4.14). Each login starts a family; each
 * refresh marks the presented token rotated and issues the next one in the same family. A rotated
 * token presented again means two parties hold the family (a stolen copy, or a client that lost a
 * response), so the whole family is revoked and both must log in again.
 *
 * The database keeps only sha256(token): a dump of refresh_tokens cannot be replayed.
 *
 * The family id is the session id: access tokens carry it as `sid`, and whoever holds something
 * longer-lived than a request (a socket) is told when the family is revoked.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ProblemError } from '../../shared/problem.js';
import type { Clock } from '../clock.js';
import { forUpdate, type Db, type Queryable } from '../store/types.js';

export const REFRESH_TOKEN_PREFIX = 'rt_';
const THIRTY_DAYS = 30 * 24 * 3600;

export interface RefreshTokens {
  /** A new token for `userId`: a new family unless `familyId` is given. Runs on the caller's transaction. */
  issue(q: Queryable, userId: string, familyId?: string): Promise<{ token: string; familyId: string }>;
  /** Exchanges a live token for the next one of its family. Throws ProblemError('invalid-token'). */
  rotate(token: string): Promise<{ userId: string; familyId: string; token: string }>;
  /**
   * Logout: revokes the token's whole family. Idempotent: an unknown, expired or already revoked
   * token succeeds silently, so logout never tells a caller whether a token existed.
   */
  revoke(token: string): Promise<void>;
  /** False once the family is revoked (logout or reuse) or if it never existed. */
  isActive(familyId: string): Promise<boolean>;
}

export interface RefreshTokensOptions {
  db: Db;
  clock: Clock;
  ttlSeconds?: number;
  /** Told after a family's revocation is committed (logout, or a reuse), to end what it holds open. */
  onFamilyRevoked?(familyId: string): void;
}

interface Row {
  id: string;
  family_id: string;
  user_id: string;
  expires_at: number;
  rotated_at: number | null;
  revoked_at: number | null;
}

export const hashRefreshToken = (token: string) => createHash('sha256').update(token).digest('hex');

export function createRefreshTokens(opts: RefreshTokensOptions): RefreshTokens {
  const { db, clock } = opts;
  const ttlMs = (opts.ttlSeconds ?? THIRTY_DAYS) * 1000;

  const issue = async (q: Queryable, userId: string, familyId?: string) => {
    const token = REFRESH_TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const family = familyId ?? newId('rtf_');
    const now = clock.now();
    await q.run('INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)', [
      newId('rtk_'),
      family,
      userId,
      hashRefreshToken(token),
      now,
      now + ttlMs,
    ]);
    return { token, familyId: family };
  };
  // After the commit only: a listener acting on a revocation that then rolls back would cut a live session.
  const revoked = (familyId: string) => {
    try {
      opts.onFamilyRevoked?.(familyId);
    } catch {
      // The revocation stands whatever a listener does.
    }
  };

  /**
   * Locks every row of the family, in a stable order. Rotation and revocation both take this lock
   * first, so on PostgreSQL (READ COMMITTED) a revocation can't miss a token that a concurrent
   * rotation is adding: whichever comes second waits, then its next statement sees the first's rows.
   */
  const lockFamily = (tx: Queryable, familyId: string) =>
    tx.all(`SELECT id FROM refresh_tokens WHERE family_id = ? ORDER BY id${forUpdate(tx)}`, [familyId]);

  const revokeFamily = async (tx: Queryable, familyId: string, now: number) => {
    await lockFamily(tx, familyId);
    await tx.run('UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL', [now, familyId]);
  };

  const findFamily = async (q: Queryable, token: string) =>
    typeof token === 'string' && token.startsWith(REFRESH_TOKEN_PREFIX) && token.length <= 512
      ? q.get<{ family_id: string }>('SELECT family_id FROM refresh_tokens WHERE token_hash = ?', [hashRefreshToken(token)])
      : undefined;

  return {
    issue,

    async rotate(token) {
      // The outcome is decided inside the transaction but thrown after it commits: a reuse must
      // leave the family revoked, which a throw inside the transaction would roll back.
      const outcome = await db.transaction(async (tx) => {
        const found = await findFamily(tx, token);
        if (!found) return { fail: 'unknown refresh token' } as const;
        await lockFamily(tx, found.family_id);
        const row = await tx.get<Row>(
          'SELECT id, family_id, user_id, expires_at, rotated_at, revoked_at FROM refresh_tokens WHERE token_hash = ?',
          [hashRefreshToken(token)],
        );
        if (!row) return { fail: 'unknown refresh token' } as const;
        const now = clock.now();
        if (row.revoked_at !== null) return { fail: 'refresh token revoked' } as const;
        if (row.rotated_at !== null) {
          await revokeFamily(tx, row.family_id, now);
          return { fail: 'refresh token reused; session revoked', revokedFamily: row.family_id } as const;
        }
        if (Number(row.expires_at) <= now) return { fail: 'refresh token expired' } as const;
        await tx.run('UPDATE refresh_tokens SET rotated_at = ? WHERE id = ?', [now, row.id]);
        const next = await issue(tx, row.user_id, row.family_id);
        return { userId: row.user_id, familyId: next.familyId, token: next.token };
      });
      if ('fail' in outcome) {
        if (outcome.revokedFamily !== undefined) revoked(outcome.revokedFamily);
        throw new ProblemError('invalid-token', outcome.fail);
      }
      return outcome;
    },

    async revoke(token) {
      const familyId = await db.transaction(async (tx) => {
        const found = await findFamily(tx, token);
        if (!found) return undefined;
        await revokeFamily(tx, found.family_id, clock.now());
        return found.family_id;
      });
      // Also for a family revoked before: a socket may have been opened since with one of its
      // access tokens (they outlive the refresh token by up to their lifetime).
      if (familyId !== undefined) revoked(familyId);
    },

    async isActive(familyId) {
      const row = await db.get('SELECT 1 AS live FROM refresh_tokens WHERE family_id = ? AND revoked_at IS NULL LIMIT 1', [familyId]);
      return row !== undefined;
    },
  };
}

function newId(prefix: string): string {
  return prefix + randomBytes(12).toString('hex');
}
