/**
 * A stand-in Core Lightning behind `clnrest`, for tests and local runs: a real HTTP(S) server on
 * 127.0.0.1 that answers as clnrest does. `POST /v1/<method>` with a `Rune` header and a JSON object
 * of named parameters; success is 201 with the method's raw result; errors are `{code, message,
 * data}` (no rune 403/1501, a wrong one 401/1502, an unknown method 404/-32601, lightningd's errors
 * 500 with their own code). Amounts are `*_msat` JSON integers, times unix seconds.
 *
 * Methods: getinfo, invoice, listinvoices, delinvoice, waitanyinvoice, pay, listpays. `delinvoice
 * {label, status}` removes the invoice when its status is the one given (905 no such label, 906 with
 * `{current_status, expected_status}` when it changed); a removed invoice is unknown to every call
 * and refuses every payment, as the node then has no invoice for that hash. Invoices are real signed
 * BOLT 11 strings; invoices of any stand-in on the same simulated network (devnet/lightning-network.ts)
 * can be paid. It borrows nothing from lightning/, so the two cannot drift together.
 */
import bolt11 from 'bolt11';
import { createECDH, createHash, randomBytes } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createSimulatedNetwork, type SimulatedNetwork } from './lightning-network.js';
import { type FakeNetwork, makeInvoice } from './lnd.js';

const BOLT11_NETWORKS: Record<FakeNetwork, { bech32: string; pubKeyHash: number; scriptHash: number; validWitnessVersions: number[] }> = {
  mainnet: { bech32: 'bc', pubKeyHash: 0x00, scriptHash: 0x05, validWitnessVersions: [0, 1] },
  testnet: { bech32: 'tb', pubKeyHash: 0x6f, scriptHash: 0xc4, validWitnessVersions: [0, 1] },
  signet: { bech32: 'tbs', pubKeyHash: 0x6f, scriptHash: 0xc4, validWitnessVersions: [0, 1] },
  regtest: { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, validWitnessVersions: [0, 1] },
};

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();
const now = () => Math.floor(Date.now() / 1000);

interface StoredInvoice {
  label: string;
  description: string;
  bolt11: string;
  paymentHash: string;
  paymentSecret: string;
  preimage: string;
  amountMsat: bigint;
  createdIndex: number;
  expiresAt: number;
  status: 'unpaid' | 'paid' | 'expired';
  /** Removed by delinvoice: gone from every listing, and no payment settles it. */
  deleted?: boolean;
  payIndex?: number;
  amountReceivedMsat?: bigint;
  paidAt?: number;
}

/** An outgoing payment as the stand-in keeps it (one per attempt, as listpays lists them). */
export interface FakeClnPay {
  paymentHash: string;
  bolt11: string;
  status: 'pending' | 'complete' | 'failed';
  amountMsat: bigint;
  amountSentMsat: bigint;
  createdAt: number;
  completedAt?: number;
  preimage?: string;
  /** The lightningd error code the pay failed with. */
  failCode?: number;
}

export interface FakeClnOptions {
  /** The rune requests must carry; random by default. */
  rune?: string;
  network?: FakeNetwork;
  /** What each payment costs in routing fees; over `maxfee` it fails with 206. */
  routingFeeMsat?: bigint;
  /** Serve HTTPS with this key and certificate (PEM), as clnrest does with its own CA. */
  tls?: { key: string; cert: string };
  /** The network it pays on (devnet/lightning-network.ts). Default: one of its own. */
  lightningNetwork?: SimulatedNetwork;
}

export interface FakeCln {
  url: string;
  rune: string;
  nodeId: string;
  network: FakeNetwork;
  /** In-process `invoice`: one this node issued. */
  addInvoice(opts: { amountMsat: bigint; description?: string; expirySeconds?: number }): {
    bolt11: string;
    paymentHash: string;
    preimage: string;
  };
  invoiceStatus(paymentHash: string): 'unpaid' | 'paid' | 'expired' | undefined;
  /** Pays an open invoice of this node as if from elsewhere; false if it cannot be paid. */
  settleInvoice(paymentHash: string): boolean;
  /** `waitanyinvoice` calls waiting now. */
  waiters(): number;
  /**
   * Cuts every waiting `waitanyinvoice`, as a dropped connection would; when none is waiting (a
   * client between two long-polls), the next one is cut as it arrives.
   */
  cutWaiters(): void;
  /** Every payment attempt, oldest first. */
  pays(): FakeClnPay[];
  /** How many `pay` calls arrived, refused ones included. */
  payRequests(): number;
  /** Method and path of every request, oldest first (never the rune). */
  requests(): string[];
  /** Payments taken from now on stay pending (their `pay` unanswered) until release(). */
  holdPayments(): void;
  release(): void;
  /** The next pay is taken, then its connection cut before the answer; the payment goes on. */
  crashAfterAccept(): void;
  close(): Promise<void>;
}

class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data: unknown = null,
  ) {
    super(message);
  }
}

export async function startFakeCln(opts: FakeClnOptions = {}): Promise<FakeCln> {
  const rune = opts.rune ?? randomBytes(60).toString('base64url');
  const network = opts.network ?? 'regtest';
  const routingFee = opts.routingFeeMsat ?? 0n;
  const net = opts.lightningNetwork ?? createSimulatedNetwork();
  const nodeKey = randomBytes(32);
  const ecdh = createECDH('secp256k1');
  ecdh.setPrivateKey(nodeKey);
  const nodeId = ecdh.getPublicKey('hex', 'compressed');

  const invoices = new Map<string, StoredInvoice>();
  const labels = new Set<string>();
  const history: FakeClnPay[] = [];
  const log: string[] = [];
  const open = new Set<ServerResponse>();
  const waiting = new Set<{ res: ServerResponse; after: number; answer(i: StoredInvoice): void }>();
  let createdIndex = 0;
  let payIndex = 0;
  let payCalls = 0;
  let holding = false;
  const held: (() => void)[] = [];
  let cutNext = false;
  let cutNextWait = false;

  const refreshExpiry = (i: StoredInvoice) => {
    if (i.status === 'unpaid' && now() >= i.expiresAt) i.status = 'expired';
    return i;
  };

  function invoiceJson(i: StoredInvoice) {
    refreshExpiry(i);
    return {
      label: i.label,
      bolt11: i.bolt11,
      payment_hash: i.paymentHash,
      amount_msat: Number(i.amountMsat),
      status: i.status,
      description: i.description,
      expires_at: i.expiresAt,
      created_index: i.createdIndex,
      ...(i.status === 'paid'
        ? {
            pay_index: i.payIndex,
            amount_received_msat: Number(i.amountReceivedMsat),
            paid_at: i.paidAt,
            payment_preimage: i.preimage,
            updated_index: i.payIndex,
          }
        : {}),
    };
  }

  function settle(i: StoredInvoice, amountMsat: bigint) {
    i.status = 'paid';
    i.payIndex = ++payIndex;
    i.amountReceivedMsat = amountMsat;
    i.paidAt = now();
    for (const w of [...waiting]) if (i.payIndex > w.after) w.answer(i);
  }

  function addInvoice(o: { amountMsat: bigint; label?: string; description?: string; expirySeconds?: number; preimage?: Buffer }) {
    const expiry = o.expirySeconds ?? 604_800;
    const made = makeInvoice({
      valueMsat: o.amountMsat,
      network,
      memo: o.description ?? '',
      expirySeconds: expiry,
      nodeKey,
      ...(o.preimage ? { preimage: o.preimage } : {}),
    });
    const decoded = bolt11.decode(made.paymentRequest, BOLT11_NETWORKS[network]);
    const label = o.label ?? `inv-${randomBytes(8).toString('hex')}`;
    const inv: StoredInvoice = {
      label,
      description: o.description ?? '',
      bolt11: made.paymentRequest,
      paymentHash: made.paymentHashHex,
      paymentSecret: decoded.tagsObject.payment_secret!,
      preimage: made.preimageHex,
      amountMsat: o.amountMsat,
      createdIndex: ++createdIndex,
      expiresAt: decoded.timestamp! + expiry,
      status: 'unpaid',
    };
    invoices.set(inv.paymentHash, inv);
    labels.add(label);
    net.register(inv.paymentHash, (amountMsat) => {
      if (inv.deleted || refreshExpiry(inv).status !== 'unpaid' || amountMsat < inv.amountMsat) return { refused: 'incorrect-details' };
      settle(inv, amountMsat);
      return { preimage: inv.preimage };
    });
    return inv;
  }

  const payJson = (p: FakeClnPay) => ({
    payment_hash: p.paymentHash,
    status: p.status,
    created_at: p.createdAt,
    ...(p.completedAt ? { completed_at: p.completedAt } : {}),
    bolt11: p.bolt11,
    amount_msat: Number(p.amountMsat),
    amount_sent_msat: Number(p.amountSentMsat),
    ...(p.status === 'complete' ? { preimage: p.preimage, number_of_parts: 1 } : {}),
  });

  const str = (params: Record<string, unknown>, name: string, required = true) => {
    const v = params[name];
    if (v === undefined) {
      if (required) throw new RpcError(-32602, `missing required parameter: ${name}`);
      return undefined;
    }
    if (typeof v !== 'string') throw new RpcError(-32602, `${name}: should be a string: invalid token '${JSON.stringify(v)}'`);
    return v;
  };
  const uint = (params: Record<string, unknown>, name: string) => {
    const v = params[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
      throw new RpcError(-32602, `${name}: should be an unsigned 64 bit integer: invalid token '${JSON.stringify(v)}'`);
    return v;
  };

  function decodeForPay(b: string) {
    try {
      return bolt11.decode(b, BOLT11_NETWORKS[network]);
    } catch (err) {
      if (/prefix/i.test((err as Error).message)) throw new RpcError(-32602, 'Invalid bolt11: Invoice is for another network');
      throw new RpcError(-32602, `Invalid bolt11: ${(err as Error).message}`);
    }
  }

  /** The payee side, once the payment is let go: settle or fail it. */
  function complete(p: FakeClnPay, maxfee: bigint): void {
    p.completedAt = now();
    if (routingFee > maxfee) {
      p.status = 'failed';
      p.failCode = 206;
      return;
    }
    const d = net.deliver(p.paymentHash, p.amountMsat);
    if ('noRoute' in d) {
      p.status = 'failed';
      p.failCode = 205;
    } else if ('refused' in d) {
      p.status = 'failed';
      p.failCode = 203;
    } else {
      p.status = 'complete';
      p.preimage = d.preimage;
      p.amountSentMsat = p.amountMsat + routingFee;
    }
  }

  function payResult(p: FakeClnPay) {
    if (p.status === 'complete') {
      return {
        payment_preimage: p.preimage,
        payment_hash: p.paymentHash,
        created_at: p.createdAt,
        parts: 1,
        amount_msat: Number(p.amountMsat),
        amount_sent_msat: Number(p.amountSentMsat),
        destination: '02' + '00'.repeat(32),
        status: 'complete',
      };
    }
    const messages: Record<number, string> = {
      203: 'Destination said it doesn\u2019t know invoice: incorrect_or_unknown_payment_details',
      205: 'Could not find a route',
      206: 'Route wanted fee of 2000msat, but maxfee is lower',
    };
    throw new RpcError(p.failCode ?? 210, messages[p.failCode ?? 210] ?? 'Ran out of routes to try after 1 attempt', {
      payment_hash: p.paymentHash,
      status: 'failed',
      amount_msat: Number(p.amountMsat),
    });
  }

  async function pay(params: Record<string, unknown>, res: ServerResponse): Promise<unknown> {
    payCalls++;
    const b = str(params, 'bolt11')!;
    const maxfee = BigInt(uint(params, 'maxfee') ?? 5_000_000);
    uint(params, 'retry_for');
    const d = decodeForPay(b);
    if (!d.millisatoshis && params.amount_msat === undefined) throw new RpcError(-32602, 'amount_msat parameter required');
    const hash = d.tagsObject.payment_hash!;
    if (now() >= d.timestamp! + (d.tagsObject.expire_time ?? 3600)) throw new RpcError(207, 'Invoice expired');
    const previous = history.filter((p) => p.paymentHash === hash);
    const done = previous.find((p) => p.status === 'complete');
    // Core Lightning's pay answers a hash it already paid with that payment's success.
    if (done) return payResult(done);
    if (previous.some((p) => p.status === 'pending')) throw new RpcError(200, 'Payment already in progress');
    const amount = d.millisatoshis ? BigInt(d.millisatoshis) : BigInt(uint(params, 'amount_msat') ?? 0);
    const p: FakeClnPay = { paymentHash: hash, bolt11: b, status: 'pending', amountMsat: amount, amountSentMsat: amount, createdAt: now() };
    history.push(p);
    const cut = cutNext;
    cutNext = false;
    await new Promise<void>((resolve) => {
      const go = () => {
        complete(p, maxfee);
        resolve();
      };
      // Cut: the node took the payment, then the connection drops before any answer.
      if (cut) res.socket?.destroy();
      if (holding) held.push(go);
      else setImmediate(go);
    });
    return payResult(p);
  }

  function waitAny(params: Record<string, unknown>, res: ServerResponse): Promise<unknown> {
    if (cutNextWait) {
      cutNextWait = false;
      res.socket?.destroy();
      return new Promise(() => {});
    }
    const after = uint(params, 'lastpay_index') ?? 0;
    const timeout = uint(params, 'timeout');
    const ready = [...invoices.values()]
      .filter((i) => i.status === 'paid' && i.payIndex! > after)
      .sort((a, b) => a.payIndex! - b.payIndex!)[0];
    if (ready) return Promise.resolve(invoiceJson(ready));
    return new Promise((resolve, reject) => {
      const w = {
        res,
        after,
        answer(i: StoredInvoice) {
          finish();
          resolve(invoiceJson(i));
        },
      };
      const timer =
        timeout === undefined
          ? undefined
          : setTimeout(() => {
              finish();
              reject(new RpcError(904, 'Timed out'));
            }, timeout * 1000);
      const finish = () => {
        clearTimeout(timer);
        waiting.delete(w);
      };
      waiting.add(w);
      res.on('close', finish);
    });
  }

  async function dispatch(method: string, params: Record<string, unknown>, res: ServerResponse): Promise<unknown> {
    switch (method) {
      case 'getinfo':
        return {
          id: nodeId,
          alias: 'tollway-fake-cln',
          color: '3399ff',
          num_peers: 1,
          num_pending_channels: 0,
          num_active_channels: 1,
          num_inactive_channels: 0,
          address: [],
          binding: [{ type: 'ipv4', address: '127.0.0.1', port: 9735 }],
          version: 'v25.02',
          blockheight: 800,
          network: network === 'mainnet' ? 'bitcoin' : network,
          fees_collected_msat: 0,
          'lightning-dir': `/root/.lightning/${network}`,
          our_features: { init: '', node: '', channel: '', invoice: '' },
        };
      case 'invoice': {
        const amount = params.amount_msat;
        if (amount === 'any') throw new RpcError(-32602, 'the stand-in issues invoices with an amount only');
        const amountMsat = BigInt(uint(params, 'amount_msat') ?? 0);
        if (params.amount_msat === undefined) throw new RpcError(-32602, 'missing required parameter: amount_msat');
        if (amountMsat === 0n) throw new RpcError(-32602, "amount_msat: should be positive msat or 'any'");
        const label = params.label;
        if (typeof label !== 'string' && typeof label !== 'number') throw new RpcError(-32602, 'missing required parameter: label');
        const description = str(params, 'description')!;
        const expiry = uint(params, 'expiry');
        const preimageHex = str(params, 'preimage', false);
        if (preimageHex !== undefined && !/^[0-9a-fA-F]{64}$/.test(preimageHex))
          throw new RpcError(-32602, 'preimage: should be a 32 byte hex value');
        if (labels.has(String(label))) throw new RpcError(900, 'Duplicate label', { label: String(label) });
        const preimage = preimageHex ? Buffer.from(preimageHex, 'hex') : undefined;
        if (preimage && invoices.has(sha256(preimage).toString('hex'))) throw new RpcError(901, 'preimage already used');
        const i = addInvoice({
          amountMsat,
          label: String(label),
          description,
          ...(expiry !== undefined ? { expirySeconds: expiry } : {}),
          ...(preimage ? { preimage } : {}),
        });
        return {
          payment_hash: i.paymentHash,
          expires_at: i.expiresAt,
          bolt11: i.bolt11,
          payment_secret: i.paymentSecret,
          created_index: i.createdIndex,
        };
      }
      case 'listinvoices': {
        const hash = str(params, 'payment_hash', false);
        const label = params.label;
        const all = [...invoices.values()].sort((a, b) => a.createdIndex - b.createdIndex);
        const found =
          hash !== undefined
            ? all.filter((i) => i.paymentHash === hash.toLowerCase())
            : label !== undefined
              ? all.filter((i) => i.label === String(label))
              : all;
        if (hash !== undefined && !/^[0-9a-fA-F]{64}$/.test(hash))
          throw new RpcError(-32602, 'payment_hash: should be a 32 byte hex value');
        return { invoices: found.map(invoiceJson) };
      }
      case 'delinvoice': {
        const label = params.label;
        if (typeof label !== 'string' && typeof label !== 'number') throw new RpcError(-32602, 'missing required parameter: label');
        const status = str(params, 'status')!;
        if (!['paid', 'expired', 'unpaid'].includes(status))
          throw new RpcError(-32602, `status: should be 'paid', 'expired' or 'unpaid': invalid token '"${status}"'`);
        const inv = [...invoices.values()].find((i) => i.label === String(label));
        if (!inv) throw new RpcError(905, 'Unknown invoice');
        const current = refreshExpiry(inv).status;
        if (current !== status)
          throw new RpcError(906, `Invoice status is ${current} not ${status}`, { current_status: current, expected_status: status });
        const answer = invoiceJson(inv);
        invoices.delete(inv.paymentHash);
        labels.delete(inv.label);
        inv.deleted = true;
        return answer;
      }
      case 'waitanyinvoice':
        return waitAny(params, res);
      case 'pay':
        return pay(params, res);
      case 'listpays': {
        const b = str(params, 'bolt11', false);
        const hash = str(params, 'payment_hash', false);
        let want = hash?.toLowerCase();
        if (b !== undefined) want = decodeForPay(b).tagsObject.payment_hash!;
        return { pays: history.filter((p) => want === undefined || p.paymentHash === want).map(payJson) };
      }
      default:
        throw Object.assign(new RpcError(-32601, `Unknown command '${method}'`), { httpStatus: 404 });
    }
  }

  const answer = (res: ServerResponse, status: number, body: unknown) => {
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://fake');
    log.push(`${req.method} ${url.pathname}`);
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    const m = /^\/v1\/([a-z0-9_-]+)$/.exec(url.pathname);
    if (req.method !== 'POST' || !m) return answer(res, 404, { code: -32601, message: 'Not found', data: null });
    const given = req.headers.rune;
    if (given === undefined) return answer(res, 403, { code: 1501, message: 'Not authorized: Missing rune', data: null });
    if (given !== rune) return answer(res, 401, { code: 1502, message: 'Not authorized: Not derived from master', data: null });
    let params: unknown = {};
    const text = Buffer.concat(parts).toString('utf8');
    if (text) {
      try {
        params = JSON.parse(text);
      } catch {
        return answer(res, 400, { code: -32700, message: 'Could not parse request body', data: null });
      }
    }
    if (!params || typeof params !== 'object' || Array.isArray(params))
      return answer(res, 400, { code: -32602, message: 'params must be a JSON object', data: null });
    open.add(res);
    res.on('close', () => open.delete(res));
    try {
      answer(res, 201, await dispatch(m[1]!, params as Record<string, unknown>, res));
    } catch (err) {
      if (err instanceof RpcError) {
        const status = (err as RpcError & { httpStatus?: number }).httpStatus ?? 500;
        return answer(res, status, { code: err.code, message: err.message, data: err.data });
      }
      answer(res, 500, { code: -1, message: (err as Error).message, data: null });
    }
  }

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch(() => res.destroy());
  };
  const server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, listener) : http.createServer(listener);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    rune,
    nodeId,
    network,
    addInvoice(o) {
      const i = addInvoice({
        amountMsat: o.amountMsat,
        ...(o.description !== undefined ? { description: o.description } : {}),
        ...(o.expirySeconds !== undefined ? { expirySeconds: o.expirySeconds } : {}),
      });
      return { bolt11: i.bolt11, paymentHash: i.paymentHash, preimage: i.preimage };
    },
    invoiceStatus: (h) => {
      const i = invoices.get(h.toLowerCase());
      return i && refreshExpiry(i).status;
    },
    settleInvoice(h) {
      const i = invoices.get(h.toLowerCase());
      if (!i || refreshExpiry(i).status !== 'unpaid') return false;
      settle(i, i.amountMsat);
      return true;
    },
    waiters: () => waiting.size,
    cutWaiters() {
      if (waiting.size === 0) cutNextWait = true;
      for (const w of [...waiting]) {
        waiting.delete(w);
        w.res.socket?.destroy();
      }
    },
    pays: () => history.map((p) => ({ ...p })),
    payRequests: () => payCalls,
    requests: () => [...log],
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
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
