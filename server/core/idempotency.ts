import { createHash } from 'node:crypto';
import { ProblemError } from '../../shared/problem.js';
import { forUpdate, type Queryable } from '../store/types.js';

/**
 * Idempotency-Key records, for every call that creates something (payments, deposits, refunds, …).
 * A key lives in a scope: the kind of call and who made it, so the same key from two callers, or
 * for two kinds of call, never meets. The record names the resource the call created.
 */
export type KeyScope = `${'payment' | 'deposit' | 'refund' | 'topup'}:${string}`;
export const keyScope = (kind: 'payment' | 'deposit' | 'refund' | 'topup', ownerId: string): KeyScope => `${kind}:${ownerId}`;

/** Keys are kept at least this long (said so in the API description), then purged. */
export const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;

export interface StoredResponse {
  status: number;
  body: unknown;
}

/** The request's fingerprint: key order and white space do not matter, every value does. */
export function fingerprint(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

/**
 * Sorted-key JSON, written with a work list instead of recursion: however deeply a body nests,
 * this cannot overflow the stack (the HTTP layer refuses deep bodies first; this holds for any
 * caller). The text is byte for byte what the recursive version wrote, so fingerprints stored
 * before still match their retries.
 */
function canonicalJson(root: unknown): string {
  const out: string[] = [];
  // Last in, first out: each container pushes its closing bracket, then its members in reverse.
  const todo: ({ value: unknown } | string)[] = [{ value: root }];
  while (todo.length > 0) {
    const item = todo.pop()!;
    if (typeof item === 'string') {
      out.push(item);
      continue;
    }
    const v = item.value;
    if (Array.isArray(v)) {
      todo.push(']');
      for (let i = v.length - 1; i >= 0; i--) {
        todo.push({ value: v[i] });
        if (i > 0) todo.push(',');
      }
      todo.push('[');
    } else if (v && typeof v === 'object') {
      const keys = Object.keys(v).sort();
      todo.push('}');
      for (let i = keys.length - 1; i >= 0; i--) {
        todo.push({ value: (v as Record<string, unknown>)[keys[i]!] });
        todo.push(`${i > 0 ? ',' : ''}${JSON.stringify(keys[i])}:`);
      }
      todo.push('{');
    } else {
      out.push(JSON.stringify(v) ?? 'null');
    }
  }
  return out.join('');
}

/**
 * Claims (scope, key) inside the caller's transaction. Returns `claimed` when this request owns
 * the key now, or the stored response to replay. Throws 409 while the first request is still
 * running and 422 when the key was used for another request; both roll back, storing nothing.
 *
 * The INSERT goes first so that two racing requests meet at the primary key: on PostgreSQL the
 * second waits for the first to commit and then sees its row.
 */
export async function claimKey(
  tx: Queryable,
  a: {
    scope: KeyScope;
    key: string;
    fingerprint: string;
    /** The id of what this request creates (a payment, a deposit, a refund's payment). */
    resourceId: string;
    now: number;
    /** When the answer is known before anything is written (a payment that settles in this transaction). */
    response?: StoredResponse;
    /** `JSON.stringify(response.body)`, when the caller has it already. */
    responseJson?: string;
    /**
     * The transaction appends the resource's first outbox event for the scope's owner, and that
     * event's payment is `responseJson` exactly (appendEvent with `paymentJson`, previousStatus
     * null). The key then refers to the event instead of storing the answer a second time (a
     * payment with its signed receipt, ~1 KB); a replay reads it back byte for byte.
     */
    answerIsEvent?: boolean;
  },
): Promise<{ claimed: true } | { claimed: false; replay: StoredResponse }> {
  const expires = a.now + IDEMPOTENCY_TTL_MS;
  const state = a.response ? 'done' : 'in_flight';
  const status = a.response?.status ?? null;
  const byEvent = a.response !== undefined && a.answerIsEvent === true;
  const body = a.response && !byEvent ? (a.responseJson ?? JSON.stringify(a.response.body)) : null;
  const owner = byEvent ? eventOwner(a.scope) : null;
  // The owner's event seq now: the event this transaction appends comes after it, whatever
  // commits meanwhile (a seq only grows, and this resource's events are this transaction's).
  const afterSeq = byEvent ? '(SELECT last_seq FROM users WHERE id = ?)' : '?';
  const ins = await tx.run(
    `INSERT INTO idempotency_keys (scope, key, fingerprint, resource_id, state, response_status, response_body, answer_after_seq, created_at, expires_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ${afterSeq}, ?, ?) ON CONFLICT (scope, key) DO NOTHING`,
    [a.scope, a.key, a.fingerprint, a.resourceId, state, status, body, owner, a.now, expires],
  );
  if (ins.changes === 1) return { claimed: true };

  const row = await tx.get<{
    fingerprint: string;
    state: string;
    resource_id: string;
    response_status: number | null;
    response_body: string | null;
    answer_after_seq: number | string | null;
    expires_at: number;
  }>(
    `SELECT fingerprint, state, resource_id, response_status, response_body, answer_after_seq, expires_at FROM idempotency_keys
     WHERE scope = ? AND key = ?${forUpdate(tx)}`,
    [a.scope, a.key],
  );
  if (!row) throw new ProblemError('idempotency-key-in-flight', 'the key was released meanwhile; retry');
  if (Number(row.expires_at) <= a.now && row.state === 'done') {
    // A key past its retention is free again; the old record goes.
    await tx.run(
      `UPDATE idempotency_keys SET fingerprint = ?, state = ?, resource_id = ?, response_status = ?,
       response_body = ?, answer_after_seq = ${afterSeq}, created_at = ?, expires_at = ? WHERE scope = ? AND key = ?`,
      [a.fingerprint, state, a.resourceId, status, body, owner, a.now, expires, a.scope, a.key],
    );
    return { claimed: true };
  }
  if (row.fingerprint !== a.fingerprint) {
    throw new ProblemError('idempotency-key-reused', 'this Idempotency-Key was used with a different request body');
  }
  if (row.state !== 'done' || row.response_status === null) {
    throw new ProblemError('idempotency-key-in-flight', 'the first request with this Idempotency-Key is still running; retry shortly');
  }
  const text =
    row.response_body === null && row.answer_after_seq !== null
      ? await answerFromEvent(tx, eventOwner(a.scope), row.resource_id, Number(row.answer_after_seq))
      : row.response_body;
  return { claimed: false, replay: { status: Number(row.response_status), body: JSON.parse(text ?? 'null') } };
}

/** Whose events a key's answer is among: a payment key's scope names the paying user. */
function eventOwner(scope: KeyScope): string {
  if (!scope.startsWith('payment:')) throw new TypeError(`claimKey: answerIsEvent is for payment keys, not ${scope}`);
  return scope.slice('payment:'.length);
}

/**
 * The answer a key refers to: the resource's first event after `afterSeq` (the outbox keeps
 * events 7 days past delivery, keys 24 hours), its payload minus what appendEvent added.
 */
async function answerFromEvent(q: Queryable, userId: string, resourceId: string, afterSeq: number): Promise<string> {
  const ev = await q.get<{ payload: string; seq: number | string }>(
    'SELECT payload, seq FROM outbox WHERE user_id = ? AND seq > ? AND payment_id = ? ORDER BY seq LIMIT 1',
    [userId, afterSeq, resourceId],
  );
  const tail = ev ? `,"previousStatus":null,"seq":${Number(ev.seq)}}` : '';
  if (!ev?.payload.endsWith(tail)) throw new Error(`the stored answer of ${resourceId} (its first event) is gone`);
  return `${ev.payload.slice(0, -tail.length)}}`;
}

/**
 * Whether a key is taken (in flight, or answered and still kept), read outside any transaction:
 * a request whose key is known is answered by its claim and never prepared again.
 */
export async function keyKnown(q: Queryable, scope: KeyScope, key: string, now: number): Promise<boolean> {
  const k = await q.get<{ state: string; expires_at: number | string }>(
    'SELECT state, expires_at FROM idempotency_keys WHERE scope = ? AND key = ?',
    [scope, key],
  );
  return Boolean(k) && !(k!.state === 'done' && Number(k!.expires_at) <= now);
}

/** Stores the answer for the key that created `resourceId`, in the same transaction as the state it reports. */
export async function storeResponse(tx: Queryable, resourceId: string, res: StoredResponse): Promise<void> {
  await tx.run(
    `UPDATE idempotency_keys SET state = 'done', response_status = ?, response_body = ?
     WHERE resource_id = ? AND state = 'in_flight'`,
    [res.status, JSON.stringify(res.body), resourceId],
  );
}

/** Stores the answer for one key: for calls whose resource id is not unique to the key (a refund names its payment). */
export async function storeKeyResponse(tx: Queryable, scope: KeyScope, key: string, res: StoredResponse): Promise<void> {
  await tx.run(`UPDATE idempotency_keys SET state = 'done', response_status = ?, response_body = ? WHERE scope = ? AND key = ?`, [
    res.status,
    JSON.stringify(res.body),
    scope,
    key,
  ]);
}

export async function purgeExpiredKeys(tx: Queryable, now: number): Promise<number> {
  return (await tx.run(`DELETE FROM idempotency_keys WHERE expires_at <= ? AND state = 'done'`, [now])).changes;
}
