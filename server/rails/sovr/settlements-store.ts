/**
 * The facilitator's table (migration 009_sovr_exact): one row per authorization the hub settled,
 * keyed by (authorizer, nonce). It is written with the signed transaction before the broadcast,
 * so a second settle of the same authorization, a concurrent one, or one after a restart follows
 * that very transaction and answers its result.
 */
import type { Queryable } from '../../store/types.js';
import type { Authorization } from './authorization.js';
import type { SignedTx } from './store.js';

export type SettlementStatus = 'sent' | 'success' | 'failed';

export interface SettlementRow {
  authorization: Authorization;
  fromBlock: number;
  tx: SignedTx;
  status: SettlementStatus;
  /** The transaction that used the authorization (ours, or another that took its nonce first). */
  transaction: string | null;
  errorReason: string | null;
  errorDetail: string | null;
}

interface DbRow {
  authorizer: string;
  auth_nonce: string;
  to_address: string;
  value: string;
  valid_after: string;
  valid_before: string;
  signature: string;
  from_block: number | string;
  sender: string;
  nonce: number | string;
  tx_hash: string;
  raw_tx: string;
  status: string;
  transaction_hash: string | null;
  error_reason: string | null;
  error_detail: string | null;
}

const COLUMNS =
  'authorizer, auth_nonce, to_address, value, valid_after, valid_before, signature, from_block, sender, nonce, tx_hash, raw_tx, ' +
  'status, transaction_hash, error_reason, error_detail';

function fromDb(r: DbRow): SettlementRow {
  return {
    authorization: {
      from: r.authorizer,
      to: r.to_address,
      value: BigInt(r.value),
      validAfter: BigInt(r.valid_after),
      validBefore: BigInt(r.valid_before),
      nonce: r.auth_nonce,
      signature: r.signature,
    },
    fromBlock: Number(r.from_block),
    tx: { sender: r.sender, nonce: Number(r.nonce), hash: r.tx_hash, raw: r.raw_tx },
    status: r.status as SettlementStatus,
    transaction: r.transaction_hash,
    errorReason: r.error_reason,
    errorDetail: r.error_detail,
  };
}

/** Before the broadcast. A second writer of the same authorization fails on the primary key. */
export async function insertSettlement(
  q: Queryable,
  s: { chainId: number; token: string; authorization: Authorization; fromBlock: number; tx: SignedTx },
  now: number,
): Promise<void> {
  const a = s.authorization;
  await q.run(
    `INSERT INTO sovr_settlements (authorizer, auth_nonce, chain_id, token, to_address, value, valid_after, valid_before, signature,
       from_block, sender, nonce, tx_hash, raw_tx, status, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'sent', ?, ?)`,
    [
      a.from,
      a.nonce,
      s.chainId,
      s.token,
      a.to,
      a.value,
      a.validAfter,
      a.validBefore,
      a.signature,
      s.fromBlock,
      s.tx.sender,
      s.tx.nonce,
      s.tx.hash,
      s.tx.raw,
      now,
      now,
    ],
  );
}

export async function loadSettlement(q: Queryable, from: string, authNonce: string): Promise<SettlementRow | undefined> {
  const r = await q.get<DbRow>(`SELECT ${COLUMNS} FROM sovr_settlements WHERE authorizer = ? AND auth_nonce = ?`, [from, authNonce]);
  return r ? fromDb(r) : undefined;
}

export async function openSettlements(q: Queryable): Promise<SettlementRow[]> {
  return (await q.all<DbRow>(`SELECT ${COLUMNS} FROM sovr_settlements WHERE status = 'sent'`)).map(fromDb);
}

/** The final result; only the first one counts. */
export async function finishSettlement(
  q: Queryable,
  from: string,
  authNonce: string,
  r: { status: 'success' | 'failed'; transaction: string; errorReason?: string; errorDetail?: string },
  now: number,
): Promise<void> {
  await q.run(
    `UPDATE sovr_settlements SET status = ?, transaction_hash = ?, error_reason = ?, error_detail = ?, updated_at = ?
      WHERE authorizer = ? AND auth_nonce = ? AND status = 'sent'`,
    [r.status, r.transaction, r.errorReason ?? null, r.errorDetail ?? null, now, from, authNonce],
  );
}

/** The node refused the broadcast for good: nothing was sent, the authorization is free again. */
export async function dropSettlement(q: Queryable, from: string, authNonce: string, txHash: string): Promise<void> {
  await q.run(`DELETE FROM sovr_settlements WHERE authorizer = ? AND auth_nonce = ? AND tx_hash = ? AND status = 'sent'`, [
    from,
    authNonce,
    txHash,
  ]);
}
