/**
 * Everything a payment needs from the wallets before the hub records it: the payee's incoming
 * payment and the payer's quote. A refusal here (no linked wallet, a payee without a wallet
 * address, a wallet that does not answer) stores nothing. The reservation then debits the mirror
 * of the person's own wallet, never their hub balance, and the rail's row is written in the same
 * transaction, charged to a budget grant when one still covers the quoted debit.
 */
import { ASSETS } from '../../../shared/assets.js';
import { IlpPaymentOptions } from '../../../shared/ilp.js';
import { ProblemError } from '../../../shared/problem.js';
import { parse } from '../../../shared/validate.js';
import type { Queryable } from '../../store/types.js';
import type { PreparedPayment, RailRequest } from '../types.js';
import { chargeBudget } from './budgets.js';
import { IlpCallError } from './client.js';
import type { IlpContext } from './context.js';
import { insertIlpPayment, loadWallet } from './store.js';
import { toWalletUnits } from './units.js';
import { fetchWallet } from './wallets.js';

/** Seconds a reservation outlives the consent: time to send and follow the payment. */
export const SETTLE_GRACE_SECONDS = 900;

export const isWalletAddressUrl = (payTo: string) => /^https?:\/\//i.test(payTo);

export interface PrepareDeps {
  /** The merchant's wallet address, or a problem why it has none. */
  merchantWallet(merchantId: string): Promise<string>;
  /** The ledger account mirroring the person's own wallet (created when missing). */
  mirrorAccount(tx: Queryable, userId: string, asset: string): Promise<string>;
}

const unavailable = (err: unknown): ProblemError =>
  err instanceof ProblemError
    ? err
    : new ProblemError('ilp-unavailable', err instanceof IlpCallError ? err.message : 'the wallet did not answer');

export async function prepare(ctx: IlpContext, deps: PrepareDeps, req: RailRequest): Promise<PreparedPayment> {
  const { body, user } = req;
  const options = parse(IlpPaymentOptions, body.authorization ?? {}, 'body.authorization');
  const linked = await loadWallet(ctx.db, user.id);
  if (!linked) throw new ProblemError('ilp-wallet-not-linked', 'link your Interledger wallet address first (PUT /ilp/wallet)');
  const payeeUrl = isWalletAddressUrl(body.payTo) ? body.payTo : await deps.merchantWallet(body.payTo);

  const [payee, payer] = await Promise.all([
    fetchWallet(ctx.op, payeeUrl, 'ilp-payee-unusable', 'the payee’s', ctx.allowPrivate),
    fetchWallet(ctx.op, linked.wallet_address, 'ilp-wallet-unusable', 'your', ctx.allowPrivate),
  ]);
  if (payee.assetCode !== body.asset)
    throw new ProblemError('ilp-payee-unusable', `the payee’s wallet receives ${payee.assetCode}, not ${body.asset}`);
  const receive = toWalletUnits(BigInt(body.amount), body.asset, payee.assetScale, 'amount');
  const budget = options.budget
    ? toWalletUnits(BigInt(options.budget.amount), payer.assetCode, payer.assetScale, 'authorization.budget.amount')
    : undefined;

  const now = ctx.clock.now();
  let incoming: { id: string };
  let quote: { id: string; expiresAt?: string; debitAmount: { value: string; assetCode: string; assetScale: number } };
  try {
    const [incomingToken, quoteToken] = await Promise.all([
      ctx.op.grantToken(payee.authServer, 'incoming-payment'),
      ctx.op.grantToken(payer.authServer, 'quote'),
    ]);
    incoming = await ctx.op.createIncomingPayment(payee, incomingToken, {
      incomingAmount: { value: receive.toString(), assetCode: payee.assetCode, assetScale: payee.assetScale },
      expiresAt: new Date(now + (ctx.consentSeconds + SETTLE_GRACE_SECONDS) * 1000).toISOString(),
      metadata: { tollwayPaymentId: req.paymentId, ...(body.description ? { description: body.description } : {}) },
    });
    quote = await ctx.op.createQuote(payer, quoteToken, incoming.id);
  } catch (err) {
    throw unavailable(err);
  }
  const debit = BigInt(quote.debitAmount.value);
  if (quote.debitAmount.assetCode !== payer.assetCode || quote.debitAmount.assetScale !== payer.assetScale)
    throw new ProblemError('ilp-unavailable', 'the wallet quoted a debit in an asset other than its own');
  if (budget !== undefined && budget < debit)
    throw new ProblemError('validation-error', `the budget (${budget}) is less than this payment’s quoted debit (${debit})`);
  if (!(payer.assetCode in ASSETS)) throw new ProblemError('ilp-wallet-unusable', `your wallet holds ${payer.assetCode}`);

  return {
    debitAccount: (tx) => deps.mirrorAccount(tx, user.id, body.asset),
    timeoutSeconds: ctx.consentSeconds + SETTLE_GRACE_SECONDS,
    reserve: async (tx, payment) => {
      // A budget asked for now is approved on the consent page, not charged to an older one.
      const grantId = budget
        ? undefined
        : await chargeBudget(tx, {
            userId: user.id,
            walletAddress: payer.id,
            assetCode: payer.assetCode,
            assetScale: payer.assetScale,
            amount: debit,
            now,
          });
      await insertIlpPayment(tx, {
        payment_id: payment.id,
        user_id: user.id,
        state: grantId ? 'authorized' : 'new',
        payer_wallet: payer.id,
        payee_wallet: payee.id,
        incoming_payment: incoming.id,
        quote_id: quote.id,
        quote_expires_at: quote.expiresAt ? Date.parse(quote.expiresAt) : null,
        debit_value: debit.toString(),
        debit_asset_code: quote.debitAmount.assetCode,
        debit_asset_scale: quote.debitAmount.assetScale,
        receive_value: receive.toString(),
        budget_value: budget?.toString() ?? null,
        budget_interval: options.budget?.interval ?? null,
        grant_id: grantId ?? null,
        finish_ref: null,
        client_nonce: null,
        as_nonce: null,
        grant_endpoint: null,
        interact_redirect: null,
        continue_uri: null,
        continue_token: null,
        consent_expires_at: null,
        interact_ref: null,
        outgoing_payment: null,
        failure: null,
        created_at: now,
        updated_at: now,
      });
    },
  };
}
