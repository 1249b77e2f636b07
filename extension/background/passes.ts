/**
 * Access passes: a merchant that lets one payment open a resource for a while says so in its
 * `tollway` entry as `extra.reuse = {windowSeconds}`. A receipt for such an option is kept (in
 * session storage only: it is a bearer proof) and shown again, without asking and without paying,
 * to a later 402 for the same merchant, resource and method while both the window and the
 * receipt's `exp` last. A retry with it that is answered 402 again spends it for good.
 */
import type { PaymentOption } from '../../shared/challenge.js';
import { KEYS, Passes, type ApprovalRequest, type Pass } from '../common/state.js';
import type { StorageArea } from '../common/storage.js';
import { proofHeader } from './proof.js';
import { createSerial } from './serial.js';

export const PASSES_KEPT = 100;

/** The pass window an option advertises, in seconds; null when the receipt is single use. */
export function reuseWindow(option: PaymentOption | null | undefined): number | null {
  const reuse = (option?.extra as { reuse?: unknown } | undefined)?.reuse;
  const s = (reuse as { windowSeconds?: unknown } | undefined)?.windowSeconds;
  return typeof s === 'number' && Number.isInteger(s) && s > 0 ? s : null;
}

/** The `exp` claim of a JWT, read without verifying it (the merchant verifies; this only avoids showing a dead one). */
export function receiptExp(token: string): number | null {
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    const json = JSON.parse(
      atob(
        part
          .replace(/-/g, '+')
          .replace(/_/g, '/')
          .padEnd(Math.ceil(part.length / 4) * 4, '='),
      ),
    ) as { exp?: unknown };
    return typeof json.exp === 'number' ? json.exp : null;
  } catch {
    return null;
  }
}

export const withoutHash = (url: string): string => {
  try {
    const u = new URL(url);
    u.hash = '';
    return u.href;
  } catch {
    return url;
  }
};

/** The pass a completed request makes, or null when its option is single use or it has no receipt. */
export function passOf(r: ApprovalRequest): Pass | null {
  const option = r.payment?.requirement;
  const token = r.result?.receipt.token;
  const header = proofHeader(r);
  if (r.status !== 'completed' || !r.result || !token || !header || reuseWindow(option) === null) return null;
  const exp = receiptExp(token);
  const createdAt = Date.parse(r.result.createdAt);
  if (exp === null || !Number.isFinite(createdAt)) return null;
  return {
    transactionId: r.result.transactionId,
    payTo: r.payment!.payTo,
    url: withoutHash(r.url),
    method: r.method.toUpperCase(),
    createdAt,
    exp,
    windowSeconds: reuseWindow(option)!,
    header: { name: header.header, value: header.value },
    spent: false,
  };
}

/**
 * The matching rule: same merchant, same resource URL (fragment aside) and method, not spent, and
 * both `createdAt + windowSeconds` (the window the merchant advertises now) and the receipt's `exp`
 * still ahead. The most recent such pass wins.
 */
export function matchPass(
  passes: readonly Pass[],
  want: { payTo: string; url: string; method: string; windowSeconds: number },
  now: number,
): Pass | null {
  const url = withoutHash(want.url);
  const method = want.method.toUpperCase();
  const fits = passes.filter(
    (p) =>
      !p.spent &&
      p.payTo === want.payTo &&
      p.url === url &&
      p.method === method &&
      p.createdAt + want.windowSeconds * 1000 > now &&
      p.exp * 1000 > now,
  );
  return fits.sort((a, b) => b.createdAt - a.createdAt)[0] ?? null;
}

export interface PassStore {
  find(want: { payTo: string; url: string; method: string; windowSeconds: number }): Promise<Pass | null>;
  /** Keeps the pass a completed request makes (no-op when it makes none). */
  record(r: ApprovalRequest): Promise<void>;
  spend(transactionId: string): Promise<void>;
}

export function createPasses(deps: { session: StorageArea; now?: () => number }): PassStore {
  const now = deps.now ?? (() => Date.now());
  const serial = createSerial();
  const load = async (): Promise<Pass[]> => {
    const parsed = Passes.safeParse((await deps.session.get(KEYS.passes))[KEYS.passes]);
    return parsed.success ? parsed.data : [];
  };
  // Dead passes go at every write, so the list stays small.
  const store = (list: Pass[]) => deps.session.set({ [KEYS.passes]: list.filter((p) => p.exp * 1000 > now()).slice(0, PASSES_KEPT) });
  return {
    find: async (want) => matchPass(await load(), want, now()),
    record: (r) =>
      serial(async () => {
        const pass = passOf(r);
        if (!pass) return;
        const list = await load();
        if (list.some((p) => p.transactionId === pass.transactionId)) return;
        await store([pass, ...list]);
      }),
    spend: (id) =>
      serial(async () => {
        const list = await load();
        if (!list.some((p) => p.transactionId === id && !p.spent)) return;
        await store(list.map((p) => (p.transactionId === id ? { ...p, spent: true } : p)));
      }),
  };
}
