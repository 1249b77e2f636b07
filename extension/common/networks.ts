/**
 * The EVM networks and tokens the person lets the wallet spend on, for x402 `exact` entries paid
 * from their own wallet (the hub's `wallet` rail keeps the books). Kept in `local` storage and
 * validated on every read. Nothing here trusts the merchant: a 402 entry is matched against this
 * list by chain id and token address, and its amount is shown with the decimals and symbol from the
 * list, never from the entry. Pure: pages and the worker both import it.
 */
import { z } from 'zod';
import { AmountString } from '../../shared/amount.js';
import { EvmAddress } from '../../shared/eip3009.js';

export const NETWORKS_KEY = 'tollway.networks';

export const TokenSetting = z.object({
  address: EvmAddress,
  symbol: z.string().min(1).max(16),
  decimals: z.number().int().min(0).max(36),
  /** The token's EIP-712 domain name and version: a 402 entry whose `extra` differs is refused. */
  eip712: z.object({ name: z.string().min(1).max(100), version: z.string().min(1).max(40) }),
  enabled: z.boolean(),
  /** Base units this token may spend per UTC day, from every site together; absent: no daily limit. */
  dailyLimit: AmountString.optional(),
});
export type TokenSetting = z.infer<typeof TokenSetting>;

export const NetworkSetting = z.object({
  chainId: z.number().int().positive(),
  name: z.string().min(1).max(60),
  /** x402 v1 network names that mean this chain (v2 entries use CAIP-2 `eip155:<chainId>`). */
  aliases: z.array(z.string().min(1).max(60)).max(8).default([]),
  explorer: z.string().url().optional(),
  /**
   * A JSON-RPC URL the person gave; only then is their balance shown, and a settlement the worker
   * missed looked up on chain (evm-recover.ts). Never a default.
   */
  rpcUrl: z.string().url().optional(),
  enabled: z.boolean(),
  tokens: z.array(TokenSetting).max(32),
});
export type NetworkSetting = z.infer<typeof NetworkSetting>;

export const NetworkSettings = z.array(NetworkSetting).max(64);
export type NetworkSettings = z.infer<typeof NetworkSettings>;

/** Shipped, and off until the person turns them on. */
export const DEFAULT_NETWORKS: NetworkSettings = [
  {
    chainId: 8453,
    name: 'Base',
    aliases: ['base'],
    explorer: 'https://basescan.org',
    enabled: false,
    tokens: [
      {
        address: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913',
        symbol: 'USDC',
        decimals: 6,
        eip712: { name: 'USD Coin', version: '2' },
        enabled: false,
      },
    ],
  },
  {
    chainId: 84532,
    name: 'Base Sepolia',
    aliases: ['base-sepolia'],
    explorer: 'https://sepolia.basescan.org',
    enabled: false,
    tokens: [
      {
        address: '0x036CbD53842c5426634e7929541eC2318f3dCF7e',
        symbol: 'USDC',
        decimals: 6,
        eip712: { name: 'USDC', version: '2' },
        enabled: false,
      },
    ],
  },
];

/**
 * The stored list, or the defaults when nothing (or nothing valid) is stored. A stored list
 * replaces the defaults entirely, so a network the person removed stays removed.
 */
export function readNetworks(raw: unknown): NetworkSettings {
  const parsed = NetworkSettings.safeParse(raw);
  return parsed.success ? parsed.data : DEFAULT_NETWORKS;
}

/** `eip155:8453` or a v1 alias (`base`) → the chain id of a listed network; null if unknown. */
export function chainIdOf(network: string, networks: NetworkSettings): number | null {
  const caip2 = /^eip155:([1-9][0-9]{0,15})$/.exec(network);
  if (caip2) return Number(caip2[1]);
  return networks.find((n) => n.aliases.includes(network))?.chainId ?? null;
}

export type TokenMatch =
  /** Both the network and the token are enabled: payable. */
  | { kind: 'enabled'; network: NetworkSetting; token: TokenSetting }
  /** Listed, but the network or the token is off: offer "Enable <symbol> on <network>", ask first. */
  | { kind: 'disabled'; network: NetworkSetting; token: TokenSetting }
  /** Not in the list at all: never paid. */
  | { kind: 'unknown'; chainId: number | null };

/** Which listed token an `exact` entry's `network` and `asset` name (addresses compared case-insensitively). */
export function matchToken(networks: NetworkSettings, network: string, asset: string): TokenMatch {
  const chainId = chainIdOf(network, networks);
  const net = chainId === null ? undefined : networks.find((n) => n.chainId === chainId);
  const token = net?.tokens.find((t) => t.address.toLowerCase() === asset.toLowerCase());
  if (!net || !token) return { kind: 'unknown', chainId };
  return net.enabled && token.enabled ? { kind: 'enabled', network: net, token } : { kind: 'disabled', network: net, token };
}

/** The CAIP-19 asset the hub's `wallet` rail and budgets use: lower-case token address. */
export const caip19 = (chainId: number, token: string) => `eip155:${chainId}/erc20:${token.toLowerCase()}`;

/** The list with one network and token switched on (the approval window's "Enable USDC on Base"). */
export function enableToken(networks: NetworkSettings, chainId: number, token: string): NetworkSettings {
  return networks.map((n) =>
    n.chainId !== chainId
      ? n
      : {
          ...n,
          enabled: true,
          tokens: n.tokens.map((t) => (t.address.toLowerCase() === token.toLowerCase() ? { ...t, enabled: true } : t)),
        },
  );
}

/**
 * An x402 `exact` entry for a token outside the hub (any EVM network), as the worker planned it when
 * the 402 was queued (`ApprovalRequest.evm`). The window shows exactly this; the worker signs it.
 * Symbol and decimals come from the person's list, never from the entry.
 */
export const EvmExactPlan = z.object({
  /** Which `challenge.x402.accepts` entry. */
  optionIndex: z.number().int().nonnegative(),
  /**
   * enabled: payable; disabled: listed but off ("Enable USDC on Base", asks first); unknown: not
   * listed, never paid; mismatch: the entry's `extra` name/version differ from the listed token's.
   */
  state: z.enum(['enabled', 'disabled', 'unknown', 'mismatch']),
  chainId: z.number().int().positive(),
  /** The listed network's name; absent when unknown. */
  networkName: z.string().optional(),
  explorer: z.string().url().optional(),
  token: z.object({ address: EvmAddress, symbol: z.string().optional(), decimals: z.number().int().optional() }),
  payTo: EvmAddress,
  /** Base units, as the entry asks. */
  amount: AmountString,
  /** Seconds from signing to `validBefore` (the entry's maxTimeoutSeconds, bounded). */
  validitySeconds: z.number().int().positive(),
  /**
   * Set when paying would go past the token's daily limit (the person's own guard, all sites
   * together): not paid, not even when approved, until the limit is raised or the day turns.
   */
  dailyLimit: z.object({ limit: AmountString, spentToday: AmountString }).optional(),
});
export type EvmExactPlan = z.infer<typeof EvmExactPlan>;

/**
 * The list with the hub's own SOVR chain added, enabled, when the hub has a SOVR rail (GET /rails)
 * and the list does not name that chain: the person never has to enable it, and it is not stored.
 * A listed chain of the same id is left as the person set it.
 */
export function withHubChain(
  networks: NetworkSettings,
  sovr: { chainId: number; token: string; eip712: { name: string; version: string } } | null,
): NetworkSettings {
  if (!sovr || networks.some((n) => n.chainId === sovr.chainId) || !EvmAddress.safeParse(sovr.token).success) return networks;
  return [
    ...networks,
    {
      chainId: sovr.chainId,
      name: `Tollway hub chain ${sovr.chainId}`,
      aliases: [],
      enabled: true,
      tokens: [{ address: sovr.token, symbol: 'SOVR', decimals: 18, eip712: sovr.eip712, enabled: true }],
    },
  ];
}
