/**
 * The raw request body, for bindings that include `body` (its sha256 goes into `rqh`). The hash
 * must be over the exact bytes the client sent, so a body parser's object is no use. In order:
 *
 * 1. `req.rawBody`, kept by a body parser that ran before the paywall with `verify: keepRawBody`
 *    (e.g. `app.use(express.json({verify: keepRawBody}))`);
 * 2. `req.body` when it is a Buffer (`express.raw()` ran before);
 * 3. the stream itself when nothing read it yet: the paywall reads it (up to a limit), keeps it in
 *    `req.rawBody`, and sets `req.body` to the parsed JSON (application/json and +json), the text
 *    (text/*), or the Buffer, so routes after it work without a parser. A body parser placed after
 *    the paywall sees a finished stream and leaves `req.body` alone.
 *
 * A body parser that consumed the stream before the paywall without `keepRawBody` is a
 * configuration error, reported as such (the route answers 500), never guessed around.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

type BodyRequest = IncomingMessage & { rawBody?: unknown; body?: unknown; _body?: boolean };

/** `verify` hook for express.json / express.urlencoded / express.text / body-parser. */
export function keepRawBody(req: IncomingMessage, _res: unknown, buf: Buffer): void {
  (req as BodyRequest).rawBody = Buffer.from(buf);
}

export class BodyUnavailableError extends Error {
  override name = 'BodyUnavailableError';
}
export class BodyTooLargeError extends Error {
  override name = 'BodyTooLargeError';
}

function declaresBody(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (len !== undefined && len !== '0');
}

export async function rawBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const r = req as BodyRequest;
  if (Buffer.isBuffer(r.rawBody)) return r.rawBody;
  if (Buffer.isBuffer(r.body)) return r.body;
  if (r.readableEnded || r._body === true) {
    if (!declaresBody(req)) return Buffer.alloc(0);
    throw new BodyUnavailableError(
      "paywall: bind includes 'body' but a body parser read the request before the paywall without keeping the raw bytes; " +
        'use express.json({verify: keepRawBody}) (from the merchant kit) or put the paywall before the body parser',
    );
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLargeError(`request body over ${limit} bytes`);
  const buf = await readStream(req, limit);
  r.rawBody = buf;
  if (r.body === undefined && buf.length) r.body = parseForRoute(req, buf);
  r._body = true; // body-parser 1.x (Express 4) skips requests marked parsed
  return buf;
}

/** Reads the stream with listeners (not for-await: leaving that early would destroy the socket). */
function readStream(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    const onData = (chunk: Buffer | string) => {
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      size += b.length;
      if (size > limit) {
        cleanup();
        req.resume(); // drain the rest so the answer can still be sent
        reject(new BodyTooLargeError(`request body over ${limit} bytes`));
        return;
      }
      chunks.push(b);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onAborted = () => onError(new Error('request aborted'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

function parseForRoute(req: IncomingMessage, buf: Buffer): unknown {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json' || type.endsWith('+json')) {
    try {
      return JSON.parse(buf.toString('utf8'));
    } catch {
      return buf;
    }
  }
  if (type.startsWith('text/')) return buf.toString('utf8');
  return buf;
}

export function sha256Hex(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}
