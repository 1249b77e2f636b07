/** The rail's table (migration 008_sovr): one row per SOVR payment, keyed by the payment id. */
import type { Queryable } from '../../store/types.js';
import type { Authorization } from './authorization.js';

export interface SovrRow {
  paymentId: string;
  userId: string;
  chainId: number;
  token: string;
  authorization: Authorization;
  /** The block the chain was at when the payment was reserved: log searches start there. */
  fromBlock: number;
  /** The hub's signed transaction, once it has one. */
  tx: SignedTx | null;
  broadcastError: string | null;
}

export interface SignedTx {
  sender: string;
  nonce: number;
  hash: string;
  raw: string;
}

interface DbRow {
  payment_id: string;
  user_id: string;
  chain_id: number | string;
  token: string;
  from_address: string;
  to_address: string;
  value: string;
  valid_after: string;
  valid_before: string;
  auth_nonce: string;
  signature: string;
  from_block: number | string;
  sender: string | null;
  nonce: number | string | null;
  tx_hash: string | null;
  raw_tx: string | null;
  broadcast_error: string | null;
}

const COLUMNS =
  'payment_id, user_id, chain_id, token, from_address, to_address, value, valid_after, valid_before, auth_nonce, signature, ' +
  'from_block, sender, nonce, tx_hash, raw_tx, broadcast_error';

function fromDb(r: DbRow): SovrRow {
  return {
    paymentId: r.payment_id,
    userId: r.user_id,
    chainId: Number(r.chain_id),
    token: r.token,
    authorization: {
      from: r.from_address,
      to: r.to_address,
      value: BigInt(r.value),
      validAfter: BigInt(r.valid_after),
      validBefore: BigInt(r.valid_before),
      nonce: r.auth_nonce,
      signature: r.signature,
    },
    fromBlock: Number(r.from_block),
    tx: r.raw_tx && r.tx_hash && r.sender && r.nonce !== null ? { sender: r.sender, nonce: Number(r.nonce), hash: r.tx_hash, raw: r.raw_tx } : null,
    broadcastError: r.broadcast_error,
  };
}

export async function insertSovrRow(tx: Queryable, row: Omit<SovrRow, 'tx' | 'broadcastError'>, now: number): Promise<void> {
  const a = row.authorization;
  await tx.run(
    `INSERT INTO sovr_transactions (payment_id, user_id, chain_id, token, from_address, to_address, value, valid_after,
       valid_before, auth_nonce, signature, from_block, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [row.paymentId, row.userId, row.chainId, row.token, a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, a.signature, row.fromBlock, now, now],
  );
}

export async function loadSovrRow(q: Queryable, paymentId: string): Promise<SovrRow | undefined> {
  const r = await q.get<DbRow>(`SELECT ${COLUMNS} FROM sovr_transactions WHERE payment_id = ?`, [paymentId]);
  return r ? fromDb(r) : undefined;
}

/** Written before the broadcast: whatever happens next, this is the one transaction for the payment. */
export async function recordSigned(q: Queryable, paymentId: string, t: SignedTx, now: number): Promise<void> {
  const r = await q.run(
    `UPDATE sovr_transactions SET sender = ?, nonce = ?, tx_hash = ?, raw_tx = ?, updated_at = ? WHERE payment_id = ? AND raw_tx IS NULL`,
    [t.sender, t.nonce, t.hash, t.raw, now, paymentId],
  );
  if (r.changes !== 1) throw new Error(`payment ${paymentId} already has a signed transaction, or no SOVR row`);
}

/** The node refused the broadcast for good: the nonce goes to the next payment. */
export async function recordRejected(q: Queryable, paymentId: string, reason: string, now: number): Promise<void> {
  await q.run(`UPDATE sovr_transactions SET broadcast_error = ?, updated_at = ? WHERE payment_id = ?`, [reason, now, paymentId]);
}

/**
 * What this address has committed to SOVR payments the chain balance may not show yet: those in
 * flight, and those that finished since `since` (the moment its balance was read, which may
 * predate their transfer). The latter count twice at worst, which only ever refuses, never overdraws.
 */
export async function committedSince(tx: Queryable, from: string, since: number): Promise<bigint> {
  const rows = await tx.all<{ amount: string }>(
    `SELECT p.amount AS amount FROM sovr_transactions s JOIN payments p ON p.id = s.payment_id
      WHERE s.from_address = ? AND (p.status IN ('pending', 'submitted') OR (p.status IN ('completed', 'refunded') AND p.updated_at >= ?))`,
    [from, since],
  );
  return rows.reduce((sum, r) => sum + BigInt(r.amount), 0n);
}

/** Another payment that is using (or used) this very authorization; a failed one released it. */
export async function paymentUsing(tx: Queryable, from: string, authNonce: string): Promise<string | undefined> {
  const r = await tx.get<{ id: string }>(
    `SELECT p.id AS id FROM sovr_transactions s JOIN payments p ON p.id = s.payment_id
      WHERE s.from_address = ? AND s.auth_nonce = ? AND p.status <> 'failed' LIMIT 1`,
    [from, authNonce],
  );
  return r?.id;
}

/**
 * The nonce after the highest one held by a payment still open with a transaction the node may
 * not have yet (it is re-broadcast on resume): new transactions must not take those nonces.
 */
export async function nextOpenNonce(q: Queryable, sender: string): Promise<number> {
  const r = await q.get<{ n: number | string | null }>(
    `SELECT MAX(s.nonce) AS n FROM sovr_transactions s JOIN payments p ON p.id = s.payment_id
      WHERE s.sender = ? AND s.broadcast_error IS NULL AND p.status IN ('pending', 'submitted')`,
    [sender],
  );
  return r?.n === null || r?.n === undefined ? 0 : Number(r.n) + 1;
}
