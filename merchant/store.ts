/**
 * Where single-use receipts are remembered once spent. Replace the in-memory default with one
 * backed by Redis (`SET key 1 NX PXAT expiresAt`) or SQL (`INSERT … ON CONFLICT DO NOTHING`) when
 * the shop runs more than one process.
 */
export interface ReceiptStore {
  /**
   * Atomically marks the receipt `id` spent. Resolves true the first time, false if it was already
   * spent. `expiresAt` (ms since the epoch) is when the receipt stops verifying anyway, so the store
   * may forget the id after it.
   */
  claim(id: string, expiresAt: number): boolean | Promise<boolean>;
}

export interface MemoryReceiptStore extends ReceiptStore {
  readonly size: number;
  /** Drops expired ids now (also done by claim at most once per sweep interval). */
  sweep(): void;
}

export function memoryReceiptStore(opts: { now?: () => number; sweepIntervalMs?: number } = {}): MemoryReceiptStore {
  const now = opts.now ?? Date.now;
  const sweepIntervalMs = opts.sweepIntervalMs ?? 60_000;
  const spent = new Map<string, number>();
  let nextSweep = now() + sweepIntervalMs;

  function sweep(): void {
    const t = now();
    for (const [id, expiresAt] of spent) if (expiresAt <= t) spent.delete(id);
    nextSweep = t + sweepIntervalMs;
  }

  return {
    get size() {
      return spent.size;
    },
    sweep,
    claim(id, expiresAt) {
      const t = now();
      if (t >= nextSweep) sweep();
      const known = spent.get(id);
      if (known !== undefined && known > t) return false;
      spent.set(id, expiresAt);
      return true;
    },
  };
}

/** The process-wide default: every paywall without its own store shares it. */
export const defaultReceiptStore: MemoryReceiptStore = memoryReceiptStore();
