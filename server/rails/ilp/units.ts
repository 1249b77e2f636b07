import { ASSETS } from '../../../shared/assets.js';
import { ProblemError } from '../../../shared/problem.js';

/** A hub asset whose code an Open Payments wallet uses, at a scale the hub's base unit can express. */
export function hubDecimals(assetCode: string): number | undefined {
  return (ASSETS as Record<string, { decimals: number }>)[assetCode]?.decimals;
}

/** Whether the hub can keep a wallet's asset: the same code, and a scale no finer than the hub's unit. */
export function usableAsset(assetCode: string, assetScale: number): boolean {
  const d = hubDecimals(assetCode);
  return d !== undefined && assetScale <= d;
}

/**
 * An amount in the hub's base units, in a wallet's units (`assetScale`): exact, or refused. The
 * hub never rounds money on someone's behalf.
 */
export function toWalletUnits(amount: bigint, asset: string, assetScale: number, what: string): bigint {
  const d = hubDecimals(asset);
  if (d === undefined || assetScale > d)
    throw new ProblemError('ilp-payee-unusable', `${what}: the wallet's scale is finer than the hub's ${asset}`);
  const factor = 10n ** BigInt(d - assetScale);
  if (amount % factor !== 0n)
    throw new ProblemError(
      'validation-error',
      `${what}: ${amount} is not a whole number of the wallet's units (10^${d - assetScale} base units each)`,
    );
  return amount / factor;
}
