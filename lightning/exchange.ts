import http from 'node:http';
import https from 'node:https';

/**
 * The request failed before a whole answer came back. `unreachable`: nothing reached the node (no
 * connection), or a read-only call timed out, so trying again is safe; otherwise the node may
 * have acted on it and the outcome is unknown.
 */
export class TransportError extends Error {
  constructor(
    readonly unreachable: boolean,
    message: string,
  ) {
    super(message);
  }
}

export interface Exchange {
  url: URL;
  method: string;
  agent: http.Agent;
  headers: Record<string, string | number>;
  payload?: Buffer;
  /** Milliseconds to connect (TLS included). */
  connectTimeoutMs: number;
  /** Milliseconds for the whole answer. */
  answerTimeoutMs: number;
  signal?: AbortSignal;
  readOnly?: boolean;
}

/**
 * One HTTP request to a node's REST API and its whole answer as text. Rejects with a TransportError
 * (or the signal's reason once aborted); any status is an answer, for the adapter to read.
 */
export function exchange(o: Exchange): Promise<{ status: number; text: string }> {
  const { signal } = o;
  const secure = o.url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    let connected = false;
    let timedOut = false;
    const req = (secure ? https : http).request(o.url, { method: o.method, agent: o.agent, headers: o.headers });
    const connectTimer = setTimeout(() => req.destroy(new Error(`no connection within ${o.connectTimeoutMs} ms`)), o.connectTimeoutMs);
    const answerTimer = setTimeout(() => {
      timedOut = true;
      req.destroy(new Error(`no answer within ${o.answerTimeoutMs} ms`));
    }, o.answerTimeoutMs);
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
      reject(new TransportError(!connected || (timedOut && Boolean(o.readOnly)), err.message));
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
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') });
      });
    });
    req.end(o.payload);
  });
}
