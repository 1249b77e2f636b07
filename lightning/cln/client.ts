import http from 'node:http';
import https from 'node:https';
import { exchange, TransportError } from '../exchange.js';

/**
 * A small client for Core Lightning's `clnrest` (docs/protocols.md, "Core Lightning clnrest"):
 * every RPC method is `POST /v1/<method>` with a JSON object of named parameters and the rune in a
 * `Rune` header. Success is HTTP 201 with the method's raw result; failure is `{code, message,
 * data}` with lightningd's own error code (rune failures 1501/1502, an unknown method -32601).
 */

/**
 * - `unreachable`: nothing reached the node (no connection; or, for a call that changes nothing,
 *   no answer in time).
 * - `refused`: the node answered with an error (`code`) instead of a result.
 * - `broken`: the exchange broke off after the request may have reached the node: outcome unknown.
 */
export type ClnErrorKind = 'unreachable' | 'refused' | 'broken';

export class ClnError extends Error {
  constructor(
    readonly kind: ClnErrorKind,
    message: string,
    /** lightningd's error code (900, 205, -32602…), or clnrest's for a rune (1501, 1502). */
    readonly code?: number,
    readonly httpStatus?: number,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = 'ClnError';
  }
}

/** lightningd error codes the adapter branches on (common/jsonrpc_errors.h). */
export const CLN = {
  INVALID_PARAMS: -32602,
  METHOD_NOT_FOUND: -32601,
  PAY_IN_PROGRESS: 200,
  PAY_RHASH_ALREADY_USED: 201,
  PAY_DESTINATION_PERM_FAIL: 203,
  PAY_ROUTE_NOT_FOUND: 205,
  PAY_ROUTE_TOO_EXPENSIVE: 206,
  PAY_INVOICE_EXPIRED: 207,
  PAY_UNSPECIFIED_ERROR: 209,
  PAY_STOPPED_RETRYING: 210,
  XPAY_ALREADY_PAID: 219,
  INVOICE_LABEL_ALREADY_EXISTS: 900,
  INVOICE_PREIMAGE_ALREADY_EXISTS: 901,
  INVOICE_WAIT_TIMED_OUT: 904,
  INVOICE_NOT_FOUND: 905,
  INVOICE_STATUS_UNEXPECTED: 906,
  RUNE_MISSING: 1501,
  RUNE_INVALID: 1502,
} as const;

export interface ClnClientOptions {
  /** clnrest's address, https://host:3010 (clnrest-port). */
  url: string;
  /** The rune, sent as `Rune`. Kept in this closure only: never in an error, a log or a URL. */
  rune: string;
  /** PEM of clnrest's `ca.pem`: the only certificate authority trusted for this node. */
  caCert?: string;
  /** Milliseconds for a connection to open, and for a call that is not a long-poll to answer. */
  timeoutMs?: number;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** How long this call may take, instead of the client's timeout (long-polls). */
  timeoutMs?: number;
  /** The call changes nothing at the node (a look-up): no answer in time is then `unreachable`. */
  readOnly?: boolean;
}

export interface ClnClient {
  /** Calls an RPC method; resolves with its raw result, or throws a ClnError. */
  call(method: string, params: Record<string, unknown>, opts?: CallOptions): Promise<unknown>;
}

export function createClnClient(opts: ClnClientOptions): ClnClient {
  const base = new URL(opts.url);
  const secure = base.protocol === 'https:';
  const timeoutMs = opts.timeoutMs ?? 15_000;
  // No keep-alive, as for LND: "never connected" must mean "never sent".
  const agent = secure
    ? new https.Agent({
        keepAlive: false,
        ...(opts.caCert
          ? {
              ca: opts.caCert,
              // clnrest's certificate is signed by the node's own CA (ca.pem), which signs nothing
              // else, and names `cln`/`localhost` rather than the address it is reached at: the CA
              // is what identifies the node, so the host name is not checked against it.
              checkServerIdentity: () => undefined,
            }
          : {}),
      })
    : new http.Agent({ keepAlive: false });
  const rune = opts.rune;

  return {
    async call(method, params, o = {}) {
      const url = new URL(`${base.pathname.replace(/\/+$/, '')}/v1/${method}`, base);
      const payload = Buffer.from(JSON.stringify(params));
      const where = `CLN ${method}`;
      let answer: { status: number; text: string };
      try {
        answer = await exchange({
          url,
          method: 'POST',
          agent,
          headers: { Rune: rune, 'content-type': 'application/json', 'content-length': payload.length, accept: 'application/json' },
          payload,
          connectTimeoutMs: timeoutMs,
          answerTimeoutMs: o.timeoutMs ?? timeoutMs,
          ...(o.signal ? { signal: o.signal } : {}),
          ...(o.readOnly ? { readOnly: true } : {}),
        });
      } catch (err) {
        if (err instanceof TransportError) throw new ClnError(err.unreachable ? 'unreachable' : 'broken', `${where}: ${err.message}`);
        throw err;
      }
      let body: unknown;
      try {
        body = JSON.parse(answer.text);
      } catch {
        throw new ClnError('broken', `${where}: HTTP ${answer.status} with an answer that is not JSON`, undefined, answer.status);
      }
      if (answer.status === 201) return body;
      const e = body as { code?: unknown; message?: unknown; data?: unknown } | null;
      if (e && typeof e === 'object' && typeof e.code === 'number') {
        const message = typeof e.message === 'string' && e.message ? e.message : `error ${e.code}`;
        throw new ClnError('refused', `${where}: ${message}`, e.code, answer.status, e.data ?? undefined);
      }
      throw new ClnError('broken', `${where}: HTTP ${answer.status} without an error code`, undefined, answer.status);
    },
  };
}

/** A `*_msat` field: a JSON integer (older releases wrote `"1000msat"`). */
export function msat(v: unknown): bigint | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string' && /^\d{1,20}(msat)?$/.test(v)) return BigInt(v.replace('msat', ''));
  return undefined;
}
