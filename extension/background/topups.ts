/**
 * Add funds: the worker asks the hub for a Lightning invoice (`POST /topups`), stores the top-up
 * with its QR code for the popup, and keeps its status current: live from `topupStatusUpdate` on
 * the socket, and by `GET /topups/:id` whenever the popup opens. The request is stored with its
 * Idempotency-Key before it is sent, so a worker stopped mid-request asks again under the same key
 * and gets the same invoice, never a second one.
 */
import { z } from 'zod';
import { lightningUri, Topup, type TopupStatusUpdate } from '../../shared/topups.js';
import type { T } from '../common/i18n.js';
import type { HubSession } from '../common/state.js';
import type { StorageArea } from '../common/storage.js';
import { TOPUP_KEY, type StoredTopup } from '../common/topup.js';
import { refusalText } from './deposit-client.js';
import { callHub } from './hub-client.js';
import { encodeQr, qrPath } from './qr.js';
import { createSerial } from './serial.js';

/** What the worker reads back from storage, checked in full (the popup checks only what it shows). */
const StoredTopupSchema = z.object({
  hubUrl: z.string(),
  userId: z.string(),
  idempotencyKey: z.string().min(1).max(255),
  amount: z.string(),
  status: z.enum(['sending', 'open', 'credited', 'expired', 'failed']),
  topup: Topup.nullable(),
  qr: z.object({ size: z.number().int().positive(), path: z.string() }).nullable(),
  error: z.string().nullable(),
  updatedAt: z.number().int(),
}) satisfies z.ZodType<StoredTopup>;

const readTopup = (raw: unknown): StoredTopup | null => {
  const p = StoredTopupSchema.safeParse(raw);
  return p.success ? p.data : null;
};

export interface TopupsDeps {
  local: StorageArea;
  /** The worker's words; a top-up's `error` is stored as text (see ApprovalsDeps.t for why). */
  t: T;
  fetch: typeof fetch;
  /** The signed-in hub session with a fresh access token, or null. */
  session(): Promise<HubSession | null>;
  now?: () => number;
  newId?: () => string;
  /** A top-up was credited: the balance changed. */
  onCredited?(): Promise<void>;
}

export type Topups = ReturnType<typeof createTopups>;

export function createTopups(deps: TopupsDeps) {
  const now = deps.now ?? (() => Date.now());
  const newId = deps.newId ?? (() => crypto.randomUUID());
  const serial = createSerial();
  const load = async () => readTopup((await deps.local.get(TOPUP_KEY))[TOPUP_KEY]);

  /** Changes the stored top-up if it is still `key`'s (a newer one replaced it otherwise). */
  const update = (key: string, change: (t: StoredTopup) => StoredTopup) =>
    serial(async () => {
      const t = await load();
      if (!t || t.idempotencyKey !== key) return null;
      const next = { ...change(t), updatedAt: now() };
      await deps.local.set({ [TOPUP_KEY]: next });
      return next;
    });

  /** The hub's picture of the top-up, kept unless it would move the status back. */
  const answered =
    (topup: Topup) =>
    (t: StoredTopup): StoredTopup => {
      if ((t.status === 'credited' || t.status === 'expired') && topup.status === 'open') return t;
      const qr = t.qr && t.topup?.bolt11 === topup.bolt11 ? t.qr : drawQr(topup.bolt11);
      return { ...t, status: topup.status, topup, qr, error: null };
    };

  async function sessionFor(t: StoredTopup): Promise<HubSession | null> {
    const s = await deps.session();
    return s && s.url === t.hubUrl && s.user?.id === t.userId ? s : null;
  }

  async function send(t: StoredTopup): Promise<StoredTopup | null> {
    const s = await sessionFor(t);
    if (!s) return update(t.idempotencyKey, (x) => ({ ...x, error: deps.t('worker_topup_waits_sign_in') }));
    const a = await callHub(
      deps,
      s,
      '/topups',
      { method: 'POST', key: t.idempotencyKey, body: { asset: 'BTC', amount: t.amount } },
      Topup,
      [401],
    );
    if (a.kind === 'answered') return update(t.idempotencyKey, answered(a.value));
    if (a.kind === 'refused') return update(t.idempotencyKey, (x) => ({ ...x, status: 'failed', error: refusalText(a) }));
    return update(t.idempotencyKey, (x) => ({ ...x, error: a.message }));
  }

  return {
    /** Asks for an invoice of `amount` msat; it replaces the top-up shown before. */
    async create(amount: string): Promise<StoredTopup | null> {
      const s = await deps.session();
      if (!s?.user) throw new Error(deps.t('worker_sign_in_first'));
      const t: StoredTopup = {
        hubUrl: s.url,
        userId: s.user.id,
        idempotencyKey: `tollway-topup-${newId()}`,
        amount,
        status: 'sending',
        topup: null,
        qr: null,
        error: null,
        updatedAt: now(),
      };
      await serial(() => deps.local.set({ [TOPUP_KEY]: t }));
      return send(t);
    },

    /** A `topupStatusUpdate` from the socket. */
    async applyUpdate(u: TopupStatusUpdate): Promise<void> {
      const t = await load();
      if (!t?.topup || t.topup.topupId !== u.topupId) return;
      const { previousStatus: _p, seq: _s, ...topup } = u;
      const next = await update(t.idempotencyKey, answered(topup));
      if (next?.status === 'credited' && t.status !== 'credited') await deps.onCredited?.();
    },

    /** The popup opened: send what was never answered, look up what is still open. */
    async refresh(): Promise<void> {
      const t = await load();
      if (t?.status === 'sending') {
        await send(t);
        return;
      }
      if (t?.status !== 'open' || !t.topup) return;
      const s = await sessionFor(t);
      if (!s) return;
      const a = await callHub(deps, s, `/topups/${encodeURIComponent(t.topup.topupId)}`, { method: 'GET', cache: 'no-store' }, Topup);
      if (a.kind !== 'answered') return;
      const next = await update(t.idempotencyKey, answered(a.value));
      if (next?.status === 'credited') await deps.onCredited?.();
    },
  };
}

/** The invoice as a `lightning:` URI in a QR code; none when it cannot be drawn (the text is still shown). */
function drawQr(bolt11: string): StoredTopup['qr'] {
  try {
    const qr = encodeQr(lightningUri(bolt11));
    return { size: qr.size, path: qrPath(qr) };
  } catch {
    return null;
  }
}
