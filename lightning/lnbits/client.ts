import http from 'node:http';
import https from 'node:https';

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
    request(method, path, key, body, o = {}) {
      const limit = o.timeoutMs ?? timeoutMs;
      const signal = o.signal;
      return new Promise((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const url = new URL(prefix + path, base);
        const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
        const headers: Record<string, string | number> = { accept: 'application/json' };
        if (key !== undefined) headers['X-Api-Key'] = key;
        if (payload) Object.assign(headers, { 'content-type': 'application/json', 'content-length': payload.length });
        // The path names a payment hash at most; never a key.
        const where = `LNbits ${method} ${url.pathname.split('/').slice(0, 5).join('/')}`;
        let connected = false;
        let timedOut = false;
        const req = (secure ? https : http).request(url, { method, agent, headers });
        const connectTimer = setTimeout(() => req.destroy(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
        const answerTimer = setTimeout(() => {
          timedOut = true;
          req.destroy(new Error(`no answer within ${limit} ms`));
        }, limit);
        const onAbort = () => req.destroy(new Error('aborted'));
        signal?.addEventListener('abort', onAbort, { once: true });
        const done = () => {
          clearTimeout(connectTimer);
          clearTimeout(answerTimer);
          signal?.removeEventListener('abort', onAbort);
        };
        const fail = (err: Error) => {
          done();
          if (signal?.aborted) return reject(signal.reason);
          reject(new LnbitsError(!connected || (timedOut && o.readOnly) ? 'unreachable' : 'broken', `${where}: ${err.message}`));
        };
        req.on('socket', (socket) => {
          socket.once(secure ? 'secureConnect' : 'connect', () => {
            connected = true;
            clearTimeout(connectTimer);
          });
        });
        req.on('error', fail);
        req.on('response', (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('error', fail);
          res.on('aborted', () => fail(new Error('answer cut off')));
          res.on('end', () => {
            if (!res.complete) return fail(new Error('answer cut off'));
            done();
            let parsed: unknown;
            try {
              parsed = JSON.parse(Buffer.concat(parts).toString('utf8'));
            } catch {
              parsed = undefined;
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        });
        req.end(payload);
      });
    },
  };
}
