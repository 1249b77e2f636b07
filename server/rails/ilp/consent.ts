/**
 * The person's consent on their own wallet: the interactive outgoing-payment grant, the redirect
 * back to the hub, and its continuation.
 *
 * The finish redirect is checked before anything else: the `ref` in it only finds which consent it
 * claims to answer, the `hash` (over our nonce, the wallet's nonce, the interact_ref and the grant
 * endpoint) proves the wallet sent it for that consent. Only then is the consent claimed, in one
 * conditional update that also stores the interact_ref (unique): a replayed or concurrent redirect
 * finds it taken and changes nothing.
 */
import { isPendingGrant, type Grant } from '@interledger/open-payments';
import { randomBytes } from 'node:crypto';
import type { IlpFinishQuery } from '../../../shared/ilp.js';
import { ProblemError } from '../../../shared/problem.js';
import type { AwaitingPayer, RailOutcome } from '../types.js';
import type { FinishOutcome } from './api.js';
import { standing } from './budgets.js';
import type { IlpContext } from './context.js';
import { finishHashMatches } from './finish-hash.js';
import { send } from './sending.js';
import { advance, type GrantRow, insertGrant, type IlpPaymentRow, lapsedConsents, loadByFinishRef, loadIlpPayment } from './store.js';

const failed = (reason: string): RailOutcome => ({ status: 'failed', reason });
const token = (bytes: number) => randomBytes(bytes).toString('base64url');

function pendingOutcome(row: IlpPaymentRow): AwaitingPayer {
  return {
    status: 'pending',
    interact: { redirect: row.interact_redirect!, expiresAt: new Date(row.consent_expires_at!).toISOString() },
  };
}

/** Asks the person's wallet for an outgoing-payment grant for this payment (or the budget they asked for). */
export async function askConsent(ctx: IlpContext, row: IlpPaymentRow): Promise<RailOutcome | AwaitingPayer> {
  const payer = await ctx.op.walletAddress(row.payer_wallet);
  const debitAmount = { assetCode: row.debit_asset_code, assetScale: row.debit_asset_scale };
  const limits = row.budget_value
    ? { debitAmount: { ...debitAmount, value: row.budget_value }, ...(row.budget_interval ? { interval: row.budget_interval } : {}) }
    : { debitAmount: { ...debitAmount, value: row.debit_value }, receiver: row.incoming_payment };
  const ref = token(18);
  const nonce = token(24);
  const grant = await ctx.op.requestOutgoingGrant(payer, limits, { uri: `${ctx.finishUrl}?ref=${ref}`, nonce });
  const now = ctx.clock.now();
  const base = { finish_ref: ref, client_nonce: nonce, grant_endpoint: new URL(payer.authServer).href, continue_uri: grant.continue.uri };
  if (!isPendingGrant(grant)) {
    // The wallet granted it without asking the person (a standing authorisation of its own).
    if (!grant.access_token) return failed('the wallet answered the grant request with neither a consent page nor a token');
    const g = grantRow(row, grant, payer.authServer, now);
    const set = { ...base, continue_token: grant.continue.access_token.value, state: 'authorized' as const, grant_id: g.id };
    await ctx.db.transaction(async (tx) => {
      await insertGrant(tx, g);
      await advance(tx, row.payment_id, 'new', set, now);
    });
    return send(ctx, { ...row, ...set });
  }
  const set = {
    ...base,
    state: 'awaiting-consent' as const,
    as_nonce: grant.interact.finish,
    interact_redirect: grant.interact.redirect,
    continue_token: grant.continue.access_token.value,
    consent_expires_at: now + ctx.consentSeconds * 1000,
  };
  if (!(await advance(ctx.db, row.payment_id, 'new', set, now))) {
    // Someone else asked already (a resume racing execute): theirs stands; ours lapses unused.
    const current = await loadIlpPayment(ctx.db, row.payment_id);
    return current?.state === 'awaiting-consent' ? pendingOutcome(current) : { status: 'submitted' };
  }
  return pendingOutcome({ ...row, ...set });
}

/** The grant as the hub keeps it; a budget's spend starts with this payment's debit. */
function grantRow(row: IlpPaymentRow, grant: Grant, authServer: string, now: number): GrantRow {
  const g: GrantRow = {
    id: `igr_${token(12)}`,
    user_id: row.user_id,
    wallet_address: row.payer_wallet,
    auth_server: authServer,
    access_token: grant.access_token!.value,
    manage_url: grant.access_token!.manage,
    asset_code: row.debit_asset_code,
    asset_scale: row.debit_asset_scale,
    limit_amount: row.budget_value ?? row.debit_value,
    interval: row.budget_interval,
    spent: '0',
    period_start: null,
    budget: row.budget_value ? 1 : 0,
    state: 'active',
    created_at: now,
    updated_at: now,
  };
  const s = standing(g, now);
  return { ...g, spent: (s.spent + BigInt(row.debit_value)).toString(), period_start: s.periodStart };
}

/** Where an awaited consent stands, for execute and resume. */
export function awaiting(ctx: IlpContext, row: IlpPaymentRow): AwaitingPayer | Promise<RailOutcome> {
  if (row.consent_expires_at !== null && ctx.clock.now() >= row.consent_expires_at) return lapse(ctx, row);
  return pendingOutcome(row);
}

const lapsedReason = (ctx: IlpContext) =>
  `the person did not approve the payment on their wallet within ${Math.round(ctx.consentSeconds / 60)} minutes; nothing was paid`;

/** Ends a consent that was not given in time (the wallet's own interaction has lapsed as well). */
async function lapse(ctx: IlpContext, row: IlpPaymentRow): Promise<RailOutcome> {
  return endConsent(ctx, row, lapsedReason(ctx));
}

/** Ends an awaited consent unpaid: claims it, then cancels the grant at the wallet (best effort). */
async function endConsent(ctx: IlpContext, row: IlpPaymentRow, reason: string): Promise<RailOutcome> {
  const claimed = await advance(ctx.db, row.payment_id, 'awaiting-consent', { state: 'done', failure: reason }, ctx.clock.now());
  if (!claimed) return failed(reason);
  if (row.continue_uri && row.continue_token) {
    await ctx.op.cancelGrant(row.continue_uri, row.continue_token).catch((err: Error) => {
      ctx.logger.info({ paymentId: row.payment_id, err: err.message }, 'the wallet did not cancel an unused grant');
    });
  }
  return failed(reason);
}

/** Fails every payment whose consent time ran out. */
export async function expireConsents(ctx: IlpContext): Promise<number> {
  let n = 0;
  for (const row of await lapsedConsents(ctx.db, ctx.clock.now(), 100)) {
    const outcome = await lapse(ctx, row);
    await ctx.report(row.payment_id, outcome);
    n++;
  }
  return n;
}

/** `GET /ilp/finish`: the wallet sent the person back. */
export async function finish(ctx: IlpContext, q: IlpFinishQuery): Promise<FinishOutcome> {
  const row = await loadByFinishRef(ctx.db, q.ref);
  if (!row) throw new ProblemError('ilp-finish-refused', 'no consent in progress has this reference');
  const paymentId = row.payment_id;
  const settle = async (outcome: RailOutcome) => {
    await ctx.report(paymentId, outcome);
    return { paymentId, outcome };
  };

  if (q.result === 'grant_rejected') {
    if (q.hash || q.interact_ref) throw new ProblemError('validation-error', 'a rejection carries neither hash nor interact_ref');
    if (row.state !== 'awaiting-consent') throw new ProblemError('ilp-finish-refused', 'this consent was already answered');
    return settle(await endConsent(ctx, row, 'the person rejected the payment on their wallet; nothing was paid'));
  }
  if (q.result !== undefined) throw new ProblemError('validation-error', `unknown result ${JSON.stringify(q.result)}`);
  if (!q.hash || !q.interact_ref) throw new ProblemError('validation-error', 'the redirect needs hash and interact_ref');

  // The hash first: nothing below runs for a redirect the wallet did not send for this consent.
  const genuine =
    row.client_nonce !== null &&
    row.as_nonce !== null &&
    row.grant_endpoint !== null &&
    finishHashMatches(q.hash, {
      clientNonce: row.client_nonce,
      asNonce: row.as_nonce,
      interactRef: q.interact_ref,
      grantEndpoints: grantEndpoints(row.grant_endpoint),
    });
  if (!genuine) {
    if (row.state !== 'awaiting-consent') throw new ProblemError('ilp-finish-refused', 'the redirect’s hash does not match this consent');
    // A consent whose redirect was forged or mangled is not continued: the grant is cancelled.
    return settle(
      await endConsent(ctx, row, 'the wallet’s redirect did not check out (hash mismatch); the grant was cancelled and nothing was paid'),
    );
  }
  if (row.state !== 'awaiting-consent') throw new ProblemError('ilp-finish-refused', 'this consent was already used');
  if (row.consent_expires_at !== null && ctx.clock.now() >= row.consent_expires_at) return settle(await lapse(ctx, row));

  // Claimed once: the interact_ref is stored with the move, and is unique.
  let claimed: boolean;
  try {
    claimed = await advance(ctx.db, paymentId, 'awaiting-consent', { state: 'continuing', interact_ref: q.interact_ref }, ctx.clock.now());
  } catch {
    claimed = false;
  }
  if (!claimed) throw new ProblemError('ilp-finish-refused', 'this consent was already used');

  let grant: Grant;
  try {
    grant = await ctx.op.continueGrant(row.continue_uri!, row.continue_token!, q.interact_ref);
  } catch (err) {
    const reason = `the wallet would not continue the grant (${(err as Error).message}); nothing was paid`;
    await advance(ctx.db, paymentId, 'continuing', { state: 'done', failure: reason }, ctx.clock.now());
    return settle(failed(reason));
  }
  const now = ctx.clock.now();
  const g = grantRow(row, grant, row.grant_endpoint!, now);
  await ctx.db.transaction(async (tx) => {
    await insertGrant(tx, g);
    await advance(
      tx,
      paymentId,
      'continuing',
      {
        state: 'authorized',
        grant_id: g.id,
        // The continuation hands out a new continuation token: the one that can delete the grant.
        continue_uri: grant.continue.uri,
        continue_token: grant.continue.access_token.value,
      },
      now,
    );
  });
  return settle(await send(ctx, { ...row, state: 'authorized', grant_id: g.id }));
}

/** The grant endpoint as the client posted to it, and as the wallet may have written it. */
function grantEndpoints(stored: string): string[] {
  const bare = stored.endsWith('/') ? stored.slice(0, -1) : stored;
  return bare === stored ? [stored] : [stored, bare];
}
