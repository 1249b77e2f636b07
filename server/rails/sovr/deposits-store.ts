/** The deposits table (migration 009_sovr_exact): one row per deposit, with its authorization and its one transaction. */
import type { Deposit, DepositStatus } from '../../../shared/deposits.js';
import { forUpdate, type Queryable } from '../../store/types.js';
import type { Authorization } from './authorization.js';
import type { TransferJob } from './runner.js';
import { authorizedTxFromDb, type AuthorizedTxColumns, type SignedTx } from './store.js';

export interface DepositRow {
  id: string;
  userId: string;
  authorization: Authorization;
  fromBlock: number;
  tx: SignedTx | null;
  broadcastError: string | null;
  status: DepositStatus;
  failureReason: string | null;
  /** The transaction that moved the tokens (ours, or another that used the authorization). */
  transactionHash: string | null;
  blockExplorerUrl: string | null;
  createdAt: number;
  updatedAt: number;
}

interface DbRow extends AuthorizedTxColumns {
  id: string;
  user_id: string;
  status: string;
  failure_reason: string | null;
  transaction_hash: string | null;
  block_explorer_url: string | null;
  created_at: number | string;
  updated_at: number | string;
}

const COLUMNS =
  'id, user_id, from_address, to_address, value, valid_after, valid_before, auth_nonce, signature, from_block, sender, nonce, tx_hash, ' +
  'raw_tx, broadcast_error, status, failure_reason, transaction_hash, block_explorer_url, created_at, updated_at';

function fromDb(r: DbRow): DepositRow {
  return {
    id: r.id,
    userId: r.user_id,
    ...authorizedTxFromDb(r),
    status: r.status as DepositStatus,
    failureReason: r.failure_reason,
    transactionHash: r.transaction_hash,
    blockExplorerUrl: r.block_explorer_url,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

export function toDeposit(r: DepositRow): Deposit {
  return {
    depositId: r.id,
    status: r.status,
    asset: 'SOVR',
    amount: r.authorization.value.toString(),
    from: r.authorization.from,
    transactionHash: r.transactionHash,
    ...(r.blockExplorerUrl ? { blockExplorerUrl: r.blockExplorerUrl } : {}),
    failureReason: r.failureReason,
    createdAt: new Date(r.createdAt).toISOString(),
    updatedAt: new Date(r.updatedAt).toISOString(),
  };
}

export const jobOf = (r: DepositRow): TransferJob => ({
  id: r.id,
  authorization: r.authorization,
  fromBlock: r.fromBlock,
  tx: r.tx,
  broadcastError: r.broadcastError,
});

export async function insertDeposit(
  q: Queryable,
  d: { id: string; userId: string; chainId: number; token: string; authorization: Authorization; fromBlock: number },
  now: number,
): Promise<DepositRow> {
  const a = d.authorization;
  await q.run(
    `INSERT INTO sovr_deposits (id, user_id, chain_id, token, from_address, to_address, value, valid_after, valid_before, auth_nonce,
       signature, from_block, status, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
    [d.id, d.userId, d.chainId, d.token, a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, a.signature, d.fromBlock, now, now],
  );
  return {
    id: d.id,
    userId: d.userId,
    authorization: a,
    fromBlock: d.fromBlock,
    tx: null,
    broadcastError: null,
    status: 'pending',
    failureReason: null,
    transactionHash: null,
    blockExplorerUrl: null,
    createdAt: now,
    updatedAt: now,
  };
}

export async function loadDeposit(q: Queryable, id: string, lock = false): Promise<DepositRow | undefined> {
  const r = await q.get<DbRow>(`SELECT ${COLUMNS} FROM sovr_deposits WHERE id = ?${lock ? forUpdate(q) : ''}`, [id]);
  return r ? fromDb(r) : undefined;
}

export async function openDeposits(q: Queryable): Promise<DepositRow[]> {
  return (await q.all<DbRow>(`SELECT ${COLUMNS} FROM sovr_deposits WHERE status IN ('pending', 'submitted')`)).map(fromDb);
}

/** Written before the broadcast: whatever happens next, this is the deposit's one transaction. */
export async function recordDepositSigned(q: Queryable, id: string, t: SignedTx, now: number): Promise<void> {
  const r = await q.run(
    `UPDATE sovr_deposits SET sender = ?, nonce = ?, tx_hash = ?, raw_tx = ?, updated_at = ? WHERE id = ? AND raw_tx IS NULL`,
    [t.sender, t.nonce, t.hash, t.raw, now, id],
  );
  if (r.changes !== 1) throw new Error(`deposit ${id} already has a signed transaction, or no row`);
}

export async function recordDepositRejected(q: Queryable, id: string, reason: string, now: number): Promise<void> {
  await q.run(`UPDATE sovr_deposits SET broadcast_error = ?, updated_at = ? WHERE id = ?`, [reason, now, id]);
}

export async function updateDepositState(q: Queryable, r: DepositRow): Promise<void> {
  await q.run(
    `UPDATE sovr_deposits SET status = ?, failure_reason = ?, transaction_hash = ?, block_explorer_url = ?, updated_at = ? WHERE id = ?`,
    [r.status, r.failureReason, r.transactionHash, r.blockExplorerUrl, r.updatedAt, r.id],
  );
}
