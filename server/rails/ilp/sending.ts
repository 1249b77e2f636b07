/**
 * Sending a payment once a grant allows it, and following it to its end. Each step is recorded
 * before the next is taken (`authorized` → `sending` → `sent`), so a hub that stops anywhere looks
 * up what it did instead of doing it again: an outgoing payment carries the Tollway payment id in
 * its metadata, and a payment left `sending` is first looked for on the wallet.
 */
import type { OutgoingPayment } from '@interledger/open-payments';
import type { RailOutcome } from '../types.js';
import { releaseCharge } from './budgets.js';
import { IlpCallError } from './client.js';
import { type IlpContext, pause } from './context.js';
import { advance, type IlpPaymentRow, loadGrant, loadIlpPayment } from './store.js';
import { withToken } from './tokens.js';

const failed = (reason: string): RailOutcome => ({ status: 'failed', reason });

/** What an outgoing payment's fields say: still going, done, or failed (and whether anything arrived). */
export function classify(op: OutgoingPayment): 'completed' | 'in-progress' | { failed: string } {
  const sent = BigInt(op.sentAmount.value);
  if (op.failed) {
    return {
      failed:
        sent > 0n
          ? `the wallet sent only ${sent} of ${op.debitAmount.value} (scale ${op.debitAmount.assetScale}) ${op.debitAmount.assetCode} and stopped: a partial payment is not a payment; ask the merchant about what arrived`
          : 'the wallet could not send the payment; nothing was paid',
    };
  }
  // Wallets report `sentAmount` either with the fees (as much as was debited) or without (as much as
  // was delivered, in the receiver's asset when it is the same).
  const sameAsset = op.receiveAmount.assetCode === op.sentAmount.assetCode && op.receiveAmount.assetScale === op.sentAmount.assetScale;
  if (sent >= BigInt(op.debitAmount.value) || (sameAsset && sent >= BigInt(op.receiveAmount.value))) return 'completed';
  return 'in-progress';
}

/** Ends the rail's record of a payment, and gives a charge back when nothing left the wallet. */
async function finishRow(ctx: IlpContext, row: IlpPaymentRow, outcome: RailOutcome, nothingSent: boolean): Promise<RailOutcome> {
  await ctx.db.transaction(async (tx) => {
    const now = ctx.clock.now();
    const moved = await advance(
      tx,
      row.payment_id,
      ['authorized', 'sending', 'sent'],
      { state: 'done', failure: outcome.status === 'failed' ? outcome.reason : null },
      now,
    );
    if (moved && outcome.status === 'failed' && nothingSent && row.grant_id) {
      const g = await loadGrant(tx, row.grant_id, true);
      if (g) await releaseCharge(tx, g, BigInt(row.debit_value), now);
    }
  });
  return outcome;
}

/** Creates the outgoing payment under the row's grant (once), then follows it. */
export async function send(ctx: IlpContext, row: IlpPaymentRow): Promise<RailOutcome> {
  const grant = row.grant_id ? await loadGrant(ctx.db, row.grant_id) : undefined;
  if (grant?.state !== 'active')
    return finishRow(ctx, row, failed('the grant was revoked before the payment was sent; nothing was paid'), true);
  if (row.state === 'authorized') {
    if (!(await advance(ctx.db, row.payment_id, 'authorized', { state: 'sending' }, ctx.clock.now())))
      return resumeRow(ctx, row.payment_id);
  }
  let payer: { id: string; resourceServer: string };
  try {
    payer = await ctx.op.walletAddress(row.payer_wallet);
  } catch (err) {
    return unknownYet(ctx, row, err);
  }
  // After a restart in the middle of this step: did the wallet take it already?
  if (row.state === 'sending') {
    try {
      const found = (await withToken(ctx, grant, (token) => ctx.op.listOutgoingPayments(payer, token))).find(
        (p) => p.metadata?.tollwayPaymentId === row.payment_id,
      );
      if (found) return recordSent(ctx, row, found);
    } catch (err) {
      return unknownYet(ctx, row, err);
    }
  }
  const now = ctx.clock.now();
  // A quote lives minutes and consent may take longer: past it, the quoted debit amount is paid to the incoming payment directly.
  const args =
    row.quote_expires_at === null || row.quote_expires_at > now + 5000
      ? { quoteId: row.quote_id }
      : {
          incomingPayment: row.incoming_payment,
          debitAmount: { value: row.debit_value, assetCode: row.debit_asset_code, assetScale: row.debit_asset_scale },
        };
  try {
    const op = await withToken(ctx, grant, (token) =>
      ctx.op.createOutgoingPayment(payer, token, args, { tollwayPaymentId: row.payment_id }),
    );
    return recordSent(ctx, row, op);
  } catch (err) {
    // A refusal (4xx) means nothing was created; anything else may have been.
    if (err instanceof IlpCallError && err.status !== undefined && err.status >= 400 && err.status < 500) {
      return finishRow(ctx, { ...row, state: 'sending' }, failed(`the wallet refused the outgoing payment: ${err.message}`), true);
    }
    return unknownYet(ctx, row, err);
  }
}

async function recordSent(ctx: IlpContext, row: IlpPaymentRow, op: OutgoingPayment): Promise<RailOutcome> {
  await advance(ctx.db, row.payment_id, 'sending', { state: 'sent', outgoing_payment: op.id }, ctx.clock.now());
  return follow(ctx, { ...row, state: 'sent', outgoing_payment: op.id }, op);
}

/** The wallet did not answer: the payment stays where it is, and is looked at again later. */
function unknownYet(ctx: IlpContext, row: IlpPaymentRow, err: unknown): RailOutcome {
  ctx.logger.warn({ paymentId: row.payment_id, err: (err as Error).message }, 'Interledger wallet did not answer; will look again');
  followLater(ctx, row.payment_id);
  return { status: 'submitted' };
}

/** Looks at the outgoing payment until it ends or `settleWaitMs` passes; then keeps following in the background. */
export async function follow(ctx: IlpContext, row: IlpPaymentRow, first?: OutgoingPayment): Promise<RailOutcome> {
  const grant = row.grant_id ? await loadGrant(ctx.db, row.grant_id) : undefined;
  if (!grant || !row.outgoing_payment) return failed('the outgoing payment is not known to the hub');
  const until = ctx.clock.now() + ctx.settleWaitMs;
  let op = first;
  for (;;) {
    if (!op) {
      try {
        op = await withToken(ctx, grant, (token) => ctx.op.getOutgoingPayment(row.outgoing_payment!, token));
      } catch (err) {
        return unknownYet(ctx, row, err);
      }
    }
    const c = classify(op);
    if (c === 'completed') return finishRow(ctx, row, { status: 'completed', transactionHash: op.id }, false);
    if (c !== 'in-progress') return finishRow(ctx, row, failed(c.failed), BigInt(op.sentAmount.value) === 0n);
    if (ctx.clock.now() >= until || ctx.signal.aborted) break;
    await pause(ctx.pollMs, ctx.signal);
    op = undefined;
  }
  followLater(ctx, row.payment_id);
  return { status: 'submitted' };
}

/** Keeps following a payment in the background and reports its end; once per payment at a time. */
export function followLater(ctx: IlpContext, paymentId: string): void {
  if (ctx.following.has(paymentId)) return;
  ctx.following.add(paymentId);
  ctx.spawn(`ilp follow ${paymentId}`, async (signal) => {
    try {
      await pause(Math.max(ctx.pollMs * 4, 1000), signal);
    } finally {
      ctx.following.delete(paymentId);
    }
    if (signal.aborted) return;
    // It schedules itself again while the payment is still going.
    const outcome = await resumeRow(ctx, paymentId);
    if (outcome.status !== 'submitted') await ctx.report(paymentId, outcome);
  });
}

/** Carries a payment on from wherever its row stands (after a restart, or a background look). */
export async function resumeRow(ctx: IlpContext, paymentId: string): Promise<RailOutcome> {
  const row = await loadIlpPayment(ctx.db, paymentId);
  if (!row) return failed('the hub has no Interledger record of this payment');
  switch (row.state) {
    case 'authorized':
    case 'sending':
      return send(ctx, row);
    case 'sent':
      return follow(ctx, row);
    case 'done':
      return row.failure ? failed(row.failure) : row.outgoing_payment ? follow(ctx, { ...row, state: 'sent' }) : failed('nothing was sent');
    default:
      throw new Error(`resumeRow does not handle ${row.state}`);
  }
}
