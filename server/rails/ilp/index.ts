/**
 * The Interledger rail: a person pays a merchant from their own Open Payments wallet, approving
 * each payment (or a budget) on their wallet's own consent page. The hub is an Open Payments
 * client with its own key and client wallet address.
 *
 * A payment: the merchant's wallet gets an incoming payment and the person's wallet quotes it
 * (prepare.ts, before anything is stored); the hub reserves and records it, then either charges a
 * budget grant that still covers it and sends at once, or asks the person's wallet for an
 * interactive grant limited to the quoted debit and answers `pending` with the consent URL
 * (consent.ts). The wallet's redirect to `/ilp/finish` continues the grant and sends (sending.ts).
 *
 * The money never touches a hub balance. The ledger records it as it does other payments from a
 * person's own wallet: the reservation debits the mirror of that wallet (`ilp:<user>:<asset>`,
 * which may go below zero: the wallet is what guards it) and credits the account of payees paid
 * outside the hub (`system:ilp-payees:<asset>`), never the merchant's hub balance; it is posted
 * when the wallet reports the payment sent and voided when it fails, once either way.
 */
import type { AwaitingPayer, Rail, RailOutcome } from '../types.js';
import type { RailParts } from '../module.js';
import { ProblemError } from '../../../shared/problem.js';
import { ASSET_NAMES } from '../../../shared/assets.js';
import type { Queryable } from '../../store/types.js';
import type { InterledgerApi } from './api.js';
import { toIlpGrant } from './budgets.js';
import { createOpenPayments, type OpenPayments } from './client.js';
import type { IlpConfig } from './config.js';
import { askConsent, awaiting, expireConsents, finish } from './consent.js';
import { type IlpContext, pause } from './context.js';
import { isWalletAddressUrl, prepare } from './prepare.js';
import { resumeRow } from './sending.js';
import { activeBudgets, loadGrant, loadIlpPayment, revokeGrantRow } from './store.js';
import { createWalletLinks } from './wallets.js';

export type { InterledgerApi } from './api.js';

/** The mirror of a person's own Interledger wallet: debited by what they paid from it through the hub. */
export const ilpWalletAccountId = (userId: string, asset: string) => `ilp:${userId}:${asset}`;
/** What the hub's people paid into wallets outside the hub (merchants' own wallet addresses). */
export const ilpPayeesAccountId = (asset: string) => `system:ilp-payees:${asset}`;

export interface IlpRail extends Rail {
  readonly interledger: InterledgerApi;
}

export interface IlpRailOptions {
  /** Instead of the official client built from the settings (tests of failure modes). */
  openPayments?: OpenPayments;
  /** Between two looks at an outgoing payment, ms (default 250). */
  pollMs?: number;
  /** How often lapsed consents are failed, ms (default 15 s). */
  expiryCheckMs?: number;
}

export function createIlpRail(parts: RailParts, settings: IlpConfig, options: IlpRailOptions = {}): IlpRail {
  const { db, ledger, clock, logger } = parts;
  const op =
    options.openPayments ??
    createOpenPayments({ clientWalletAddress: settings.clientWalletAddress, keyId: settings.keyId, privateKey: settings.key.privateKey });
  const ctx: IlpContext = {
    db,
    clock,
    logger,
    op,
    report: parts.report,
    spawn: parts.spawn,
    signal: parts.signal,
    finishUrl: `${parts.publicUrl}/ilp/finish`,
    consentSeconds: settings.consentSeconds,
    settleWaitMs: settings.settleWaitMs,
    pollMs: options.pollMs ?? 250,
    allowPrivate: settings.allowPrivate,
    following: new Set(),
  };

  const known = new Set<string>();
  /** A ledger account of the rail's own (no must-not-exceed flag), created when missing. */
  async function railAccount(tx: Queryable, id: string, asset: string, owner: string): Promise<string> {
    if (known.has(id)) return id;
    const [r] = await ledger.createAccounts(tx, [{ id, asset, owner }]);
    if (r === 'exists') known.add(id);
    else if (r !== 'created') throw new Error(`ledger refused account ${id}: ${r}`);
    return id;
  }

  async function merchantWallet(merchantId: string): Promise<string> {
    const m = await db.get<{ wallet_address: string | null }>('SELECT wallet_address FROM merchants WHERE id = ?', [merchantId]);
    if (!m) throw new ProblemError('unknown-merchant', `no merchant ${JSON.stringify(merchantId)} on this hub`);
    if (!m.wallet_address) throw new ProblemError('ilp-payee-unusable', 'this merchant has no Interledger wallet address');
    return m.wallet_address;
  }

  /** Where a payment stands, from its row: the one path for execute, resume and the background. */
  async function drive(paymentId: string): Promise<RailOutcome | AwaitingPayer> {
    const row = await loadIlpPayment(db, paymentId);
    if (!row) return { status: 'failed', reason: 'the hub has no Interledger record of this payment' };
    switch (row.state) {
      case 'new':
        try {
          return await askConsent(ctx, row);
        } catch (err) {
          return { status: 'failed', reason: `the wallet refused to ask for consent: ${(err as Error).message}` };
        }
      case 'awaiting-consent':
        return awaiting(ctx, row);
      case 'continuing':
        // Stopped between claiming the consent and storing the wallet's token: without the token no
        // outgoing payment can exist, and the interact_ref cannot be used again.
        return { status: 'failed', reason: 'the hub stopped while continuing the grant; nothing was paid, please pay again' };
      default:
        return resumeRow(ctx, paymentId);
    }
  }

  const links = createWalletLinks({ db, clock, op, allowPrivate: settings.allowPrivate });

  const interledger: InterledgerApi = {
    linkWallet: links.link,
    wallet: links.get,
    unlinkWallet: links.unlink,
    finish: (q) => finish(ctx, q),
    async grants(userId) {
      const now = clock.now();
      return (await activeBudgets(db, userId)).map((g) => toIlpGrant(g, now));
    },
    async revokeGrant(userId, grantId) {
      const g = await loadGrant(db, grantId);
      if (!g || g.user_id !== userId || g.state !== 'active') return false;
      // The continuation that created the grant may delete it (GNAP); the token is revoked as well.
      const c = await db.get<{ continue_uri: string | null; continue_token: string | null }>(
        'SELECT continue_uri, continue_token FROM ilp_payments WHERE grant_id = ? AND continue_token IS NOT NULL ORDER BY created_at LIMIT 1',
        [grantId],
      );
      const refused: string[] = [];
      if (c?.continue_uri && c.continue_token)
        await op.cancelGrant(c.continue_uri, c.continue_token).catch((e: Error) => refused.push(e.message));
      await op.revokeToken(g.manage_url, g.access_token).catch((e: Error) => refused.push(e.message));
      if (refused.length === 2 || (!c && refused.length === 1))
        logger.warn({ grantId, err: refused.join('; ') }, 'the wallet did not confirm deleting a grant; the hub stops using it anyway');
      await db.transaction((tx) => revokeGrantRow(tx, grantId, clock.now()));
      return true;
    },
    async paymentState(userId, paymentId) {
      const row = await loadIlpPayment(db, paymentId);
      if (!row || row.user_id !== userId) return undefined;
      return {
        transactionId: row.payment_id,
        state: row.state,
        interact:
          row.state === 'awaiting-consent' && row.interact_redirect && row.consent_expires_at !== null
            ? { redirect: row.interact_redirect, expiresAt: new Date(row.consent_expires_at).toISOString() }
            : null,
        debitAmount: { value: row.debit_value, assetCode: row.debit_asset_code, assetScale: row.debit_asset_scale },
        grantId: row.grant_id,
        failure: row.failure,
      };
    },
    expireConsents: () => expireConsents(ctx),
  };

  parts.spawn('ilp consent expiry', async (signal) => {
    while (!signal.aborted) {
      await pause(options.expiryCheckMs ?? 15_000, signal);
      if (signal.aborted) return;
      await expireConsents(ctx).catch((err: Error) => logger.warn({ err: err.message }, 'failing lapsed Interledger consents failed'));
    }
  });

  return {
    name: 'ilp',
    settlement: 'external',
    prepare: (req) =>
      prepare(
        ctx,
        { merchantWallet, mirrorAccount: (tx, userId, asset) => railAccount(tx, ilpWalletAccountId(userId, asset), asset, userId) },
        req,
      ),
    async resolvePayee(tx, payTo, asset) {
      const credit = await railAccount(tx, ilpPayeesAccountId(asset), asset, 'system');
      if (isWalletAddressUrl(payTo)) return { creditAccountId: credit, merchantId: null };
      const m = await tx.get<{ id: string }>('SELECT id FROM merchants WHERE id = ?', [payTo]);
      if (!m) throw new ProblemError('unknown-merchant', `no merchant ${JSON.stringify(payTo)} on this hub`);
      return { creditAccountId: credit, merchantId: m.id };
    },
    execute: (p) => drive(p.id),
    resume: (p) => drive(p.id),
    async info() {
      return {
        name: 'ilp',
        assets: [...ASSET_NAMES],
        clientWalletAddress: settings.clientWalletAddress,
        keyId: settings.keyId,
        publicKey: { ...settings.key.publicJwk, kid: settings.keyId, alg: 'EdDSA', use: 'sig' },
        consentSeconds: settings.consentSeconds,
      };
    },
    interledger,
  };
}
