/**
 * x402 `exact` entries for tokens outside the hub (USDC on Base, any EIP-3009 token on any EVM
 * network) as pure functions: which entries of a 402 are such, the plan the window shows for each
 * (`EvmExactPlan`, matched against the person's networks and tokens), which one is taken, and the
 * unsigned `wallet`-rail body that records it at the hub. The hub's own SOVR entries are not planned
 * here: they keep the SOVR rail's path (onchain.ts).
 *
 * Nothing here trusts the merchant: the network and token must be in the person's list, symbol
 * and decimals come from that list, and an entry whose EIP-712 name or version differs from the
 * listed token's is a `mismatch`, never signed.
 */
import type { CreatePaymentRequest } from '../../shared/api.js';
import { formatUnits } from '../../shared/amount.js';
import type { PaymentOption } from '../../shared/challenge.js';
import { EvmAddress } from '../../shared/eip3009.js';
import type { T } from '../common/i18n.js';
import { caip19, matchToken, type EvmExactPlan, type NetworkSettings, type TokenSetting } from '../common/networks.js';
import { isExactForRail, type SovrRailInfo } from './onchain.js';

/** The part of a challenge (as read, or as stored with a request) that plans read. */
export interface X402Of {
  x402: { accepts: PaymentOption[]; resource: { description?: string } | null } | null;
}

/** An entry naming no maxTimeoutSeconds is signed for this long. */
export const EVM_DEFAULT_VALIDITY_SECONDS = 600;
/** Bounds on the validity signed, whatever the entry asks: long enough to settle, short enough not to linger. */
export const EVM_MIN_VALIDITY_SECONDS = 60;
export const EVM_MAX_VALIDITY_SECONDS = 3600;

const AMOUNT = /^[1-9][0-9]{0,77}$/;

/** The entry's `extra.name` / `extra.version` when it gives them as text. */
function entryDomain(option: PaymentOption): { name?: string; version?: string } {
  const extra = option.extra as { name?: unknown; version?: unknown } | undefined;
  return {
    ...(typeof extra?.name === 'string' ? { name: extra.name } : {}),
    ...(typeof extra?.version === 'string' ? { version: extra.version } : {}),
  };
}

/**
 * Whether the entry's EIP-712 domain is the listed token's. An entry that names none is signed
 * with the listed one (the token's real domain); one that names another is refused.
 */
export function domainMatches(option: PaymentOption, token: TokenSetting): boolean {
  const d = entryDomain(option);
  return (d.name === undefined || d.name === token.eip712.name) && (d.version === undefined || d.version === token.eip712.version);
}

export const validityOf = (option: PaymentOption): number =>
  Math.min(EVM_MAX_VALIDITY_SECONDS, Math.max(EVM_MIN_VALIDITY_SECONDS, option.maxTimeoutSeconds ?? EVM_DEFAULT_VALIDITY_SECONDS));

/**
 * The plan for one `accepts` entry, or null when it is not an EVM `exact` entry this wallet could
 * ever sign (another scheme, a network that is not EVM, a payee or amount that is not one).
 */
export function planEntry(option: PaymentOption, optionIndex: number, networks: NetworkSettings): EvmExactPlan | null {
  if (option.scheme !== 'exact' || !EvmAddress.safeParse(option.payTo).success || !AMOUNT.test(option.amount)) return null;
  if (!EvmAddress.safeParse(option.asset).success) return null;
  const match = matchToken(networks, option.network, option.asset);
  const base = {
    optionIndex,
    payTo: option.payTo,
    amount: option.amount,
    validitySeconds: validityOf(option),
  };
  if (match.kind === 'unknown') {
    if (match.chainId === null) return null;
    return { ...base, state: 'unknown', chainId: match.chainId, token: { address: option.asset } };
  }
  const { network, token } = match;
  return {
    ...base,
    state: !domainMatches(option, token) ? 'mismatch' : match.kind,
    chainId: network.chainId,
    networkName: network.name,
    ...(network.explorer ? { explorer: network.explorer } : {}),
    token: { address: token.address, symbol: token.symbol, decimals: token.decimals },
  };
}

/**
 * The plans for a challenge's `exact` entries outside the hub's SOVR rail, and the one taken: the
 * first enabled, else the first (shown as not enabled, unknown or mismatched). Null: none.
 */
export function planEvm(
  challenge: X402Of,
  networks: NetworkSettings,
  sovr: SovrRailInfo | null,
): { plan: EvmExactPlan; option: PaymentOption; all: EvmExactPlan[] } | null {
  const accepts = challenge.x402?.accepts ?? [];
  const all = accepts
    .map((option, i) => (sovr && isExactForRail(option, sovr) ? null : planEntry(option, i, networks)))
    .filter((p): p is EvmExactPlan => p !== null);
  const plan = all.find((p) => p.state === 'enabled') ?? all[0];
  return plan ? { plan, option: accepts[plan.optionIndex]!, all } : null;
}

/** The `wallet`-rail body, still unsigned (`authorization` is added when the person approves). */
export function walletBody(
  plan: EvmExactPlan,
  option: PaymentOption,
  request: { url: string; method: string },
  description?: string,
): CreatePaymentRequest {
  return {
    rail: 'wallet',
    // Verbatim: the hub checks it equals the requirement's payTo, and the authorization's `to`.
    payTo: option.payTo,
    amount: option.amount,
    asset: caip19(plan.chainId, plan.token.address),
    resource: { url: request.url, method: request.method.toUpperCase() },
    requirement: option,
    ...(description ? { description: description.slice(0, 500) } : {}),
  };
}

/** "0.01 USDC on Base", from the person's list; base units and the address when the token is not listed. */
export function planAmountText(plan: EvmExactPlan, t: T): string {
  const { symbol, decimals, address } = plan.token;
  const amount =
    symbol && decimals !== undefined
      ? `${formatUnits(BigInt(plan.amount), decimals)} ${symbol}`
      : t('amount_base_units', plan.amount, address);
  return plan.networkName ? t('worker_evm_amount_on', amount, plan.networkName) : t('worker_evm_amount_on_chain', amount, plan.chainId);
}

/** Why a plan is not paid (the window shows it; only rejecting, or enabling, is offered), or null when it is payable. */
export function planRefusal(plan: EvmExactPlan, t: T): string | null {
  const what = planAmountText(plan, t);
  switch (plan.state) {
    case 'enabled':
      return null;
    case 'disabled':
      return t('worker_evm_not_enabled', what);
    case 'mismatch':
      return t('worker_evm_mismatch', what);
    case 'unknown':
      return t('worker_evm_unknown', what);
  }
}
