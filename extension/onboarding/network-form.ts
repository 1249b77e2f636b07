/**
 * The settings forms for networks and tokens as pure functions: what the person typed → a
 * `NetworkSetting` or `TokenSetting` (common/networks.ts), or a message per field. Each zod issue
 * carries a message key, so the words come from messages.json. A daily limit is typed in the
 * token's units ("25.5") and stored in base units, converted exactly with bigint (parseUnits),
 * never through a JS number.
 */
import { z } from 'zod';
import { formatUnits } from '../../shared/amount.js';
import { parseUnits } from '../common/budget.js';
import type { MessageKey, T } from '../common/i18n.js';
import { NetworkSetting, type NetworkSettings, TokenSetting } from '../common/networks.js';

type Result<V, F extends string> = { ok: true; value: V } | { ok: false; errors: Partial<Record<F, string>> };

const webUrl = (key: MessageKey) =>
  z
    .string()
    .trim()
    .max(2048, key)
    .refine((s) => {
      try {
        const u = new URL(s);
        return u.protocol === 'https:' || u.protocol === 'http:';
      } catch {
        return false;
      }
    }, key);

const optionalUrl = (key: MessageKey) => z.union([z.literal('').transform(() => undefined), webUrl(key)]);

const NetworkInput = z.object({
  chainId: z
    .string()
    .trim()
    .regex(/^[1-9][0-9]{0,15}$/, 'networks_error_chain_id')
    .transform(Number)
    .refine(Number.isSafeInteger, 'networks_error_chain_id'),
  name: z.string().trim().min(1, 'networks_error_name').max(60, 'networks_error_name'),
  explorer: optionalUrl('networks_error_explorer'),
  rpcUrl: optionalUrl('networks_error_rpc_url'),
});
export type NetworkFields = keyof z.input<typeof NetworkInput>;
export type NetworkInput = Record<NetworkFields, string>;

const TokenInput = z.object({
  address: z
    .string()
    .trim()
    .regex(/^0x[0-9a-fA-F]{40}$/, 'networks_error_address'),
  symbol: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9.$_-]{1,16}$/, 'networks_error_symbol'),
  decimals: z
    .string()
    .trim()
    .regex(/^[0-9]{1,2}$/, 'networks_error_decimals')
    .transform(Number)
    .refine((n) => n <= 36, 'networks_error_decimals'),
  eip712Name: z.string().trim().min(1, 'networks_error_eip712_name').max(100, 'networks_error_eip712_name'),
  eip712Version: z.string().trim().min(1, 'networks_error_eip712_version').max(40, 'networks_error_eip712_version'),
});
export type TokenFields = keyof z.input<typeof TokenInput>;
export type TokenInput = Record<TokenFields, string>;

function fieldErrors<F extends string>(error: z.ZodError, t: T): Partial<Record<F, string>> {
  const out: Partial<Record<F, string>> = {};
  for (const issue of error.issues) {
    const field = issue.path[0] as F;
    out[field] ??= t(issue.message as MessageKey);
  }
  return out;
}

/** A new network: off, with no tokens yet. Its chain id must not be listed already. */
export function readNetworkForm(input: NetworkInput, existing: NetworkSettings, t: T): Result<NetworkSetting, NetworkFields> {
  const parsed = NetworkInput.safeParse(input);
  // A chain already listed is said together with whatever else is wrong, not after it is fixed.
  const listed = existing.find((n) => String(n.chainId) === input.chainId.trim());
  const dup = listed ? { chainId: t('networks_error_chain_listed', listed.chainId) } : {};
  if (!parsed.success) return { ok: false, errors: { ...fieldErrors<NetworkFields>(parsed.error, t), ...dup } };
  if (listed) return { ok: false, errors: dup };
  const { chainId, name, explorer, rpcUrl } = parsed.data;
  const value = NetworkSetting.parse({
    chainId,
    name,
    aliases: [],
    ...(explorer ? { explorer } : {}),
    ...(rpcUrl ? { rpcUrl } : {}),
    enabled: false,
    tokens: [],
  });
  return { ok: true, value };
}

/** A new token on one network: off, no daily limit. Its address must not be listed on that network. */
export function readTokenForm(input: TokenInput, network: NetworkSetting, t: T): Result<TokenSetting, TokenFields> {
  const parsed = TokenInput.safeParse(input);
  const listed = network.tokens.some((x) => x.address.toLowerCase() === input.address.trim().toLowerCase());
  const dup = listed ? { address: t('networks_error_token_listed', network.name) } : {};
  if (!parsed.success) return { ok: false, errors: { ...fieldErrors<TokenFields>(parsed.error, t), ...dup } };
  if (listed) return { ok: false, errors: dup };
  const d = parsed.data;
  if (network.tokens.length >= 32) return { ok: false, errors: { address: t('networks_error_too_many_tokens') } };
  const value = TokenSetting.parse({
    address: d.address,
    symbol: d.symbol,
    decimals: d.decimals,
    eip712: { name: d.eip712Name, version: d.eip712Version },
    enabled: false,
  });
  return { ok: true, value };
}

/** An RPC URL typed on its own (settings, per network): empty removes it. */
export function readRpcUrl(text: string, t: T): { ok: true; value: string | undefined } | { ok: false; error: string } {
  const parsed = optionalUrl('networks_error_rpc_url').safeParse(text);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, error: t('networks_error_rpc_url') };
}

/**
 * A daily limit typed in whole units of the token → base units as a decimal string; empty means no
 * limit. More decimal places than the token has, a sign, an exponent or zero are refused.
 */
export function readDailyLimit(
  text: string,
  decimals: number,
  t: T,
): { ok: true; value: string | undefined } | { ok: false; error: string } {
  if (!text.trim()) return { ok: true, value: undefined };
  const base = parseUnits(text, decimals);
  if (base === null) return { ok: false, error: t('networks_error_limit', decimals) };
  if (base === 0n) return { ok: false, error: t('networks_error_limit_zero') };
  if (base >= 1n << 256n) return { ok: false, error: t('networks_error_limit', decimals) };
  return { ok: true, value: base.toString() };
}

/** A stored daily limit (base units) in whole units, for the field. */
export const dailyLimitText = (base: string | undefined, decimals: number): string =>
  base && /^[0-9]{1,78}$/.test(base) ? formatUnits(BigInt(base), decimals) : '';
