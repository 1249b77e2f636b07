import http from 'node:http';
import https from 'node:https';
import { exchange, TransportError } from '../exchange.js';

/**
 * A small client for the LNbits wallet API (docs/protocols.md, "LNbits"): JSON over HTTP with the
 * wallet key in `X-Api-Key`. It only carries requests; what a status means is the adapter's
 * business (./index.ts), since LNbits answers with plain HTTP statuses and `{"detail": …}`.
 */

/** `unreachable`: nothing reached LNbits (or, for a look-up, no answer in time). `broken`: cut off after it may have. */
export class LnbitsError extends Error {
  constructor(
    readonly kind: 'unreachable' | 'broken',
    message: string,
  ) {
    super(message);
    this.name = 'LnbitsError';
  }
}

export interface LnbitsAnswer {
  status: number;
  /** The parsed JSON body; undefined when it was not JSON. */
  body: unknown;
}

export interface LnbitsClient {
  request(
    method: 'GET' | 'POST',
    path: string,
    /** The wallet key for X-Api-Key; kept out of every error and URL. */
    key: string | undefined,
    body?: unknown,
    o?: { signal?: AbortSignal; timeoutMs?: number; readOnly?: boolean },
  ): Promise<LnbitsAnswer>;
}

/** `{"detail": …}` as text: LNbits' message for an error (a string, or FastAPI's list of problems). */
export function detailOf(body: unknown): string {
  const d = (body as { detail?: unknown } | undefined)?.detail;
  if (typeof d === 'string') return d;
  if (d !== undefined) return JSON.stringify(d).slice(0, 300);
  return '';
}

export function createLnbitsClient(opts: { url: string; timeoutMs?: number }): LnbitsClient {
  const base = new URL(opts.url);
  const secure = base.protocol === 'https:';
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const agent = secure ? new https.Agent({ keepAlive: false }) : new http.Agent({ keepAlive: false });
  const prefix = base.pathname.replace(/\/+$/, '');

  return {
    async request(method, path, key, body, o = {}) {
      const url = new URL(prefix + path, base);
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const headers: Record<string, string | number> = { accept: 'application/json' };
      if (key !== undefined) headers['X-Api-Key'] = key;
      if (payload) Object.assign(headers, { 'content-type': 'application/json', 'content-length': payload.length });
      // The path names a payment hash at most; never a key.
      const where = `LNbits ${method} ${url.pathname.split('/').slice(0, 5).join('/')}`;
      let answer: { status: number; text: string };
      try {
        answer = await exchange({
          url,
          method,
          agent,
          headers,
          ...(payload ? { payload } : {}),
          connectTimeoutMs: timeoutMs,
          answerTimeoutMs: o.timeoutMs ?? timeoutMs,
          ...(o.signal ? { signal: o.signal } : {}),
          ...(o.readOnly ? { readOnly: true } : {}),
        });
      } catch (err) {
        if (err instanceof TransportError) throw new LnbitsError(err.unreachable ? 'unreachable' : 'broken', `${where}: ${err.message}`);
        throw err;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(answer.text);
      } catch {
        parsed = undefined;
      }
      return { status: answer.status, body: parsed };
    },
  };
}
