/**
 * What the CLN and LNbits adapters make of answers the stand-ins give rarely or never: error codes
 * and statuses each documentation lists, long-poll timeouts, pending payments, older answer shapes,
 * and WebSocket framing. Each case scripts a real HTTP server.
 */
import { createHash } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createClnNode, createLnbitsNode, isLightningNodeError, readLnbitsWebhook } from '../../lightning/index.js';
import { makeInvoice } from '../../devnet/lnd.js';

type Handler = (req: IncomingMessage, body: Record<string, unknown>, res: ServerResponse) => void;
const servers: http.Server[] = [];
const upgraded: Socket[] = [];
afterEach(async () => {
  for (const s of upgraded.splice(0)) s.destroy();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function serve(handle: Handler, upgrade?: (req: IncomingMessage, socket: Socket) => void): Promise<string> {
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const text = Buffer.concat(parts).toString('utf8');
      handle(req, text ? (JSON.parse(text) as Record<string, unknown>) : {}, res);
    });
  });
  if (upgrade)
    server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
      upgraded.push(socket);
      upgrade(req, socket);
    });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
const send = (res: ServerResponse, status: number, body: unknown) =>
  res.writeHead(status, { 'content-type': 'application/json' }).end(typeof body === 'string' ? body : JSON.stringify(body));

async function outcome(p: Promise<unknown>): Promise<unknown> {
  try {
    return await p;
  } catch (err) {
    return isLightningNodeError(err) ? `error:${err.kind}` : `threw:${String(err)}`;
  }
}

const invoice = makeInvoice({ valueMsat: 10_000n });
const preimage = invoice.preimageHex;

describe('CLN adapter', () => {
  /** A clnrest that answers `listpays` with no pays, and `pay` as told. */
  const clnPaying = (pay: (res: ServerResponse) => void, listpays: () => unknown[] = () => []) =>
    serve((req, _body, res) => {
      if (req.url === '/v1/listpays') return send(res, 201, { pays: listpays() });
      if (req.url === '/v1/pay') return pay(res);
      send(res, 404, { code: -32601, message: 'Unknown command', data: null });
    });
  const pay = (url: string) =>
    createClnNode({ url, rune: 'r'.repeat(20), timeoutMs: 2000 }).pay({
      bolt11: invoice.paymentRequest,
      feeLimitMsat: 1000n,
      timeoutSeconds: 5,
    });

  it.each([
    [-32602, 'error:refused'],
    [207, 'error:refused'],
    [200, 'error:already-paid'],
    [201, 'error:already-paid'],
    [219, 'error:already-paid'],
    [-1, 'error:broken'],
    [-4, 'error:broken'],
  ])('a pay answered 500 with code %i is %s', async (code, want) => {
    const url = await clnPaying((res) => send(res, 500, { code, message: 'no', data: null }));
    expect(await outcome(pay(url))).toBe(want);
  });

  it.each([
    [205, 'no-route'],
    [206, 'no-route'],
    [210, 'timeout'],
    [203, 'incorrect-details'],
  ])('a pay answered with code %i failed for good: %s', async (code, reason) => {
    const url = await clnPaying((res) => send(res, 500, { code, message: 'failed', data: null }));
    expect(await outcome(pay(url))).toMatchObject({ state: 'failed', failure: { reason, nodeReason: String(code) } });
  });

  it('a pay answered pending is followed through listpays to its end', async () => {
    let asked = 0;
    const url = await clnPaying(
      (res) => send(res, 201, { status: 'pending', payment_hash: invoice.paymentHashHex }),
      () => {
        asked++;
        // The check before the pay finds nothing; then the payment is pending twice, then complete.
        if (asked === 1) return [];
        if (asked < 4) return [{ payment_hash: invoice.paymentHashHex, status: 'pending', amount_sent_msat: 10_000 }];
        return [{ payment_hash: invoice.paymentHashHex, status: 'complete', amount_msat: 10_000, amount_sent_msat: 10_007, preimage }];
      },
    );
    expect(await outcome(pay(url))).toEqual({ state: 'succeeded', preimage, feeMsat: 7n });
  });

  it('an answer that is not clnrest (201 not JSON, an error without a code) is broken', async () => {
    expect(await outcome(pay(await clnPaying((res) => send(res, 201, '<html>'))))).toBe('error:broken');
    expect(await outcome(pay(await clnPaying((res) => send(res, 502, { error: 'bad gateway' }))))).toBe('error:broken');
  });

  it('asks waitanyinvoice again when it times out (904), and reads msat written the old way', async () => {
    const calls: unknown[] = [];
    const url = await serve((req, body, res) => {
      if (req.url === '/v1/waitanyinvoice') {
        calls.push(body);
        if (calls.length < 3) return send(res, 500, { code: 904, message: 'Timed out', data: null });
        return send(res, 201, {
          status: 'paid',
          pay_index: 8,
          payment_hash: invoice.paymentHashHex,
          payment_preimage: preimage,
          amount_received_msat: '10000msat',
          paid_at: 1_700_000_000,
        });
      }
      send(res, 500, { code: -1, message: 'unexpected', data: null });
    });
    const ctl = new AbortController();
    const node = createClnNode({ url, rune: 'r'.repeat(20), waitSeconds: 1 });
    for await (const s of node.followSettlements({ signal: ctl.signal, since: '7' })) {
      expect(s).toEqual({ paymentHash: invoice.paymentHashHex, preimage, amountPaidMsat: 10_000n, settledAt: 1_700_000_000, cursor: '8' });
      ctl.abort();
    }
    expect(calls).toEqual([
      { lastpay_index: 7, timeout: 1 },
      { lastpay_index: 7, timeout: 1 },
      { lastpay_index: 7, timeout: 1 },
    ]);
  });

  it('refuses an amount a JSON number cannot carry exactly, before asking the node', async () => {
    const node = createClnNode({ url: 'http://127.0.0.1:1', rune: 'r'.repeat(20) });
    await expect(node.createInvoice({ amountMsat: 2n ** 53n })).rejects.toBeInstanceOf(RangeError);
  });
});

describe('LNbits adapter', () => {
  const wallet = (res: ServerResponse) => send(res, 200, { name: 'w', balance: 5000 });

  it.each([
    ['Payment failed: insufficient balance', 'insufficient-balance'],
    ['Insufficient balance.', 'insufficient-balance'],
    ['Payment failed: FAILURE_REASON_NO_ROUTE', 'no-route'],
    ['Payment failed: Could not find a route', 'no-route'],
    ['Payment failed: something else', 'other'],
  ])('a 520 failed "%s" is a failed payment: %s', async (detail, reason) => {
    const url = await serve((req, _b, res) => {
      if (req.url === '/api/v1/wallet') return wallet(res);
      if (req.url?.startsWith('/api/v1/payments/')) return send(res, 404, { detail: 'Payment does not exist.' });
      send(res, 520, { detail, status: 'failed' });
    });
    const node = createLnbitsNode({ url, invoiceKey: 'i'.repeat(16), adminKey: 'a'.repeat(16) });
    expect(await outcome(node.pay({ bolt11: invoice.paymentRequest, feeLimitMsat: 0n, timeoutSeconds: 5 }))).toMatchObject({
      state: 'failed',
      failure: { reason, nodeReason: detail },
    });
  });

  it('a pay answered pending is followed by look-ups until paid', async () => {
    let looks = 0;
    const url = await serve((req, _b, res) => {
      if (req.url === '/api/v1/wallet') return wallet(res);
      if (req.url?.startsWith('/api/v1/payments/')) {
        looks++;
        if (looks === 1) return send(res, 404, { detail: 'Payment does not exist.' });
        const details = { amount: -10_000, fee: -3000, status: looks < 4 ? 'pending' : 'success' };
        return send(res, 200, looks < 4 ? { paid: false, status: 'pending', details } : { paid: true, preimage, details });
      }
      send(res, 201, { payment_hash: invoice.paymentHashHex, amount: -10_000, fee: 0, status: 'pending' });
    });
    const node = createLnbitsNode({ url, invoiceKey: 'i'.repeat(16), adminKey: 'a'.repeat(16) });
    expect(await outcome(node.pay({ bolt11: invoice.paymentRequest, feeLimitMsat: 0n, timeoutSeconds: 5 }))).toEqual({
      state: 'succeeded',
      preimage,
      feeMsat: 3000n,
    });
  });

  it('reads the invoice answer of LNbits before v1 ({payment_hash, payment_request}) and sends out: false in sat', async () => {
    let sent: unknown;
    const url = await serve((_req, body, res) => {
      sent = body;
      send(res, 201, { payment_hash: invoice.paymentHashHex, payment_request: invoice.paymentRequest, checking_id: 'x' });
    });
    const node = createLnbitsNode({ url, invoiceKey: 'i'.repeat(16) });
    expect(await node.createInvoice({ amountMsat: 10_000n, memo: 'm', expirySeconds: 60 })).toMatchObject({
      bolt11: invoice.paymentRequest,
      paymentHash: invoice.paymentHashHex,
    });
    expect(sent).toEqual({ out: false, amount: 10, unit: 'sat', memo: 'm', expiry: 60 });
  });

  it('an invoice look-up without details (another wallet of the instance) is no invoice of this node', async () => {
    const url = await serve((req, _b, res) => {
      if (req.url === '/api/v1/wallet') return wallet(res);
      send(res, 200, { paid: true, preimage });
    });
    const node = createLnbitsNode({ url, invoiceKey: 'i'.repeat(16) });
    expect(await node.lookupInvoice(invoice.paymentHashHex)).toBeUndefined();
  });

  it('reads WebSocket frames split across packets, fragmented, and after a ping; a frame for money out is ignored', async () => {
    const ours = makeInvoice({ valueMsat: 42_000n });
    let pong = false;
    const frame = (op: number, payload: Buffer, fin = true) => {
      const head =
        payload.length < 126
          ? Buffer.from([(fin ? 0x80 : 0) | op, payload.length])
          : Buffer.from([(fin ? 0x80 : 0) | op, 126, payload.length >> 8, payload.length & 0xff]);
      return Buffer.concat([head, payload]);
    };
    const url = await serve(
      (req, _b, res) => {
        if (req.url === '/api/v1/wallet') return wallet(res);
        const hash = req.url!.split('/').pop();
        if (hash === ours.paymentHashHex)
          return send(res, 200, { paid: true, preimage: ours.preimageHex, details: { amount: 42_000, updated_at: '2025-01-02T03:04:05' } });
        send(res, 404, { detail: 'Payment does not exist.' });
      },
      (req, socket) => {
        const accept = createHash('sha1')
          .update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
          .digest('base64');
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
        );
        socket.on('data', (b: Buffer) => {
          if ((b[0]! & 0x0f) === 0xa) pong = true;
        });
        const out = Buffer.from(
          JSON.stringify({ wallet_balance: 1, payment: { payment_hash: invoice.paymentHashHex, amount: -10_000, status: 'success' } }),
        );
        const inn = Buffer.from(
          JSON.stringify({ wallet_balance: 43, payment: { payment_hash: ours.paymentHashHex, amount: 42_000, status: 'success' } }),
        );
        const bytes = Buffer.concat([
          frame(0x1, out),
          frame(0x9, Buffer.from('hi')),
          frame(0x1, inn.subarray(0, 10), false),
          frame(0x0, inn.subarray(10)),
        ]);
        // One byte at a time: no frame arrives whole.
        let i = 0;
        const drip = () => {
          if (i < bytes.length && !socket.destroyed) socket.write(bytes.subarray(i, ++i), () => setImmediate(drip));
        };
        drip();
      },
    );
    const node = createLnbitsNode({ url, invoiceKey: 'i'.repeat(16) });
    const ctl = new AbortController();
    const seen = [];
    for await (const s of node.followSettlements({ signal: ctl.signal })) {
      seen.push(s);
      ctl.abort();
    }
    expect(seen).toEqual([
      {
        paymentHash: ours.paymentHashHex,
        preimage: ours.preimageHex,
        amountPaidMsat: 42_000n,
        settledAt: Date.parse('2025-01-02T03:04:05Z') / 1000,
      },
    ]);
    expect(pong).toBe(true);
  });

  it('reads a webhook body double-encoded (v1.1), as an object (v1.0), or as parsed JSON; anything else is a RangeError', () => {
    const payment = { payment_hash: invoice.paymentHashHex.toUpperCase(), amount: 10_000, status: 'success' };
    expect(readLnbitsWebhook(JSON.stringify(JSON.stringify(payment)))).toBe(invoice.paymentHashHex);
    expect(readLnbitsWebhook(JSON.stringify(payment))).toBe(invoice.paymentHashHex);
    expect(readLnbitsWebhook(payment)).toBe(invoice.paymentHashHex);
    for (const bad of ['', 'null', '"just a string"', '{"payment_hash": "12"}', [], 42])
      expect(() => readLnbitsWebhook(bad)).toThrow(RangeError);
  });
});
