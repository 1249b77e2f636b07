/**
 * The LND REST client's stream reading and error classification. The classification decides
 * whether a payment may have left the node, so each kind is produced by a real HTTP exchange.
 */
import http, { type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { GrpcStatusError, lines, results, StreamFormatError } from '../../lightning/lnd/json-stream.js';
import { createLndClient, GRPC, LndError, parsePayment } from '../../lightning/lnd/client.js';
import { freePort } from '../helpers/hub.js';

async function* chunks(...parts: (string | Uint8Array)[]): AsyncGenerator<string | Uint8Array> {
  for (const p of parts) yield p;
}
async function all<T>(g: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of g) out.push(v);
  return out;
}

describe('LND REST stream parsing', () => {
  it('joins lines split across chunks, in the middle of a line and of a UTF-8 character', async () => {
    const text = '{"result":{"memo":"café ☕"}}\n{"result":{"n":2}}\n';
    const bytes = Buffer.from(text, 'utf8');
    const cut1 = text.indexOf('é') + 1; // inside the two bytes of é
    const parts = [bytes.subarray(0, 3), bytes.subarray(3, cut1), bytes.subarray(cut1, cut1 + 5), bytes.subarray(cut1 + 5)];
    expect(await all(results(chunks(...parts)))).toEqual([{ memo: 'café ☕' }, { n: 2 }]);
    // One byte at a time.
    expect(await all(results(chunks(...[...bytes].map((b) => Uint8Array.of(b)))))).toEqual([{ memo: 'café ☕' }, { n: 2 }]);
  });

  it('reads a last line without a newline, CRLF line ends, and skips blank lines', async () => {
    expect(await all(lines(chunks('a\r\n\n', '  \n', 'b')))).toEqual(['a', 'b']);
    expect(await all(results(chunks('{"result":1}\r\n\r\n{"result":', '2}')))).toEqual([1, 2]);
  });

  it('turns an error object into a gRPC status after the results before it', async () => {
    const got: unknown[] = [];
    const err = await (async () => {
      for await (const r of results(
        chunks('{"result":{"status":"IN_FLIGHT"}}\n{"error":{"code":2,"message":"router shut', 'ting down","details":[]}}\n'),
      ))
        got.push(r);
    })().catch((e: unknown) => e);
    expect(got).toEqual([{ status: 'IN_FLIGHT' }]);
    expect(err).toBeInstanceOf(GrpcStatusError);
    expect((err as GrpcStatusError).status).toEqual({ code: 2, message: 'router shutting down' });
  });

  it('refuses what is not LND stream JSON', async () => {
    await expect(all(results(chunks('<html>502</html>\n')))).rejects.toBeInstanceOf(StreamFormatError);
    await expect(all(results(chunks('{"something":1}\n')))).rejects.toBeInstanceOf(StreamFormatError);
  });

  it('reads payments as LND writes them: int64 strings, a zero preimage while unpaid', () => {
    const inflight = parsePayment({
      payment_hash: 'AB'.repeat(32),
      status: 'IN_FLIGHT',
      payment_preimage: '0'.repeat(64),
      value_msat: '1500',
      fee_msat: '0',
      failure_reason: 'FAILURE_REASON_NONE',
    });
    expect(inflight).toEqual({
      paymentHash: 'ab'.repeat(32),
      status: 'IN_FLIGHT',
      preimage: null,
      valueMsat: 1500n,
      feeMsat: 0n,
      failureReason: null,
    });
    const done = parsePayment({
      payment_hash: 'ab'.repeat(32),
      status: 'SUCCEEDED',
      payment_preimage: 'cd'.repeat(32),
      value_msat: '9007199254740993',
      fee_msat: '12',
    });
    expect(done).toMatchObject({ preimage: 'cd'.repeat(32), valueMsat: 9_007_199_254_740_993n, feeMsat: 12n });
    // The old TrackPayment shape has only a state: still read, never taken for final.
    expect(parsePayment({ state: 'SUCCEEDED' }).status).toBe('UNKNOWN');
  });
});

async function serve(handler: RequestListener): Promise<{ url: string; close(): Promise<void>; seen: http.IncomingHttpHeaders[] }> {
  const seen: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers);
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

const send = (url: string) =>
  all(
    createLndClient({ url, macaroonHex: 'beef', timeoutMs: 2000 }).sendPayment({
      paymentRequest: 'lnbcrt1…',
      timeoutSeconds: 30,
      feeLimitMsat: 1000n,
    }),
  );
const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as LndError,
  );

describe('LND REST client over HTTP', () => {
  it('sends the macaroon header and the request as LND reads it, and follows a chunked stream', async () => {
    let body = '';
    const srv = await serve((req, res) => {
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        const pay = (status: string, preimage = '0'.repeat(64)) =>
          JSON.stringify({ result: { payment_hash: 'aa'.repeat(32), status, payment_preimage: preimage, value_msat: '1000' } }) + '\n';
        const both = pay('IN_FLIGHT') + pay('SUCCEEDED', 'bb'.repeat(32));
        res.write(both.slice(0, 37));
        setTimeout(() => res.end(both.slice(37)), 20);
      });
    });
    try {
      const updates = await send(srv.url);
      expect(updates.map((u) => u.status)).toEqual(['IN_FLIGHT', 'SUCCEEDED']);
      expect(updates[1]!.preimage).toBe('bb'.repeat(32));
      expect(srv.seen[0]!['grpc-metadata-macaroon']).toBe('beef');
      expect(JSON.parse(body)).toEqual({
        payment_request: 'lnbcrt1…',
        timeout_seconds: 30,
        fee_limit_msat: '1000',
        no_inflight_updates: false,
      });
    } finally {
      await srv.close();
    }
  });

  it('tracks by the base64url payment hash in the path, as the gateway reads bytes', async () => {
    let path = '';
    const srv = await serve((req, res) => {
      path = req.url ?? '';
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ code: 5, message: "payment isn't initiated", details: [] }));
    });
    try {
      const hash = 'fb'.repeat(32);
      const err = await failure(all(createLndClient({ url: srv.url, macaroonHex: 'beef' }).trackPayment(hash)));
      expect(path).toBe(`/v2/router/track/${Buffer.from(hash, 'hex').toString('base64url')}?no_inflight_updates=false`);
      expect(err).toMatchObject({ kind: 'refused', grpcCode: GRPC.NOT_FOUND, httpStatus: 404 });
    } finally {
      await srv.close();
    }
  });

  it('classifies: a gRPC status before any update is a refusal, in either JSON shape', async () => {
    for (const shape of [
      { code: 6, message: 'invoice is already paid', details: [] },
      { error: { code: 6, message: 'invoice is already paid', details: [] } },
    ]) {
      const srv = await serve((_req, res) => res.writeHead(409, { 'content-type': 'application/json' }).end(JSON.stringify(shape)));
      try {
        expect(await failure(send(srv.url))).toMatchObject({
          kind: 'refused',
          grpcCode: GRPC.ALREADY_EXISTS,
          message: 'invoice is already paid',
        });
      } finally {
        await srv.close();
      }
    }
  });

  it('classifies: a proxy error page or a stream cut off mid-way is broken (outcome unknown)', async () => {
    const proxy = await serve((_req, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad Gateway</html>'));
    const cut = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(JSON.stringify({ result: { payment_hash: 'aa'.repeat(32), status: 'IN_FLIGHT' } }) + '\n', () =>
        setImmediate(() => res.socket?.destroy()),
      );
    });
    try {
      expect(await failure(send(proxy.url))).toMatchObject({ kind: 'broken', httpStatus: 502 });
      const seen: string[] = [];
      const err = await failure(
        (async () => {
          for await (const u of createLndClient({ url: cut.url, macaroonHex: 'beef' }).sendPayment({
            paymentRequest: 'x',
            timeoutSeconds: 1,
            feeLimitMsat: 0n,
          }))
            seen.push(u.status);
        })(),
      );
      expect(seen).toEqual(['IN_FLIGHT']);
      expect(err).toMatchObject({ kind: 'broken' });
    } finally {
      await proxy.close();
      await cut.close();
    }
  });

  it('classifies: no connection at all is unreachable (nothing was sent)', async () => {
    const port = await freePort();
    const err = await failure(send(`http://127.0.0.1:${port}`));
    expect(err).toBeInstanceOf(LndError);
    expect(err).toMatchObject({ kind: 'unreachable' });
    expect(String((err as Error).message)).not.toContain('beef');
  });

  it('ends a flowing stream when its signal aborts', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(JSON.stringify({ result: { payment_hash: 'aa'.repeat(32), status: 'IN_FLIGHT' } }) + '\n');
    });
    try {
      const ctl = new AbortController();
      const updates = createLndClient({ url: srv.url, macaroonHex: 'beef' }).trackPayment('aa'.repeat(32), ctl.signal);
      expect((await updates.next()).value?.status).toBe('IN_FLIGHT');
      const next = updates.next();
      ctl.abort();
      await expect(next).rejects.toThrow();
    } finally {
      await srv.close();
    }
  });
});
