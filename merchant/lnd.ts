/**
 * A tiny client for a merchant's own LND (REST): issue an invoice, look one up. Enough for the
 * L402 middleware (merchant/l402.ts); merchants install the kit without the hub, so it stands alone.
 *
 * @example
 * ```ts
 * const invoices = lndInvoices({ url: 'https://127.0.0.1:8080', macaroonHex: readFileSync('invoice.macaroon').toString('hex'),
 *   tlsCert: readFileSync('tls.cert', 'utf8') });
 * ```
 * An `invoice.macaroon` (invoices read/write) is all it needs; never give a merchant app the admin one.
 */
import http from 'node:http';
import https from 'node:https';

export interface LndInvoicesOptions {
  /** LND's REST address, e.g. https://127.0.0.1:8080. */
  url: string;
  /** The macaroon in hex; sent as `Grpc-Metadata-macaroon`, never logged. */
  macaroonHex: string;
  /** PEM of LND's self-signed tls.cert: the only certificate trusted for this node. */
  tlsCert?: string;
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

export interface LndInvoices {
  addInvoice(req: { valueMsat: bigint; memo?: string; expirySeconds?: number }): Promise<IssuedInvoice>;
  /** undefined: the node has no such invoice. */
  lookupInvoice(paymentHashHex: string): Promise<InvoiceStatus | undefined>;
}

export class LndRequestError extends Error {
  constructor(
    message: string,
    /** gRPC status code when LND answered with one. */
    readonly grpcCode?: number,
    readonly httpStatus?: number,
  ) {
    super(message);
    this.name = 'LndRequestError';
  }
}

const b64ToHex = (s: unknown) => (typeof s === 'string' && s ? Buffer.from(s, 'base64').toString('hex') : '');
const int = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? BigInt(v) : 0n);

export function lndInvoices(opts: LndInvoicesOptions): LndInvoices {
  const base = new URL(opts.url);
  const secure = base.protocol === 'https:';
  const agent = secure ? new https.Agent({ ...(opts.tlsCert ? { ca: opts.tlsCert } : {}) }) : new http.Agent();
  const timeoutMs = opts.timeoutMs ?? 10_000;

  function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = (secure ? https : http).request(new URL(path, base), {
        method,
        agent,
        headers: {
          'Grpc-Metadata-macaroon': opts.macaroonHex,
          accept: 'application/json',
          ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
        },
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (err) => reject(new LndRequestError(`LND ${method} ${path.split('/').slice(0, 3).join('/')}: ${err.message}`)));
      req.on('response', (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('error', (err) => reject(new LndRequestError(`LND answer cut off: ${err.message}`)));
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(Buffer.concat(parts).toString('utf8'));
          } catch {
            return reject(new LndRequestError(`LND answered HTTP ${res.statusCode} without JSON`, undefined, res.statusCode));
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      });
      req.end(payload);
    });
  }

  const failure = (r: { status: number; json: unknown }) => {
    const e = r.json as { code?: unknown; message?: unknown } | undefined;
    return new LndRequestError(typeof e?.message === 'string' ? e.message : `LND answered HTTP ${r.status}`, typeof e?.code === 'number' ? e.code : undefined, r.status);
  };

  return {
    async addInvoice({ valueMsat, memo = '', expirySeconds = 3600 }) {
      if (valueMsat <= 0n) throw new RangeError('an L402 invoice needs an amount');
      const r = await call('POST', '/v1/invoices', { memo, value_msat: valueMsat.toString(), expiry: String(expirySeconds) });
      if (r.status !== 200) throw failure(r);
      const j = r.json as { r_hash?: string; payment_request?: string };
      const paymentHash = b64ToHex(j.r_hash);
      if (!/^[0-9a-f]{64}$/.test(paymentHash) || typeof j.payment_request !== 'string') throw new LndRequestError('LND answered AddInvoice without r_hash and payment_request');
      return { paymentRequest: j.payment_request, paymentHash };
    },
    async lookupInvoice(paymentHashHex) {
      if (!/^[0-9a-fA-F]{64}$/.test(paymentHashHex)) throw new RangeError('a payment hash is 32 bytes of hex');
      const r = await call('GET', `/v1/invoice/${paymentHashHex.toLowerCase()}`);
      if (r.status === 404) return undefined;
      if (r.status !== 200) throw failure(r);
      const j = r.json as Record<string, unknown>;
      const preimage = b64ToHex(j.r_preimage);
      return {
        paymentHash: b64ToHex(j.r_hash) || paymentHashHex.toLowerCase(),
        state: (typeof j.state === 'string' ? j.state : 'OPEN') as InvoiceState,
        valueMsat: int(j.value_msat),
        amtPaidMsat: int(j.amt_paid_msat),
        preimage: /^[0-9a-f]{64}$/.test(preimage) && !/^0+$/.test(preimage) ? preimage : null,
      };
    },
  };
}
