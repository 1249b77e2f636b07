import type { Ledger } from '../ledger/types.js';
import type { Queryable } from '../store/types.js';

/** Ledger account ids are derived, so any process can name an account without a lookup. */
export const userAccountId = (userId: string, asset: string) => `user:${userId}:${asset}`;
export const merchantAccountId = (merchantId: string, asset: string) => `merchant:${merchantId}:${asset}`;
/** Where test money comes from in dev mode: its debits are the money the faucet created. */
export const faucetAccountId = (asset: string) => `system:faucet:${asset}`;

const OK = new Set(['created', 'exists']);

/** A user's wallet may never spend more than it was credited. */
export async function ensureUserAccount(ledger: Ledger, tx: Queryable, userId: string, asset: string): Promise<string> {
  const id = userAccountId(userId, asset);
  const [r] = await ledger.createAccounts(tx, [{ id, asset, owner: userId, flags: { debitsMustNotExceedCredits: true } }]);
  if (!r || !OK.has(r)) throw new Error(`ledger refused account ${id}: ${r}`);
  return id;
}

export async function ensureAccount(ledger: Ledger, tx: Queryable, id: string, asset: string, owner: string): Promise<string> {
  const [r] = await ledger.createAccounts(tx, [{ id, asset, owner }]);
  if (!r || !OK.has(r)) throw new Error(`ledger refused account ${id}: ${r}`);
  return id;
}
