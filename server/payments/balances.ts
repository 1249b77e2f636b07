import { randomUUID } from 'node:crypto';
import { ASSET_NAMES } from '../../shared/assets.js';
import type { Ledger } from '../ledger/types.js';
import type { Db } from '../store/types.js';
import { userAccountId, type AccountDirectory } from '../core/accounts.js';
import { expectCreated } from '../core/ledger-refusal.js';

export interface BalanceView {
  asset: string;
  posted: string;
  pending: string;
  available: string;
}

/** A user's balances per asset: what is theirs, what payments in flight hold, what they can spend. */
async function userBalances(db: Db, ledger: Ledger, userId: string): Promise<BalanceView[]> {
  const accounts = await ledger.lookupAccounts(
    db,
    ASSET_NAMES.map((a) => userAccountId(userId, a)),
  );
  const byId = new Map(accounts.map((a) => [a.id, a]));
  return ASSET_NAMES.map((asset) => {
    const a = byId.get(userAccountId(userId, asset));
    const posted = a ? a.creditsPosted - a.debitsPosted : 0n;
    const pending = a ? a.debitsPending : 0n;
    return { asset, posted: posted.toString(), pending: pending.toString(), available: (posted - pending).toString() };
  });
}

/** Dev mode only: money from nowhere, booked as a debit of the faucet account so the ledger balances. */
async function faucet(db: Db, ledger: Ledger, accounts: AccountDirectory, userId: string, asset: string, amount: bigint): Promise<void> {
  await db.transaction(async (tx) => {
    const source = await accounts.faucet(tx, asset);
    const target = await accounts.user(tx, userId, asset);
    const [r] = await ledger.createTransfers(tx, [
      { id: `faucet:${randomUUID()}`, debitAccountId: source, creditAccountId: target, amount, asset },
    ]);
    expectCreated(r, { what: 'the faucet transfer', amount, asset });
  });
}

export function createWallets({ db, ledger, accounts }: { db: Db; ledger: Ledger; accounts: AccountDirectory }) {
  return {
    balances: (userId: string) => userBalances(db, ledger, userId),
    faucet: (userId: string, asset: string, amount: bigint) => faucet(db, ledger, accounts, userId, asset, amount),
  };
}
export type Wallets = ReturnType<typeof createWallets>;
