/**
 * The rail's table (migrations 008_sovr, 009_sovr_exact): one row per SOVR payment, keyed by the
 * payment id; and the queries that look across payments, deposits and settlements of one address
 * or one service wallet.
 */
import type { SignedTx } from '../../chain/evm/gateway.js';
import type { Queryable } from '../../store/types.js';
import type { Authorization } from './authorization.js';

/**
 * `hub`: the hub submits the authorization (to its treasury, for a hub merchant).
 * `exact`: a plain x402 merchant's facilitator submits it (to the merchant's address); the hub
 * only reserves the amount and watches the chain for the authorization's use.
 */
export type SovrKind = 'hub' | 'exact';

export interface SovrRow {
  paymentId: string;
  kind: SovrKind;
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

export type { SignedTx };

/** The columns of an authorization and of the hub's one transaction for it, as sovr_transactions and sovr_deposits both hold them. */
export interface AuthorizedTxColumns {
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

export function authorizedTxFromDb(r: AuthorizedTxColumns): {
  authorization: Authorization;
  fromBlock: number;
  tx: SignedTx | null;
  broadcastError: string | null;
} {
  return {
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
    tx:
      r.raw_tx && r.tx_hash && r.sender && r.nonce !== null
        ? { sender: r.sender, nonce: Number(r.nonce), hash: r.tx_hash, raw: r.raw_tx }
        : null,
    broadcastError: r.broadcast_error,
  };
}

interface DbRow extends AuthorizedTxColumns {
  payment_id: string;
  kind: string;
  user_id: string;
  chain_id: number | string;
  token: string;
}

const COLUMNS =
  'payment_id, kind, user_id, chain_id, token, from_address, to_address, value, valid_after, valid_before, auth_nonce, signature, ' +
  'from_block, sender, nonce, tx_hash, raw_tx, broadcast_error';

function fromDb(r: DbRow): SovrRow {
  return {
    paymentId: r.payment_id,
    kind: r.kind === 'exact' ? 'exact' : 'hub',
    userId: r.user_id,
    chainId: Number(r.chain_id),
    token: r.token,
    ...authorizedTxFromDb(r),
  };
}

export async function insertSovrRow(tx: Queryable, row: Omit<SovrRow, 'tx' | 'broadcastError'>, now: number): Promise<void> {
  const a = row.authorization;
  await tx.run(
    `INSERT INTO sovr_transactions (payment_id, kind, user_id, chain_id, token, from_address, to_address, value, valid_after,
       valid_before, auth_nonce, signature, from_block, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      row.paymentId,
      row.kind,
      row.userId,
      row.chainId,
      row.token,
      a.from,
      a.to,
      a.value,
      a.validAfter,
      a.validBefore,
      a.nonce,
      a.signature,
      row.fromBlock,
      now,
      now,
    ],
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
 * What this address has committed to SOVR payments and deposits the chain balance may not show
 * yet: those in flight, and those that finished since `since` (the moment its balance was read,
 * which may predate their transfer). The latter count twice at worst, which only ever refuses,
 * never overdraws.
 */
export async function committedSince(tx: Queryable, from: string, since: number): Promise<bigint> {
  const rows = await tx.all<{ amount: string }>(
    `SELECT p.amount AS amount FROM sovr_transactions s JOIN payments p ON p.id = s.payment_id
      WHERE s.from_address = ? AND (p.status IN ('pending', 'submitted') OR (p.status IN ('completed', 'refunded') AND p.updated_at >= ?))
     UNION ALL
     SELECT d.value AS amount FROM sovr_deposits d
      WHERE d.from_address = ? AND (d.status IN ('pending', 'submitted') OR (d.status = 'completed' AND d.updated_at >= ?))`,
    [from, since, from, since],
  );
  return rows.reduce((sum, r) => sum + BigInt(r.amount), 0n);
}

/** Another payment or deposit that is using (or used) this very authorization; a failed one released it. */
export async function authorizationHolder(tx: Queryable, from: string, authNonce: string): Promise<string | undefined> {
  const r = await tx.get<{ id: string }>(
    `SELECT p.id AS id FROM sovr_transactions s JOIN payments p ON p.id = s.payment_id
      WHERE s.from_address = ? AND s.auth_nonce = ? AND p.status <> 'failed'
     UNION ALL
     SELECT d.id AS id FROM sovr_deposits d WHERE d.from_address = ? AND d.auth_nonce = ? AND d.status <> 'failed'
     LIMIT 1`,
    [from, authNonce, from, authNonce],
  );
  return r?.id;
}

/**
 * A hub payment (to the treasury) or a deposit holding this authorization, not failed: the hub
 * sends it itself, so its facilitator must not send it a second time. Exact payments are not
 * counted: their merchant's facilitator (which may be this hub's) is meant to send them.
 */
export async function sentByHub(q: Queryable, from: string, authNonce: string): Promise<boolean> {
  const r = await q.get<{ id: string }>(
    `SELECT p.id AS id FROM sovr_transactions s JOIN payments p ON p.id = s.payment_id
      WHERE s.from_address = ? AND s.auth_nonce = ? AND s.kind = 'hub' AND p.status <> 'failed'
     UNION ALL
     SELECT d.id AS id FROM sovr_deposits d WHERE d.from_address = ? AND d.auth_nonce = ? AND d.status <> 'failed'
     LIMIT 1`,
    [from, authNonce, from, authNonce],
  );
  return r !== undefined;
}

/**
 * The nonce after the highest one held by a payment, deposit or settlement still open with a
 * transaction the node may not have yet (it is re-broadcast on resume): new transactions must not
 * take those nonces.
 */
export async function nextOpenNonce(q: Queryable, sender: string): Promise<number> {
  const rows = await q.all<{ n: number | string | null }>(
    `SELECT MAX(s.nonce) AS n FROM sovr_transactions s JOIN payments p ON p.id = s.payment_id
      WHERE s.sender = ? AND s.broadcast_error IS NULL AND p.status IN ('pending', 'submitted')
     UNION ALL
     SELECT MAX(d.nonce) AS n FROM sovr_deposits d
      WHERE d.sender = ? AND d.broadcast_error IS NULL AND d.status IN ('pending', 'submitted')
     UNION ALL
     SELECT MAX(t.nonce) AS n FROM sovr_settlements t WHERE t.sender = ? AND t.status = 'sent'`,
    [sender, sender, sender],
  );
  const held = rows.map((r) => r.n).filter((n): n is number | string => n !== null && n !== undefined);
  return held.length ? Math.max(...held.map(Number)) + 1 : 0;
}
