/**
 * Top-ups: the hub receives. A person asks for an invoice (`POST /topups`); the hub's node issues
 * it; when it settles, the amount paid moves from the "Lightning inbound" account (its debits are
 * what arrived through the node) to the person's BTC balance.
 *
 * Exactly once per payment hash: the credit is a ledger transfer whose id is derived from the hash
 * (a second one is `exists`, never a second credit), made in one transaction with the top-up's new
 * status and its outbox event, under the row's lock. Settlements are learnt from the node's stream;
 * whatever settled while nobody listened (the stream dropped, the hub was down) is found by looking
 * up every open top-up each time the stream is (re)opened, and the stream resumes from the last
 * cursor kept in the database. Duplicates from a replay, a look-up and the stream at once are
 * expected and harmless. Open top-ups past their expiry are looked up and marked `expired` unless
 * the node says they settled.
 */
import { randomBytes } from 'node:crypto';
import { ProblemError } from '../../../shared/problem.js';
import type { CreateTopupRequest, Topup, TopupStatus } from '../../../shared/topups.js';
import type { Clock } from '../../clock.js';
import { type AccountDirectory, lightningInboundAccountId } from '../../core/accounts.js';
import { claimKey, fingerprint, keyKnown, keyScope } from '../../core/idempotency.js';
import { sleep } from '../../core/timing.js';
import type { Ledger } from '../../ledger/types.js';
import type { Logger } from '../../logger.js';
import { appendTopupEvent } from '../../notify/outbox.js';
import type { Db, Queryable } from '../../store/types.js';
import type { InvoiceReceiver, InvoiceReceiving, SettlementResult, TopupsApi } from '../types.js';

export type { SettlementResult } from '../types.js';
import type { LnbitsNode } from '../../../lightning/lnbits/index.js';
import type { LightningNode, SettledInvoice } from '../../../lightning/node.js';
import {
  insertTopup,
  loadCursor,
  openTopups,
  saveCursor,
  toTopup,
  topupByHashForUpdate,
  topupById,
  updateTopupState,
  type TopupRow,
} from './topups-store.js';

export const LIGHTNING_INBOUND_ACCOUNT = lightningInboundAccountId('BTC');
export const TOPUP_ID_PREFIX = 'top_';
export const newTopupId = () => `${TOPUP_ID_PREFIX}${randomBytes(12).toString('base64url')}`;
/** The ledger transfer of a top-up's credit: one id per payment hash, so it can exist only once. */
export const topupTransferId = (paymentHash: string) => `topup:${paymentHash}`;
const CURSOR = 'lightning:settlements';

export interface TopupOptions {
  /** How long an invoice can be paid. Default 3600. */
  expirySeconds?: number;
  /** How often open top-ups past their expiry are looked up. Default 5000 ms. */
  expiryCheckMs?: number;
  /** The first wait before following the node again after the stream broke; doubles up to 30 s. Default 1000 ms. */
  retryMs?: number;
}

export interface TopupsDeps {
  db: Db;
  ledger: Ledger;
  accounts: AccountDirectory;
  clock: Clock;
  logger: Logger;
  node: LightningNode;
  spawn(name: string, work: (signal: AbortSignal) => Promise<void>): void;
  /** An outbox event was committed: deliver it now rather than at the next poll. */
  eventWritten(): void;
  options?: TopupOptions;
}

export interface LightningTopups extends TopupsApi, InvoiceReceiving {
  /** Applies one settlement notice (from the stream or a look-up); idempotent by payment hash. */
  applySettlement(s: Pick<SettledInvoice, 'paymentHash' | 'amountPaidMsat' | 'settledAt'>): Promise<SettlementResult>;
  /** Looks up every open top-up at the node (after a restart or a dropped stream); how many changed. */
  reconcile(signal?: AbortSignal): Promise<number>;
}

/** A node that sends webhooks, which are only hints (LNbits: lightning/lnbits/index.ts). */
const hinting = (node: LightningNode): node is LightningNode & Pick<LnbitsNode, 'webhookHint'> =>
  typeof (node as Partial<LnbitsNode>).webhookHint === 'function';

export function createTopups(deps: TopupsDeps): LightningTopups {
  const { db, ledger, accounts, clock, logger, node } = deps;
  const expirySeconds = deps.options?.expirySeconds ?? 3600;
  // Other invoices of the same node (merchants' challenge invoices): one stream, one cursor, one
  // look-up on reconnect for all of them; a hash that is no top-up is offered to each in turn.
  const receivers: InvoiceReceiver[] = [];

  async function create(user: { id: string }, key: string, body: CreateTopupRequest, rawBody: unknown) {
    const scope = keyScope('topup', user.id);
    // A known key is answered by its claim: no second invoice for a retried request.
    let issued: { bolt11: string; paymentHash: string; expiresAt: number } | undefined;
    const id = newTopupId();
    if (!(await keyKnown(db, scope, key, clock.now()))) {
      try {
        issued = await node.createInvoice({ amountMsat: BigInt(body.amount), memo: `Tollway top-up ${id}`, expirySeconds });
      } catch (err) {
        if (!(await keyKnown(db, scope, key, clock.now()))) {
          throw new ProblemError('lightning-unavailable', `the hub's Lightning node could not issue an invoice: ${(err as Error).message}`);
        }
      }
    }
    const now = clock.now();
    const out = await db.transaction(async (tx) => {
      const row: TopupRow | undefined = issued && {
        id,
        userId: user.id,
        amount: BigInt(body.amount),
        paymentHash: issued.paymentHash.toLowerCase(),
        bolt11: issued.bolt11,
        expiresAt: issued.expiresAt * 1000,
        status: 'open',
        creditedAmount: null,
        creditedAt: null,
        createdAt: now,
        updatedAt: now,
      };
      const topup = row && toTopup(row);
      // The answer is known before anything is written, so the key is stored answered at once.
      const claim = await claimKey(tx, {
        scope,
        key,
        fingerprint: fingerprint(rawBody),
        resourceId: id,
        now,
        ...(topup ? { response: { status: 200, body: topup } } : {}),
      });
      if (!claim.claimed) return { status: claim.replay.status, body: claim.replay.body as Topup, replayed: true };
      if (!row || !topup) throw new ProblemError('idempotency-key-in-flight', 'the key was released meanwhile; retry');
      await insertTopup(tx, row);
      return { status: 200, body: topup, replayed: false };
    });
    return out;
  }

  async function get(userId: string, id: string): Promise<Topup | undefined> {
    const row = await topupById(db, id);
    return row && row.userId === userId ? toTopup(row) : undefined;
  }

  /** Changes one top-up and records its event, in the caller's transaction. */
  async function transition(tx: Queryable, row: TopupRow, next: TopupRow, previous: TopupStatus): Promise<void> {
    await updateTopupState(tx, next);
    await appendTopupEvent(tx, { userId: row.userId, topup: toTopup(next), previousStatus: previous }, next.updatedAt);
  }

  async function applySettlement(s: Pick<SettledInvoice, 'paymentHash' | 'amountPaidMsat' | 'settledAt'>): Promise<SettlementResult> {
    const hash = typeof s.paymentHash === 'string' ? s.paymentHash.toLowerCase() : '';
    const result = await db.transaction(async (tx): Promise<SettlementResult> => {
      const row = await topupByHashForUpdate(tx, hash);
      // Invoices of this node that are no top-up (a merchant's L402 invoices on the same node).
      if (!row) return 'unknown-hash';
      if (row.status === 'credited') return 'already-credited';
      // What was paid: a payer may pay more than asked (never less: the node refuses that).
      const paid = s.amountPaidMsat > 0n ? s.amountPaidMsat : row.amount;
      if (paid < row.amount)
        logger.warn({ topupId: row.id, paid: String(paid), asked: String(row.amount) }, 'a top-up settled for less than asked');
      const [r] = await ledger.createTransfers(tx, [
        {
          id: topupTransferId(hash),
          debitAccountId: await accounts.lightningInbound(tx, 'BTC'),
          creditAccountId: await accounts.user(tx, row.userId, 'BTC'),
          amount: paid,
          asset: 'BTC',
          userData: row.id,
        },
      ]);
      // `exists` cannot happen while the row says not credited (both commit together); it is
      // accepted so that a row and a transfer out of step still end credited once.
      if (r !== 'created' && r !== 'exists') throw new Error(`ledger refused the credit of top-up ${row.id}: ${r}`);
      const now = clock.now();
      // An invoice marked expired that the node reports settled was paid after all: the money is there.
      if (row.status === 'expired') logger.warn({ topupId: row.id }, 'a top-up marked expired was settled; crediting it');
      await transition(tx, row, { ...row, status: 'credited', creditedAmount: paid, creditedAt: now, updatedAt: now }, row.status);
      return 'credited';
    });
    if (result === 'credited') deps.eventWritten();
    if (result !== 'unknown-hash') return result;
    for (const r of receivers) {
      const theirs = await r.applySettlement({ ...s, paymentHash: hash });
      if (theirs !== 'unknown-hash') return theirs;
    }
    logger.debug({ paymentHash: hash }, 'a settled invoice that is no top-up; ignored');
    return result;
  }

  async function markExpired(id: string, hash: string): Promise<boolean> {
    const changed = await db.transaction(async (tx) => {
      const row = await topupByHashForUpdate(tx, hash);
      if (!row || row.id !== id || row.status !== 'open') return false;
      await transition(tx, row, { ...row, status: 'expired', updatedAt: clock.now() }, 'open');
      return true;
    });
    if (changed) deps.eventWritten();
    return changed;
  }

  /** Asks the node about one open top-up and records what it says; true when it changed. */
  async function check(row: TopupRow): Promise<boolean> {
    const status = await node.lookupInvoice(row.paymentHash);
    if (status?.state === 'settled') {
      return (
        (await applySettlement({
          paymentHash: row.paymentHash,
          amountPaidMsat: status.amountPaidMsat ?? row.amount,
          settledAt: status.settledAt ?? Math.floor(clock.now() / 1000),
        })) === 'credited'
      );
    }
    if (status?.state === 'expired' || status?.state === 'canceled') return markExpired(row.id, row.paymentHash);
    // A node that no longer knows the invoice cannot settle it. One it still calls open is left
    // open even past the expiry the hub reads: the node's clock decides what it accepts.
    if (status === undefined && clock.now() >= row.expiresAt) return markExpired(row.id, row.paymentHash);
    return false;
  }

  async function checkAll(rows: TopupRow[], signal?: AbortSignal): Promise<number> {
    let changed = 0;
    for (const row of rows) {
      if (signal?.aborted) break;
      try {
        if (await check(row)) changed++;
      } catch (err) {
        logger.warn({ topupId: row.id, err: (err as Error).message }, 'could not look up a top-up invoice; will try again');
      }
    }
    return changed;
  }

  async function reconcile(signal?: AbortSignal): Promise<number> {
    let changed = 0;
    // Pages by age; rows that change leave the open set, so the cursor is the last one seen.
    const seen = new Set<string>();
    for (;;) {
      const page = (await openTopups(db, { limit: 500 + seen.size })).filter((r) => !seen.has(r.id));
      if (page.length === 0 || signal?.aborted) break;
      for (const r of page) seen.add(r.id);
      changed += await checkAll(page, signal);
    }
    for (const r of receivers) {
      if (signal?.aborted) break;
      changed += await r.reconcile({ ...(signal ? { signal } : {}) }).catch((err: Error) => {
        logger.warn({ err: err.message }, 'invoice look-up failed; will try again');
        return 0;
      });
    }
    return changed;
  }

  // Follows the node's settlements for as long as the hub runs. Each (re)start opens the stream
  // first and then looks up every open top-up, so a settlement is either in the stream (replayed
  // from the kept cursor when the node can) or found by the look-up: none falls between the two.
  deps.spawn('lightning top-up settlements', async (signal) => {
    const firstRetry = deps.options?.retryMs ?? 1000;
    let delay = firstRetry;
    while (!signal.aborted) {
      let looked: Promise<unknown> = Promise.resolve();
      try {
        const since = await loadCursor(db, CURSOR);
        const stream = node.followSettlements({ signal, ...(since ? { since } : {}) })[Symbol.asyncIterator]();
        let next = stream.next();
        // Observed now, awaited below: a stream that breaks during the look-ups is no unhandled rejection.
        next.catch(() => undefined);
        looked = reconcile(signal).catch((err: Error) => logger.warn({ err: err.message }, 'top-up reconcile failed'));
        for (;;) {
          const r = await next;
          if (r.done) break;
          delay = firstRetry;
          await applySettlement(r.value);
          if (r.value.cursor) await saveCursor(db, CURSOR, r.value.cursor, clock.now());
          next = stream.next();
          next.catch(() => undefined);
        }
      } catch (err) {
        if (signal.aborted) break;
        logger.warn({ err: (err as Error).message, retryInMs: delay }, 'the Lightning settlement stream broke; following again');
      } finally {
        await looked;
      }
      await sleep(delay, signal);
      delay = Math.min(delay * 2, 30_000);
    }
  });

  // Open top-ups whose invoice has expired: looked up, then expired (or credited, if they settled).
  deps.spawn('lightning top-up expiry', async (signal) => {
    const every = deps.options?.expiryCheckMs ?? 5000;
    while (!signal.aborted) {
      await sleep(every, signal);
      if (signal.aborted) break;
      try {
        await checkAll(await openTopups(db, { expiredBy: clock.now(), limit: 500 }), signal);
        for (const r of receivers) await r.reconcile({ signal, expiredBy: clock.now() });
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'top-up expiry check failed');
      }
    }
  });

  return {
    create,
    get,
    applySettlement,
    reconcile,
    addReceiver: (r) => void receivers.push(r),
    async createInvoice(req) {
      const inv = await node.createInvoice({
        amountMsat: req.amountMsat,
        memo: req.memo,
        expirySeconds: req.expirySeconds ?? expirySeconds,
      });
      return { bolt11: inv.bolt11, paymentHash: inv.paymentHash.toLowerCase(), expiresAt: inv.expiresAt * 1000 };
    },
    lookupInvoice: (hash) => node.lookupInvoice(hash),
    cancelInvoice: (hash) => node.cancelInvoice(hash),
    ...(hinting(node)
      ? {
          // The body only names a payment: the node is asked (webhookHint), and its answer applied.
          async webhookHint(body: unknown) {
            const s = await node.webhookHint(body);
            return s ? applySettlement(s) : 'not-settled';
          },
        }
      : {}),
  };
}
