/**
 * The LightningNode contract (lightning/node.ts), run against every kind of node over its real
 * wire format, each against its stand-in in devnet/. A new kind of node is one more line in KINDS
 * (and a harness that points its adapter at its stand-in); the cases below stay as they are.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLndNode,
  isLightningNodeError,
  type LightningNode,
  type LightningNodeErrorKind,
  type SettledInvoice,
} from '../../lightning/index.js';
import { makeInvoice, startFakeLnd } from '../../devnet/lnd.js';
import { freePort } from '../helpers/hub.js';

/** A kind of node, its adapter pointed at a running stand-in, and the stand-in's knobs. */
interface NodeHarness {
  /** The adapter under test. */
  node: LightningNode;
  /** The same adapter with credentials the stand-in refuses. */
  refusedNode(): LightningNode;
  /** The same adapter pointed where nothing listens. */
  unreachableNode(): Promise<LightningNode>;
  /** An invoice of another node that this node can pay (the stand-in plays the payee). */
  payable(amountMsat: bigint): { bolt11: string; paymentHash: string; preimage: string };
  /** An invoice no reachable node can be paid for. */
  unpayable(amountMsat: bigint): { bolt11: string; paymentHash: string };
  /** A payer elsewhere pays this node's invoice. */
  settleFromOutside(paymentHash: string): void;
  /** Settlement streams open at the stand-in. */
  followers(): number;
  /** Cuts every settlement stream, as a dropped connection would. */
  cutFollowers(): void;
  /** Payments the node takes from now on stay in flight until release(). */
  holdPayments(): void;
  release(): void;
  /** The next payment's answer is cut off after the node took it; the payment goes on. */
  cutNextPayment(): void;
  close(): Promise<void>;
}

async function lndHarness(): Promise<NodeHarness> {
  const lnd = await startFakeLnd();
  const at = (url: string, macaroonHex: string) => createLndNode({ url, macaroonHex, timeoutMs: 3000 });
  return {
    node: at(lnd.url, lnd.macaroonHex),
    refusedNode: () => at(lnd.url, 'ab'.repeat(40)),
    unreachableNode: async () => at(`http://127.0.0.1:${await freePort()}`, lnd.macaroonHex),
    payable: (amountMsat) => {
      const i = lnd.addInvoice({ valueMsat: amountMsat });
      return { bolt11: i.paymentRequest, paymentHash: i.paymentHashHex, preimage: i.preimageHex };
    },
    unpayable: (amountMsat) => {
      const i = makeInvoice({ valueMsat: amountMsat });
      return { bolt11: i.paymentRequest, paymentHash: i.paymentHashHex };
    },
    settleFromOutside: (h) => {
      if (!lnd.settleInvoice(h)) throw new Error(`the stand-in could not settle ${h}`);
    },
    followers: () => lnd.invoiceStreams(),
    cutFollowers: () => lnd.cutInvoiceStreams(),
    holdPayments: () => lnd.holdPayments(),
    release: () => lnd.release(),
    cutNextPayment: () => lnd.crashAfterAccept(),
    close: () => lnd.close(),
  };
}

const KINDS: [kind: string, start: () => Promise<NodeHarness>][] = [['lnd', lndHarness]];

const sha256hex = (hex: string) => createHash('sha256').update(Buffer.from(hex, 'hex')).digest('hex');

async function until<T>(f: () => T | undefined | Promise<T | undefined>, what: string, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function kindOf(p: Promise<unknown>): Promise<LightningNodeErrorKind | 'resolved' | string> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return isLightningNodeError(err) ? err.kind : `not a LightningNodeError: ${String(err)}`;
  }
}

/** Collects what a settlement stream yields, and how it ended. */
function follow(node: LightningNode, opts: { since?: string } = {}) {
  const ctl = new AbortController();
  const seen: SettledInvoice[] = [];
  const ended = (async () => {
    for await (const s of node.followSettlements({ signal: ctl.signal, ...opts })) seen.push(s);
  })().then(
    () => 'ended' as const,
    (err: unknown) => err,
  );
  return { seen, ended, stop: () => ctl.abort() };
}

describe.each(KINDS)('LightningNode contract: %s', (_kind, start) => {
  let h: NodeHarness;
  beforeAll(async () => {
    h = await start();
  });
  afterAll(async () => {
    h?.release();
    await h?.close();
  });

  it('creates an invoice and looks it up open', async () => {
    const before = Math.floor(Date.now() / 1000);
    const inv = await h.node.createInvoice({ amountMsat: 1234n, memo: 'contract', expirySeconds: 600 });
    expect(inv.bolt11).toMatch(/^ln/);
    expect(inv.paymentHash).toMatch(/^[0-9a-f]{64}$/);
    expect(inv.expiresAt).toBeGreaterThanOrEqual(before + 600);
    expect(inv.expiresAt).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 600);
    const status = await h.node.lookupInvoice(inv.paymentHash);
    expect(status).toMatchObject({ state: 'open', amountMsat: 1234n });
    expect(status?.settledAt).toBeUndefined();
    expect(await h.node.lookupInvoice('00'.repeat(32))).toBeUndefined();
    await expect(h.node.lookupInvoice('not hex')).rejects.toBeInstanceOf(RangeError);
    await expect(h.node.createInvoice({ amountMsat: 0n })).rejects.toBeInstanceOf(RangeError);
  });

  it('uses a given preimage, and looks an invoice up settled with it once paid from outside', async () => {
    const preimage = 'c0'.repeat(32);
    const inv = await h.node.createInvoice({ amountMsat: 5000n, preimage });
    expect(inv.paymentHash).toBe(sha256hex(preimage));
    h.settleFromOutside(inv.paymentHash);
    const status = await h.node.lookupInvoice(inv.paymentHash);
    expect(status).toMatchObject({ state: 'settled', amountPaidMsat: 5000n, preimage });
    expect(status!.settledAt).toBeGreaterThan(0);
  });

  it('says expired for an invoice past its expiry', async () => {
    const inv = await h.node.createInvoice({ amountMsat: 1000n, expirySeconds: 1 });
    const status = await until(async () => {
      const s = await h.node.lookupInvoice(inv.paymentHash);
      return s?.state === 'open' ? undefined : s;
    }, 'the invoice to expire');
    expect(status.state).toBe('expired');
  });

  it('follows settlements; one settled while the stream was down is found by looking it up', async () => {
    const a = await h.node.createInvoice({ amountMsat: 2001n });
    const b = await h.node.createInvoice({ amountMsat: 2002n });
    const f1 = follow(h.node);
    await until(() => (h.followers() > 0 ? true : undefined), 'the stream to open');
    h.settleFromOutside(a.paymentHash);
    await until(() => (f1.seen.length ? true : undefined), 'the settlement of a');
    expect(f1.seen[0]).toMatchObject({ paymentHash: a.paymentHash, amountPaidMsat: 2001n });
    expect(sha256hex(f1.seen[0]!.preimage)).toBe(a.paymentHash);
    expect(f1.seen[0]!.settledAt).toBeGreaterThan(0);

    // The connection drops: the stream says so instead of going quiet.
    h.cutFollowers();
    const end = await f1.ended;
    expect(isLightningNodeError(end), String(end)).toBe(true);

    // b settles while nobody listens, so a new stream does not bring it…
    h.settleFromOutside(b.paymentHash);
    const f2 = follow(h.node);
    await until(() => (h.followers() > 0 ? true : undefined), 'the stream to reopen');
    // … and the caller looks up what it was waiting for, as the interface says.
    expect(await h.node.lookupInvoice(b.paymentHash)).toMatchObject({ state: 'settled', amountPaidMsat: 2002n });
    expect(f2.seen.map((s) => s.paymentHash)).not.toContain(b.paymentHash);

    // Aborting ends a stream quietly.
    f2.stop();
    expect(await f2.ended).toBe('ended');
  });

  it('pays an invoice and gets its preimage; a second payment of it is already-paid', async () => {
    const inv = h.payable(3000n);
    const out = await h.node.pay({ bolt11: inv.bolt11, feeLimitMsat: 1000n, timeoutSeconds: 10 });
    expect(out).toMatchObject({ state: 'succeeded', preimage: inv.preimage });
    expect(await h.node.paymentStatus(inv.paymentHash)).toMatchObject({ state: 'succeeded', preimage: inv.preimage });
    expect(await kindOf(h.node.pay({ bolt11: inv.bolt11, feeLimitMsat: 1000n, timeoutSeconds: 10 }))).toBe('already-paid');
  });

  it('reports a payment that found no route as failed, in its own words', async () => {
    const inv = h.unpayable(3000n);
    const out = await h.node.pay({ bolt11: inv.bolt11, feeLimitMsat: 1000n, timeoutSeconds: 10 });
    expect(out).toMatchObject({ state: 'failed', failure: { reason: 'no-route' } });
    expect(await h.node.paymentStatus(inv.paymentHash)).toMatchObject({ state: 'failed', failure: { reason: 'no-route' } });
  });

  it('tells what became of a payment whose outcome is unknown', async () => {
    // Never sent: unknown to the node.
    expect(await h.node.paymentStatus(h.payable(1000n).paymentHash)).toEqual({ state: 'unknown' });

    // Given up while in flight: in flight, then (waiting) succeeded with the preimage.
    const held = h.payable(4000n);
    h.holdPayments();
    const ctl = new AbortController();
    const paying = h.node.pay({ bolt11: held.bolt11, feeLimitMsat: 1000n, timeoutSeconds: 10, signal: ctl.signal });
    await until(
      async () => ((await h.node.paymentStatus(held.paymentHash)).state === 'in_flight' ? true : undefined),
      'the node to take the payment',
    );
    ctl.abort();
    await expect(paying).rejects.toBeDefined();
    expect(await h.node.paymentStatus(held.paymentHash)).toEqual({ state: 'in_flight' });
    const waited = h.node.paymentStatus(held.paymentHash, { wait: true });
    h.release();
    expect(await waited).toMatchObject({ state: 'succeeded', preimage: held.preimage });

    // The answer cut off after the node took it: broken, and the node knows the end.
    const cut = h.payable(5000n);
    h.cutNextPayment();
    expect(await kindOf(h.node.pay({ bolt11: cut.bolt11, feeLimitMsat: 1000n, timeoutSeconds: 10 }))).toBe('broken');
    expect(await h.node.paymentStatus(cut.paymentHash, { wait: true })).toMatchObject({ state: 'succeeded', preimage: cut.preimage });
  });

  it('tells who the node is', async () => {
    const info = await h.node.info();
    expect(info.pubkey).toMatch(/^0[23][0-9a-f]{64}$/);
    expect(info.network).toBe('regtest');
    expect(info.synced).toBe(true);
    expect(info.version).toBeTruthy();
    expect(typeof info.alias).toBe('string');
  });

  it('throws refused when the node refuses the credentials, and unreachable when nothing answers', async () => {
    const refused = h.refusedNode();
    const unreachable = await h.unreachableNode();
    const inv = h.payable(1000n);
    for (const [node, kind] of [
      [refused, 'refused'],
      [unreachable, 'unreachable'],
    ] as const) {
      expect(await kindOf(node.info()), kind).toBe(kind);
      expect(await kindOf(node.createInvoice({ amountMsat: 1000n })), kind).toBe(kind);
      expect(await kindOf(node.lookupInvoice(inv.paymentHash)), kind).toBe(kind);
      expect(await kindOf(node.pay({ bolt11: inv.bolt11, feeLimitMsat: 1000n, timeoutSeconds: 10 })), kind).toBe(kind);
      expect(await kindOf(node.paymentStatus(inv.paymentHash)), kind).toBe(kind);
      const f = follow(node);
      const end = await f.ended;
      expect(isLightningNodeError(end) && end.kind, kind).toBe(kind);
    }
    // Nothing was paid by either.
    expect(await h.node.paymentStatus(inv.paymentHash)).toEqual({ state: 'unknown' });
  });
});

describe('LND specifics', () => {
  it('a gRPC status once the payment started leaves the outcome unknown (broken); before it, refused', async () => {
    const hash = 'aa'.repeat(32);
    let started = true;
    const server = http.createServer((_req, res) => {
      if (!started)
        return void res
          .writeHead(500, { 'content-type': 'application/json' })
          .end(JSON.stringify({ code: 2, message: 'router shutting down', details: [] }));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(JSON.stringify({ result: { payment_hash: hash, status: 'IN_FLIGHT' } }) + '\n');
      res.end(JSON.stringify({ error: { code: 2, message: 'router shutting down', details: [] } }) + '\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const node = createLndNode({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, macaroonHex: 'beef' });
    try {
      expect(await kindOf(node.pay({ bolt11: 'lnbcrt1x', feeLimitMsat: 0n, timeoutSeconds: 1 }))).toBe('broken');
      started = false;
      expect(await kindOf(node.pay({ bolt11: 'lnbcrt1x', feeLimitMsat: 0n, timeoutSeconds: 1 }))).toBe('refused');
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('a settlement stream replays what settled after `since`', async () => {
    const lnd = await startFakeLnd();
    const node = createLndNode({ url: lnd.url, macaroonHex: lnd.macaroonHex });
    try {
      const a = await node.createInvoice({ amountMsat: 1000n });
      const b = await node.createInvoice({ amountMsat: 2000n });
      const f1 = follow(node);
      await until(() => (lnd.invoiceStreams() > 0 ? true : undefined), 'the stream to open');
      lnd.settleInvoice(a.paymentHash);
      await until(() => (f1.seen.length ? true : undefined), 'the settlement of a');
      f1.stop();
      await f1.ended;
      lnd.settleInvoice(b.paymentHash);
      const f2 = follow(node, { since: f1.seen[0]!.cursor! });
      await until(() => (f2.seen.length ? true : undefined), 'the replay of b');
      f2.stop();
      expect(f2.seen.map((s) => s.paymentHash)).toEqual([b.paymentHash]);
    } finally {
      await lnd.close();
    }
  });
});
