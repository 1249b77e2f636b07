/**
 * Messages from extension pages to the service worker, and the replies. Both ends validate: a page
 * may be stale (opened by an older worker) and the worker trusts nothing it did not check.
 * Pages read state straight from chrome.storage (and its onChanged event); messages only ask the
 * worker to act. Passwords never travel in a message: pages decrypt the keystore themselves.
 */
import { z } from 'zod';
import { AllowancePayee, AllowancePeriod, Asset, SiteOrigin } from '../../shared/api.js';
import { AmountString, PositiveAmountString } from '../../shared/amount.js';
import { EvmAddress } from '../../shared/eip3009.js';
import { HttpUrl, ServiceUrl as HubUrl } from '../../shared/url.js';
import { PayFrom } from './state.js';

export const PageMessage = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('approval.decide'),
    id: z.string().min(1).max(200),
    approve: z.boolean(),
    /** "Pay automatically on this site up to … per …": saved at the hub before approving. */
    budget: z.object({ amount: PositiveAmountString, period: AllowancePeriod }).optional(),
    /** "Pay from": the hub balance or the wallet on chain (absent: the hub balance, or the wallet when that is the only way). */
    payFrom: PayFrom.optional(),
    /** On chain: the validity window (unix seconds) the window showed; the worker signs exactly it. */
    window: z.object({ validAfter: z.number().int(), validBefore: z.number().int() }).optional(),
  }),
  z.object({ type: z.literal('approval.rejectAll') }),
  /** Sign in to the hub with the unlocked key (SIWE). */
  z.object({ type: z.literal('auth.signIn'), hubUrl: HubUrl }),
  /** Revoke the refresh token and forget the tokens; the key stays unlocked. */
  z.object({ type: z.literal('auth.signOut') }),
  /** Sign out and forget the unlocked key. */
  z.object({ type: z.literal('wallet.lock') }),
  /** Reconcile balances and payments with the hub now (the popup opened). */
  z.object({ type: z.literal('account.sync') }),
  /** Dev-mode hubs only (others answer 404): credit 10 test SOVR, so a newcomer can try paying. */
  z.object({ type: z.literal('dev.faucet') }),
  /** Read the budgets from the hub into session storage. */
  z.object({ type: z.literal('budget.sync') }),
  /** A budget is for one site and one payee (shared/payee.ts): the site can auto-pay no one else. */
  z.object({
    type: z.literal('budget.put'),
    site: SiteOrigin,
    payee: AllowancePayee,
    asset: Asset,
    amount: PositiveAmountString,
    period: AllowancePeriod,
  }),
  /** `payee` null: a budget kept from before budgets named a payee. */
  z.object({ type: z.literal('budget.delete'), site: SiteOrigin, payee: AllowancePayee.nullable(), asset: Asset }),
  /** Every payment at the hub as CSV (the reply carries it). */
  z.object({ type: z.literal('payments.export') }),
  /** Host access changed in a page (granted or removed there): follow it now. */
  z.object({ type: z.literal('access.changed') }),
  /**
   * Move `amount` SOVR (base units) from the wallet into the hub balance: the worker signs exactly
   * the validity window the popup showed (to the hub treasury), stores it, then sends it.
   */
  z.object({
    type: z.literal('deposit.create'),
    amount: PositiveAmountString,
    window: z.object({ validAfter: z.number().int(), validBefore: z.number().int() }),
  }),
  /** Add funds: ask the hub for a Lightning invoice of `amount` msat (it replaces the one shown). */
  z.object({ type: z.literal('topup.create'), amount: PositiveAmountString }),
  /** Read the expiry of every slot held again from its site (the holdings view opened). */
  z.object({ type: z.literal('holdings.refresh') }),
  /** Renew a held slot: pay for a token (the approval window or a budget), then spend it on the slot. */
  z.object({ type: z.literal('holdings.renew'), key: z.string().min(1).max(5000) }),
  /** Read the linked Interledger wallet and its grants from the hub into session storage. */
  z.object({ type: z.literal('ilp.sync') }),
  /** Link an Interledger wallet address at the hub (the hub checks it can pay from it). */
  z.object({ type: z.literal('ilp.link'), walletAddress: HttpUrl }),
  z.object({ type: z.literal('ilp.unlink') }),
  /** Revoke a budget grant on the Interledger wallet (deleted at the wallet's auth server). */
  z.object({ type: z.literal('ilp.revoke'), grantId: z.string().min(1).max(100) }),
  /** Open the wallet's consent page of a payment still waiting for it (its window was closed). */
  z.object({ type: z.literal('ilp.consent'), transactionId: z.string().min(1).max(100) }),
  /** Switch one listed token (and its network) on: the window's "Enable USDC on Base", confirmed there. */
  z.object({ type: z.literal('networks.enable'), chainId: z.number().int().positive(), token: EvmAddress }),
  /** The unlocked wallet's balance of a listed token from its network's RPC URL (the reply's `balance`). */
  z.object({ type: z.literal('evm.balance'), chainId: z.number().int().positive(), token: EvmAddress }),
]);
export type PageMessage = z.infer<typeof PageMessage>;

export const Reply = z.union([
  z.object({
    ok: z.literal(true),
    csv: z.string().optional(),
    /** `evm.balance`: base units. */
    balance: AmountString.optional(),
  }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);
export type Reply = z.infer<typeof Reply>;
