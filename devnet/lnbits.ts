/**
 * A stand-in LNbits (wallet API v1.x) with one wallet, for tests and local runs: a real HTTP server
 * on 127.0.0.1 that answers as LNbits does. Keys in `X-Api-Key` (or `?api-key=`): none → 401,
 * unknown → 404 "Wallet not found.", the invoice key where the admin key is needed → 403; errors as
 * `{"detail": …}`, validation 400, payment failures 520 `{detail, status}`. Amounts in the Payment
 * object are signed msat (+ in, − out), the wallet balance msat, invoices are created in sat.
 * `GET /api/v1/payments/{hash}` takes a key or none, and adds `details` for the owner's key. The
 * invoice's webhook is POSTed once, unsigned, with v1.1's double-encoded body (a JSON string of the
 * Payment's JSON) unless `webhookFormat: 'object'`. The WebSocket `/api/v1/ws/{inkey}` sends
 * `{"wallet_balance", "payment"}` for every payment of the wallet; `/api/v1/ws/{payment_hash}`
 * sends `{"pending", "status"}`.
 *
 * LNbits has no call that withdraws an invoice: an invoice stays payable until it expires, and
 * nothing here offers one either (an unknown path is FastAPI's 404 `{"detail": "Not Found"}`).
 *
 * It pays and takes payments on a simulated network (devnet/lightning-network.ts) shared with the
 * other stand-ins when given one. It borrows nothing from lightning/.
 */
import bolt11 from 'bolt11';
import { createHash, randomBytes } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createSimulatedNetwork, type SimulatedNetwork } from './lightning-network.js';
import { type FakeNetwork, makeInvoice } from './lnd.js';

const BOLT11_NETWORKS: Record<FakeNetwork, { bech32: string; pubKeyHash: number; scriptHash: number; validWitnessVersions: number[] }> = {
  mainnet: { bech32: 'bc', pubKeyHash: 0x00, scriptHash: 0x05, validWitnessVersions: [0, 1] },
  testnet: { bech32: 'tb', pubKeyHash: 0x6f, scriptHash: 0xc4, validWitnessVersions: [0, 1] },
  signet: { bech32: 'tbs', pubKeyHash: 0x6f, scriptHash: 0xc4, validWitnessVersions: [0, 1] },
  regtest: { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, validWitnessVersions: [0, 1] },
};
const iso = (ms: number) => new Date(ms).toISOString().replace('Z', '+00:00');
const nowS = () => Math.floor(Date.now() / 1000);

/** A payment as the stand-in keeps it: an invoice of the wallet (amount > 0) or one it paid (< 0). */
export interface FakeLnbitsPayment {
  checkingId: string;
  paymentHash: string;
  /** Signed msat: + in, − out. */
  amount: bigint;
  /** Msat; negative for a payment out, as LNbits stores it. */
  fee: bigint;
  bolt11: string;
  status: 'pending' | 'success' | 'failed';
  memo: string;
  /** Unix seconds. */
  expiresAt: number;
  webhook: string | null;
  webhookStatus: number | null;
  preimage: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface FakeLnbitsOptions {
  adminKey?: string;
  invoiceKey?: string;
  network?: FakeNetwork;
  /** What each payment costs in routing fees (LNbits takes no limit). */
  routingFeeMsat?: bigint;
  /** Msat in the wallet at the start. Default 10 BTC. */
  balanceMsat?: bigint;
  /** `double-encoded` (v1.1 on, the default) or `object` (v0.12, v1.0). */
  webhookFormat?: 'double-encoded' | 'object';
  lightningNetwork?: SimulatedNetwork;
}

export interface FakeLnbits {
  url: string;
  adminKey: string;
  invoiceKey: string;
  walletId: string;
  /** In-process invoice creation, as the wallet's invoice key would. */
  addInvoice(opts: { amountSat: bigint; memo?: string; expirySeconds?: number; webhook?: string }): {
    bolt11: string;
    paymentHash: string;
    preimage: string;
  };
  invoiceStatus(paymentHash: string): FakeLnbitsPayment['status'] | undefined;
  /** Pays an invoice of the wallet as if from elsewhere; false if it cannot be paid. */
  settleInvoice(paymentHash: string): boolean;
  /** Wallet WebSockets open now. */
  sockets(): number;
  /** Cuts every WebSocket, as a dropped connection would. */
  cutSockets(): void;
  /** Every payment out, oldest first. */
  paymentsOut(): FakeLnbitsPayment[];
  /** How many pay requests (POST with `out: true`) arrived, refused ones included. */
  payRequests(): number;
  /** Method and path of every request, oldest first (never a key). */
  requests(): string[];
  balanceMsat(): bigint;
  holdPayments(): void;
  release(): void;
  /** The next payment is taken, then its connection cut before the answer; it goes on. */
  crashAfterAccept(): void;
  close(): Promise<void>;
}

class Detail extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export async function startFakeLnbits(opts: FakeLnbitsOptions = {}): Promise<FakeLnbits> {
  const adminKey = opts.adminKey ?? randomBytes(16).toString('hex');
  const invoiceKey = opts.invoiceKey ?? randomBytes(16).toString('hex');
  const walletId = randomBytes(16).toString('hex');
  const network = opts.network ?? 'regtest';
  const routingFee = opts.routingFeeMsat ?? 0n;
  const net = opts.lightningNetwork ?? createSimulatedNetwork();
  const nodeKey = randomBytes(32);
  let balance = opts.balanceMsat ?? 1_000_000_000_000n;

  const incoming = new Map<string, FakeLnbitsPayment & { preimageHex: string }>();
  const outgoing = new Map<string, FakeLnbitsPayment>();
  const history: FakeLnbitsPayment[] = [];
  const log: string[] = [];
  const open = new Set<ServerResponse>();
  const sockets = new Map<Duplex, string>();
  let payCalls = 0;
  let holding = false;
  const held: (() => void)[] = [];
  let cutNext = false;

  const paymentJson = (p: FakeLnbitsPayment) => ({
    checking_id: p.checkingId,
    payment_hash: p.paymentHash,
    wallet_id: walletId,
    amount: Number(p.amount),
    fee: Number(p.fee),
    bolt11: p.bolt11,
    status: p.status,
    memo: p.memo,
    expiry: iso(p.expiresAt * 1000),
    webhook: p.webhook,
    webhook_status: p.webhookStatus,
    preimage: p.preimage,
    tag: null,
    extension: null,
    time: iso(p.createdAt * 1000),
    created_at: iso(p.createdAt * 1000),
    updated_at: iso(p.updatedAt * 1000),
    extra: {},
  });

  /** One unmasked text frame, as a server sends. */
  const textFrame = (text: string) => {
    const payload = Buffer.from(text);
    const head =
      payload.length < 126
        ? Buffer.from([0x81, payload.length])
        : payload.length < 65536
          ? Buffer.from([0x81, 126, payload.length >> 8, payload.length & 0xff])
          : (() => {
              const h = Buffer.alloc(10);
              h[0] = 0x81;
              h[1] = 127;
              h.writeBigUInt64BE(BigInt(payload.length), 2);
              return h;
            })();
    return Buffer.concat([head, payload]);
  };
  const broadcast = (id: string, body: unknown) => {
    for (const [s, sid] of sockets) if (sid === id) s.write(textFrame(JSON.stringify(body)));
  };

  /** LNbits' notifications when a payment of the wallet ends: WebSockets, then the webhook. */
  function notify(p: FakeLnbitsPayment) {
    broadcast(invoiceKey, { wallet_balance: Number(balance / 1000n), payment: paymentJson(p) });
    broadcast(p.paymentHash, { pending: p.status === 'pending', status: p.status });
    if (p.amount > 0n && p.status === 'success' && p.webhook) {
      const json = JSON.stringify(paymentJson(p));
      const body = (opts.webhookFormat ?? 'double-encoded') === 'double-encoded' ? JSON.stringify(json) : json;
      // Sent once, unsigned, no retries; only its status is kept.
      fetch(p.webhook, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(40_000) }).then(
        (r) => {
          p.webhookStatus = r.status;
        },
        () => {
          p.webhookStatus = 0;
        },
      );
    }
  }

  function settleIncoming(p: FakeLnbitsPayment & { preimageHex: string }, amountMsat: bigint) {
    p.status = 'success';
    p.amount = amountMsat;
    p.preimage = p.preimageHex;
    p.updatedAt = nowS();
    balance += amountMsat;
    notify(p);
  }

  /** Incoming invoices past their expiry are failed when next read, as LNbits' status check does. */
  const refresh = <T extends FakeLnbitsPayment>(p: T) => {
    if (p.amount > 0n && p.status === 'pending' && nowS() >= p.expiresAt) {
      p.status = 'failed';
      p.updatedAt = nowS();
    }
    return p;
  };

  function createInvoice(o: { amountSat: bigint; memo: string; expirySeconds: number; webhook: string | null }) {
    const made = makeInvoice({ valueMsat: o.amountSat * 1000n, network, memo: o.memo, expirySeconds: o.expirySeconds, nodeKey });
    const t = nowS();
    const p = {
      checkingId: made.paymentHashHex,
      paymentHash: made.paymentHashHex,
      amount: o.amountSat * 1000n,
      fee: 0n,
      bolt11: made.paymentRequest,
      status: 'pending' as const,
      memo: o.memo,
      expiresAt: t + o.expirySeconds,
      webhook: o.webhook,
      webhookStatus: null,
      preimage: null,
      createdAt: t,
      updatedAt: t,
      preimageHex: made.preimageHex,
    } satisfies FakeLnbitsPayment & { preimageHex: string };
    const stored: FakeLnbitsPayment & { preimageHex: string } = { ...p };
    incoming.set(made.paymentHashHex, stored);
    net.register(made.paymentHashHex, (amountMsat) => {
      if (refresh(stored).status !== 'pending' || amountMsat < stored.amount) return { refused: 'incorrect-details' };
      settleIncoming(stored, amountMsat);
      return { preimage: stored.preimageHex };
    });
    return stored;
  }

  type Key = 'admin' | 'invoice';
  function keyOf(req: IncomingMessage, url: URL): Key | undefined | 'unknown' {
    const given = (req.headers['x-api-key'] as string | undefined) ?? url.searchParams.get('api-key') ?? undefined;
    if (given === undefined) return undefined;
    if (given === adminKey) return 'admin';
    if (given === invoiceKey) return 'invoice';
    return 'unknown';
  }
  function requireKey(k: ReturnType<typeof keyOf>, need: Key): void {
    if (k === undefined) throw new Detail(401, need === 'admin' ? 'Admin key required.' : 'Invoice (or Admin) key required.');
    if (k === 'unknown') throw new Detail(404, 'Wallet not found.');
    if (need === 'admin' && k !== 'admin') throw new Detail(403, 'Invalid adminkey.');
  }

  async function pay(body: Record<string, unknown>, res: ServerResponse): Promise<unknown> {
    payCalls++;
    if (typeof body.bolt11 !== 'string' || !body.bolt11) throw new Detail(400, 'Missing BOLT11 invoice');
    let d: ReturnType<typeof bolt11.decode>;
    try {
      d = bolt11.decode(body.bolt11, BOLT11_NETWORKS[network]);
    } catch (err) {
      // LNbits reads any network's invoice; its funding source then fails to pay another network's.
      if (/prefix/i.test((err as Error).message))
        throw new Detail(520, 'Payment failed: invoice is for another network', { status: 'failed' });
      throw new Detail(400, 'Invalid bolt11 invoice.');
    }
    if (!d.millisatoshis) throw new Detail(520, 'Amountless invoices not supported.', { status: 'failed' });
    if (nowS() >= d.timestamp! + (d.tagsObject.expire_time ?? 3600)) throw new Detail(520, 'Invoice expired.', { status: 'failed' });
    const hash = d.tagsObject.payment_hash!;
    const prior = outgoing.get(hash);
    if (prior?.status === 'success') throw new Detail(520, 'Payment already paid.', { status: 'success' });
    if (prior?.status === 'pending') throw new Detail(520, 'Payment already in progress.', { status: 'pending' });
    const amount = BigInt(d.millisatoshis);
    if (amount + routingFee > balance) throw new Detail(520, 'Insufficient balance.', { status: 'failed' });
    const t = nowS();
    const p: FakeLnbitsPayment = {
      checkingId: hash,
      paymentHash: hash,
      amount: -amount,
      fee: 0n,
      bolt11: body.bolt11,
      status: 'pending',
      memo: d.tagsObject.description ?? '',
      expiresAt: d.timestamp! + (d.tagsObject.expire_time ?? 3600),
      webhook: null,
      webhookStatus: null,
      preimage: null,
      createdAt: t,
      updatedAt: t,
    };
    outgoing.set(hash, p);
    history.push(p);
    balance -= amount;
    const cut = cutNext;
    cutNext = false;
    let failure = '';
    await new Promise<void>((resolve) => {
      const go = () => {
        const r = net.deliver(hash, amount);
        p.updatedAt = nowS();
        if ('preimage' in r) {
          p.status = 'success';
          p.preimage = r.preimage;
          p.fee = -routingFee;
          balance -= routingFee;
        } else {
          p.status = 'failed';
          failure = 'noRoute' in r ? 'FAILURE_REASON_NO_ROUTE' : 'FAILURE_REASON_INCORRECT_PAYMENT_DETAILS';
          balance += amount;
        }
        notify(p);
        resolve();
      };
      if (cut) res.socket?.destroy();
      if (holding) held.push(go);
      else setImmediate(go);
    });
    if (p.status === 'failed') throw new Detail(520, `Payment failed: ${failure}`, { status: 'failed' });
    return paymentJson(p);
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://fake');
    log.push(`${req.method} ${url.pathname.replace(/[0-9a-f]{64}/, '{hash}')}`);
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    const key = keyOf(req, url);
    const path = url.pathname;
    let m: RegExpExecArray | null;
    if (req.method === 'GET' && path === '/api/v1/wallet') {
      requireKey(key, 'invoice');
      return json(res, 200, { ...(key === 'admin' ? { id: walletId } : {}), name: 'tollway-fake-lnbits', balance: Number(balance) });
    }
    if (req.method === 'GET' && (m = /^\/api\/v1\/payments\/([^/]+)$/.exec(path))) {
      const hash = m[1]!.toLowerCase();
      const p = outgoing.get(hash) ?? incoming.get(hash);
      if (!p) return json(res, 404, { detail: 'Payment does not exist.' });
      refresh(p);
      // The key is optional here; only the owner's key adds the details (an unknown key counts as none).
      const details = key === 'admin' || key === 'invoice' ? { details: paymentJson(p) } : {};
      if (p.status === 'success') return json(res, 200, { paid: true, preimage: p.preimage, ...details });
      if (p.status === 'failed') return json(res, 200, { paid: false, status: 'failed', ...details });
      return json(res, 200, { paid: false, status: 'pending', ...details });
    }
    if (req.method === 'POST' && path === '/api/v1/payments') {
      let body: Record<string, unknown>;
      try {
        const v = JSON.parse(Buffer.concat(parts).toString('utf8') || '{}') as unknown;
        if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
        body = v as Record<string, unknown>;
      } catch {
        throw new Detail(400, 'Invalid JSON body.');
      }
      // `out` defaults to true: a body without it asks to pay.
      if (body.out !== false) {
        requireKey(key, 'admin');
        open.add(res);
        res.on('close', () => open.delete(res));
        return json(res, 201, await pay(body, res));
      }
      requireKey(key, 'invoice');
      const unit = body.unit ?? 'sat';
      if (unit !== 'sat') throw new Detail(400, 'The stand-in creates invoices in sat only.');
      if (typeof body.amount !== 'number' || !Number.isInteger(body.amount) || body.amount <= 0)
        throw new Detail(400, 'Amount must be greater than 0.');
      const expiry = body.expiry === undefined ? 3600 : body.expiry;
      if (typeof expiry !== 'number' || !Number.isInteger(expiry) || expiry <= 0) throw new Detail(400, 'Invalid expiry.');
      const webhook = typeof body.webhook === 'string' && body.webhook ? body.webhook : null;
      const p = createInvoice({
        amountSat: BigInt(body.amount),
        memo: typeof body.memo === 'string' ? body.memo : '',
        expirySeconds: expiry,
        webhook,
      });
      return json(res, 201, paymentJson(p));
    }
    json(res, 404, { detail: 'Not Found' });
  }

  const json = (res: ServerResponse, status: number, body: unknown) => {
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof Detail) return json(res, err.status, { detail: err.message, ...err.extra });
      if (!res.headersSent) json(res, 500, { detail: (err as Error).message });
      else res.destroy();
    });
  });
  // The WebSocket: unauthenticated, the id in the path picks the feed.
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    log.push(`GET ${url.pathname.replace(/\/api\/v1\/ws\/.+$/, '/api/v1/ws/{id}')}`);
    const m = /^\/api\/v1\/ws\/([^/]+)$/.exec(url.pathname);
    const key = req.headers['sec-websocket-key'];
    if (!m || typeof key !== 'string' || req.headers.upgrade?.toLowerCase() !== 'websocket') {
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    sockets.set(socket, decodeURIComponent(m[1]!));
    // Whatever the client sends (a close, a pong) ends nothing here but a close, which is answered.
    socket.on('data', (b: Buffer) => {
      if ((b[0]! & 0x0f) === 0x8) socket.end(Buffer.from([0x88, 0]));
    });
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => sockets.delete(socket));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    adminKey,
    invoiceKey,
    walletId,
    addInvoice(o) {
      const p = createInvoice({
        amountSat: o.amountSat,
        memo: o.memo ?? '',
        expirySeconds: o.expirySeconds ?? 3600,
        webhook: o.webhook ?? null,
      });
      return { bolt11: p.bolt11, paymentHash: p.paymentHash, preimage: p.preimageHex };
    },
    invoiceStatus: (h) => {
      const p = incoming.get(h.toLowerCase());
      return p && refresh(p).status;
    },
    settleInvoice(h) {
      const p = incoming.get(h.toLowerCase());
      if (!p || refresh(p).status !== 'pending') return false;
      settleIncoming(p, p.amount);
      return true;
    },
    sockets: () => [...sockets.values()].filter((id) => id === invoiceKey).length,
    cutSockets() {
      for (const s of [...sockets.keys()]) {
        sockets.delete(s);
        s.destroy();
      }
    },
    paymentsOut: () => history.map((p) => ({ ...p })),
    payRequests: () => payCalls,
    requests: () => [...log],
    balanceMsat: () => balance,
    holdPayments() {
      holding = true;
    },
    release() {
      holding = false;
      for (const go of held.splice(0)) go();
    },
    crashAfterAccept() {
      cutNext = true;
    },
    async close() {
      for (const r of open) r.destroy();
      for (const s of sockets.keys()) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
