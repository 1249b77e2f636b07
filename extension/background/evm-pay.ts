/**
 * Paying x402 `exact` entries on any EVM network from the person's wallet, the worker's side: the
 * plan a 402 gets when it is queued (and again whenever the networks list changes), and the
 * signed `wallet`-rail body once the person approves (or a budget pays). The approvals flow
 * stores that body in the request before anything is sent, records it at the hub, and retries the
 * page with it; evm-settle.ts reports the settlement the site answers with.
 *
 * Only an `enabled` plan is ever signed, and it is planned again from the list at the moment of
 * signing: a token switched off meanwhile, a domain that no longer matches, or a day's spending
 * past the token's daily limit signs nothing.
 */
import type { CreatePaymentRequest } from '../../shared/api.js';
import { authorizationWindow, windowAcceptable } from '../../shared/eip3009.js';
import type { T } from '../common/i18n.js';
import { caip19, matchToken, type EvmExactPlan, type NetworkSettings, withHubChain } from '../common/networks.js';
import type { ApprovalRequest } from '../common/state.js';
import type { DailyLimits } from './evm-limit.js';
import { planAmountText, planEntry, planEvm, planRefusal, walletBody, type X402Of } from './evm-plan.js';
import type { SignEvm } from './evm-sign.js';
import type { SovrRailInfo } from './onchain.js';

/** What a request is queued with for its EVM `exact` entry. */
export interface EvmQueued {
  evm: EvmExactPlan;
  /** The unsigned wallet-rail body; null when the plan is not payable (`unpayable` says why). */
  payment: CreatePaymentRequest | null;
  unpayable: string | null;
}

export interface EvmPayerDeps {
  t: T;
  /** The person's networks and tokens (`readNetworks` over chrome.storage.local). */
  networks(): Promise<NetworkSettings>;
  limits: DailyLimits;
  sign: SignEvm;
  /** The signed-in address: the `from` the hub checks. */
  wallet(): Promise<string | null>;
  now?: () => number;
}

export type EvmPayer = ReturnType<typeof createEvmPayer>;

/** The request's body without a signature (what is approved again after a budget refused it). */
export function unsigned(payment: CreatePaymentRequest): CreatePaymentRequest {
  const { authorization: _a, allowance: _b, ...rest } = payment;
  return rest;
}

export function createEvmPayer(deps: EvmPayerDeps) {
  const { t } = deps;
  const now = deps.now ?? (() => Date.now());

  /** The list the 402 is matched against: the person's, with the hub's SOVR chain added. */
  const listed = async (sovr: SovrRailInfo | null) => withHubChain(await deps.networks(), sovr);

  /** The token setting a plan names, from `networks` (daily limit, EIP-712 domain). */
  function tokenOf(networks: NetworkSettings, plan: EvmExactPlan) {
    const m = matchToken(networks, `eip155:${plan.chainId}`, plan.token.address);
    return m.kind === 'unknown' ? null : m;
  }

  /** An enabled plan over its token's daily limit: marked, and not payable. */
  async function withLimit(plan: EvmExactPlan, networks: NetworkSettings): Promise<EvmExactPlan> {
    const limit = tokenOf(networks, plan)?.token.dailyLimit;
    if (plan.state !== 'enabled' || limit === undefined) return plan;
    const spent = await deps.limits.spent(caip19(plan.chainId, plan.token.address));
    return spent + BigInt(plan.amount) > BigInt(limit) ? { ...plan, dailyLimit: { limit, spentToday: spent.toString() } } : plan;
  }

  function limitText(plan: EvmExactPlan, limit: { limit: string; spentToday: string }): string {
    const as = (amount: string) => planAmountText({ ...plan, amount }, t);
    return t('worker_evm_daily_limit', planAmountText(plan, t), as(limit.spentToday), as(limit.limit));
  }

  /**
   * The plan for a 402's EVM `exact` entries, or null when it has none. Payable only when enabled
   * and within the token's daily limit.
   */
  async function plan(challenge: X402Of, request: { url: string; method: string }, sovr: SovrRailInfo | null): Promise<EvmQueued | null> {
    const networks = await listed(sovr);
    const found = planEvm(challenge, networks, sovr);
    if (!found) return null;
    const evm = await withLimit(found.plan, networks);
    const refusal = planRefusal(evm, t) ?? (evm.dailyLimit ? limitText(evm, evm.dailyLimit) : null);
    if (refusal) return { evm, payment: null, unpayable: refusal };
    const description = challenge.x402?.resource?.description;
    return { evm, payment: walletBody(evm, found.option, request, description), unpayable: null };
  }

  /**
   * The request's wallet-rail body with its authorization, signed now over `window` (the one the
   * window showed, if still acceptable) and counted against the daily limit before it is returned,
   * so the caller stores it before anything is sent. Throws, signing nothing, with the reason.
   */
  async function sign(
    r: Pick<ApprovalRequest, 'id' | 'challenge' | 'payment' | 'evm'>,
    sovr: SovrRailInfo | null,
    window?: { validAfter: number; validBefore: number },
  ): Promise<CreatePaymentRequest> {
    if (!r.evm || r.payment?.rail !== 'wallet') throw new Error(t('worker_not_payable_from_wallet'));
    const option = r.challenge.x402?.accepts[r.evm.optionIndex];
    const networks = await listed(sovr);
    // Planned again from the list as it is now: the one the window showed may be out of date.
    const fresh = option ? planEntry(option, r.evm.optionIndex, networks) : null;
    if (!fresh || fresh.amount !== r.payment.amount || fresh.payTo !== r.payment.payTo)
      throw new Error(t('worker_not_payable_from_wallet'));
    const refusal = planRefusal(fresh, t);
    if (refusal) throw new Error(refusal);
    const match = tokenOf(networks, fresh);
    const from = await deps.wallet();
    if (!match || !from) throw new Error(t('worker_sign_in_first'));
    const nowSeconds = Math.floor(now() / 1000);
    const bounds = { minValiditySeconds: Math.floor(fresh.validitySeconds / 2), maxValiditySeconds: fresh.validitySeconds };
    if (window && !windowAcceptable(window, nowSeconds, bounds)) throw new Error(t('worker_validity_stale_approve'));
    const signWindow = window ?? authorizationWindow(nowSeconds, fresh.validitySeconds);
    const asset = caip19(fresh.chainId, fresh.token.address);
    if (!(await deps.limits.reserve(r.id, asset, fresh.amount, match.token.dailyLimit))) {
      const spent = await deps.limits.spent(asset);
      throw new Error(limitText(fresh, { limit: match.token.dailyLimit!, spentToday: spent.toString() }));
    }
    try {
      const authorization = await deps.sign(fresh, match.token.eip712, from, signWindow);
      return { ...unsigned(r.payment), authorization };
    } catch (e) {
      await deps.limits.release(r.id);
      throw e;
    }
  }

  return { plan, sign, release: (requestId: string) => deps.limits.release(requestId) };
}
