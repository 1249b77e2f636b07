import { decodeInvoice, InvoiceError } from '../invoice.js';
import {
  CANCEL_UNSUPPORTED,
  type InvoiceStatus,
  type LightningNode,
  LightningNodeError,
  type PaymentFailure,
  type PaymentStatus,
  type PayOutcome,
  type SettledInvoice,
} from '../node.js';
import { createLnbitsClient, detailOf, type LnbitsAnswer, LnbitsError } from './client.js';
import { webSocketMessages } from './websocket.js';
import { sleep } from '../sleep.js';

/**
 * An LNbits wallet as a LightningNode, over the LNbits wallet API (v1.x; ./client.ts). LNbits is a
 * wallet on someone's node, not a node: it has no node key, no network name, no fee limit and no
 * settlement stream that can resume. What it has:
 *
 * | LNbits | LightningNode |
 * |---|---|
 * | `POST /api/v1/payments {out: false, amount, unit: "sat"}` (invoice key) | createInvoice (whole satoshis only; no given preimage) |
 * | `GET /api/v1/payments/{hash}`: `paid`, `status`, `preimage`, `details` (the Payment, with the owner's key) | lookupInvoice (`details.amount` > 0), paymentStatus (< 0) |
 * | WebSocket `/api/v1/ws/{invoice key}`: a frame per payment of the wallet | followSettlements, each frame confirmed by a look-up; `since` is ignored |
 * | the invoice's webhook (unsigned) | `webhookHint`: only a reason to look the payment up |
 * | `POST /api/v1/payments {out: true, bolt11}` (admin key) | pay: `success` → succeeded, `failed` or 520 `{detail, status: "failed"}` → failed |
 * | (no way to withdraw an invoice) | cancelInvoice throws `refused` (`unsupported`): the invoice stays payable until it expires |
 * | `GET /api/v1/wallet` | info (the wallet's name; no node key or network) and the key check |
 * | 401, 403, 404 "Wallet not found.", 400 | `refused` |
 */

export interface LnbitsNodeOptions {
  /** The LNbits server, e.g. https://legend.lnbits.com (no path after it unless LNbits is mounted under one). */
  url: string;
  /** The wallet's invoice/read key (`inkey`): issues and looks up invoices. Never logged. */
  invoiceKey: string;
  /** The wallet's admin key: needed to pay, and only for that. Never logged. */
  adminKey?: string;
  /** Given to LNbits with every invoice: where it POSTs (once, unsigned) when the invoice is paid. */
  webhookUrl?: string;
  /** Milliseconds for a connection to open, and for a call that does not wait. Default 15 s. */
  timeoutMs?: number;
}

export interface LnbitsNode extends LightningNode {
  readonly kind: 'lnbits';
  /**
   * An LNbits webhook arrived (its raw body, text or parsed). It is unsigned, so it is only a
   * reason to ask LNbits: the payment it names is looked up, and what LNbits says counts. The
   * settlement when the invoice is paid (also passed to every open followSettlements), otherwise
   * undefined; a forged one changes nothing, a replayed one gives the same settlement again
   * (handle it once by its hash). A body that names no payment hash throws RangeError.
   */
  webhookHint(body: unknown): Promise<SettledInvoice | undefined>;
}

const HASH = /^[0-9a-fA-F]{64}$/;
const checkHash = (h: string, what = 'a payment hash') => {
  if (typeof h !== 'string' || !HASH.test(h)) throw new RangeError(`${what} is 32 bytes of hex`);
  return h.toLowerCase();
};
const isHash = (v: unknown): v is string => typeof v === 'string' && HASH.test(v);
const nowSeconds = () => Math.floor(Date.now() / 1000);
/** A signed msat amount (LNbits' `amount`, `fee`). */
const msatOf = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : undefined);
/** LNbits writes datetimes in ISO 8601, naive ones meaning UTC. */
function seconds(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.floor(v);
  if (typeof v !== 'string') return undefined;
  const t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(v) ? v : `${v}Z`);
  return Number.isNaN(t) ? undefined : Math.floor(t / 1000);
}

/** The body of an LNbits webhook: since v1.1 a JSON string holding the Payment's JSON, before that the object. */
export function readLnbitsWebhook(body: unknown): string {
  let v = body;
  for (let i = 0; i < 3 && typeof v === 'string'; i++) {
    try {
      v = JSON.parse(v);
    } catch {
      break;
    }
  }
  const hash = (v as { payment_hash?: unknown } | null)?.payment_hash;
  if (!v || typeof v !== 'object' || !isHash(hash)) throw new RangeError('not an LNbits payment webhook: no payment_hash');
  return hash.toLowerCase();
}

interface Details {
  amount?: unknown;
  fee?: unknown;
  bolt11?: unknown;
  payment_request?: unknown;
  status?: unknown;
  expiry?: unknown;
  updated_at?: unknown;
  time?: unknown;
}
interface PaymentAnswer {
  paid?: unknown;
  status?: unknown;
  preimage?: unknown;
  details?: Details | null;
}

const FAILURE_WORDS: [RegExp, PaymentFailure['reason']][] = [
  [/insufficient (balance|funds)/i, 'insufficient-balance'],
  [/no[ _]route|route not found|find a route|NO_ROUTE/i, 'no-route'],
  [/timeout|timed out/i, 'timeout'],
  [/incorrect|unknown payment details|INCORRECT_PAYMENT_DETAILS/i, 'incorrect-details'],
];
/** LNbits passes on its funding source's words for a failed payment; the common ones are recognised. */
const reasonOf = (detail: string): PaymentFailure['reason'] => FAILURE_WORDS.find(([re]) => re.test(detail))?.[1] ?? 'other';

function asLightningNodeError(err: unknown): LightningNodeError {
  if (err instanceof LightningNodeError) return err;
  if (err instanceof LnbitsError) return new LightningNodeError(err.kind, err.message, undefined, { cause: err });
  return new LightningNodeError('broken', `LNbits answered something unexpected: ${(err as Error)?.message ?? String(err)}`, undefined, {
    cause: err,
  });
}

/** An answer that is not the one hoped for: LNbits declined (4xx), or something is wrong with it. */
function refusal(what: string, a: LnbitsAnswer): LightningNodeError {
  const detail = detailOf(a.body) || `HTTP ${a.status}`;
  const kind = a.status >= 400 && a.status < 500 ? 'refused' : 'broken';
  return new LightningNodeError(kind, `LNbits ${what}: ${detail}`, a.status);
}

export function createLnbitsNode(opts: LnbitsNodeOptions): LnbitsNode {
  const client = createLnbitsClient(opts);
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const inkey = opts.invoiceKey;
  const adminKey = opts.adminKey;
  /** Keys LNbits has accepted: a look-up with a key it does not know answers as if no key were given. */
  const keyChecks = new Map<string, Promise<{ name: string; balanceMsat: bigint }>>();
  /** Failure reasons from pay, for paymentStatus (LNbits keeps only `failed`). */
  const failures = new Map<string, PaymentFailure>();
  /** Open followSettlements, which webhook hints also feed. */
  const followers = new Set<(s: SettledInvoice) => void>();

  async function call(method: 'GET' | 'POST', path: string, key: string, body?: unknown, o?: Parameters<typeof client.request>[4]) {
    try {
      return await client.request(method, path, key, body, o);
    } catch (err) {
      if (o?.signal?.aborted) throw o.signal.reason;
      throw asLightningNodeError(err);
    }
  }

  /** GET /api/v1/wallet with `key`: proves LNbits knows it (once per key, while it answers). */
  function wallet(key: string, which: string) {
    let p = keyChecks.get(key);
    if (!p) {
      p = (async () => {
        const a = await call('GET', '/api/v1/wallet', key, undefined, { readOnly: true });
        if (a.status !== 200) throw refusal(`refused the ${which}`, a);
        const b = a.body as { name?: unknown; balance?: unknown };
        return { name: typeof b?.name === 'string' ? b.name : '', balanceMsat: msatOf(b?.balance) ?? 0n };
      })();
      keyChecks.set(key, p);
      p.catch(() => keyChecks.delete(key));
    }
    return p;
  }

  /** GET /api/v1/payments/{hash} with `key`; undefined when LNbits has no such payment. */
  async function payment(hash: string, key: string, signal?: AbortSignal): Promise<PaymentAnswer | undefined> {
    const a = await call('GET', `/api/v1/payments/${hash}`, key, undefined, { readOnly: true, ...(signal ? { signal } : {}) });
    if (a.status === 404) return undefined;
    if (a.status !== 200 || !a.body || typeof a.body !== 'object') throw refusal('payment look-up', a);
    return a.body as PaymentAnswer;
  }

  /** An incoming payment of this wallet (an invoice it issued) as an InvoiceStatus; undefined if it is not one. */
  function invoiceStatus(p: PaymentAnswer | undefined): InvoiceStatus | undefined {
    const d = p?.details;
    const amount = msatOf(d?.amount);
    // Without `details` the payment is another wallet's; a negative amount is one this wallet sent.
    if (!p || !d || amount === undefined || amount <= 0n) return undefined;
    let expiresAt = seconds(d.expiry);
    const bolt11 = typeof d.bolt11 === 'string' ? d.bolt11 : typeof d.payment_request === 'string' ? d.payment_request : undefined;
    if (expiresAt === undefined && bolt11) {
      try {
        expiresAt = decodeInvoice(bolt11).expiresAt;
      } catch {
        expiresAt = undefined;
      }
    }
    const paid = p.paid === true;
    const status = p.status ?? d.status;
    const state = paid
      ? 'settled'
      : expiresAt !== undefined && nowSeconds() >= expiresAt
        ? 'expired'
        : status === 'failed'
          ? 'canceled'
          : 'open';
    const settledAt = paid ? (seconds(d.updated_at) ?? seconds(d.time)) : undefined;
    return {
      state,
      amountMsat: amount,
      ...(paid ? { amountPaidMsat: amount, ...(settledAt ? { settledAt } : {}) } : {}),
      ...(paid && isHash(p.preimage) ? { preimage: p.preimage.toLowerCase() } : {}),
    };
  }

  async function settlement(hash: string, signal?: AbortSignal): Promise<SettledInvoice | undefined> {
    const p = await payment(hash, inkey, signal);
    const s = invoiceStatus(p);
    if (s?.state !== 'settled' || !s.preimage || s.amountPaidMsat === undefined) return undefined;
    return { paymentHash: hash, preimage: s.preimage, amountPaidMsat: s.amountPaidMsat, settledAt: s.settledAt ?? nowSeconds() };
  }

  /** An outgoing payment of this wallet as a PaymentStatus. */
  function paymentState(p: PaymentAnswer | undefined, hash: string): PaymentStatus {
    const amount = msatOf(p?.details?.amount);
    if (!p || amount === undefined || amount >= 0n) return { state: 'unknown' };
    if (p.paid === true) {
      const fee = msatOf(p.details?.fee);
      return {
        state: 'succeeded',
        ...(isHash(p.preimage) ? { preimage: p.preimage.toLowerCase() } : {}),
        ...(fee !== undefined ? { feeMsat: fee < 0n ? -fee : fee } : {}),
      };
    }
    if ((p.status ?? p.details?.status) === 'failed')
      return { state: 'failed', failure: failures.get(hash) ?? { reason: 'other', nodeReason: 'failed' } };
    return { state: 'in_flight' };
  }

  const payKey = () => adminKey ?? inkey;

  async function paymentStatus(paymentHash: string, o: { signal?: AbortSignal; wait?: boolean } = {}): Promise<PaymentStatus> {
    const hash = checkHash(paymentHash);
    await wallet(payKey(), adminKey ? 'admin key' : 'invoice key');
    for (;;) {
      const s = paymentState(await payment(hash, payKey(), o.signal), hash);
      if (s.state !== 'in_flight' || !o.wait) return s;
      // LNbits offers no stream for one payment that needs no key; a pending one is asked again shortly.
      await sleep(250, o.signal);
    }
  }

  return {
    kind: 'lnbits',

    async createInvoice({ amountMsat, memo = '', expirySeconds = 3600, preimage }) {
      if (amountMsat <= 0n) throw new RangeError('an invoice needs an amount > 0 msat');
      if (amountMsat % 1000n !== 0n)
        throw new RangeError('LNbits issues invoices in whole satoshis: the amount must be a multiple of 1000 msat');
      if (preimage !== undefined) {
        checkHash(preimage, 'a preimage');
        throw new LightningNodeError('refused', 'LNbits cannot issue an invoice for a given preimage');
      }
      const a = await call('POST', '/api/v1/payments', inkey, {
        out: false,
        amount: Number(amountMsat / 1000n),
        unit: 'sat',
        memo,
        expiry: expirySeconds,
        ...(opts.webhookUrl ? { webhook: opts.webhookUrl } : {}),
      });
      if (a.status !== 201 && a.status !== 200) throw refusal('refused the invoice', a);
      const b = a.body as { payment_hash?: unknown; bolt11?: unknown; payment_request?: unknown };
      // v1 answers the Payment (`bolt11`); before v1, `{payment_hash, payment_request}`.
      const bolt11 = typeof b?.bolt11 === 'string' ? b.bolt11 : b?.payment_request;
      if (!isHash(b?.payment_hash) || typeof bolt11 !== 'string')
        throw new LightningNodeError('broken', 'LNbits answered an invoice without payment_hash and bolt11');
      const paymentHash = b.payment_hash.toLowerCase();
      try {
        const inv = decodeInvoice(bolt11);
        if (inv.paymentHash !== paymentHash) throw new Error('its payment hash is not the one LNbits named');
        return { bolt11, paymentHash, expiresAt: inv.expiresAt };
      } catch (err) {
        throw new LightningNodeError('broken', `LNbits issued an invoice that cannot be read: ${(err as Error).message}`);
      }
    },

    async lookupInvoice(paymentHash) {
      const hash = checkHash(paymentHash);
      await wallet(inkey, 'invoice key');
      return invoiceStatus(await payment(hash, inkey));
    },

    async cancelInvoice(paymentHash) {
      checkHash(paymentHash);
      throw new LightningNodeError('refused', 'LNbits cannot withdraw an invoice: it stays payable until it expires', CANCEL_UNSUPPORTED);
    },

    async *followSettlements({ signal }) {
      try {
        await wallet(inkey, 'invoice key');
      } catch (err) {
        if (signal.aborted) return;
        throw err;
      }
      const base = new URL(opts.url);
      const ws = new URL(`${base.pathname.replace(/\/+$/, '')}/api/v1/ws/${encodeURIComponent(inkey)}`, base);
      ws.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
      // Frames and webhook hints both end up here; each is confirmed by a look-up before it is yielded.
      const hints: string[] = [];
      const ready: SettledInvoice[] = [];
      const seen = new Set<string>();
      let failure: unknown;
      let wake: (() => void) | undefined;
      const notify = () => {
        wake?.();
        wake = undefined;
      };
      const fromWebhook = (s: SettledInvoice) => {
        ready.push(s);
        notify();
      };
      followers.add(fromWebhook);
      const pump = (async () => {
        for await (const text of webSocketMessages(ws, { signal, timeoutMs })) {
          let frame: { payment?: { payment_hash?: unknown; amount?: unknown } } | undefined;
          try {
            frame = JSON.parse(text);
          } catch {
            continue;
          }
          const p = frame?.payment;
          const amount = msatOf(p?.amount);
          // Frames come for payments out too; only money in can settle an invoice.
          if (isHash(p?.payment_hash) && amount !== undefined && amount > 0n) {
            hints.push(p.payment_hash.toLowerCase());
            notify();
          }
        }
      })().then(
        () => notify(),
        (err: unknown) => {
          failure ??= err;
          notify();
        },
      );
      try {
        for (;;) {
          if (signal.aborted) return;
          const hash = hints.shift();
          if (hash !== undefined) {
            if (seen.has(hash)) continue;
            const s = await settlement(hash, signal);
            if (s && !seen.has(hash)) {
              seen.add(hash);
              yield s;
            }
            continue;
          }
          const r = ready.shift();
          if (r) {
            if (!seen.has(r.paymentHash)) {
              seen.add(r.paymentHash);
              yield r;
            }
            continue;
          }
          if (failure !== undefined) {
            const e = failure as Error;
            throw new LightningNodeError('broken', `LNbits notifications broke off: ${e.message}`, undefined, { cause: e });
          }
          await new Promise<void>((r) => {
            wake = r;
          });
        }
      } catch (err) {
        if (signal.aborted) return;
        throw asLightningNodeError(err);
      } finally {
        followers.delete(fromWebhook);
        await pump.catch(() => undefined);
      }
    },

    async pay({ bolt11, timeoutSeconds, signal }) {
      if (!adminKey) throw new LightningNodeError('refused', 'paying through LNbits needs the wallet admin key');
      let hash: string | undefined;
      try {
        hash = decodeInvoice(bolt11).paymentHash;
      } catch (err) {
        if (!(err instanceof InvoiceError)) throw err;
      }
      if (hash) {
        await wallet(adminKey, 'admin key');
        const prior = paymentState(await payment(hash, adminKey, signal), hash);
        if (prior.state === 'succeeded' || prior.state === 'in_flight')
          throw new LightningNodeError('already-paid', 'LNbits is paying or has paid this invoice');
      }
      // LNbits takes neither a fee limit nor a timeout: its own fee reserve and its funding source
      // decide. An answer later than the timeout plus a minute is given up (broken: ask paymentStatus).
      const a = await call(
        'POST',
        '/api/v1/payments',
        adminKey,
        { out: true, bolt11 },
        { ...(signal ? { signal } : {}), timeoutMs: (timeoutSeconds + 60) * 1000 },
      );
      const b = a.body as { status?: unknown; preimage?: unknown; fee?: unknown; payment_hash?: unknown; detail?: unknown } | undefined;
      if (a.status === 201 || a.status === 200) {
        if (b?.status === 'success') {
          const fee = msatOf(b.fee);
          return {
            state: 'succeeded',
            ...(isHash(b.preimage) ? { preimage: b.preimage.toLowerCase() } : {}),
            ...(fee !== undefined ? { feeMsat: fee < 0n ? -fee : fee } : {}),
          } satisfies PayOutcome;
        }
        if (b?.status === 'failed') return { state: 'failed', failure: { reason: 'other', nodeReason: 'failed' } };
      } else {
        const detail = detailOf(b);
        if (/already (paid|in progress|pending)|in (progress|transition)/i.test(detail))
          throw new LightningNodeError('already-paid', `LNbits: ${detail}`, a.status);
        if (a.status === 520 && b?.status === 'failed') {
          const failure: PaymentFailure = { reason: reasonOf(detail), nodeReason: detail || 'failed' };
          if (hash) failures.set(hash, failure);
          return { state: 'failed', failure };
        }
        if (a.status !== 520) throw refusal('refused the payment', a);
      }
      // Pending (or a 520 that does not say failed): the payment goes on at LNbits; follow it.
      if (!hash) throw new LightningNodeError('broken', 'LNbits left the payment pending');
      const s = await paymentStatus(hash, { wait: true, ...(signal ? { signal } : {}) });
      if (s.state === 'succeeded' || s.state === 'failed') return s;
      throw new LightningNodeError('broken', `LNbits says the payment is ${s.state}`);
    },

    paymentStatus,

    async info() {
      const w = await wallet(inkey, 'invoice key');
      return { alias: w.name, pubkey: null, network: null, synced: true, version: 'LNbits' };
    },

    async webhookHint(body) {
      const hash = readLnbitsWebhook(body);
      await wallet(inkey, 'invoice key');
      const s = await settlement(hash);
      if (s) for (const f of [...followers]) f(s);
      return s;
    },
  };
}
