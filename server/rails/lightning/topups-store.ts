/** The topups and stream_cursors tables (migration 014_topups). */
import type { Topup, TopupStatus } from '../../../shared/topups.js';
import { forUpdate, type Queryable } from '../../store/types.js';

export interface TopupRow {
  id: string;
  userId: string;
  amount: bigint;
  paymentHash: string;
  bolt11: string;
  /** Epoch ms. */
  expiresAt: number;
  status: TopupStatus;
  creditedAmount: bigint | null;
  creditedAt: number | null;
  createdAt: number;
  updatedAt: number;
}

interface DbRow {
  id: string;
  user_id: string;
  amount: string | number;
  payment_hash: string;
  bolt11: string;
  expires_at: number | string;
  status: string;
  credited_amount: string | number | null;
  credited_at: number | string | null;
  created_at: number | string;
  updated_at: number | string;
}

const COLUMNS = 'id, user_id, amount, payment_hash, bolt11, expires_at, status, credited_amount, credited_at, created_at, updated_at';

const fromDb = (r: DbRow): TopupRow => ({
  id: r.id,
  userId: r.user_id,
  amount: BigInt(r.amount),
  paymentHash: r.payment_hash,
  bolt11: r.bolt11,
  expiresAt: Number(r.expires_at),
  status: r.status as TopupStatus,
  creditedAmount: r.credited_amount === null ? null : BigInt(r.credited_amount),
  creditedAt: r.credited_at === null ? null : Number(r.credited_at),
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

const iso = (ms: number) => new Date(ms).toISOString();

export function toTopup(r: TopupRow): Topup {
  return {
    topupId: r.id,
    status: r.status,
    asset: 'BTC',
    amount: r.amount.toString(),
    creditedAmount: r.creditedAmount === null ? null : r.creditedAmount.toString(),
    bolt11: r.bolt11,
    paymentHash: r.paymentHash,
    expiresAt: iso(r.expiresAt),
    creditedAt: r.creditedAt === null ? null : iso(r.creditedAt),
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
  };
}

export async function insertTopup(q: Queryable, r: TopupRow): Promise<void> {
  await q.run(
    `INSERT INTO topups (id, user_id, rail, asset, amount, payment_hash, bolt11, expires_at, status, created_at, updated_at)
     VALUES (?, ?, 'lightning', 'BTC', ?, ?, ?, ?, ?, ?, ?)`,
    [r.id, r.userId, r.amount.toString(), r.paymentHash, r.bolt11, r.expiresAt, r.status, r.createdAt, r.updatedAt],
  );
}

export async function topupById(q: Queryable, id: string): Promise<TopupRow | undefined> {
  const r = await q.get<DbRow>(`SELECT ${COLUMNS} FROM topups WHERE id = ?`, [id]);
  return r ? fromDb(r) : undefined;
}

/** Locked until the transaction ends (PostgreSQL; SQLite has one writer): the one row a settlement changes. */
export async function topupByHashForUpdate(tx: Queryable, paymentHash: string): Promise<TopupRow | undefined> {
  const r = await tx.get<DbRow>(`SELECT ${COLUMNS} FROM topups WHERE payment_hash = ?${forUpdate(tx)}`, [paymentHash]);
  return r ? fromDb(r) : undefined;
}

/** Open top-ups, oldest first; `expiredBy`: only those whose invoice expired by then (epoch ms). */
export async function openTopups(q: Queryable, opts: { expiredBy?: number; limit: number }): Promise<TopupRow[]> {
  const rows =
    opts.expiredBy === undefined
      ? await q.all<DbRow>(`SELECT ${COLUMNS} FROM topups WHERE status = 'open' ORDER BY created_at LIMIT ?`, [opts.limit])
      : await q.all<DbRow>(`SELECT ${COLUMNS} FROM topups WHERE status = 'open' AND expires_at <= ? ORDER BY expires_at LIMIT ?`, [
          opts.expiredBy,
          opts.limit,
        ]);
  return rows.map(fromDb);
}

export async function updateTopupState(tx: Queryable, r: TopupRow): Promise<void> {
  await tx.run(`UPDATE topups SET status = ?, credited_amount = ?, credited_at = ?, updated_at = ? WHERE id = ?`, [
    r.status,
    r.creditedAmount === null ? null : r.creditedAmount.toString(),
    r.creditedAt,
    r.updatedAt,
    r.id,
  ]);
}

export async function loadCursor(q: Queryable, name: string): Promise<string | undefined> {
  return (await q.get<{ cursor: string }>('SELECT cursor FROM stream_cursors WHERE name = ?', [name]))?.cursor;
}

export async function saveCursor(q: Queryable, name: string, cursor: string, now: number): Promise<void> {
  await q.run(
    `INSERT INTO stream_cursors (name, cursor, updated_at) VALUES (?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`,
    [name, cursor, now],
  );
}
