import { decodeInvoice, isLightningNetwork } from '../invoice.js';
import {
  type LightningNode,
  LightningNodeError,
  type InvoiceStatus,
  type PaymentFailureReason,
  type PaymentStatus,
  type PayOutcome,
} from '../node.js';
import { createLndClient, GRPC, type LndClient, type LndInvoice, LndError, type LndPayment } from './client.js';

/**
 * LND as a LightningNode, over its REST interface (./client.ts). Everything LND-specific stops
 * here: its invoice and payment states, its FAILURE_REASON_… codes and its gRPC status codes become
 * the interface's states, failure reasons and error kinds.
 *
 * | LND | LightningNode |
 * |---|---|
 * | invoice `OPEN`, `ACCEPTED` (held, not yet settled) | `open` (`expired` once past creation_date + expiry) |
 * | invoice `SETTLED` | `settled` |
 * | CancelInvoice (`POST /v2/invoices/cancel`): `{}` | `canceled`; its error for a settled or unknown invoice is told apart by a look-up |
 * | invoice `CANCELED` | `expired` when past its expiry (LND cancels expired invoices), else `canceled` |
 * | payment `SUCCEEDED` / `FAILED` | `succeeded` / `failed` |
 * | payment `IN_FLIGHT`, `INITIATED`, `UNKNOWN` | `in_flight` |
 * | TrackPaymentV2 `NOT_FOUND` | `unknown` |
 * | no connection (or no answer in time) | `unreachable` |
 * | a gRPC status before the payment started | `refused`; `ALREADY_EXISTS` on a send: `already-paid` |
 * | a gRPC status once the payment started, a cut stream, an answer that is not LND's | `broken` |
 */

export interface LndNodeOptions {
  /** LND's REST listener (restlisten), e.g. https://127.0.0.1:8080. */
  url: string;
  /**
   * The macaroon in hex, sent as `Grpc-Metadata-macaroon` and never logged. The hub's node needs
   * `offchain:read`, `offchain:write`, `info:read`, and `invoices:write` to cancel invoices; a merchant's invoice.macaroon is enough for
   * createInvoice, lookupInvoice and followSettlements.
   */
  macaroonHex: string;
  /** PEM of LND's self-signed tls.cert: the only certificate trusted for this node. */
  tlsCert?: string;
  /** Milliseconds for a connection to open, and for a call that answers once. Default 15 s. */
  timeoutMs?: number;
}

/** An LND node: the interface, and LND's own calls (in LND's terms) for what the interface leaves out. */
export interface LndNode extends LightningNode {
  readonly kind: 'lnd';
  readonly lnd: LndClient;
}

const FAILURE_REASONS: Record<string, PaymentFailureReason> = {
  FAILURE_REASON_NO_ROUTE: 'no-route',
  FAILURE_REASON_TIMEOUT: 'timeout',
  FAILURE_REASON_INCORRECT_PAYMENT_DETAILS: 'incorrect-details',
  FAILURE_REASON_INSUFFICIENT_BALANCE: 'insufficient-balance',
  FAILURE_REASON_ERROR: 'error',
  FAILURE_REASON_CANCELED: 'canceled',
};

const HASH = /^[0-9a-fA-F]{64}$/;
const checkHash = (h: string, what = 'a payment hash') => {
  if (typeof h !== 'string' || !HASH.test(h)) throw new RangeError(`${what} is 32 bytes of hex`);
  return h.toLowerCase();
};
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A final payment update as an outcome; undefined while the payment is on its way. */
function outcomeOf(u: LndPayment): PayOutcome | undefined {
  if (u.status === 'SUCCEEDED') return { state: 'succeeded', ...(u.preimage ? { preimage: u.preimage } : {}), feeMsat: u.feeMsat };
  if (u.status === 'FAILED') {
    const code = u.failureReason ?? 'FAILURE_REASON_ERROR';
    return { state: 'failed', failure: { reason: FAILURE_REASONS[code] ?? 'other', nodeReason: code } };
  }
  return undefined;
}

function invoiceStatus(i: LndInvoice): InvoiceStatus {
  const expired = i.expiry > 0 && nowSeconds() >= i.creationDate + i.expiry;
  const state =
    i.state === 'SETTLED' ? 'settled' : i.state === 'CANCELED' ? (expired ? 'expired' : 'canceled') : expired ? 'expired' : 'open';
  return {
    state,
    ...(i.valueMsat > 0n ? { amountMsat: i.valueMsat } : {}),
    ...(state === 'settled' ? { amountPaidMsat: i.amtPaidMsat, ...(i.settleDate ? { settledAt: i.settleDate } : {}) } : {}),
    ...(i.preimage ? { preimage: i.preimage } : {}),
  };
}

/**
 * An LndError (or anything else a call threw) in the interface's terms. `started`: the node had
 * begun the payment (its first update arrived), so a status it sends now leaves the outcome unknown.
 */
export function asLightningNodeError(err: unknown, o: { started?: boolean; send?: boolean } = {}): LightningNodeError {
  if (err instanceof LightningNodeError) return err;
  if (!(err instanceof LndError)) {
    return new LightningNodeError('broken', `LND answered something unexpected: ${(err as Error)?.message ?? String(err)}`, undefined, {
      cause: err,
    });
  }
  const opts = { cause: err };
  if (err.kind === 'unreachable') return new LightningNodeError('unreachable', err.message, undefined, opts);
  if (err.kind === 'broken' || o.started) return new LightningNodeError('broken', err.message, err.grpcCode, opts);
  if (o.send && err.grpcCode === GRPC.ALREADY_EXISTS) return new LightningNodeError('already-paid', err.message, err.grpcCode, opts);
  if (!o.send && err.grpcCode === GRPC.NOT_FOUND) return new LightningNodeError('not-found', err.message, err.grpcCode, opts);
  return new LightningNodeError('refused', err.message, err.grpcCode, opts);
}

/** Runs `f`, turning what it throws into a LightningNodeError (an abort's reason passes as is). */
async function mapped<T>(f: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw asLightningNodeError(err);
  }
}

export function createLndNode(opts: LndNodeOptions): LndNode {
  const client = createLndClient(opts);
  const timeoutMs = opts.timeoutMs ?? 15_000;

  async function lookup(hash: string): Promise<InvoiceStatus | undefined> {
    try {
      return invoiceStatus(await client.lookupInvoice(hash));
    } catch (err) {
      if (err instanceof LndError && err.kind === 'refused' && err.grpcCode === GRPC.NOT_FOUND) return undefined;
      throw asLightningNodeError(err);
    }
  }

  return {
    kind: 'lnd',
    lnd: client,

    async createInvoice({ amountMsat, memo = '', expirySeconds = 3600, preimage }) {
      if (amountMsat <= 0n) throw new RangeError('an invoice needs an amount > 0 msat');
      if (preimage !== undefined) checkHash(preimage, 'a preimage');
      return mapped(async () => {
        const added = await client.addInvoice({
          valueMsat: amountMsat,
          memo,
          expirySeconds,
          ...(preimage ? { preimageHex: preimage.toLowerCase() } : {}),
        });
        let expiresAt: number;
        try {
          const inv = decodeInvoice(added.paymentRequest);
          if (inv.paymentHash !== added.paymentHash) throw new Error('its payment hash is not the one LND named');
          expiresAt = inv.expiresAt;
        } catch (err) {
          throw new LightningNodeError('broken', `LND issued an invoice that cannot be read: ${(err as Error).message}`);
        }
        return { bolt11: added.paymentRequest, paymentHash: added.paymentHash, expiresAt };
      });
    },

    lookupInvoice: async (paymentHash) => lookup(checkHash(paymentHash)),

    async cancelInvoice(paymentHash) {
      const hash = checkHash(paymentHash);
      try {
        await client.cancelInvoice(hash);
        return 'canceled';
      } catch (err) {
        // LND refuses a settled invoice and an unknown one alike, with a plain error (gRPC
        // UNKNOWN) whose text is all that tells them apart: the invoice's own state says which.
        if (!(err instanceof LndError) || err.kind !== 'refused' || err.grpcCode === GRPC.UNAUTHENTICATED) throw asLightningNodeError(err);
        const now = await lookup(hash);
        if (now === undefined) return 'unknown';
        if (now.state === 'settled') return 'settled';
        if (now.state === 'canceled' || now.state === 'expired') return 'canceled';
        throw asLightningNodeError(err);
      }
    },

    async *followSettlements({ signal, since }) {
      if (since !== undefined && !/^\d{1,20}$/.test(since)) throw new RangeError('since must be a cursor this node gave (a settle index)');
      let last = since === undefined ? 0n : BigInt(since);
      const updates = client.subscribeInvoices({ settleIndex: last }, signal);
      try {
        for await (const inv of updates) {
          // Every state change comes by (added, accepted, canceled); a replayed settlement may come twice.
          if (inv.state !== 'SETTLED' || inv.settleIndex <= last || !inv.preimage) continue;
          last = inv.settleIndex;
          yield {
            paymentHash: inv.paymentHash,
            preimage: inv.preimage,
            amountPaidMsat: inv.amtPaidMsat,
            settledAt: inv.settleDate || nowSeconds(),
            cursor: String(inv.settleIndex),
          };
        }
      } catch (err) {
        if (signal.aborted) return;
        throw asLightningNodeError(err);
      }
      if (!signal.aborted) throw new LightningNodeError('broken', 'LND ended the invoice stream');
    },

    async pay({ bolt11, feeLimitMsat, timeoutSeconds, signal }) {
      let started = false;
      try {
        for await (const u of client.sendPayment({ paymentRequest: bolt11, timeoutSeconds, feeLimitMsat }, signal)) {
          started = true;
          const o = outcomeOf(u);
          if (o) return o;
        }
        throw new LightningNodeError('broken', 'the node closed the stream before a final update');
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        throw asLightningNodeError(err, { started, send: true });
      }
    },

    async paymentStatus(paymentHash, o = {}) {
      const hash = checkHash(paymentHash);
      // LND answers a track with the current state at once; one that does not is taken as
      // unreachable, so that a hung node cannot hold up its caller.
      const ctl = new AbortController();
      const onAbort = () => ctl.abort(o.signal?.reason);
      o.signal?.addEventListener('abort', onAbort, { once: true });
      if (o.signal?.aborted) ctl.abort(o.signal.reason);
      let timedOut = false;
      const timer = o.wait
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            ctl.abort();
          }, timeoutMs);
      try {
        for await (const u of client.trackPayment(hash, ctl.signal)) {
          const done = outcomeOf(u);
          if (done) return done;
          if (!o.wait) return { state: 'in_flight' } satisfies PaymentStatus;
        }
        throw new LightningNodeError('broken', 'the node closed the stream without a final update');
      } catch (err) {
        if (err instanceof LndError && err.kind === 'refused' && err.grpcCode === GRPC.NOT_FOUND) return { state: 'unknown' };
        if (timedOut) throw new LightningNodeError('unreachable', `LND did not answer a payment track within ${timeoutMs} ms`);
        if (o.signal?.aborted) throw o.signal.reason;
        throw asLightningNodeError(err);
      } finally {
        clearTimeout(timer);
        o.signal?.removeEventListener('abort', onAbort);
        ctl.abort();
      }
    },

    info() {
      return mapped(async () => {
        const i = await client.getInfo();
        return {
          alias: i.alias,
          pubkey: i.identityPubkey,
          network: isLightningNetwork(i.network) ? i.network : null,
          synced: i.syncedToChain,
          version: `LND ${i.version}`,
        };
      });
    },
  };
}
