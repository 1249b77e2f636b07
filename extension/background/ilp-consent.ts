/**
 * The wallet's own consent page, for a payment the hub answered `pending` on the ilp rail. It is
 * opened as a window of its own, right where the approval window was (a real wallet's page refuses
 * to be framed, and must show its own address bar origin to be trusted): the person approves or
 * rejects there, the wallet sends that window to the hub's `/ilp/finish`, and the payment's outcome
 * reaches the worker on the live socket like any other. Once the payment is final the window is
 * closed, if the person has not closed it already. A payment charged to a budget grant completes
 * without a consent page: nothing is opened for it, and nothing waits for one.
 */
import { ConsentWindows, ILP_CONSENT_KEY } from '../common/ilp.js';
import type { T } from '../common/i18n.js';
import type { ApprovalRequest } from '../common/state.js';
import type { StorageArea } from '../common/storage.js';
import { displayText } from '../common/text.js';
import { consentUrlOf } from './ilp-plan.js';
import { createSerial } from './serial.js';

/** The slice of chrome.windows used here. */
export interface ConsentWindowsApi {
  create(opts: { url: string; type: 'popup'; width: number; height: number; focused: boolean }): Promise<{ id?: number }>;
  remove(id: number): Promise<void>;
}

export type IlpConsent = ReturnType<typeof createIlpConsent>;

/** Kept at most: older entries belong to windows long closed. */
const KEEP = 20;

export interface IlpConsentDeps {
  windows: ConsentWindowsApi;
  session: StorageArea;
  t: T;
  /** A system notification: why a payment from the wallet was not made, once its window is gone. */
  notify?(n: { title: string; message: string }): Promise<void>;
  width?: number;
  height?: number;
}

export function createIlpConsent(deps: IlpConsentDeps) {
  const serial = createSerial();

  /** The windows opened in this browser session; null before the first worker start of the session wrote the list. */
  async function stored(): Promise<ConsentWindows | null> {
    const parsed = ConsentWindows.safeParse((await deps.session.get(ILP_CONSENT_KEY))[ILP_CONSENT_KEY]);
    return parsed.success ? parsed.data : null;
  }
  const load = async () => (await stored()) ?? [];

  const save = (list: ConsentWindows) => deps.session.set({ [ILP_CONSENT_KEY]: list.slice(-KEEP) });

  async function open(transactionId: string, url: string): Promise<void> {
    const list = await load();
    if (list.some((w) => w.transactionId === transactionId)) return;
    const w = await deps.windows.create({ url, type: 'popup', width: deps.width ?? 480, height: deps.height ?? 720, focused: true });
    if (w.id !== undefined) await save([...list, { transactionId, windowId: w.id }]);
  }

  /** Closes the payment's consent window; true if there was one. */
  async function close(transactionId: string): Promise<boolean> {
    const list = await load();
    const w = list.find((x) => x.transactionId === transactionId);
    if (!w) return false;
    await save(list.filter((x) => x !== w));
    await deps.windows.remove(w.windowId).catch(() => undefined);
    return true;
  }

  function hostOf(r: ApprovalRequest): string {
    try {
      return new URL(r.tabOrigin ?? r.site).host;
    } catch {
      return r.site;
    }
  }

  return {
    /**
     * The person asks for the page again (from the popup): a window closed without answering is
     * opened anew, one still open is replaced, so there is one window per payment. Only a payment
     * still waiting for consent; false otherwise.
     */
    show(r: ApprovalRequest, now: number): Promise<boolean> {
      return serial(async () => {
        const p = r.result;
        const url = r.status === 'submitted' && p ? consentUrlOf(p) : null;
        if (!url || !(Date.parse(p!.interact?.expiresAt ?? '') > now)) return false;
        await close(p!.transactionId);
        await open(p!.transactionId, url);
        return true;
      });
    },

    /**
     * At every worker start, with the history: a worker stopped after it stored the hub's `pending`
     * answer but before it opened the page leaves a consent nobody can see, so each one still open
     * (not past `expiresAt`) and never shown gets its window now. Only within a browser session
     * that already had a worker: after a browser restart the tab that asked is gone, and a wallet
     * page popping up at start-up would come from nowhere.
     */
    resume(history: readonly ApprovalRequest[], now: number): Promise<void> {
      return serial(async () => {
        const list = await stored();
        if (list === null) return void (await save([]));
        for (const r of history) {
          const p = r.result;
          const url = r.status === 'submitted' && p ? consentUrlOf(p) : null;
          if (!url || list.some((w) => w.transactionId === p!.transactionId)) continue;
          const expires = Date.parse(p!.interact?.expiresAt ?? '');
          if (Number.isFinite(expires) && expires > now) await open(p!.transactionId, url);
        }
      });
    },

    /**
     * Requests that left the queue or learnt their outcome (the approval flow's `onFinished`): a
     * consent page to show, or a consent window whose payment is final.
     */
    finished(requests: readonly ApprovalRequest[]): Promise<void> {
      return serial(async () => {
        for (const r of requests) {
          const p = r.result;
          if (p?.rail !== 'ilp') continue;
          const url = r.status === 'submitted' ? consentUrlOf(p) : null;
          if (url) await open(p.transactionId, url);
          else if (r.status === 'completed') await close(p.transactionId);
          else if (r.status === 'failed' && (await close(p.transactionId))) {
            // Rejected on the wallet, or not answered in time: the window that said so is gone.
            const message = displayText(r.error ?? deps.t('worker_payment_failed'), 200);
            await deps.notify?.({ title: deps.t('worker_ilp_failed_title', hostOf(r)), message }).catch(() => undefined);
          }
        }
      });
    },
  };
}
