import { randomUUID } from 'node:crypto';
import { decodeInvoice, InvoiceError, isLightningNetwork } from '../invoice.js';
import {
  type InvoiceStatus,
  type LightningNode,
  LightningNodeError,
  type PaymentFailure,
  type PaymentStatus,
  type PayOutcome,
} from '../node.js';
import { CLN, type ClnClient, ClnError, createClnClient, msat } from './client.js';
import { sleep } from '../sleep.js';

/**
 * Core Lightning as a LightningNode, through its `clnrest` plugin (./client.ts). Everything
 * CLN-specific stops here.
 *
 * | CLN | LightningNode |
 * |---|---|
 * | `invoice`, `listinvoices {payment_hash}` | createInvoice, lookupInvoice (`unpaid` → `open`, `paid` → `settled`, `expired`) |
 * | `listinvoices {payment_hash}` then `delinvoice {label, status}` | cancelInvoice: deleted → `canceled`; `paid` → `settled`; none, or 905 → `unknown`; 906 (it changed meanwhile) → asked again |
 * | `waitanyinvoice {lastpay_index, timeout}`, again and again | followSettlements; `pay_index` is the cursor, so `since` replays |
 * | `pay {bolt11, maxfee, retry_for}` | pay: `complete` → `succeeded`; 205/206 no route, 210 timeout, 203 incorrect details → `failed` |
 * | `listpays {bolt11 \| payment_hash}` | the check before a pay (`complete`/`pending` → already-paid), and paymentStatus |
 * | 200, 201, 219 on a pay | `already-paid` |
 * | any other error answer to a pay | `refused` when the node cannot have sent (bad invoice, expired, rune), else `broken` |
 * | `getinfo` | info (`bitcoin` is mainnet; synced unless a `warning_*_sync` is present) |
 */

export interface ClnNodeOptions {
  /** clnrest's address (`clnrest-host`:`clnrest-port`), e.g. https://127.0.0.1:3010. */
  url: string;
  /**
   * A rune (`lightning-cli createrune`), sent as `Rune` and never logged. The hub's node needs
   * `getinfo`, `pay`, `listpays`, `listinvoices`, `invoice`, `waitanyinvoice`, and `delinvoice` to cancel; a merchant's needs `invoice`, `listinvoices`,
   * `waitanyinvoice` (e.g. `createrune restrictions='[["method^list","method^get","method=invoice","method=waitanyinvoice"]]'`).
   */
  rune: string;
  /** PEM of clnrest's `ca.pem` (in `clnrest-certs`): the only authority trusted for this node. */
  caCert?: string;
  /** Milliseconds for a connection to open, and for a call that does not wait. Default 15 s. */
  timeoutMs?: number;
  /** Seconds each `waitanyinvoice` long-poll waits before it is asked again. Default 60. */
  waitSeconds?: number;
}

/** A CLN node: the interface, and its RPC methods (in CLN's terms) for what the interface leaves out. */
export interface ClnNode extends LightningNode {
  readonly kind: 'cln';
  readonly cln: ClnClient;
}

const HASH = /^[0-9a-fA-F]{64}$/;
const checkHash = (h: string, what = 'a payment hash') => {
  if (typeof h !== 'string' || !HASH.test(h)) throw new RangeError(`${what} is 32 bytes of hex`);
  return h.toLowerCase();
};
const nowSeconds = () => Math.floor(Date.now() / 1000);
const isHash = (v: unknown): v is string => typeof v === 'string' && HASH.test(v);
const int = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined);

/** What `pay` answers with an error: failed for good (nothing was sent that could still arrive). */
const PAY_FAILURES: Record<number, PaymentFailure['reason']> = {
  [CLN.PAY_ROUTE_NOT_FOUND]: 'no-route',
  [CLN.PAY_ROUTE_TOO_EXPENSIVE]: 'no-route',
  [CLN.PAY_STOPPED_RETRYING]: 'timeout',
  [CLN.PAY_DESTINATION_PERM_FAIL]: 'incorrect-details',
  [CLN.PAY_UNSPECIFIED_ERROR]: 'error',
};
const ALREADY_PAID = new Set<number>([CLN.PAY_IN_PROGRESS, CLN.PAY_RHASH_ALREADY_USED, CLN.XPAY_ALREADY_PAID]);
/** Errors a pay gets before anything leaves the node: a bad or expired invoice, parameters, the rune. */
const NOT_SENT = new Set<number>([CLN.INVALID_PARAMS, CLN.METHOD_NOT_FOUND, CLN.PAY_INVOICE_EXPIRED, CLN.RUNE_MISSING, CLN.RUNE_INVALID]);

/** A ClnError (or anything else a call threw) in the interface's terms. */
export function asLightningNodeError(err: unknown): LightningNodeError {
  if (err instanceof LightningNodeError) return err;
  if (!(err instanceof ClnError)) {
    return new LightningNodeError('broken', `CLN answered something unexpected: ${(err as Error)?.message ?? String(err)}`, undefined, {
      cause: err,
    });
  }
  return new LightningNodeError(err.kind, err.message, err.code, { cause: err });
}

async function mapped<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    throw asLightningNodeError(err);
  }
}

interface ClnInvoice {
  status: string;
  label?: unknown;
  payment_hash?: unknown;
  amount_msat?: unknown;
  amount_received_msat?: unknown;
  payment_preimage?: unknown;
  paid_at?: unknown;
  expires_at?: unknown;
  pay_index?: unknown;
}

function invoiceStatus(i: ClnInvoice): InvoiceStatus {
  const expiresAt = int(i.expires_at);
  const state =
    i.status === 'paid' ? 'settled' : i.status === 'expired' || (expiresAt !== undefined && nowSeconds() >= expiresAt) ? 'expired' : 'open';
  const amount = msat(i.amount_msat);
  const paidAt = int(i.paid_at);
  return {
    state,
    ...(amount !== undefined ? { amountMsat: amount } : {}),
    ...(state === 'settled'
      ? { amountPaidMsat: msat(i.amount_received_msat) ?? amount ?? 0n, ...(paidAt ? { settledAt: paidAt } : {}) }
      : {}),
    ...(isHash(i.payment_preimage) ? { preimage: i.payment_preimage.toLowerCase() } : {}),
  };
}

export function createClnNode(opts: ClnNodeOptions): ClnNode {
  const client = createClnClient(opts);
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const waitSeconds = opts.waitSeconds ?? 60;
  /**
   * listpays says that a payment failed, not why: the reason `pay` gave is kept here, so that
   * paymentStatus can say it in this process (after a restart it is `other`).
   */
  const failures = new Map<string, PaymentFailure>();

  async function invoiceByHash(hash: string): Promise<ClnInvoice | undefined> {
    const r = (await client.call('listinvoices', { payment_hash: hash }, { readOnly: true })) as { invoices?: unknown };
    if (!Array.isArray(r?.invoices)) throw new LightningNodeError('broken', 'CLN listinvoices answered without invoices');
    return (r.invoices as ClnInvoice[]).find((i) => typeof i?.status === 'string');
  }

  async function pays(filter: { bolt11: string } | { payment_hash: string }, signal?: AbortSignal) {
    const r = (await client.call('listpays', filter, { readOnly: true, ...(signal ? { signal } : {}) })) as { pays?: unknown };
    if (!Array.isArray(r?.pays)) throw new ClnError('broken', 'CLN listpays answered without pays');
    return r.pays as { status?: unknown; preimage?: unknown; amount_msat?: unknown; amount_sent_msat?: unknown; payment_hash?: unknown }[];
  }

  /** The state of a payment from its listpays entries (one per attempt). */
  function statusOf(list: Awaited<ReturnType<typeof pays>>, hash: string | undefined): PaymentStatus {
    const done = list.find((p) => p.status === 'complete');
    if (done) {
      const sent = msat(done.amount_sent_msat);
      const amount = msat(done.amount_msat);
      return {
        state: 'succeeded',
        ...(isHash(done.preimage) ? { preimage: done.preimage.toLowerCase() } : {}),
        ...(sent !== undefined && amount !== undefined && sent >= amount ? { feeMsat: sent - amount } : {}),
      };
    }
    if (list.some((p) => p.status === 'pending')) return { state: 'in_flight' };
    if (list.length === 0) return { state: 'unknown' };
    return { state: 'failed', failure: (hash && failures.get(hash)) || { reason: 'other', nodeReason: 'failed' } };
  }

  async function paymentStatus(paymentHash: string, o: { signal?: AbortSignal; wait?: boolean } = {}): Promise<PaymentStatus> {
    const hash = checkHash(paymentHash);
    for (;;) {
      let s: PaymentStatus;
      try {
        s = statusOf(await pays({ payment_hash: hash }, o.signal), hash);
      } catch (err) {
        if (o.signal?.aborted) throw o.signal.reason;
        throw asLightningNodeError(err);
      }
      if (s.state !== 'in_flight' || !o.wait) return s;
      // listpays is the documented way to see a payment; a pending one is asked again shortly.
      await sleep(200, o.signal);
    }
  }

  return {
    kind: 'cln',
    cln: client,

    async createInvoice({ amountMsat, memo = '', expirySeconds = 3600, preimage }) {
      if (amountMsat <= 0n) throw new RangeError('an invoice needs an amount > 0 msat');
      if (amountMsat > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('CLN takes amount_msat as a JSON number: at most 2^53 - 1');
      if (preimage !== undefined) checkHash(preimage, 'a preimage');
      return mapped(async () => {
        // A label is required and must be unique; nothing in Tollway looks invoices up by it.
        const r = (await client.call('invoice', {
          amount_msat: Number(amountMsat),
          label: `tollway-${randomUUID()}`,
          description: memo,
          expiry: expirySeconds,
          ...(preimage ? { preimage: preimage.toLowerCase() } : {}),
        })) as { bolt11?: unknown; payment_hash?: unknown };
        if (typeof r?.bolt11 !== 'string' || !isHash(r.payment_hash))
          throw new LightningNodeError('broken', 'CLN answered invoice without bolt11 and payment_hash');
        const paymentHash = r.payment_hash.toLowerCase();
        let expiresAt: number;
        try {
          const inv = decodeInvoice(r.bolt11);
          if (inv.paymentHash !== paymentHash) throw new Error('its payment hash is not the one CLN named');
          expiresAt = inv.expiresAt;
        } catch (err) {
          throw new LightningNodeError('broken', `CLN issued an invoice that cannot be read: ${(err as Error).message}`);
        }
        return { bolt11: r.bolt11, paymentHash, expiresAt };
      });
    },

    async lookupInvoice(paymentHash) {
      const hash = checkHash(paymentHash);
      return mapped(async () => {
        const inv = await invoiceByHash(hash);
        return inv ? invoiceStatus(inv) : undefined;
      });
    },

    async cancelInvoice(paymentHash) {
      const hash = checkHash(paymentHash);
      return mapped(async () => {
        // delinvoice names an invoice by its label and the status the caller saw; a status that
        // changed meanwhile (906) is read again, twice at most (unpaid → expired → gone).
        for (let attempt = 0; attempt < 3; attempt++) {
          const inv = await invoiceByHash(hash);
          if (!inv) return 'unknown';
          if (inv.status === 'paid') return 'settled';
          if (typeof inv.label !== 'string' && typeof inv.label !== 'number')
            throw new LightningNodeError('broken', 'CLN listinvoices answered an invoice without its label');
          try {
            await client.call('delinvoice', { label: String(inv.label), status: inv.status });
            return 'canceled';
          } catch (err) {
            if (!(err instanceof ClnError) || err.kind !== 'refused') throw err;
            if (err.code === CLN.INVOICE_NOT_FOUND) return 'unknown';
            if (err.code !== CLN.INVOICE_STATUS_UNEXPECTED) throw err;
          }
        }
        throw new LightningNodeError('broken', 'CLN kept changing the invoice while it was being deleted');
      });
    },

    async *followSettlements({ signal, since }) {
      if (since !== undefined && !/^\d{1,15}$/.test(since)) throw new RangeError('since must be a cursor this node gave (a pay index)');
      let last: number;
      try {
        if (since !== undefined) last = Number(since);
        else {
          // "From now on": after the highest pay_index so far.
          const r = (await client.call('listinvoices', {}, { signal, readOnly: true })) as { invoices?: ClnInvoice[] };
          if (!Array.isArray(r?.invoices)) throw new ClnError('broken', 'CLN listinvoices answered without invoices');
          last = r.invoices.reduce((m, i) => Math.max(m, int(i.pay_index) ?? 0), 0);
        }
      } catch (err) {
        if (signal.aborted) return;
        throw asLightningNodeError(err);
      }
      while (!signal.aborted) {
        let inv: ClnInvoice & { pay_index?: unknown };
        try {
          inv = (await client.call(
            'waitanyinvoice',
            { lastpay_index: last, timeout: waitSeconds },
            { signal, timeoutMs: waitSeconds * 1000 + timeoutMs },
          )) as ClnInvoice;
        } catch (err) {
          if (signal.aborted) return;
          // Nothing was paid within `timeout`: ask again.
          if (err instanceof ClnError && err.code === CLN.INVOICE_WAIT_TIMED_OUT) continue;
          throw asLightningNodeError(err);
        }
        const index = int(inv?.pay_index);
        if (index === undefined || index <= last)
          throw new LightningNodeError('broken', 'CLN waitanyinvoice answered without a new pay_index');
        last = index;
        const amount = msat(inv.amount_received_msat);
        if (inv.status !== 'paid' || !isHash(inv.payment_hash) || !isHash(inv.payment_preimage) || amount === undefined) continue;
        yield {
          paymentHash: inv.payment_hash.toLowerCase(),
          preimage: inv.payment_preimage.toLowerCase(),
          amountPaidMsat: amount,
          settledAt: int(inv.paid_at) ?? nowSeconds(),
          cursor: String(index),
        };
      }
    },

    async pay({ bolt11, feeLimitMsat, timeoutSeconds, signal }) {
      let hash: string | undefined;
      try {
        hash = decodeInvoice(bolt11).paymentHash;
      } catch (err) {
        // CLN reads it too and says what is wrong with it; the hash only names a failure.
        if (!(err instanceof InvoiceError)) throw err;
      }
      // CLN's pay answers a hash it has paid with the old success: ask first, so that a second
      // payment of an invoice is `already-paid`, as with every node.
      const before = await mapped(() => pays({ bolt11 }, signal)).catch((err: unknown) => {
        if (signal?.aborted) throw signal.reason;
        throw err;
      });
      const prior = statusOf(before, undefined);
      if (prior.state === 'succeeded' || prior.state === 'in_flight')
        throw new LightningNodeError('already-paid', 'CLN is paying or has paid this invoice');
      let r: { status?: unknown; payment_preimage?: unknown; amount_msat?: unknown; amount_sent_msat?: unknown };
      try {
        r = (await client.call(
          'pay',
          { bolt11, maxfee: Number(feeLimitMsat), retry_for: timeoutSeconds },
          { ...(signal ? { signal } : {}), timeoutMs: timeoutSeconds * 1000 + timeoutMs },
        )) as typeof r;
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (!(err instanceof ClnError) || err.kind !== 'refused' || err.code === undefined) throw asLightningNodeError(err);
        if (ALREADY_PAID.has(err.code)) throw new LightningNodeError('already-paid', err.message, err.code, { cause: err });
        const reason = PAY_FAILURES[err.code];
        if (reason) {
          const failure: PaymentFailure = { reason, nodeReason: String(err.code) };
          if (hash) failures.set(hash, failure);
          return { state: 'failed', failure } satisfies PayOutcome;
        }
        if (NOT_SENT.has(err.code) || err.httpStatus === 401 || err.httpStatus === 403)
          throw new LightningNodeError('refused', err.message, err.code, { cause: err });
        // Any other error: CLN may have sent something; paymentStatus will tell.
        throw new LightningNodeError('broken', err.message, err.code, { cause: err });
      }
      if (r?.status === 'complete') {
        const sent = msat(r.amount_sent_msat);
        const amount = msat(r.amount_msat);
        return {
          state: 'succeeded',
          ...(isHash(r.payment_preimage) ? { preimage: r.payment_preimage.toLowerCase() } : {}),
          ...(sent !== undefined && amount !== undefined && sent >= amount ? { feeMsat: sent - amount } : {}),
        };
      }
      if (r?.status === 'failed') return { state: 'failed', failure: { reason: 'other', nodeReason: 'failed' } };
      // `pending`: the payment goes on at the node; follow it to its end.
      if (!hash) throw new LightningNodeError('broken', 'CLN left the payment pending');
      const s = await paymentStatus(hash, { wait: true, ...(signal ? { signal } : {}) });
      if (s.state === 'succeeded' || s.state === 'failed') return s;
      throw new LightningNodeError('broken', `CLN says the payment is ${s.state}`);
    },

    paymentStatus,

    info() {
      return mapped(async () => {
        const i = (await client.call('getinfo', {}, { readOnly: true })) as Record<string, unknown>;
        if (typeof i?.id !== 'string') throw new LightningNodeError('broken', 'CLN getinfo answered without id');
        // CLN calls mainnet `bitcoin`.
        const network = i.network === 'bitcoin' ? 'mainnet' : i.network;
        return {
          alias: typeof i.alias === 'string' ? i.alias : '',
          pubkey: i.id,
          network: isLightningNetwork(network) ? network : null,
          synced: i.warning_bitcoind_sync === undefined && i.warning_lightningd_sync === undefined,
          version: `Core Lightning ${typeof i.version === 'string' ? i.version : '?'}`,
        };
      });
    },
  };
}
