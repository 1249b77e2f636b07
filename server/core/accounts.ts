import type { Ledger } from '../ledger/types.js';
import type { Queryable } from '../store/types.js';

/** Ledger account ids are derived, so any process can name an account without a lookup. */
export const userAccountId = (userId: string, asset: string) => `user:${userId}:${asset}`;
export const merchantAccountId = (merchantId: string, asset: string) => `merchant:${merchantId}:${asset}`;
/** Where test money comes from in dev mode: its debits are the money the faucet created. */
export const faucetAccountId = (asset: string) => `system:faucet:${asset}`;
/** Money that reached the hub's own Lightning node (top-ups, merchants' challenge invoices): its debits are what the node received. */
export const lightningInboundAccountId = (asset: string) => `system:lightning-inbound:${asset}`;

/**
 * Makes sure ledger accounts exist before a transfer names them. Accounts are never deleted, so
 * one seen as `exists` (committed by an earlier transaction) is remembered and not asked about
 * again; one this transaction `created` is not, since the transaction may still roll back. Nor is
 * one the same transaction created and then asks about again: to it the account `exists` already,
 * though nothing is committed yet.
 */
export function createAccountDirectory(ledger: Ledger) {
  const known = new Set<string>();
  const createdBy = new WeakMap<Queryable, Set<string>>();
  async function ensure(tx: Queryable, id: string, asset: string, owner: string, userWallet: boolean): Promise<string> {
    if (known.has(id)) return id;
    const [r] = await ledger.createAccounts(tx, [
      { id, asset, owner, ...(userWallet ? { flags: { debitsMustNotExceedCredits: true } } : {}) },
    ]);
    if (r === 'created') {
      const mine = createdBy.get(tx) ?? new Set<string>();
      createdBy.set(tx, mine.add(id));
    } else if (r === 'exists') {
      if (!createdBy.get(tx)?.has(id)) known.add(id);
    } else throw new Error(`ledger refused account ${id}: ${r}`);
    return id;
  }
  return {
    /** A user's wallet may never spend more than it was credited. */
    user: (tx: Queryable, userId: string, asset: string) => ensure(tx, userAccountId(userId, asset), asset, userId, true),
    merchant: (tx: Queryable, merchantId: string, asset: string) =>
      ensure(tx, merchantAccountId(merchantId, asset), asset, merchantId, false),
    faucet: (tx: Queryable, asset: string) => ensure(tx, faucetAccountId(asset), asset, 'system', false),
    lightningInbound: (tx: Queryable, asset: string) => ensure(tx, lightningInboundAccountId(asset), asset, 'system', false),
  };
}
export type AccountDirectory = ReturnType<typeof createAccountDirectory>;
