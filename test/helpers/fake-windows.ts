/**
 * chrome.windows as the worker's approval window and Interledger consent pages use it, in memory:
 * the windows open (id → URL), how many were created and focused. A window closed (removed) is gone:
 * `get` and `update` on it throw, as Chrome's do.
 */
import type { WindowsApi } from '../../extension/background/approval-window.js';
import type { ConsentWindowsApi } from '../../extension/background/ilp-consent.js';

export class FakeWindows implements WindowsApi, ConsentWindowsApi {
  readonly open = new Map<number, string>();
  created = 0;
  focused = 0;
  /** Called as a window is created, before it counts as open. */
  onCreate?: () => void;
  private next = 1;
  async create(o: { url: string }) {
    this.onCreate?.();
    this.created++;
    const id = this.next++;
    this.open.set(id, o.url);
    return { id };
  }
  async update(id: number) {
    if (!this.open.has(id)) throw new Error('no window');
    this.focused++;
  }
  async get(id: number) {
    if (!this.open.has(id)) throw new Error('no window');
    return {};
  }
  async remove(id: number) {
    this.open.delete(id);
  }
}
