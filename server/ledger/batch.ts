/**
 * One batch of transfers applied in memory, in order, with bigint: no SQL here. The caller loads
 * every account and pending transfer the batch can touch, runs `applyBatch`, and writes back what
 * it reports (new rows, changed pending rows, changed accounts), each once.
 *
 * Linked chains keep an undo log while they are open; when a member fails the log is replayed
 * backwards, so accounts and rows are exactly as if the chain never ran. Two effects survive a
 * failed chain on purpose (as in TigerBeetle): the failing member's id is recorded as failed when
 * its cause is transient, and a reservation found past its timeout is released.
 */
import {
  LINKED,
  PENDING,
  POST,
  VOID,
  TRANSIENT,
  checkPostOrVoid,
  checkTransfer,
  flagsAreMutuallyExclusive,
  resolvedAmount,
  transferExists,
  transferFlagBits,
  type AccountState,
  type TransferRecord,
} from './rules.js';
import type { CreateTransferResult, TransferInput, TransferState } from './types.js';

export interface BatchOutcome {
  results: CreateTransferResult[];
  /** Rows to insert, in input order: created transfers and transient failures. */
  inserts: TransferRecord[];
  /** Rows that were already stored and changed state (pending → posted / voided / expired). */
  resolved: TransferRecord[];
  /** Accounts whose balances changed. */
  accounts: AccountState[];
}

type Undo =
  | { kind: 'balance'; account: AccountState; dp: bigint; dpo: bigint; cp: bigint; cpo: bigint }
  | { kind: 'state'; record: TransferRecord; state: TransferState }
  | { kind: 'insert'; id: string };

/**
 * @param known transfers already stored that the batch may meet (by id): referenced pending
 *   transfers, and on a retry the stored rows that share an id with the batch. Mutated.
 * @param accounts every account the batch may touch. Mutated.
 */
export function applyBatch(
  input: readonly TransferInput[],
  known: Map<string, TransferRecord>,
  accounts: Map<string, AccountState>,
  now: number,
): BatchOutcome {
  const fresh = new Map<string, TransferRecord>();
  const storedState = new Map<TransferRecord, TransferState>();
  for (const r of known.values()) storedState.set(r, r.state);
  const dirty = new Set<AccountState>();
  const results = new Array<CreateTransferResult>(input.length);
  let undo: Undo[] | null = null; // set while a linked chain is open and unbroken

  const lookup = (id: string) => fresh.get(id) ?? known.get(id);

  const adjust = (a: AccountState, dp: bigint, dpo: bigint, cp: bigint, cpo: bigint, undoable = true) => {
    if (dp) a.debitsPending += dp;
    if (dpo) a.debitsPosted += dpo;
    if (cp) a.creditsPending += cp;
    if (cpo) a.creditsPosted += cpo;
    dirty.add(a);
    if (undoable && undo) undo.push({ kind: 'balance', account: a, dp, dpo, cp, cpo });
  };
  const setState = (r: TransferRecord, state: TransferState) => {
    if (undo) undo.push({ kind: 'state', record: r, state: r.state });
    r.state = state;
  };
  const insert = (r: TransferRecord) => {
    fresh.set(r.id, r);
    if (undo) undo.push({ kind: 'insert', id: r.id });
  };
  const rollback = (log: Undo[]) => {
    for (let i = log.length - 1; i >= 0; i--) {
      const u = log[i]!;
      if (u.kind === 'balance') {
        u.account.debitsPending -= u.dp;
        u.account.debitsPosted -= u.dpo;
        u.account.creditsPending -= u.cp;
        u.account.creditsPosted -= u.cpo;
      } else if (u.kind === 'state') u.record.state = u.state;
      else fresh.delete(u.id);
    }
  };
  /** A reservation past its timeout: released for good, whatever happens to the batch. */
  const expire = (p: TransferRecord) => {
    p.state = 'expired';
    adjust(accounts.get(p.debitAccountId)!, -p.amount, 0n, 0n, 0n, false);
    adjust(accounts.get(p.creditAccountId)!, 0n, 0n, -p.amount, 0n, false);
  };

  const postOrVoid = (t: TransferInput, bits: number): CreateTransferResult => {
    const p = t.pendingId ? lookup(t.pendingId) : undefined;
    const refused = checkPostOrVoid(t, bits, p, now);
    if (refused) {
      if (refused === 'pending_transfer_expired' && p?.state === 'pending') expire(p);
      return refused;
    }
    const pending = p!;
    const amount = resolvedAmount(t, bits, pending);
    const posted = bits & POST ? amount : 0n;
    adjust(accounts.get(pending.debitAccountId)!, -pending.amount, posted, 0n, 0n);
    adjust(accounts.get(pending.creditAccountId)!, 0n, 0n, -pending.amount, posted);
    setState(pending, bits & POST ? 'posted' : 'voided');
    insert({
      id: t.id,
      debitAccountId: pending.debitAccountId,
      creditAccountId: pending.creditAccountId,
      amount,
      asset: pending.asset,
      pendingId: pending.id,
      timeout: 0,
      flags: bits,
      userData: t.userData ?? pending.userData,
      code: t.code || pending.code,
      state: bits & POST ? 'posted' : 'voided',
      result: null,
      createdAt: now,
      expiresAt: null,
    });
    return 'created';
  };

  const apply = (t: TransferInput, bits: number): CreateTransferResult => {
    if (!t.id) return 'id_must_not_be_empty';
    const existing = lookup(t.id);
    if (existing) {
      if (existing.state === 'failed') return 'id_already_failed';
      return transferExists(t, bits, existing, t.pendingId ? lookup(t.pendingId) : undefined);
    }
    if (flagsAreMutuallyExclusive(bits)) return 'flags_are_mutually_exclusive';
    if (bits & (POST | VOID)) return postOrVoid(t, bits);
    const dr = t.debitAccountId ? accounts.get(t.debitAccountId) : undefined;
    const cr = t.creditAccountId ? accounts.get(t.creditAccountId) : undefined;
    const refused = checkTransfer(t, bits, dr, cr);
    if (refused) return refused;
    const amount = t.amount!;
    const pending = (bits & PENDING) !== 0;
    if (pending) {
      adjust(dr!, amount, 0n, 0n, 0n);
      adjust(cr!, 0n, 0n, amount, 0n);
    } else {
      adjust(dr!, 0n, amount, 0n, 0n);
      adjust(cr!, 0n, 0n, 0n, amount);
    }
    insert({
      id: t.id,
      debitAccountId: dr!.id,
      creditAccountId: cr!.id,
      amount,
      asset: dr!.asset,
      pendingId: null,
      timeout: t.timeout ?? 0,
      flags: bits,
      userData: t.userData ?? null,
      code: t.code ?? 0,
      state: pending ? 'pending' : 'posted',
      result: null,
      createdAt: now,
      expiresAt: pending && t.timeout ? now + t.timeout * 1000 : null,
    });
    return 'created';
  };

  let chainStart = -1;
  let broken = false;
  for (let i = 0; i < input.length; i++) {
    const t = input[i]!;
    const bits = transferFlagBits(t.flags);
    const linked = (bits & LINKED) !== 0;
    let result: CreateTransferResult | undefined;
    if (linked) {
      if (chainStart < 0) {
        chainStart = i;
        undo = [];
      }
      if (i === input.length - 1) result = 'linked_event_chain_open';
    }
    if (result === undefined && broken) result = 'linked_event_failed';
    result ??= apply(t, bits);

    if (result !== 'created') {
      if (chainStart >= 0 && !broken) {
        broken = true;
        rollback(undo!);
        undo = null;
        for (let j = chainStart; j < i; j++) results[j] = 'linked_event_failed';
      }
      if (TRANSIENT.has(result)) fresh.set(t.id, failedRecord(t, bits, result, now));
    }
    results[i] = result;
    if (chainStart >= 0 && (!linked || result === 'linked_event_chain_open')) {
      chainStart = -1;
      broken = false;
      undo = null;
    }
  }

  const resolved: TransferRecord[] = [];
  for (const [r, state] of storedState) if (r.state !== state) resolved.push(r);
  return { results, inserts: [...fresh.values()], resolved, accounts: [...dirty] };
}

function failedRecord(t: TransferInput, bits: number, result: CreateTransferResult, now: number): TransferRecord {
  return {
    id: t.id,
    debitAccountId: t.debitAccountId ?? '',
    creditAccountId: t.creditAccountId ?? '',
    amount: t.amount ?? 0n,
    asset: t.asset ?? '',
    pendingId: t.pendingId || null,
    timeout: t.timeout ?? 0,
    flags: bits,
    userData: t.userData ?? null,
    code: t.code ?? 0,
    state: 'failed',
    result,
    createdAt: now,
    expiresAt: null,
  };
}
