/** Assets the hub keeps balances in. Amounts are always in the smallest unit. */
export const ASSETS = {
  SOVR: { decimals: 18, unit: 'wei' },
  BTC: { decimals: 11, unit: 'msat' },
} as const;
export type AssetCode = keyof typeof ASSETS;
export const ASSET_NAMES = Object.keys(ASSETS) as AssetCode[];
