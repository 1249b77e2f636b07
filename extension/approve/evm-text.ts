/**
 * How the approval window words an x402 `exact` entry on an EVM network (`ApprovalRequest.evm`).
 * Symbol and decimals are the plan's, which the worker took from the person's list; an entry for a
 * token not in the list is shown in base units with its address, never with decimals the merchant
 * gave. Amounts go from bigint to a decimal string (formatUnits) and Intl formats that string as it
 * is, so no digit passes through a JS number.
 */
import { formatUnits } from '../../shared/amount.js';
import type { T } from '../common/i18n.js';
import type { EvmExactPlan } from '../common/networks.js';

const BASE_UNITS = /^[0-9]{1,78}$/;

/** "0x8335…2913": enough to recognise, with the whole address beside it to copy. */
export const shortAddress = (address: string): string => (address.length > 12 ? `${address.slice(0, 6)}…${address.slice(-4)}` : address);

/** Base units in a listed token's units, in the locale's digits: "1,234.5"; null when it cannot be said exactly. */
export function tokenUnits(amount: string, decimals: number, locale?: string): string | null {
  if (!BASE_UNITS.test(amount)) return null;
  const decimal = formatUnits(BigInt(amount), decimals) as `${number}`;
  return new Intl.NumberFormat(locale, { maximumFractionDigits: Math.min(decimals, 100) }).format(decimal);
}

/** "0.01 USDC", or "10000 base units of 0x8335…" for a token that is not listed. */
export function evmAmount(plan: Pick<EvmExactPlan, 'amount' | 'token'>, t: T, locale?: string): string {
  const { symbol, decimals, address } = plan.token;
  const units = symbol && decimals !== undefined ? tokenUnits(plan.amount, decimals, locale) : null;
  return units !== null ? `${units} ${symbol}` : t('amount_base_units', plan.amount, shortAddress(address));
}

/** The network as the person named it in settings, or its chain id when it is not listed. */
export const networkText = (plan: Pick<EvmExactPlan, 'networkName' | 'chainId'>, t: T): string =>
  plan.networkName ?? t('evm_chain', plan.chainId);

/** "0.01 USDC on Base". */
export const evmAmountOn = (plan: EvmExactPlan, t: T, locale?: string): string =>
  t('evm_amount_on', evmAmount(plan, t, locale), networkText(plan, t));

/** "USDC on Base": what "Enable …" and the mismatch refusal name. */
export const tokenOn = (plan: EvmExactPlan, t: T): string =>
  t('evm_amount_on', plan.token.symbol ?? shortAddress(plan.token.address), networkText(plan, t));
