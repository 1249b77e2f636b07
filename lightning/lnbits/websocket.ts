import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';

/**
 * Just enough of a WebSocket client (RFC 6455) to read LNbits' wallet notifications: open, read
 * text messages, answer pings, close. Node 20 has no WebSocket client of its own, and the package
 * should not need one for a feed this small.
 */

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** The most one message may hold: a Payment object is a few KiB. */
const MAX_MESSAGE = 1 << 20;

export class WebSocketError extends Error {
  constructor(
    message: string,
    /** Whether the connection was ever open (before it: nothing reached the server). */
    readonly opened: boolean,
    readonly httpStatus?: number,
  ) {
    super(message);
    this.name = 'WebSocketError';
  }
}

/** A client frame: always masked. */
function frame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const head = payload.length < 126 ? Buffer.from([0x80 | opcode, 0x80 | payload.length]) : Buffer.from([0x80 | opcode, 0x80 | 126, 0, 0]);
  if (payload.length >= 126) head.writeUInt16BE(payload.length, 2);
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  return Buffer.concat([head, mask, body]);
}

/**
 * The text messages of the WebSocket at `url` (ws: or wss:), until `signal` aborts (then it ends
 * quietly). A closed or broken connection, or a refused upgrade, throws WebSocketError.
 */
export async function* webSocketMessages(url: URL, o: { signal: AbortSignal; timeoutMs: number }): AsyncGenerator<string> {
  const secure = url.protocol === 'wss:';
  const target = new URL(url);
  target.protocol = secure ? 'https:' : 'http:';
  const key = randomBytes(16).toString('base64');
  const socket = await new Promise<Duplex & { destroy(): void }>((resolve, reject) => {
    if (o.signal.aborted) return reject(o.signal.reason);
    const req = (secure ? https : http).request(target, {
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': key },
      agent: false,
    });
    const where = `WebSocket ${target.pathname.split('/').slice(0, 4).join('/')}/…`;
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${o.timeoutMs} ms`)), o.timeoutMs);
    const onAbort = () => req.destroy(new Error('aborted'));
    o.signal.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      o.signal.removeEventListener('abort', onAbort);
    };
    req.on('error', (err) => {
      done();
      reject(o.signal.aborted ? o.signal.reason : new WebSocketError(`${where}: ${err.message}`, false));
    });
    req.on('response', (res) => {
      done();
      res.resume();
      reject(new WebSocketError(`${where}: HTTP ${res.statusCode} instead of an upgrade`, false, res.statusCode));
    });
    req.on('upgrade', (res, sock, head) => {
      done();
      const accept = createHash('sha1')
        .update(key + GUID)
        .digest('base64');
      if (res.headers['sec-websocket-accept'] !== accept) {
        sock.destroy();
        return reject(new WebSocketError(`${where}: the server did not accept the WebSocket key`, false, res.statusCode));
      }
      if (head.length) sock.unshift(head);
      resolve(sock);
    });
    req.end();
  });

  const messages: string[] = [];
  let failure: Error | undefined;
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  let buf: Buffer = Buffer.alloc(0);
  let parts: Buffer[] = [];
  let partsLength = 0;
  const fail = (message: string) => {
    failure ??= new WebSocketError(message, true);
    socket.destroy();
    notify();
  };

  socket.on('data', (chunk: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    for (;;) {
      if (buf.length < 2) return;
      const fin = (buf[0]! & 0x80) !== 0;
      const opcode = buf[0]! & 0x0f;
      const masked = (buf[1]! & 0x80) !== 0;
      let len = buf[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        const big = buf.readBigUInt64BE(2);
        if (big > BigInt(MAX_MESSAGE)) return fail('a message over the size limit');
        len = Number(big);
        at = 10;
      }
      if (len > MAX_MESSAGE) return fail('a message over the size limit');
      const maskAt = at;
      if (masked) at += 4;
      if (buf.length < at + len) return;
      let payload = buf.subarray(at, at + len);
      if (masked) payload = Buffer.from(payload.map((b, i) => b ^ buf[maskAt + (i % 4)]!));
      buf = buf.subarray(at + len);
      if (opcode === 0x8) {
        socket.end(frame(0x8, Buffer.alloc(0)));
        return fail(`the server closed the WebSocket${payload.length >= 2 ? ` (${payload.readUInt16BE(0)})` : ''}`);
      }
      if (opcode === 0x9) {
        socket.write(frame(0xa, payload));
        continue;
      }
      if (opcode === 0xa) continue;
      if (opcode !== 0x0 && opcode !== 0x1 && opcode !== 0x2) return fail(`an unknown WebSocket opcode ${opcode}`);
      partsLength += payload.length;
      if (partsLength > MAX_MESSAGE) return fail('a message over the size limit');
      parts.push(Buffer.from(payload));
      if (!fin) continue;
      const text = Buffer.concat(parts).toString('utf8');
      parts = [];
      partsLength = 0;
      messages.push(text);
      notify();
    }
  });
  socket.on('error', (err) => fail(`WebSocket broke: ${err.message}`));
  socket.on('close', () => {
    ended = true;
    if (!failure) failure = new WebSocketError('the WebSocket closed', true);
    notify();
  });
  const onAbort = () => {
    socket.destroy();
    notify();
  };
  o.signal.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      if (o.signal.aborted) return;
      const m = messages.shift();
      if (m !== undefined) {
        yield m;
        continue;
      }
      if (failure || ended) throw failure ?? new WebSocketError('the WebSocket closed', true);
      await new Promise<void>((r) => {
        wake = r;
      });
    }
  } finally {
    o.signal.removeEventListener('abort', onAbort);
    socket.destroy();
  }
}
