/**
 * The one approval window. Its id is kept in session storage so that a service worker woken up
 * again finds and reuses it instead of opening a second one. Callers serialize open/close (the
 * approvals service runs them inside its queue), so two 402s at once still make one window.
 */
import { KEYS, WindowRecord } from '../common/state.js';
import type { StorageArea } from '../common/storage.js';

/** The slice of chrome.windows used here. */
export interface WindowsApi {
  create(opts: { url: string; type: 'popup'; width: number; height: number; focused: boolean }): Promise<{ id?: number }>;
  update(id: number, opts: { focused: boolean }): Promise<unknown>;
  get(id: number): Promise<unknown>;
  remove(id: number): Promise<void>;
}

export interface ApprovalWindow {
  /** Shows the window: focuses the existing one, or opens it. */
  open(): Promise<void>;
  /** Closes it because nothing is left to decide (not a rejection). */
  close(): Promise<void>;
  /**
   * Tells whether a closed window was ours, forgetting it. A window we closed ourselves was
   * forgotten first, so only the person closing it counts as "closed by the person".
   */
  closedByPerson(windowId: number): Promise<boolean>;
}

export function createApprovalWindow(deps: {
  windows: WindowsApi;
  session: StorageArea;
  url: string;
  width?: number;
  height?: number;
}): ApprovalWindow {
  const { windows, session } = deps;

  async function storedId(): Promise<number | null> {
    const got = await session.get(KEYS.approvalWindow);
    const rec = WindowRecord.safeParse(got[KEYS.approvalWindow]);
    return rec.success ? rec.data.windowId : null;
  }

  return {
    async open() {
      const id = await storedId();
      if (id !== null) {
        try {
          await windows.get(id);
          await windows.update(id, { focused: true });
          return;
        } catch {
          // gone (closed while the worker slept): open a new one
        }
      }
      const w = await windows.create({ url: deps.url, type: 'popup', width: deps.width ?? 400, height: deps.height ?? 600, focused: true });
      if (w.id !== undefined) await session.set({ [KEYS.approvalWindow]: { windowId: w.id } });
    },
    async close() {
      const id = await storedId();
      if (id === null) return;
      await session.remove(KEYS.approvalWindow);
      await windows.remove(id).catch(() => undefined);
    },
    async closedByPerson(windowId) {
      const id = await storedId();
      if (id !== windowId) return false;
      await session.remove(KEYS.approvalWindow);
      return true;
    },
  };
}
