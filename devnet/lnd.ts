/**
 * A stand-in LND, for tests and local runs where no Lightning network can run: a real HTTP(S)
 * server on 127.0.0.1 speaking LND REST's wire format (macaroon header, int64 as strings, bytes as
 * base64, streams as newline-delimited `{"result": …}`, errors as gRPC status JSON). One node plays
 * both sides: it issues invoices (the merchant's node) and pays them (the hub's node), and paying
 * an invoice it issued settles it and returns its preimage. Stand-ins that share a simulated
 * network (devnet/lightning-network.ts) pay each other's invoices too. Invoices are real BOLT 11 strings,
 * signed with a random node key. It borrows nothing from the code that talks to it (lightning/),
 * so the two cannot drift together.
 *
 * Invoices can be withdrawn (invoicesrpc CancelInvoice, `POST /v2/invoices/cancel`), as LND answers
 * it: `{}` for an open or already canceled invoice, gRPC UNKNOWN (HTTP 500) with `invoice already
 * settled` or `unable to locate invoice` otherwise; a canceled invoice refuses every payment.
 *
 * What it does not do: channels, routes, HTLC timing, hold invoices. Failure and timing are
 * scripted with knobs (holdPayments, failNext, crashAfterAccept, settleInvoice, cutInvoiceStreams).
 */
import bolt11 from 'bolt11';
import { createECDH, createHash, randomBytes } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createSimulatedNetwork, type SimulatedNetwork } from './lightning-network.js';

export type FakeNetwork = 'mainnet' | 'testnet' | 'signet' | 'regtest';
const NETWORKS: Record<FakeNetwork, { bech32: string; pubKeyHash: number; scriptHash: number; validWitnessVersions: number[] }> = {
  mainnet: { bech32: 'bc', pubKeyHash: 0x00, scriptHash: 0x05, validWitnessVersions: [0, 1] },
  testnet: { bech32: 'tb', pubKeyHash: 0x6f, scriptHash: 0xc4, validWitnessVersions: [0, 1] },
  signet: { bech32: 'tbs', pubKeyHash: 0x6f, scriptHash: 0xc4, validWitnessVersions: [0, 1] },
  regtest: { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, validWitnessVersions: [0, 1] },
};

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();

export interface MadeInvoice {
  paymentRequest: string;
  paymentHashHex: string;
  preimageHex: string;
}

/**
 * A signed BOLT 11 invoice that no node knows (unless a FakeLnd stores it): for invoices from
 * elsewhere, other networks, expired or amountless ones.
 */
export function makeInvoice(opts: {
  valueMsat?: bigint | null;
  network?: FakeNetwork;
  memo?: string;
  expirySeconds?: number;
  /** Unix seconds; in the past for an expired invoice. */
  timestamp?: number;
  nodeKey?: Buffer;
  preimage?: Buffer;
}): MadeInvoice {
  const preimage = opts.preimage ?? randomBytes(32);
  const hash = sha256(preimage).toString('hex');
  const encoded = bolt11.encode({
    network: NETWORKS[opts.network ?? 'regtest'],
    ...(opts.valueMsat ? { millisatoshis: opts.valueMsat.toString() } : {}),
    timestamp: opts.timestamp ?? Math.floor(Date.now() / 1000),
    tags: [
      { tagName: 'payment_hash', data: hash },
      { tagName: 'payment_secret', data: randomBytes(32).toString('hex') },
      { tagName: 'description', data: opts.memo ?? '' },
      { tagName: 'expire_time', data: opts.expirySeconds ?? 86_400 },
      { tagName: 'min_final_cltv_expiry', data: 80 },
    ],
  });
  const signed = bolt11.sign(encoded, opts.nodeKey ?? randomBytes(32));
  return { paymentRequest: signed.paymentRequest!, paymentHashHex: hash, preimageHex: preimage.toString('hex') };
}

type InvoiceState = 'OPEN' | 'ACCEPTED' | 'SETTLED' | 'CANCELED';
interface StoredInvoice extends MadeInvoice {
  memo: string;
  valueMsat: bigint;
  creationDate: number;
  expiry: number;
  addIndex: number;
  settleIndex: number;
  settleDate: number;
  state: InvoiceState;
  amtPaidMsat: bigint;
  paymentAddr: Buffer;
}

type PaymentStatus = 'IN_FLIGHT' | 'SUCCEEDED' | 'FAILED';
/** An outgoing payment the node accepted, as the fake keeps it. */
export interface FakePayment {
  paymentHash: string;
  paymentRequest: string;
  valueMsat: bigint;
  feeLimitMsat: bigint;
  feeMsat: bigint;
  status: PaymentStatus;
  preimage: string | null;
  failureReason: string;
  creationTimeNs: bigint;
  paymentIndex: number;
}
interface LivePayment extends FakePayment {
  failWith?: string;
  listeners: Set<(p: FakePayment) => void>;
}

export interface FakeLndOptions {
  /** Hex; random by default. Requests without exactly this header value are refused. */
  macaroonHex?: string;
  network?: FakeNetwork;
  /** What each payment costs in routing fees; over the request's fee limit it fails with no route. */
  routingFeeMsat?: bigint;
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string; cert: string };
  /**
   * The network it pays on and takes payments from (devnet/lightning-network.ts): share one with
   * other stand-ins to pay each other's invoices. Default: a network of its own.
   */
  lightningNetwork?: SimulatedNetwork;
}

export interface FakeLnd {
  url: string;
  macaroonHex: string;
  nodePubkey: string;
  network: FakeNetwork;
  /** In-process AddInvoice: the invoice this node would issue. */
  addInvoice(opts: { valueMsat: bigint; memo?: string; expirySeconds?: number }): MadeInvoice;
  invoiceState(paymentHashHex: string): InvoiceState | undefined;
  /** Settles an open invoice of this node as if a payment arrived from elsewhere; false if it cannot. */
  settleInvoice(paymentHashHex: string): boolean;
  /** Invoice subscriptions (GET /v1/invoices/subscribe) open now. */
  invoiceStreams(): number;
  /** Cuts every open invoice subscription mid-stream, as a dropped connection would. */
  cutInvoiceStreams(): void;
  /** Every payment the node accepted (a hash again only after a failed attempt), oldest first. */
  payments(): FakePayment[];
  /** How many times POST /v2/router/send was called, refused ones included. */
  sendRequests(): number;
  /** Method and path of every request, oldest first (macaroon never included). */
  requests(): string[];
  /** Payments accepted from now on stay IN_FLIGHT until release(). */
  holdPayments(): void;
  /** Resolves every held payment and stops holding. */
  release(): void;
  /** The next accepted payment fails with this reason (FAILURE_REASON_…). */
  failNext(reason: string): void;
  /** The next accepted send is cut off right after its IN_FLIGHT update; the payment goes on. */
  crashAfterAccept(): void;
  /** The next send is read and its connection dropped before the node starts it (a lost request). */
  dropNextSend(): void;
  /** The next send is read and never answered, nor started (a request stuck on its way). */
  stallNextSend(): void;
  close(): Promise<void>;
}

/** grpc-gateway's mapping from gRPC code to HTTP status. */
const HTTP_FOR_CODE: Record<number, number> = { 2: 500, 3: 400, 5: 404, 6: 409, 9: 400, 13: 500, 14: 503, 16: 401 };

export async function startFakeLnd(opts: FakeLndOptions = {}): Promise<FakeLnd> {
  const macaroonHex = opts.macaroonHex ?? randomBytes(48).toString('hex');
  const network = opts.network ?? 'regtest';
  const nodeKey = randomBytes(32);
  const ecdh = createECDH('secp256k1');
  ecdh.setPrivateKey(nodeKey);
  const nodePubkey = ecdh.getPublicKey('hex', 'compressed');
  const routingFee = opts.routingFeeMsat ?? 0n;
  const net = opts.lightningNetwork ?? createSimulatedNetwork();

  const invoices = new Map<string, StoredInvoice>();
  const payments = new Map<string, LivePayment>();
  const history: LivePayment[] = [];
  const log: string[] = [];
  const open = new Set<ServerResponse>();
  /** Invoice subscribers: each gets every invoice that is added or changes state. */
  const invoiceSubscribers = new Set<{ res: ServerResponse; send(i: StoredInvoice): void }>();
  let addIndex = 0;
  let settleIndex = 0;
  let paymentIndex = 0;
  let sends = 0;
  let holding = false;
  const held: LivePayment[] = [];
  let failNextReason: string | undefined;
  let cutNext = false;
  let dropNext: 'drop' | 'stall' | undefined;

  function addInvoice(o: { valueMsat: bigint; memo?: string; expirySeconds?: number; preimage?: Buffer }): MadeInvoice {
    const now = Math.floor(Date.now() / 1000);
    const expiry = o.expirySeconds ?? 86_400;
    const made = makeInvoice({
      valueMsat: o.valueMsat || null,
      network,
      memo: o.memo,
      expirySeconds: expiry,
      timestamp: now,
      nodeKey,
      preimage: o.preimage,
    });
    const secret = bolt11.decode(made.paymentRequest).tagsObject.payment_secret!;
    invoices.set(made.paymentHashHex, {
      ...made,
      memo: o.memo ?? '',
      valueMsat: o.valueMsat,
      creationDate: now,
      expiry,
      addIndex: ++addIndex,
      settleIndex: 0,
      settleDate: 0,
      state: 'OPEN',
      amtPaidMsat: 0n,
      paymentAddr: Buffer.from(secret, 'hex'),
    });
    const stored = invoices.get(made.paymentHashHex)!;
    net.register(made.paymentHashHex, (amountMsat) => {
      if (!payable(stored) || amountMsat < stored.valueMsat) return { refused: 'incorrect-details' };
      settle(stored, amountMsat);
      return { preimage: stored.preimageHex };
    });
    notifyInvoice(stored);
    return made;
  }

  function notifyInvoice(i: StoredInvoice) {
    for (const s of [...invoiceSubscribers]) s.send(i);
  }

  /** The payee side of a payment that arrived: the invoice is paid. */
  function settle(inv: StoredInvoice, amountMsat: bigint) {
    inv.state = 'SETTLED';
    inv.amtPaidMsat = amountMsat;
    inv.settleIndex = ++settleIndex;
    inv.settleDate = Math.floor(Date.now() / 1000);
    notifyInvoice(inv);
  }

  const payable = (inv: StoredInvoice) => inv.state === 'OPEN' && Date.now() / 1000 < inv.creationDate + inv.expiry;

  const publicPayment = (p: LivePayment): FakePayment => {
    const { listeners: _l, failWith: _f, ...rest } = p;
    return { ...rest };
  };

  function emit(p: LivePayment) {
    const snapshot = publicPayment(p);
    for (const l of [...p.listeners]) l(snapshot);
  }

  /** The payee side: settle the invoice if this node issued it and it can still be paid. */
  function resolve(p: LivePayment) {
    if (p.status !== 'IN_FLIGHT') return;
    const delivered = p.failWith || routingFee > p.feeLimitMsat ? undefined : net.deliver(p.paymentHash, p.valueMsat);
    if (p.failWith) {
      p.status = 'FAILED';
      p.failureReason = p.failWith;
    } else if (!delivered || 'noRoute' in delivered) {
      // Too expensive, or nobody on the (simulated) network issued the invoice.
      p.status = 'FAILED';
      p.failureReason = 'FAILURE_REASON_NO_ROUTE';
    } else if ('refused' in delivered) {
      p.status = 'FAILED';
      p.failureReason = 'FAILURE_REASON_INCORRECT_PAYMENT_DETAILS';
    } else {
      p.status = 'SUCCEEDED';
      p.preimage = delivered.preimage;
      p.feeMsat = routingFee;
    }
    emit(p);
  }

  const sat = (msat: bigint) => (msat / 1000n).toString();
  const paymentJson = (p: FakePayment) => ({
    payment_hash: p.paymentHash,
    value: sat(p.valueMsat),
    creation_date: (p.creationTimeNs / 1_000_000_000n).toString(),
    fee: sat(p.feeMsat),
    payment_preimage: p.preimage ?? '0'.repeat(64),
    value_sat: sat(p.valueMsat),
    value_msat: p.valueMsat.toString(),
    payment_request: p.paymentRequest,
    status: p.status,
    fee_sat: sat(p.feeMsat),
    fee_msat: p.feeMsat.toString(),
    creation_time_ns: p.creationTimeNs.toString(),
    htlcs: [],
    payment_index: String(p.paymentIndex),
    failure_reason: p.failureReason,
    first_hop_custom_records: {},
  });
  const invoiceJson = (i: StoredInvoice) => ({
    memo: i.memo,
    r_preimage: Buffer.from(i.preimageHex, 'hex').toString('base64'),
    r_hash: Buffer.from(i.paymentHashHex, 'hex').toString('base64'),
    value: sat(i.valueMsat),
    value_msat: i.valueMsat.toString(),
    settled: i.state === 'SETTLED',
    creation_date: String(i.creationDate),
    settle_date: String(i.settleDate),
    payment_request: i.paymentRequest,
    description_hash: '',
    expiry: String(i.expiry),
    fallback_addr: '',
    cltv_expiry: '80',
    route_hints: [],
    private: false,
    add_index: String(i.addIndex),
    settle_index: String(i.settleIndex),
    amt_paid: i.amtPaidMsat.toString(),
    amt_paid_sat: sat(i.amtPaidMsat),
    amt_paid_msat: i.amtPaidMsat.toString(),
    state: i.state,
    htlcs: [],
    features: {},
    is_keysend: false,
    payment_addr: i.paymentAddr.toString('base64'),
    is_amp: false,
    amp_invoice_state: {},
  });

  const grpcError = (res: ServerResponse, code: number, message: string) => {
    res.writeHead(HTTP_FOR_CODE[code] ?? 500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ code, message, details: [] }));
  };
  const json = (res: ServerResponse, body: unknown) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    const text = Buffer.concat(parts).toString('utf8');
    if (!text) return {};
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('body must be a JSON object');
    return v as Record<string, unknown>;
  }

  /** Streams a payment's updates until final; `cut` drops the connection after the first one. */
  function stream(res: ServerResponse, p: LivePayment, o: { inflight: boolean; cut: boolean }) {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    open.add(res);
    const write = (s: FakePayment) => res.write(JSON.stringify({ result: paymentJson(s) }) + '\n');
    const finish = () => {
      p.listeners.delete(listener);
      open.delete(res);
    };
    const listener = (s: FakePayment) => {
      if (s.status === 'IN_FLIGHT' && !o.inflight) return;
      write(s);
      if (s.status !== 'IN_FLIGHT') {
        finish();
        res.end();
      }
    };
    res.on('close', finish);
    if (o.cut) {
      finish();
      // Cut mid-stream once the first update is out: no final chunk, an incomplete response.
      res.write(JSON.stringify({ result: paymentJson(publicPayment(p)) }) + '\n', () => setImmediate(() => res.socket?.destroy()));
      return;
    }
    if (p.status !== 'IN_FLIGHT' || o.inflight) write(publicPayment(p));
    if (p.status !== 'IN_FLIGHT') {
      finish();
      res.end();
      return;
    }
    p.listeners.add(listener);
  }

  async function send(req: IncomingMessage, res: ServerResponse) {
    sends++;
    let body: Record<string, unknown>;
    try {
      body = await readBody(req);
    } catch (err) {
      return grpcError(res, 3, `unable to parse request: ${(err as Error).message}`);
    }
    const lose = dropNext;
    dropNext = undefined;
    if (lose === 'drop') return void res.socket?.destroy();
    if (lose === 'stall') return void open.add(res);
    const payReq = typeof body.payment_request === 'string' ? body.payment_request : '';
    const timeout = Number(body.timeout_seconds ?? 0);
    if (!timeout || timeout <= 0) return grpcError(res, 2, 'timeout_seconds must be specified');
    const feeLimit =
      body.fee_limit_msat !== undefined ? BigInt(String(body.fee_limit_msat)) : BigInt(String(body.fee_limit_sat ?? 0)) * 1000n;
    let decoded: ReturnType<typeof bolt11.decode>;
    try {
      decoded = bolt11.decode(payReq, NETWORKS[network]);
    } catch (err) {
      if (/prefix/i.test((err as Error).message)) return grpcError(res, 2, `invoice not for current active network '${network}'`);
      return grpcError(res, 2, `invalid payment request: ${(err as Error).message}`);
    }
    const hash = decoded.tagsObject.payment_hash!;
    const expiresAt = decoded.timestamp! + (decoded.tagsObject.expire_time ?? 3600);
    if (Date.now() / 1000 >= expiresAt)
      return grpcError(res, 2, `invoice expired. Valid until ${new Date(expiresAt * 1000).toUTCString()}`);
    if (!decoded.millisatoshis) return grpcError(res, 2, 'amount must be specified when paying a zero amount invoice');
    const existing = payments.get(hash);
    if (existing?.status === 'SUCCEEDED') return grpcError(res, 6, 'invoice is already paid');
    if (existing?.status === 'IN_FLIGHT') return grpcError(res, 6, 'payment is in transition');

    const p: LivePayment = {
      paymentHash: hash,
      paymentRequest: payReq.toLowerCase(),
      valueMsat: BigInt(decoded.millisatoshis),
      feeLimitMsat: feeLimit,
      feeMsat: 0n,
      status: 'IN_FLIGHT',
      preimage: null,
      failureReason: 'FAILURE_REASON_NONE',
      creationTimeNs: BigInt(Date.now()) * 1_000_000n,
      paymentIndex: ++paymentIndex,
      listeners: new Set(),
      ...(failNextReason ? { failWith: failNextReason } : {}),
    };
    failNextReason = undefined;
    payments.set(hash, p);
    history.push(p);
    const cut = cutNext;
    cutNext = false;
    stream(res, p, { inflight: body.no_inflight_updates !== true, cut });
    if (holding) held.push(p);
    else setImmediate(() => resolve(p));
  }

  function track(res: ServerResponse, encoded: string, query: URLSearchParams) {
    // The gateway reads a bytes path parameter as base64, standard or URL-safe.
    const bytes = Buffer.from(decodeURIComponent(encoded).replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (bytes.length !== 32) return grpcError(res, 2, `invalid hash length of ${bytes.length}, want 32`);
    const p = payments.get(bytes.toString('hex'));
    if (!p) return grpcError(res, 5, "payment isn't initiated");
    stream(res, p, { inflight: query.get('no_inflight_updates') !== 'true', cut: false });
  }

  /**
   * SubscribeInvoices: first every invoice added after `add_index` and settled after
   * `settle_index` (when non-zero), then each invoice as it is added or changes state.
   */
  function subscribeInvoices(res: ServerResponse, query: URLSearchParams) {
    const index = (name: string) => {
      const v = query.get(name) ?? '0';
      return /^\d+$/.test(v) ? Number(v) : NaN;
    };
    const addFrom = index('add_index');
    const settleFrom = index('settle_index');
    if (Number.isNaN(addFrom) || Number.isNaN(settleFrom)) return grpcError(res, 3, 'add_index and settle_index must be integers');
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    open.add(res);
    const sub = { res, send: (i: StoredInvoice) => void res.write(JSON.stringify({ result: invoiceJson(i) }) + '\n') };
    const all = [...invoices.values()];
    if (addFrom > 0) for (const i of all.filter((i) => i.addIndex > addFrom).sort((a, b) => a.addIndex - b.addIndex)) sub.send(i);
    if (settleFrom > 0)
      for (const i of all.filter((i) => i.settleIndex > settleFrom).sort((a, b) => a.settleIndex - b.settleIndex)) sub.send(i);
    invoiceSubscribers.add(sub);
    res.on('close', () => {
      invoiceSubscribers.delete(sub);
      open.delete(res);
    });
  }

  /** CancelInvoice: idempotent for a canceled invoice; LND's own errors for a settled or unknown one. */
  async function cancelInvoiceRest(req: IncomingMessage, res: ServerResponse) {
    let body: Record<string, unknown>;
    try {
      body = await readBody(req);
    } catch (err) {
      return grpcError(res, 3, `unable to parse request: ${(err as Error).message}`);
    }
    const hash = Buffer.from(typeof body.payment_hash === 'string' ? body.payment_hash : '', 'base64');
    if (hash.length !== 32) return grpcError(res, 2, `invalid hash length of ${hash.length}, want 32`);
    const inv = invoices.get(hash.toString('hex'));
    if (!inv) return grpcError(res, 2, 'unable to locate invoice');
    if (inv.state === 'SETTLED') return grpcError(res, 2, 'invoice already settled');
    if (inv.state !== 'CANCELED') {
      inv.state = 'CANCELED';
      notifyInvoice(inv);
    }
    json(res, {});
  }

  async function addInvoiceRest(req: IncomingMessage, res: ServerResponse) {
    let body: Record<string, unknown>;
    try {
      body = await readBody(req);
    } catch (err) {
      return grpcError(res, 3, `unable to parse request: ${(err as Error).message}`);
    }
    if (body.value !== undefined && body.value_msat !== undefined && String(body.value) !== '0' && String(body.value_msat) !== '0') {
      return grpcError(res, 2, 'value and value_msat are mutually exclusive');
    }
    let valueMsat: bigint;
    try {
      valueMsat = body.value_msat !== undefined ? BigInt(String(body.value_msat)) : BigInt(String(body.value ?? 0)) * 1000n;
    } catch {
      return grpcError(res, 3, 'value must be an integer');
    }
    const preimage = typeof body.r_preimage === 'string' && body.r_preimage ? Buffer.from(body.r_preimage, 'base64') : undefined;
    if (preimage && preimage.length !== 32) return grpcError(res, 2, 'payment preimage must be exactly 32 bytes');
    if (preimage && invoices.has(sha256(preimage).toString('hex'))) return grpcError(res, 2, 'invoice with payment hash already exists');
    const expiry = body.expiry !== undefined ? Number(body.expiry) : 86_400;
    const made = addInvoice({ valueMsat, memo: typeof body.memo === 'string' ? body.memo : '', expirySeconds: expiry, preimage });
    const inv = invoices.get(made.paymentHashHex)!;
    json(res, {
      r_hash: Buffer.from(made.paymentHashHex, 'hex').toString('base64'),
      payment_request: made.paymentRequest,
      add_index: String(inv.addIndex),
      payment_addr: inv.paymentAddr.toString('base64'),
    });
  }

  function decodePayReq(res: ServerResponse, payReq: string) {
    let d: ReturnType<typeof bolt11.decode>;
    try {
      d = bolt11.decode(payReq, NETWORKS[network]);
    } catch (err) {
      return grpcError(res, 2, (err as Error).message);
    }
    const msat = d.millisatoshis ? BigInt(d.millisatoshis) : 0n;
    json(res, {
      destination: d.payeeNodeKey,
      payment_hash: d.tagsObject.payment_hash,
      num_satoshis: sat(msat),
      timestamp: String(d.timestamp),
      expiry: String(d.tagsObject.expire_time ?? 3600),
      description: d.tagsObject.description ?? '',
      description_hash: d.tagsObject.purpose_commit_hash ?? '',
      fallback_addr: '',
      cltv_expiry: String(d.tagsObject.min_final_cltv_expiry ?? 18),
      route_hints: [],
      payment_addr: d.tagsObject.payment_secret ? Buffer.from(d.tagsObject.payment_secret, 'hex').toString('base64') : '',
      num_msat: msat.toString(),
      features: {},
      blinded_paths: [],
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://fake');
    log.push(`${req.method} ${url.pathname}`);
    const mac = req.headers['grpc-metadata-macaroon'];
    if (mac === undefined) return grpcError(res, 16, 'expected 1 macaroon, got 0');
    if (mac !== macaroonHex) return grpcError(res, 16, 'verification failed: signature mismatch after caveat verification');
    const path = url.pathname;
    let m: RegExpExecArray | null;
    if (req.method === 'GET' && path === '/v1/getinfo') {
      return json(res, {
        version: '0.18.4-beta commit=tollway-fake',
        commit_hash: '',
        identity_pubkey: nodePubkey,
        alias: 'tollway-fake-lnd',
        color: '#3399ff',
        num_pending_channels: 0,
        num_active_channels: 1,
        num_inactive_channels: 0,
        num_peers: 1,
        block_height: 800,
        block_hash: '0'.repeat(64),
        best_header_timestamp: String(Math.floor(Date.now() / 1000)),
        synced_to_chain: true,
        synced_to_graph: true,
        testnet: network === 'testnet',
        chains: [{ chain: 'bitcoin', network }],
        uris: [],
        features: {},
        require_htlc_interceptor: false,
        store_final_htlc_resolutions: false,
      });
    }
    if (req.method === 'POST' && path === '/v1/invoices') return addInvoiceRest(req, res);
    if (req.method === 'POST' && path === '/v2/invoices/cancel') return cancelInvoiceRest(req, res);
    if (req.method === 'GET' && path === '/v1/invoices/subscribe') return subscribeInvoices(res, url.searchParams);
    if (req.method === 'GET' && (m = /^\/v1\/invoice\/([^/]+)$/.exec(path))) {
      const hash = m[1]!.toLowerCase();
      if (!/^[0-9a-f]{64}$/.test(hash)) return grpcError(res, 2, `invalid hash: ${hash.slice(0, 80)}`);
      const inv = invoices.get(hash);
      return inv ? json(res, invoiceJson(inv)) : grpcError(res, 5, 'unable to locate invoice');
    }
    if (req.method === 'GET' && (m = /^\/v1\/payreq\/([^/]+)$/.exec(path))) return decodePayReq(res, decodeURIComponent(m[1]!));
    if (req.method === 'POST' && path === '/v2/router/send') return send(req, res);
    if (req.method === 'GET' && (m = /^\/v2\/router\/track\/([^/]+)$/.exec(path))) return track(res, m[1]!, url.searchParams);
    res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found\n');
  }

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) grpcError(res, 2, err.message);
      else res.destroy();
    });
  };
  const server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, listener) : http.createServer(listener);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    macaroonHex,
    nodePubkey,
    network,
    addInvoice: (o) => addInvoice(o),
    invoiceState: (h) => invoices.get(h.toLowerCase())?.state,
    settleInvoice(h) {
      const inv = invoices.get(h.toLowerCase());
      if (!inv || !payable(inv)) return false;
      settle(inv, inv.valueMsat);
      return true;
    },
    invoiceStreams: () => invoiceSubscribers.size,
    cutInvoiceStreams() {
      for (const s of [...invoiceSubscribers]) {
        invoiceSubscribers.delete(s);
        s.res.socket?.destroy();
      }
    },
    payments: () => history.map(publicPayment),
    sendRequests: () => sends,
    requests: () => [...log],
    holdPayments() {
      holding = true;
    },
    release() {
      holding = false;
      for (const p of held.splice(0)) resolve(p);
    },
    failNext(reason) {
      failNextReason = reason;
    },
    crashAfterAccept() {
      cutNext = true;
    },
    dropNextSend() {
      dropNext = 'drop';
    },
    stallNextSend() {
      dropNext = 'stall';
    },
    async close() {
      for (const r of open) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
