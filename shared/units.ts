/**
 * Base units shown as whole units. Plain bigint arithmetic with no zod, so the page snippet can
 * bundle it at a few hundred bytes (shared/amount.ts re-exports it).
 *
 * formatUnits(1500000000000000000n, 18) === "1.5", without floating point.
 */
export function formatUnits(v: bigint, decimals: number): string {
  const neg = v < 0n;
  const abs = neg ? -v : v;
  const base = 10n ** BigInt(decimals);
  const whole = abs / base;
  const frac = (abs % base).toString().padStart(decimals, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`;
}
