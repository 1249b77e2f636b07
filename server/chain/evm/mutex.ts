/**
 * Mutual exclusion per key inside one process: `lock(key)` resolves, in arrival order, once every
 * earlier holder of that key has released it. The release function is idempotent.
 */
export function createKeyedMutex() {
  const tails = new Map<string, Promise<void>>();
  return {
    async lock(key: string): Promise<() => void> {
      const previous = tails.get(key) ?? Promise.resolve();
      let open!: () => void;
      const mine = new Promise<void>((r) => (open = r));
      const tail = previous.then(() => mine);
      tails.set(key, tail);
      await previous;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        open();
        // The last holder leaves no entry behind.
        if (tails.get(key) === tail) tails.delete(key);
      };
    },
    /** Keys with a holder or waiters (for tests). */
    size: () => tails.size,
  };
}
export type KeyedMutex = ReturnType<typeof createKeyedMutex>;
