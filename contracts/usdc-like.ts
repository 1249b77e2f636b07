/**
 * A USDC-like token for local chains: SOVR's own contract (contracts/SOVR.sol) with USDC's
 * metadata — EIP-712 name "USD Coin", version "2", symbol USDC, 6 decimals. SOVR already has USDC's
 * EIP-3009 functions, type hashes and events, so the same audited source stands in for USDC; only
 * its four constants are rewritten here, and nothing else (revert texts keep SOVR's prefix, which
 * the x402 reference facilitator reads the same way).
 */
import { readFileSync } from 'node:fs';
import type { Signer } from 'ethers';
import { type ContractArtifact, DEFAULT_BUILD_DIR, SOVR_SOURCE_PATH, loadArtifact } from './compile.js';
import { deploySovr, type SovrDeployment } from './deploy.js';

/** What USDC's FiatTokenV2_2 reports, and x402 entries carry as `extra.name` / `extra.version`. */
export const USDC_LIKE = { name: 'USD Coin', symbol: 'USDC', version: '2', decimals: 6 } as const;

const CONSTANTS: [RegExp, string][] = [
  [/string public constant name = "SOVR";/, `string public constant name = "${USDC_LIKE.name}";`],
  [/string public constant symbol = "SOVR";/, `string public constant symbol = "${USDC_LIKE.symbol}";`],
  [/uint8 public constant decimals = 18;/, `uint8 public constant decimals = ${USDC_LIKE.decimals};`],
  [/string public constant version = "1";/, `string public constant version = "${USDC_LIKE.version}";`],
];

/** SOVR's source with USDC's constants; throws if SOVR.sol no longer declares them as expected. */
export function usdcLikeSource(sovrSource = readFileSync(SOVR_SOURCE_PATH, 'utf8')): string {
  let out = sovrSource;
  for (const [from, to] of CONSTANTS) {
    const hits = out.match(new RegExp(from.source, 'g'))?.length ?? 0;
    if (hits !== 1) throw new Error(`SOVR.sol declares ${from.source} ${hits} times, expected once: update contracts/usdc-like.ts`);
    out = out.replace(from, to);
  }
  return out;
}

/** Compiled once per change of SOVR.sol, into build/USDC-like.json. */
export function loadUsdcLikeArtifact(buildDir = DEFAULT_BUILD_DIR): ContractArtifact {
  return loadArtifact(usdcLikeSource(), 'SOVR', 'USDC-like.json', buildDir);
}

/** Deploys the USDC-like token from `deployer`, who owns it and may mint. */
export function deployUsdcLike(deployer: Signer): Promise<SovrDeployment> {
  return deploySovr(deployer, { artifact: loadUsdcLikeArtifact() });
}
