/** People, keyed by the wallet address they sign in with. */
import { randomBytes } from 'node:crypto';
import { getAddress } from 'ethers';
import type { Clock } from '../clock.js';
import type { Queryable } from '../store/types.js';

export interface User {
  id: string;
  address: string;
}

export const newUserId = () => 'u_' + randomBytes(12).toString('hex');

/**
 * The user for `address`, created on first sign-in. Addresses are stored EIP-55 checksummed, so
 * the UNIQUE constraint sees one spelling per wallet. ON CONFLICT DO NOTHING (SQLite ≥ 3.24 and
 * PostgreSQL) makes two first logins racing each other converge on one row instead of failing.
 */
export async function upsertUserByAddress(tx: Queryable, address: string, clock: Clock, newId: () => string = newUserId): Promise<User> {
  const normalized = getAddress(address);
  await tx.run('INSERT INTO users (id, address, created_at) VALUES (?, ?, ?) ON CONFLICT (address) DO NOTHING', [
    newId(),
    normalized,
    clock.now(),
  ]);
  const row = await tx.get<User>('SELECT id, address FROM users WHERE address = ?', [normalized]);
  if (!row) throw new Error('user row missing after upsert');
  return { id: row.id, address: row.address };
}

export async function findUserById(q: Queryable, id: string): Promise<User | undefined> {
  const row = await q.get<User>('SELECT id, address FROM users WHERE id = ?', [id]);
  return row ? { id: row.id, address: row.address } : undefined;
}
