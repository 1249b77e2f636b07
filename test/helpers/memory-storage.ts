import type { StorageArea } from '../../extension/common/storage.js';

/**
 * chrome.storage in memory, for tests only. Values are copied through JSON both ways, as Chrome
 * serializes them, so a test cannot pass by sharing an object with the code under test.
 */
export class MemoryStorage implements StorageArea {
  readonly data = new Map<string, string>();
  writes = 0;

  async get(keys: string | string[]): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const k of typeof keys === 'string' ? [keys] : keys) {
      const v = this.data.get(k);
      if (v !== undefined) out[k] = JSON.parse(v);
    }
    return out;
  }

  async set(items: Record<string, unknown>): Promise<void> {
    this.writes++;
    for (const [k, v] of Object.entries(items)) this.data.set(k, JSON.stringify(v));
  }

  async remove(keys: string | string[]): Promise<void> {
    for (const k of typeof keys === 'string' ? [keys] : keys) this.data.delete(k);
  }

  /** Test convenience: the stored value, parsed. */
  peek(key: string): unknown {
    const v = this.data.get(key);
    return v === undefined ? undefined : JSON.parse(v);
  }
}
