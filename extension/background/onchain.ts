/**
 * SOVR on chain, from the person's own wallet, as pure functions: which 402 entries can be paid
 * that way on this hub (GET /rails), the plan the window shows and the worker signs, the EIP-712
 * typed data, and the `exact` proof for the retry. Signing itself (ethers) is in sign.ts, so that
 * this stays importable anywhere.
 */
import type { CreatePaymentRequest, RailsInfo } from '../../shared/api.js';
import { encodePaymentSignature, PaymentOption } from '../../shared/challenge.js';
import {
  clampValidity,
  exactPayload,
  SignedAuthorization,
  TRANSFER_WITH_AUTHORIZATION_TYPES,
  type AuthorizationMessage,
  type Eip712Domain,
} from '../../shared/eip3009.js';
import { WalletAuthorization } from '../../shared/wallet-payments.js';
import type { ApprovalRequest, OnChainPlan } from '../common/state.js';

export type SovrRailInfo = Extract<RailsInfo['rails'][number], { name: 'sovr' }>;

/** How long a hub merchant's authorization stays valid: long enough to get mined, short enough not to linger. */
export const MERCHANT_VALIDITY_SECONDS = 600;
/** An `exact` entry that names no maxTimeoutSeconds gets the same. */
export const EXACT_DEFAULT_VALIDITY_SECONDS = 600;

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

export function sovrRailOf(info: RailsInfo | null | undefined): SovrRailInfo | null {
  const rail = info?.rails.find((r): r is SovrRailInfo => r.name === 'sovr');
  return rail && ADDRESS.test(rail.token) ? rail : null;
}

/** An `exact` entry this hub's SOVR rail can pay: its network and token are the hub's, its payee an address. */
export function isExactForRail(option: PaymentOption, rail: SovrRailInfo): boolean {
  return (
    option.scheme === 'exact' &&
    option.network === rail.network &&
    option.asset.toLowerCase() === rail.token.toLowerCase() &&
    ADDRESS.test(option.payTo)
  );
}

const domainOf = (rail: SovrRailInfo, verifyingContract: string, over?: { name?: unknown; version?: unknown }): Eip712Domain => ({
  name: typeof over?.name === 'string' && over.name ? over.name : rail.eip712.name,
  version: typeof over?.version === 'string' && over.version ? over.version : rail.eip712.version,
  chainId: rail.chainId,
  verifyingContract,
});

const bounds = (rail: SovrRailInfo) => ({ minValiditySeconds: rail.minValiditySeconds, maxValiditySeconds: rail.maxValiditySeconds });

/**
 * A hub merchant's SOVR `tollway` entry paid from the wallet: the authorization moves the amount
 * to the hub's treasury, and the hub (which submits it) credits the merchant. `internal` is the
 * hub-balance body for the same entry. Null when the rail cannot take it yet (no treasury known).
 */
export function merchantPlan(internal: CreatePaymentRequest, rail: SovrRailInfo, from: string): OnChainPlan | null {
  if (!rail.treasury || !ADDRESS.test(rail.treasury) || !ADDRESS.test(from) || internal.asset !== 'SOVR' || !rail.assets.includes('SOVR'))
    return null;
  const { allowance: _a, ...body } = internal;
  return {
    kind: 'merchant',
    payment: { ...body, rail: 'sovr' },
    domain: domainOf(rail, rail.token),
    from,
    to: rail.treasury,
    validitySeconds: clampValidity(MERCHANT_VALIDITY_SECONDS, bounds(rail)),
    ...bounds(rail),
  };
}

/**
 * A plain x402 `exact` entry paid from the wallet to its own `payTo`; the hub reserves and follows
 * it, the site submits it. The domain's name and version are the entry's (`extra`), else the hub's.
 */
export function exactPlan(
  option: PaymentOption,
  rail: SovrRailInfo,
  from: string,
  resource: CreatePaymentRequest['resource'],
  description?: string,
): OnChainPlan | null {
  if (!isExactForRail(option, rail) || !ADDRESS.test(from)) return null;
  return {
    kind: 'exact',
    payment: {
      rail: 'sovr',
      // Verbatim: the hub checks it equals the requirement's payTo.
      payTo: option.payTo,
      amount: option.amount,
      asset: 'SOVR',
      ...(resource ? { resource } : {}),
      requirement: option,
      ...(description ? { description } : {}),
    },
    domain: domainOf(rail, option.asset, option.extra as { name?: unknown; version?: unknown } | undefined),
    from,
    to: option.payTo,
    validitySeconds: clampValidity(option.maxTimeoutSeconds ?? EXACT_DEFAULT_VALIDITY_SECONDS, bounds(rail)),
    ...bounds(rail),
  };
}

/** The EIP-712 typed data the wallet signs for `plan` over `window`, with `nonce`. */
export function typedDataOf(plan: OnChainPlan, window: { validAfter: number; validBefore: number }, nonce: string) {
  const message: AuthorizationMessage = {
    from: plan.from,
    to: plan.to,
    value: plan.payment.amount,
    validAfter: String(window.validAfter),
    validBefore: String(window.validBefore),
    nonce,
  };
  return { domain: plan.domain, types: TRANSFER_WITH_AUTHORIZATION_TYPES, primaryType: 'TransferWithAuthorization' as const, message };
}

/**
 * A request paying a plain x402 `exact` entry (the site, not the hub, submits the authorization):
 * SOVR on the hub's rail, or any token on the `wallet` rail (which only keeps the books).
 */
export const isExactRequest = (r: Pick<ApprovalRequest, 'payment'>): boolean =>
  (r.payment?.rail === 'sovr' || r.payment?.rail === 'wallet') && r.payment.requirement?.scheme === 'exact';

/** The signed authorization a request carries, or null (not signed yet, or not on chain). */
export function signedAuthorizationOf(r: Pick<ApprovalRequest, 'payment'>): SignedAuthorization | null {
  if (r.payment?.rail === 'wallet') {
    // The wallet rail's authorization also names the EIP-712 name and version, for the hub only.
    const parsed = WalletAuthorization.safeParse(r.payment.authorization);
    if (!parsed.success) return null;
    const { eip712: _d, ...signed } = parsed.data;
    return signed;
  }
  if (r.payment?.rail !== 'sovr') return null;
  const parsed = SignedAuthorization.safeParse(r.payment.authorization);
  return parsed.success ? parsed.data : null;
}

/**
 * `PAYMENT-SIGNATURE` for an `exact` entry: `{x402Version: 2, resource, accepted: <the entry>,
 * payload: {signature, authorization}}`, the numbers as decimal strings. Ready as soon as the hub
 * has the payment (`submitted`): the site submits the authorization itself.
 */
export function exactProof(r: Pick<ApprovalRequest, 'payment' | 'challenge' | 'status'>): string | null {
  if (!isExactRequest(r) || (r.status !== 'submitted' && r.status !== 'completed')) return null;
  const signed = signedAuthorizationOf(r);
  const accepted = PaymentOption.safeParse(r.payment?.requirement);
  if (!signed || !accepted.success) return null;
  const resource = r.challenge.x402?.resource ?? undefined;
  return encodePaymentSignature({ resource, accepted: accepted.data, payload: exactPayload(signed) });
}
