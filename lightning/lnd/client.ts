import http from 'node:http';
import https from 'node:https';
import { z } from 'zod';
import { asGrpcStatus, GrpcStatusError, results } from './json-stream.js';

/**
 * A small client for LND's REST interface (the grpc-gateway in front of its gRPC services), in
 * LND's own terms, just what the adapter (./index.ts) needs: who the node is, send and track a
 * payment, add, look up and follow invoices. It speaks the wire format of a real LND: the macaroon
 * in `Grpc-Metadata-macaroon` (hex), int64 as strings, bytes as base64 (in a URL path: base64url),
 * streams as newline-delimited `{"result": …}` (docs/protocols.md, "LND REST").
 */

/** gRPC status codes the adapter branches on. */
export const GRPC = { UNKNOWN: 2, NOT_FOUND: 5, ALREADY_EXISTS: 6, UNAUTHENTICATED: 16 } as const;

/**
 * - `unreachable`: no connection was made, so nothing reached the node.
 * - `refused`: the node answered with a gRPC status (`grpcCode`) instead of doing what was asked.
 * - `broken`: the exchange broke off after the request may have reached the node: outcome unknown.
 */
export type LndErrorKind = 'unreachable' | 'refused' | 'broken';

export class LndError extends Error {
  constructor(
    readonly kind: LndErrorKind,
    message: string,
    readonly grpcCode?: number,
    readonly httpStatus?: number,
  ) {
    super(message);
    this.name = 'LndError';
  }
}

export const isLndError = (e: unknown, kind?: LndErrorKind, grpcCode?: number): e is LndError =>
  e instanceof LndError && (kind === undefined || e.kind === kind) && (grpcCode === undefined || e.grpcCode === grpcCode);

export type LndPaymentStatus = 'UNKNOWN' | 'IN_FLIGHT' | 'SUCCEEDED' | 'FAILED' | 'INITIATED';

/** lnrpc.Payment, the fields the adapter reads. */
export interface LndPayment {
  paymentHash: string;
  status: LndPaymentStatus | string;
  /** Hex; null until the payment succeeded (LND sends 32 zero bytes meanwhile). */
  preimage: string | null;
  valueMsat: bigint;
  feeMsat: bigint;
  /** FAILURE_REASON_NO_ROUTE, …; null while none. */
  failureReason: string | null;
}

export interface LndInfo {
  identityPubkey: string;
  alias: string;
  version: string;
  /** mainnet, testnet, signet, regtest, simnet (from `chains[0].network`). */
  network: string | null;
  syncedToChain: boolean;
  blockHeight: number;
}

const Int64 = z.union([z.string().regex(/^-?\d+$/), z.number().int()]).transform((v) => BigInt(v));
const PaymentJson = z.object({
  payment_hash: z.string().default(''),
  status: z.string().default('UNKNOWN'),
  payment_preimage: z.string().default(''),
  value_msat: Int64.default(0n),
  fee_msat: Int64.default(0n),
  failure_reason: z.string().default('FAILURE_REASON_NONE'),
});
const InfoJson = z.object({
  identity_pubkey: z.string().default(''),
  alias: z.string().default(''),
  version: z.string().default(''),
  synced_to_chain: z.boolean().default(false),
  block_height: z.number().int().default(0),
  chains: z.array(z.object({ chain: z.string().default(''), network: z.string().default('') })).default([]),
});

const InvoiceJson = z.object({
  r_hash: z.string().default(''),
  r_preimage: z.string().default(''),
  payment_request: z.string().default(''),
  state: z.string().default('OPEN'),
  value_msat: Int64.default(0n),
  amt_paid_msat: Int64.default(0n),
  creation_date: Int64.default(0n),
  expiry: Int64.default(0n),
  settle_date: Int64.default(0n),
  add_index: Int64.default(0n),
  settle_index: Int64.default(0n),
});
const AddInvoiceJson = z.object({ r_hash: z.string().default(''), payment_request: z.string().default(''), add_index: Int64.default(0n) });

const ZERO_PREIMAGE = /^0*$/;
const HASH_HEX = /^[0-9a-f]{64}$/;
const b64ToHex = (s: string) => (s ? Buffer.from(s, 'base64').toString('hex') : '');

export function parsePayment(raw: unknown): LndPayment {
  const p = PaymentJson.parse(raw);
  const preimage =
    /^[0-9a-f]{64}$/i.test(p.payment_preimage) && !ZERO_PREIMAGE.test(p.payment_preimage) ? p.payment_preimage.toLowerCase() : null;
  return {
    paymentHash: p.payment_hash.toLowerCase(),
    status: p.status,
    preimage,
    valueMsat: p.value_msat,
    feeMsat: p.fee_msat,
    failureReason: p.failure_reason && p.failure_reason !== 'FAILURE_REASON_NONE' ? p.failure_reason : null,
  };
}

export type LndInvoiceState = 'OPEN' | 'ACCEPTED' | 'SETTLED' | 'CANCELED';

/** lnrpc.Invoice, the fields the adapter reads. */
export interface LndInvoice {
  /** Hex. */
  paymentHash: string;
  paymentRequest: string;
  state: LndInvoiceState | string;
  valueMsat: bigint;
  amtPaidMsat: bigint;
  /** Hex; LND keeps it for the invoices it issued. null when absent or all zeros. */
  preimage: string | null;
  /** Unix seconds. */
  creationDate: number;
  /** Seconds after creationDate. */
  expiry: number;
  /** Unix seconds; 0 until settled. */
  settleDate: number;
  addIndex: bigint;
  /** 0 until settled; then it orders the settlements (SubscribeInvoices resumes after one). */
  settleIndex: bigint;
}

export function parseInvoice(raw: unknown): LndInvoice {
  const j = InvoiceJson.parse(raw);
  const preimage = b64ToHex(j.r_preimage);
  return {
    paymentHash: b64ToHex(j.r_hash),
    paymentRequest: j.payment_request,
    state: j.state,
    valueMsat: j.value_msat,
    amtPaidMsat: j.amt_paid_msat,
    preimage: HASH_HEX.test(preimage) && !ZERO_PREIMAGE.test(preimage) ? preimage : null,
    creationDate: Number(j.creation_date),
    expiry: Number(j.expiry),
    settleDate: Number(j.settle_date),
    addIndex: j.add_index,
    settleIndex: j.settle_index,
  };
}

export interface LndClientOptions {
  /** https://host:8080 (LND's restlisten). */
  url: string;
  /** Hex of the macaroon bytes. Kept in this closure only: never in an error, a log or a URL. */
  macaroonHex: string;
  /** PEM of LND's self-signed tls.cert, trusted in addition to the system roots' absence. */
  tlsCert?: string;
  /** Milliseconds for a connection to open, and for a call that answers once to finish. */
  timeoutMs?: number;
}

export interface SendPaymentRequest {
  paymentRequest: string;
  /** How long LND keeps looking for a route. */
  timeoutSeconds: number;
  feeLimitMsat: bigint;
}

export interface AddInvoiceRequest {
  valueMsat: bigint;
  memo: string;
  expirySeconds: number;
  /** Hex, 32 bytes; LND makes one up when absent. */
  preimageHex?: string;
}

export interface LndClient {
  getInfo(): Promise<LndInfo>;
  /** SendPaymentV2: the node's updates for this payment, IN_FLIGHT first, until a final one. */
  sendPayment(req: SendPaymentRequest, signal?: AbortSignal): AsyncGenerator<LndPayment>;
  /** TrackPaymentV2: the current state first, then every change until a final one. */
  trackPayment(paymentHashHex: string, signal?: AbortSignal): AsyncGenerator<LndPayment>;
  /** AddInvoice. */
  addInvoice(req: AddInvoiceRequest): Promise<{ paymentHash: string; paymentRequest: string; addIndex: bigint }>;
  /** LookupInvoice; an unknown hash is a `refused` LndError with grpcCode NOT_FOUND. */
  lookupInvoice(paymentHashHex: string): Promise<LndInvoice>;
  /**
   * invoicesrpc CancelInvoice (needs `invoices:write`): an open invoice becomes CANCELED, one
   * already canceled is a success; a settled or unknown one is a `refused` LndError with LND's
   * words (`invoice already settled`, `unable to locate invoice`) and gRPC code UNKNOWN.
   */
  cancelInvoice(paymentHashHex: string): Promise<void>;
  /**
   * SubscribeInvoices: every invoice added or changing state from now on; with a non-zero
   * `settleIndex` (`addIndex`), first every invoice settled (added) after that index.
   */
  subscribeInvoices(from: { addIndex?: bigint; settleIndex?: bigint }, signal?: AbortSignal): AsyncGenerator<LndInvoice>;
}

export function createLndClient(opts: LndClientOptions): LndClient {
  const base = new URL(opts.url);
  const secure = base.protocol === 'https:';
  const timeoutMs = opts.timeoutMs ?? 15_000;
  // No keep-alive: a request on a socket the node already closed would fail in a way that looks
  // like "maybe sent"; a fresh connection per call makes "never connected" mean "never sent".
  const agent = secure
    ? new https.Agent({ keepAlive: false, ...(opts.tlsCert ? { ca: opts.tlsCert } : {}) })
    : new http.Agent({ keepAlive: false });
  const macaroon = opts.macaroonHex;

  function open(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
    whole: boolean,
  ): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const url = new URL(base.pathname.replace(/\/+$/, '') + path, base);
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const headers: Record<string, string | number> = { 'Grpc-Metadata-macaroon': macaroon, accept: 'application/json' };
      if (payload) Object.assign(headers, { 'content-type': 'application/json', 'content-length': payload.length });
      let connected = false;
      let done = false;
      const req = (secure ? https : http).request(url, { method, agent, headers });
      const connectTimer = setTimeout(() => req.destroy(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
      // A call that answers once must finish in time; a stream may stay open as long as LND keeps it.
      const wholeTimer = whole ? setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs) : undefined;
      const settle = () => {
        done = true;
        clearTimeout(connectTimer);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => req.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('socket', (socket) => {
        socket.once(secure ? 'secureConnect' : 'connect', () => {
          connected = true;
          clearTimeout(connectTimer);
        });
      });
      req.on('response', (res) => {
        settle();
        if (wholeTimer) res.once('end', () => clearTimeout(wholeTimer)).once('close', () => clearTimeout(wholeTimer));
        resolve(res);
      });
      req.on('error', (err) => {
        clearTimeout(wholeTimer);
        if (done) return;
        settle();
        if (signal?.aborted) return reject(signal.reason);
        reject(
          new LndError(
            connected ? 'broken' : 'unreachable',
            `LND ${method} ${url.pathname.split('/').slice(0, 4).join('/')}: ${err.message}`,
          ),
        );
      });
      req.end(payload);
    });
  }

  async function readText(res: http.IncomingMessage): Promise<string> {
    const parts: Buffer[] = [];
    try {
      for await (const c of res) parts.push(c as Buffer);
    } catch (err) {
      throw new LndError('broken', `LND answer cut off: ${(err as Error).message}`, undefined, res.statusCode);
    }
    return Buffer.concat(parts).toString('utf8');
  }

  /** A non-200 answer: LND's own gRPC status when it sent one, otherwise a proxy or worse. */
  async function failure(res: http.IncomingMessage): Promise<LndError> {
    const text = await readText(res).catch(() => '');
    let json: unknown;
    try {
      json = JSON.parse(text.split('\n')[0] ?? '');
    } catch {
      json = undefined;
    }
    // Unary errors are {code, message, details}; a stream that fails before its first message
    // answers {"error": {code, message, details}} with the status mapped from the code.
    const status = asGrpcStatus(json) ?? asGrpcStatus((json as { error?: unknown } | undefined)?.error);
    if (status) return new LndError('refused', status.message || `gRPC status ${status.code}`, status.code, res.statusCode);
    return new LndError('broken', `LND answered HTTP ${res.statusCode} without a gRPC status`, undefined, res.statusCode);
  }

  async function unary(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const res = await open(method, path, body, undefined, true);
    if (res.statusCode !== 200) throw await failure(res);
    const text = await readText(res);
    try {
      return JSON.parse(text);
    } catch {
      throw new LndError('broken', 'LND answered something that is not JSON', undefined, res.statusCode);
    }
  }

  async function* stream<T>(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
    parse: (raw: unknown) => T,
  ): AsyncGenerator<T> {
    const res = await open(method, path, body, signal, false);
    // Aborting must also end a stream that is already flowing (the hub closing, a wait given up).
    const onAbort = () => res.destroy(new Error('aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (signal?.aborted) throw signal.reason;
      if (res.statusCode !== 200) throw await failure(res);
      try {
        for await (const r of results(res)) yield parse(r);
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (err instanceof GrpcStatusError) throw new LndError('refused', err.message, err.status.code, res.statusCode);
        if (err instanceof LndError) throw err;
        throw new LndError('broken', `LND stream cut off: ${(err as Error).message}`, undefined, res.statusCode);
      }
      if (!res.complete) throw new LndError('broken', 'LND stream cut off', undefined, res.statusCode);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      res.destroy();
    }
  }

  return {
    async getInfo() {
      const j = InfoJson.parse(await unary('GET', '/v1/getinfo'));
      return {
        identityPubkey: j.identity_pubkey,
        alias: j.alias,
        version: j.version,
        network: j.chains[0]?.network || null,
        syncedToChain: j.synced_to_chain,
        blockHeight: j.block_height,
      };
    },
    sendPayment(req, signal) {
      return stream(
        'POST',
        '/v2/router/send',
        {
          payment_request: req.paymentRequest,
          timeout_seconds: req.timeoutSeconds,
          fee_limit_msat: req.feeLimitMsat.toString(),
          no_inflight_updates: false,
        },
        signal,
        parsePayment,
      );
    },
    trackPayment(paymentHashHex, signal) {
      // The gateway reads a bytes field in the path as base64 (URL-safe accepted), not hex.
      const hash = Buffer.from(paymentHashHex, 'hex').toString('base64url');
      return stream('GET', `/v2/router/track/${hash}?no_inflight_updates=false`, undefined, signal, parsePayment);
    },
    async addInvoice(req) {
      const j = AddInvoiceJson.parse(
        await unary('POST', '/v1/invoices', {
          memo: req.memo,
          value_msat: req.valueMsat.toString(),
          expiry: String(req.expirySeconds),
          ...(req.preimageHex ? { r_preimage: Buffer.from(req.preimageHex, 'hex').toString('base64') } : {}),
        }),
      );
      const paymentHash = b64ToHex(j.r_hash);
      if (!HASH_HEX.test(paymentHash) || !j.payment_request)
        throw new LndError('broken', 'LND answered AddInvoice without r_hash and payment_request', undefined, 200);
      return { paymentHash, paymentRequest: j.payment_request, addIndex: j.add_index };
    },
    async lookupInvoice(paymentHashHex) {
      // LookupInvoice takes the hash as hex in the path (r_hash_str).
      const inv = parseInvoice(await unary('GET', `/v1/invoice/${paymentHashHex.toLowerCase()}`));
      return { ...inv, paymentHash: inv.paymentHash || paymentHashHex.toLowerCase() };
    },
    async cancelInvoice(paymentHashHex) {
      // A bytes field in a JSON body is standard base64.
      await unary('POST', '/v2/invoices/cancel', { payment_hash: Buffer.from(paymentHashHex, 'hex').toString('base64') });
    },
    subscribeInvoices(from, signal) {
      const q = new URLSearchParams({ add_index: String(from.addIndex ?? 0n), settle_index: String(from.settleIndex ?? 0n) });
      return stream('GET', `/v1/invoices/subscribe?${q}`, undefined, signal, parseInvoice);
    },
  };
}
