/**
 * A merchant's own LND, for the L402 middleware (merchant/l402.ts). The node itself is the LND
 * adapter of lightning/ (`createLndNode`), the same one the hub pays through; `l402({ node })`
 * takes it, or any other LightningNode.
 *
 * @example
 * ```ts
 * const node = createLndNode({ url: 'https://127.0.0.1:8080', macaroonHex: readFileSync('invoice.macaroon').toString('hex'),
 *   tlsCert: readFileSync('tls.cert', 'utf8') });
 * ```
 * An `invoice.macaroon` (invoices read/write) is all it needs; never give a merchant app the admin one.
 *
 * `lndInvoices()` is the older form, kept so that existing code keeps working: invoices and
 * look-ups in LND's own terms, with the node itself as `.node`.
 */
import { GRPC, LndError } from '@tollway/lightning/lnd/client.js';
import { asLightningNodeError, createLndNode, type LndNode, type LndNodeOptions } from '@tollway/lightning/lnd/index.js';
import { LightningNodeError } from '@tollway/lightning/node.js';

export { createLndNode, type LndNode, type LndNodeOptions };

export interface LndInvoicesOptions extends LndNodeOptions {
  /** Milliseconds a call may take. Default 10 s. */
  timeoutMs?: number;
}

export interface IssuedInvoice {
  paymentRequest: string;
  /** Hex. */
  paymentHash: string;
}

export type InvoiceState = 'OPEN' | 'ACCEPTED' | 'SETTLED' | 'CANCELED';

export interface InvoiceStatus {
  paymentHash: string;
  state: InvoiceState;
  valueMsat: bigint;
  amtPaidMsat: bigint;
  /** Hex; LND returns it for invoices it issued. */
  preimage: string | null;
}

/** @deprecated Use a LightningNode (`createLndNode`); `node` is one. */
export interface LndInvoices {
  addInvoice(req: { valueMsat: bigint; memo?: string; expirySeconds?: number }): Promise<IssuedInvoice>;
  /** undefined: the node has no such invoice. */
  lookupInvoice(paymentHashHex: string): Promise<InvoiceStatus | undefined>;
  /** The same node as a LightningNode. */
  readonly node: LndNode;
}

/** @deprecated What the node throws now: a LightningNodeError (with `kind`, and LND's gRPC code as `nodeCode`). */
export const LndRequestError = LightningNodeError;

/** @deprecated `createLndNode(opts)`: `l402({ node })` takes it directly. */
export function lndInvoices(opts: LndInvoicesOptions): LndInvoices {
  const node = createLndNode({ ...opts, timeoutMs: opts.timeoutMs ?? 10_000 });
  return {
    node,
    async addInvoice({ valueMsat, memo, expirySeconds }) {
      const inv = await node.createInvoice({
        amountMsat: valueMsat,
        ...(memo !== undefined ? { memo } : {}),
        ...(expirySeconds !== undefined ? { expirySeconds } : {}),
      });
      return { paymentRequest: inv.bolt11, paymentHash: inv.paymentHash };
    },
    async lookupInvoice(paymentHashHex) {
      if (!/^[0-9a-fA-F]{64}$/.test(paymentHashHex)) throw new RangeError('a payment hash is 32 bytes of hex');
      try {
        const i = await node.lnd.lookupInvoice(paymentHashHex);
        return {
          paymentHash: i.paymentHash,
          state: i.state as InvoiceState,
          valueMsat: i.valueMsat,
          amtPaidMsat: i.amtPaidMsat,
          preimage: i.preimage,
        };
      } catch (err) {
        if (err instanceof LndError && err.grpcCode === GRPC.NOT_FOUND) return undefined;
        throw asLightningNodeError(err);
      }
    },
  };
}
