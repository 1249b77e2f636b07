import { ProblemError } from '../../shared/problem.js';
import type { Queryable } from './types.js';

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

/**
 * Newest-first keyset pages over (created_at, id): stable while rows are added, no OFFSET scans.
 * The cursor is the last row's position, opaque to clients; one this API did not issue is a 400.
 */
export async function newestFirst<R extends { created_at: number | string; id: string }>(
  q: Queryable,
  query: { select: string; where: string; params: readonly unknown[]; idPrefix: string },
  cursor: string | undefined,
  limit: number,
): Promise<Page<R>> {
  const after = cursor ? decodeCursor(cursor, query.idPrefix) : null;
  const rows = await q.all<R>(
    `${query.select} WHERE ${query.where}` +
      (after ? ' AND (created_at < ? OR (created_at = ? AND id < ?))' : '') +
      ' ORDER BY created_at DESC, id DESC LIMIT ?',
    after ? [...query.params, after.t, after.t, after.id, limit + 1] : [...query.params, limit + 1],
  );
  const data = rows.slice(0, limit);
  const last = data[data.length - 1];
  return { data, nextCursor: rows.length > limit && last ? encodeCursor(Number(last.created_at), last.id) : null };
}

function encodeCursor(t: number, id: string): string {
  return Buffer.from(`${t}:${id}`).toString('base64url');
}

function decodeCursor(c: string, idPrefix: string): { t: number; id: string } {
  const m = /^(\d{1,16}):([A-Za-z0-9_-]{1,80})$/.exec(Buffer.from(c, 'base64url').toString());
  if (!m || !m[2]!.startsWith(idPrefix)) throw new ProblemError('validation-error', 'cursor is not one this API issued');
  return { t: Number(m[1]), id: m[2]! };
}
