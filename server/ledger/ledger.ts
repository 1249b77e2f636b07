/**
 * The ledger: TigerBeetle's accounts and transfers on SQL (see types.ts and docs/protocols.md,
 * §5 "Ledger").
 *
 * createTransfers, per batch, inside the caller's transaction:
 *  1. lock and load the pending transfers that posts/voids refer to, then every account the
 *     batch touches (PostgreSQL: `FOR UPDATE`, in id order; SQLite: the store serialises writers);
 *  2. apply the whole batch in memory (batch.ts: results, new rows, changed rows and accounts);
 *  3. write: the new rows with `INSERT … ON CONFLICT (id) DO NOTHING`, then the resolved pending
 *     rows and the touched accounts, each once.
 * Step 2 assumes that no id of the batch is stored yet (the usual case, and it saves a lookup per
 * transfer). The assumption is checked: ids that were not written are looked up, and for those
 * written the insert reports any that were taken, in which case everything since a savepoint is
 * rolled back. Either way steps 2–3 then run again, knowing the stored rows.
 */
import type { Clock } from '../clock.js';
import { forUpdate, type Queryable } from '../store/types.js';
import { applyBatch } from './batch.js';
import { checkInvariant } from './invariant.js';
import {
  accountExists,
  accountFlagBits,
  accountFlags,
  assertAccountInput,
  assertTransferInput,
  checkAccount,
  transferFlags,
  type AccountState,
  type TransferRecord,
} from './rules.js';
import {
  TRANSFER_COLUMNS,
  insertTransferAndBalancesPg,
  insertTransfers,
  selectAccounts,
  selectTransfers,
  updateAccountBalances,
  toRecord,
  type TransferRow,
  updateTransferStates,
} from './sql.js';
import type { Account, CreateAccountResult, Ledger, Transfer } from './types.js';

const SAVEPOINT = 'tollway_ledger_batch';
/** Each retry means another transaction took one of the batch's ids meanwhile; a few suffice. */
const MAX_ATTEMPTS = 5;

export function createLedger({ clock }: { clock: Clock }): Ledger {
  return {
    async createAccounts(tx, accounts) {
      requireTransaction(tx, 'createAccounts');
      accounts.forEach(assertAccountInput);
      const now = clock.now();
      const results: CreateAccountResult[] = [];
      for (const a of accounts) {
        const refused = checkAccount(a);
        if (refused) {
          results.push(refused);
          continue;
        }
        const { changes } = await tx.run(
          `INSERT INTO ledger_accounts (id, asset, owner, flags, debits_pending, debits_posted, credits_pending, credits_posted, created_at)
           VALUES (?, ?, ?, ?, '0', '0', '0', '0', ?) ON CONFLICT (id) DO NOTHING`,
          [a.id, a.asset, a.owner, accountFlagBits(a.flags), now],
        );
        if (changes === 1) {
          results.push('created');
          continue;
        }
        const e = await tx.get<{ asset: string; owner: string; flags: number }>(
          'SELECT asset, owner, flags FROM ledger_accounts WHERE id = ?',
          [a.id],
        );
        results.push(accountExists(a, { asset: e!.asset, owner: e!.owner, flags: Number(e!.flags) }));
      }
      return results;
    },

    async createTransfers(tx, input) {
      requireTransaction(tx, 'createTransfers');
      if (input.length === 0) return [];
      input.forEach(assertTransferInput);
      const now = clock.now();
      const lock = tx.dialect === 'postgres';

      const pendingIds = new Set<string>();
      const accountIds = new Set<string>();
      for (const t of input) {
        if (t.pendingId) pendingIds.add(t.pendingId);
        if (t.debitAccountId) accountIds.add(t.debitAccountId);
        if (t.creditAccountId) accountIds.add(t.creditAccountId);
      }
      // Lock order, everywhere: pending transfers first, then accounts, each by id (sql.ts).
      const pendings = await selectTransfers(tx, [...pendingIds], lock);
      for (const p of pendings) {
        accountIds.add(p.debitAccountId);
        accountIds.add(p.creditAccountId);
      }
      const loaded = await selectAccounts(tx, [...accountIds], lock);

      const batchIds = () => [...new Set(input.map((t) => t.id).filter(Boolean))];
      const stored = new Map<string, TransferRecord>();
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        const known = new Map<string, TransferRecord>();
        for (const r of stored.values()) known.set(r.id, { ...r });
        for (const r of pendings) known.set(r.id, { ...r });
        const accounts = new Map<string, AccountState>();
        for (const a of loaded) accounts.set(a.id, { ...a });
        const out = applyBatch(input, known, accounts, now);

        // Ids taken as new but not written (refused, or rolled back with a chain): if one is
        // stored after all, its answer is exists… / id_already_failed. Only read when needed.
        let written: Set<string> | undefined;
        const unseen: string[] = [];
        out.results.forEach((result, i) => {
          const id = input[i]!.id;
          if (result === 'created' || !id || known.has(id)) return;
          written ??= new Set(out.inserts.map((r) => r.id));
          if (!written.has(id)) unseen.push(id);
        });
        if (unseen.length > 0) {
          if ((await selectTransfers(tx, [...new Set(unseen)])).length > 0) {
            for (const r of await selectTransfers(tx, batchIds())) stored.set(r.id, r);
            continue;
          }
        }
        // Ids taken as new and written: the insert itself tells whether one was stored. A batch
        // that writes at most one row needs no savepoint: that insert wrote all or nothing, and
        // nothing else is written before it is checked (two round trips a payment on PostgreSQL).
        const guarded = out.inserts.length > 1;
        // The usual payment on PostgreSQL (one new transfer, nothing resolved): one statement.
        if (tx.dialect === 'postgres' && out.inserts.length === 1 && out.resolved.length === 0) {
          if ((await insertTransferAndBalancesPg(tx, out.inserts[0]!, out.accounts)) === 1) return out.results;
          for (const r of await selectTransfers(tx, batchIds())) stored.set(r.id, r);
          continue;
        }
        if (guarded) await tx.run(`SAVEPOINT ${SAVEPOINT}`);
        if ((await insertTransfers(tx, out.inserts)) === out.inserts.length) {
          await updateTransferStates(tx, out.resolved);
          await updateAccountBalances(tx, out.accounts);
          if (guarded) await tx.run(`RELEASE SAVEPOINT ${SAVEPOINT}`);
          return out.results;
        }
        if (guarded) {
          await tx.run(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
          await tx.run(`RELEASE SAVEPOINT ${SAVEPOINT}`);
        }
        for (const r of await selectTransfers(tx, batchIds())) stored.set(r.id, r);
      }
      throw new Error('ledger: transfer ids kept being taken concurrently; giving up');
    },

    async lookupAccounts(q, ids) {
      const byId = new Map((await selectAccounts(q, [...new Set(ids)])).map((a) => [a.id, a]));
      return ids.flatMap((id) => {
        const a = byId.get(id);
        return a ? [toAccount(a)] : [];
      });
    },

    async lookupTransfers(q, ids) {
      const byId = new Map((await selectTransfers(q, [...new Set(ids)])).map((t) => [t.id, t]));
      return ids.flatMap((id) => {
        const t = byId.get(id);
        return t ? [toTransfer(t)] : [];
      });
    },

    async expirePendingTransfers(tx, limit = 1000) {
      requireTransaction(tx, 'expirePendingTransfers');
      const now = clock.now();
      // SKIP LOCKED: a reservation being posted or voided right now is that transaction's business.
      const expired = (
        await tx.all<TransferRow>(
          `SELECT ${TRANSFER_COLUMNS} FROM ledger_transfers
            WHERE state = 'pending' AND expires_at <= ? ORDER BY expires_at, id LIMIT ?${forUpdate(tx, true)}`,
          [now, limit],
        )
      ).map(toRecord);
      if (expired.length === 0) return [];
      const accountIds = new Set<string>();
      for (const p of expired) accountIds.add(p.debitAccountId).add(p.creditAccountId);
      const accounts = new Map((await selectAccounts(tx, [...accountIds], tx.dialect === 'postgres')).map((a) => [a.id, a]));
      for (const p of expired) {
        accounts.get(p.debitAccountId)!.debitsPending -= p.amount;
        accounts.get(p.creditAccountId)!.creditsPending -= p.amount;
        p.state = 'expired';
      }
      await updateTransferStates(tx, expired);
      await updateAccountBalances(tx, [...accounts.values()]);
      return expired.map((p) => p.id);
    },

    checkInvariant,
  };
}

/** A `Db` (rather than the `tx` that `db.transaction` passes) would run each statement on its own. */
function requireTransaction(q: Queryable, op: string): void {
  if ('transaction' in q) throw new TypeError(`ledger.${op} must run inside db.transaction (pass its tx)`);
}

function toAccount(a: AccountState): Account {
  return {
    id: a.id,
    asset: a.asset,
    owner: a.owner,
    flags: accountFlags(a.flags),
    debitsPending: a.debitsPending,
    debitsPosted: a.debitsPosted,
    creditsPending: a.creditsPending,
    creditsPosted: a.creditsPosted,
    createdAt: a.createdAt,
  };
}

function toTransfer(t: TransferRecord): Transfer {
  return {
    id: t.id,
    debitAccountId: t.debitAccountId,
    creditAccountId: t.creditAccountId,
    amount: t.amount,
    asset: t.asset,
    pendingId: t.pendingId,
    timeout: t.timeout,
    flags: transferFlags(t.flags),
    userData: t.userData,
    code: t.code,
    state: t.state,
    createdAt: t.createdAt,
    expiresAt: t.expiresAt,
  };
}
