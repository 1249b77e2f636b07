/**
 * Network names. x402 version 2 names an EVM chain `eip155:<chainId>` (CAIP-2); version 1 used
 * plain names (`base-sepolia`). A chain without a version 1 name (a local chain such as 31337) can
 * only be reached with version 2 bodies.
 */

/** The version 1 names the reference packages (@x402/evm 2.27, `EVM_NETWORK_CHAIN_ID_MAP`) know. */
export const V1_EVM_NETWORKS: Readonly<Record<string, number>> = Object.freeze({
  ethereum: 1,
  sepolia: 11155111,
  abstract: 2741,
  'abstract-testnet': 11124,
  'base-sepolia': 84532,
  base: 8453,
  'avalanche-fuji': 43113,
  avalanche: 43114,
  iotex: 4689,
  sei: 1329,
  'sei-testnet': 1328,
  polygon: 137,
  'polygon-amoy': 80002,
  peaq: 3338,
  story: 1514,
  educhain: 41923,
  'skale-base-sepolia': 324705682,
  megaeth: 4326,
  monad: 143,
  stable: 988,
  'stable-testnet': 2201,
  celo: 42220,
  flare: 14,
});

export const caip2 = (chainId: number): string => `eip155:${chainId}`;

/** The chain id a CAIP-2 `eip155:<n>` name gives, or undefined for anything else. */
export function chainIdOf(network: string): number | undefined {
  const m = /^eip155:([1-9][0-9]{0,15})$/.exec(network);
  if (!m) return undefined;
  const id = Number(m[1]);
  return Number.isSafeInteger(id) ? id : undefined;
}

/** The version 1 name of a chain, if it has one. */
export function v1NameOf(chainId: number): string | undefined {
  return Object.entries(V1_EVM_NETWORKS).find(([, id]) => id === chainId)?.[0];
}

/**
 * The chain a request names. Version 1 bodies may carry a version 1 name or, as some clients send,
 * the CAIP-2 form; version 2 bodies only the CAIP-2 form.
 */
export function chainOfRequest(network: string, version: 1 | 2): number | undefined {
  if (version === 1 && Object.hasOwn(V1_EVM_NETWORKS, network)) return V1_EVM_NETWORKS[network];
  return chainIdOf(network);
}
