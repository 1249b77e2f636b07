/**
 * The LightningNode contract (lightning/node.ts), run against every kind of node over its real
 * wire format, each against its stand-in in devnet/. A new kind of node is one more line in KINDS
 * (and a harness that points its adapter at its stand-in); the cases below stay as they are.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CANCEL_UNSUPPORTED,
  createClnNode,
  createLnbitsNode,
  createLndNode,
  isLightningNodeError,
  type LightningNode,
  type LightningNodeErrorKind,
  type SettledInvoice,
} from '../../lightning/index.js';
import { startFakeCln } from '../../devnet/cln.js';
import { createSimulatedNetwork } from '../../devnet/lightning-network.js';
import { startFakeLnbits } from '../../devnet/lnbits.js';
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
  /** A payment of this hash arrives over the simulated network the stand-in is on: what its node says. */
  deliver(paymentHash: string, amountMsat: bigint): ReturnType<ReturnType<typeof createSimulatedNetwork>['deliver']>;
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
  const net = createSimulatedNetwork();
  const lnd = await startFakeLnd({ lightningNetwork: net });
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
    deliver: (h, amount) => net.deliver(h, amount),
    followers: () => lnd.invoiceStreams(),
    cutFollowers: () => lnd.cutInvoiceStreams(),
    holdPayments: () => lnd.holdPayments(),
    release: () => lnd.release(),
    cutNextPayment: () => lnd.crashAfterAccept(),
    close: () => lnd.close(),
  };
}

async function clnHarness(): Promise<NodeHarness> {
  const net = createSimulatedNetwork();
  const cln = await startFakeCln({ lightningNetwork: net });
  const at = (url: string, rune: string) => createClnNode({ url, rune, timeoutMs: 3000 });
  return {
    node: at(cln.url, cln.rune),
    refusedNode: () => at(cln.url, 'not-a-rune-of-this-node'),
    unreachableNode: async () => at(`http://127.0.0.1:${await freePort()}`, cln.rune),
    payable: (amountMsat) => cln.addInvoice({ amountMsat }),
    unpayable: (amountMsat) => {
      const i = makeInvoice({ valueMsat: amountMsat });
      return { bolt11: i.paymentRequest, paymentHash: i.paymentHashHex };
    },
    settleFromOutside: (h) => {
      if (!cln.settleInvoice(h)) throw new Error(`the stand-in could not settle ${h}`);
    },
    deliver: (h, amount) => net.deliver(h, amount),
    followers: () => cln.waiters(),
    cutFollowers: () => cln.cutWaiters(),
    holdPayments: () => cln.holdPayments(),
    release: () => cln.release(),
    cutNextPayment: () => cln.crashAfterAccept(),
    close: () => cln.close(),
  };
}

async function lnbitsHarness(): Promise<NodeHarness> {
  const net = createSimulatedNetwork();
  const lnbits = await startFakeLnbits({ lightningNetwork: net });
  const at = (url: string, invoiceKey: string, adminKey: string) => createLnbitsNode({ url, invoiceKey, adminKey, timeoutMs: 3000 });
  return {
    node: at(lnbits.url, lnbits.invoiceKey, lnbits.adminKey),
    refusedNode: () => at(lnbits.url, 'ab'.repeat(16), 'cd'.repeat(16)),
    unreachableNode: async () => at(`http://127.0.0.1:${await freePort()}`, lnbits.invoiceKey, lnbits.adminKey),
    payable: (amountMsat) => lnbits.addInvoice({ amountSat: amountMsat / 1000n }),
    unpayable: (amountMsat) => {
      const i = makeInvoice({ valueMsat: amountMsat });
      return { bolt11: i.paymentRequest, paymentHash: i.paymentHashHex };
    },
    settleFromOutside: (h) => {
      if (!lnbits.settleInvoice(h)) throw new Error(`the stand-in could not settle ${h}`);
    },
    deliver: (h, amount) => net.deliver(h, amount),
    followers: () => lnbits.sockets(),
    cutFollowers: () => lnbits.cutSockets(),
    holdPayments: () => lnbits.holdPayments(),
    release: () => lnbits.release(),
    cutNextPayment: () => lnbits.crashAfterAccept(),
    close: () => lnbits.close(),
  };
}

/** What a kind of node can do beyond the interface's minimum; the cases check each either way. */
interface Caps {
  /** followSettlements replays from `since` (LND, CLN); otherwise `since` is ignored. */
  replays: boolean;
  /** Issues invoices in whole satoshis only (LNbits). */
  wholeSatoshis: boolean;
  /** Issues an invoice for a given preimage (not LNbits). */
  givenPreimage: boolean;
  /** Says its node key and network (not LNbits, a wallet). */
  identity: boolean;
  /** Withdraws an invoice (LND CancelInvoice, CLN delinvoice); LNbits cannot. */
  cancels: boolean;
}
const NODE: Caps = { replays: true, wholeSatoshis: false, givenPreimage: true, identity: true, cancels: true };

const KINDS: [kind: string, start: () => Promise<NodeHarness>, caps: Caps][] = [
  ['lnd', lndHarness, NODE],
  ['cln', clnHarness, NODE],
  ['lnbits', lnbitsHarness, { replays: false, wholeSatoshis: true, givenPreimage: false, identity: false, cancels: false }],
];

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

describe.each(KINDS)('LightningNode contract: %s', (_kind, start, caps) => {
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
    const inv = await h.node.createInvoice({ amountMsat: 1_234_000n, memo: 'contract', expirySeconds: 600 });
    expect(inv.bolt11).toMatch(/^ln/);
    expect(inv.paymentHash).toMatch(/^[0-9a-f]{64}$/);
    expect(inv.expiresAt).toBeGreaterThanOrEqual(before + 600);
    expect(inv.expiresAt).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 600);
    const status = await h.node.lookupInvoice(inv.paymentHash);
    expect(status).toMatchObject({ state: 'open', amountMsat: 1_234_000n });
    expect(status?.settledAt).toBeUndefined();
    expect(await h.node.lookupInvoice('00'.repeat(32))).toBeUndefined();
    await expect(h.node.lookupInvoice('not hex')).rejects.toBeInstanceOf(RangeError);
    await expect(h.node.createInvoice({ amountMsat: 0n })).rejects.toBeInstanceOf(RangeError);
  });

  it('keeps an amount in millisatoshi exactly, or refuses one that is not whole satoshis where the node issues only those', async () => {
    const made = h.node.createInvoice({ amountMsat: 1234n });
    if (caps.wholeSatoshis) return void (await expect(made).rejects.toBeInstanceOf(RangeError));
    expect(await h.node.lookupInvoice((await made).paymentHash)).toMatchObject({ state: 'open', amountMsat: 1234n });
  });

  it('uses a given preimage (or refuses one it cannot use), and looks an invoice up settled with its preimage once paid from outside', async () => {
    const given = 'c0'.repeat(32);
    const asked = h.node.createInvoice({ amountMsat: 5_000_000n, preimage: given });
    if (!caps.givenPreimage) expect(await kindOf(asked)).toBe('refused');
    const inv = caps.givenPreimage ? await asked : await h.node.createInvoice({ amountMsat: 5_000_000n });
    if (caps.givenPreimage) expect(inv.paymentHash).toBe(sha256hex(given));
    h.settleFromOutside(inv.paymentHash);
    const status = await h.node.lookupInvoice(inv.paymentHash);
    expect(status).toMatchObject({ state: 'settled', amountPaidMsat: 5_000_000n });
    expect(sha256hex(status!.preimage!)).toBe(inv.paymentHash);
    expect(status!.settledAt).toBeGreaterThan(0);
  });

  it('withdraws an open invoice so that no payment settles it; says settled for a paid one and unknown for none (or refuses: LNbits)', async () => {
    const open = await h.node.createInvoice({ amountMsat: 3_000_000n });
    const paid = await h.node.createInvoice({ amountMsat: 4_000_000n });
    h.settleFromOutside(paid.paymentHash);
    if (!caps.cancels) {
      // LNbits: a clear refusal that names it unsupported, and the invoice stays payable.
      const err = await h.node.cancelInvoice(open.paymentHash).catch((e: unknown) => e);
      expect(isLightningNodeError(err, 'refused') && err.nodeCode).toBe(CANCEL_UNSUPPORTED);
      expect(await h.node.lookupInvoice(open.paymentHash)).toMatchObject({ state: 'open' });
      expect(h.deliver(open.paymentHash, 3_000_000n)).toHaveProperty('preimage');
      expect(await h.node.lookupInvoice(open.paymentHash)).toMatchObject({ state: 'settled' });
      return;
    }
    expect(await h.node.cancelInvoice(open.paymentHash)).toBe('canceled');
    // No payment settles it now: the node refuses it as it would an unknown invoice.
    expect(h.deliver(open.paymentHash, 3_000_000n)).toEqual({ refused: 'incorrect-details' });
    const after = await h.node.lookupInvoice(open.paymentHash);
    // LND keeps it canceled; CLN deletes it.
    if (after !== undefined) expect(after.state).toBe('canceled');
    expect(await h.node.cancelInvoice(open.paymentHash)).toBe(after === undefined ? 'unknown' : 'canceled');
    // Too late for a paid one: it stays settled, with the money.
    expect(await h.node.cancelInvoice(paid.paymentHash)).toBe('settled');
    expect(await h.node.lookupInvoice(paid.paymentHash)).toMatchObject({ state: 'settled', amountPaidMsat: 4_000_000n });
    expect(await h.node.cancelInvoice('00'.repeat(32))).toBe('unknown');
    await expect(h.node.cancelInvoice('not hex')).rejects.toBeInstanceOf(RangeError);
    expect(await kindOf(h.refusedNode().cancelInvoice(paid.paymentHash))).toBe('refused');
    expect(await kindOf((await h.unreachableNode()).cancelInvoice(paid.paymentHash))).toBe('unreachable');
  });

  it('says expired for an invoice past its expiry', async () => {
    const inv = await h.node.createInvoice({ amountMsat: 1_000_000n, expirySeconds: 1 });
    const status = await until(async () => {
      const s = await h.node.lookupInvoice(inv.paymentHash);
      return s?.state === 'open' ? undefined : s;
    }, 'the invoice to expire');
    expect(status.state).toBe('expired');
  });

  it('follows settlements; one settled while the stream was down is found by looking it up', async () => {
    const a = await h.node.createInvoice({ amountMsat: 2_001_000n });
    const b = await h.node.createInvoice({ amountMsat: 2_002_000n });
    const f1 = follow(h.node);
    await until(() => (h.followers() > 0 ? true : undefined), 'the stream to open');
    h.settleFromOutside(a.paymentHash);
    await until(() => (f1.seen.length ? true : undefined), 'the settlement of a');
    expect(f1.seen[0]).toMatchObject({ paymentHash: a.paymentHash, amountPaidMsat: 2_001_000n });
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
    expect(await h.node.lookupInvoice(b.paymentHash)).toMatchObject({ state: 'settled', amountPaidMsat: 2_002_000n });
    expect(f2.seen.map((s) => s.paymentHash)).not.toContain(b.paymentHash);

    // Aborting ends a stream quietly.
    f2.stop();
    expect(await f2.ended).toBe('ended');
  });

  it.runIf(caps.replays)('a settlement stream replays what settled after `since`', async () => {
    const a = await h.node.createInvoice({ amountMsat: 1_000_000n });
    const b = await h.node.createInvoice({ amountMsat: 2_000_000n });
    const f1 = follow(h.node);
    await until(() => (h.followers() > 0 ? true : undefined), 'the stream to open');
    h.settleFromOutside(a.paymentHash);
    await until(() => (f1.seen.length ? true : undefined), 'the settlement of a');
    f1.stop();
    await f1.ended;
    h.settleFromOutside(b.paymentHash);
    const f2 = follow(h.node, { since: f1.seen[0]!.cursor! });
    await until(() => (f2.seen.length ? true : undefined), 'the replay of b');
    f2.stop();
    expect(f2.seen.map((s) => s.paymentHash)).toEqual([b.paymentHash]);
  });

  it('pays an invoice and gets its preimage; a second payment of it is already-paid', async () => {
    const inv = h.payable(3_000_000n);
    const out = await h.node.pay({ bolt11: inv.bolt11, feeLimitMsat: 1000n, timeoutSeconds: 10 });
    expect(out).toMatchObject({ state: 'succeeded', preimage: inv.preimage });
    expect(await h.node.paymentStatus(inv.paymentHash)).toMatchObject({ state: 'succeeded', preimage: inv.preimage });
    expect(await kindOf(h.node.pay({ bolt11: inv.bolt11, feeLimitMsat: 1000n, timeoutSeconds: 10 }))).toBe('already-paid');
  });

  it('reports a payment that found no route as failed, in its own words', async () => {
    const inv = h.unpayable(3_000_000n);
    const out = await h.node.pay({ bolt11: inv.bolt11, feeLimitMsat: 1000n, timeoutSeconds: 10 });
    expect(out).toMatchObject({ state: 'failed', failure: { reason: 'no-route' } });
    expect(await h.node.paymentStatus(inv.paymentHash)).toMatchObject({ state: 'failed', failure: { reason: 'no-route' } });
  });

  it('tells what became of a payment whose outcome is unknown', async () => {
    // Never sent: unknown to the node.
    expect(await h.node.paymentStatus(h.payable(1_000_000n).paymentHash)).toEqual({ state: 'unknown' });

    // Given up while in flight: in flight, then (waiting) succeeded with the preimage.
    const held = h.payable(4_000_000n);
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
    const cut = h.payable(5_000_000n);
    h.cutNextPayment();
    expect(await kindOf(h.node.pay({ bolt11: cut.bolt11, feeLimitMsat: 1000n, timeoutSeconds: 10 }))).toBe('broken');
    expect(await h.node.paymentStatus(cut.paymentHash, { wait: true })).toMatchObject({ state: 'succeeded', preimage: cut.preimage });
  });

  it('tells who the node is', async () => {
    const info = await h.node.info();
    if (caps.identity) {
      expect(info.pubkey).toMatch(/^0[23][0-9a-f]{64}$/);
      expect(info.network).toBe('regtest');
    } else {
      // A wallet (LNbits) has no node key and does not name its network: invoices are not checked against one.
      expect(info.pubkey).toBeNull();
      expect(info.network).toBeNull();
    }
    expect(info.synced).toBe(true);
    expect(info.version).toBeTruthy();
    expect(typeof info.alias).toBe('string');
  });

  it('throws refused when the node refuses the credentials, and unreachable when nothing answers', async () => {
    const refused = h.refusedNode();
    const unreachable = await h.unreachableNode();
    const inv = h.payable(1_000_000n);
    for (const [node, kind] of [
      [refused, 'refused'],
      [unreachable, 'unreachable'],
    ] as const) {
      expect(await kindOf(node.info()), kind).toBe(kind);
      expect(await kindOf(node.createInvoice({ amountMsat: 1_000_000n })), kind).toBe(kind);
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
});

describe('one simulated network', () => {
  it('any stand-in pays an invoice issued by any other, whatever software each plays', async () => {
    const net = createSimulatedNetwork();
    const lnd = await startFakeLnd({ lightningNetwork: net });
    const cln = await startFakeCln({ lightningNetwork: net });
    const lnbits = await startFakeLnbits({ lightningNetwork: net });
    const nodes: Record<string, LightningNode> = {
      lnd: createLndNode({ url: lnd.url, macaroonHex: lnd.macaroonHex }),
      cln: createClnNode({ url: cln.url, rune: cln.rune }),
      lnbits: createLnbitsNode({ url: lnbits.url, invoiceKey: lnbits.invoiceKey, adminKey: lnbits.adminKey }),
    };
    try {
      for (const [payer, from] of Object.entries(nodes)) {
        for (const [payee, to] of Object.entries(nodes)) {
          if (payer === payee) continue;
          const inv = await to.createInvoice({ amountMsat: 21_000n, memo: `${payer} pays ${payee}` });
          const out = await from.pay({ bolt11: inv.bolt11, feeLimitMsat: 1000n, timeoutSeconds: 10 });
          expect(out.state, `${payer} → ${payee}`).toBe('succeeded');
          expect(sha256hex((out as { preimage: string }).preimage)).toBe(inv.paymentHash);
          expect(await to.lookupInvoice(inv.paymentHash)).toMatchObject({ state: 'settled', amountPaidMsat: 21_000n });
        }
      }
      // Money left the LNbits wallet for the two invoices it paid, and came in for the two it issued.
      expect(lnbits.balanceMsat()).toBe(1_000_000_000_000n);
    } finally {
      await Promise.all([lnd.close(), cln.close(), lnbits.close()]);
    }
  });
});

describe('CLN specifics', () => {
  it("trusts clnrest's own CA (whatever names its certificate carries), and nothing else", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollway-cln-tls-'));
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    try {
      // As clnrest makes them: a CA, and a server certificate it signs for the names cln and localhost.
      ssl(
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=cln Root CA',
        '-keyout',
        'ca-key.pem',
        '-out',
        'ca.pem',
      );
      ssl(
        'req',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-subj',
        '/CN=cln rest server',
        '-keyout',
        'server-key.pem',
        '-out',
        'server.csr',
      );
      writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:cln,DNS:localhost\n');
      ssl(
        'x509',
        '-req',
        '-in',
        'server.csr',
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca-key.pem',
        '-CAcreateserial',
        '-days',
        '1',
        '-extfile',
        'ext.cnf',
        '-out',
        'server.pem',
      );
      ssl(
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=another CA',
        '-keyout',
        'other-key.pem',
        '-out',
        'other.pem',
      );
      const read = (f: string) => readFileSync(join(dir, f), 'utf8');
      const cln = await startFakeCln({ tls: { key: read('server-key.pem'), cert: read('server.pem') } });
      try {
        const at = (caCert?: string) => createClnNode({ url: cln.url, rune: cln.rune, timeoutMs: 3000, ...(caCert ? { caCert } : {}) });
        expect((await at(read('ca.pem')).info()).version).toMatch(/^Core Lightning/);
        expect(await kindOf(at(read('other.pem')).info())).toBe('unreachable');
        expect(await kindOf(at().info())).toBe('unreachable');
      } finally {
        await cln.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('LNbits specifics', () => {
  /** A local receiver for LNbits webhooks: the raw bodies, as text. */
  async function receiver() {
    const bodies: string[] = [];
    const server = http.createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        bodies.push(Buffer.concat(parts).toString('utf8'));
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
      bodies,
      close: () => new Promise((r) => server.close(r)),
    };
  }

  it.each(['double-encoded', 'object'] as const)(
    'a %s webhook is only a hint: a real one yields the settlement LNbits confirms; a forged, replayed or malformed one changes nothing',
    async (webhookFormat) => {
      const hook = await receiver();
      const lnbits = await startFakeLnbits({ webhookFormat });
      const node = createLnbitsNode({ url: lnbits.url, invoiceKey: lnbits.invoiceKey, webhookUrl: hook.url });
      try {
        const inv = await node.createInvoice({ amountMsat: 7_000n });
        const open = await node.createInvoice({ amountMsat: 8_000n });
        lnbits.settleInvoice(inv.paymentHash);
        const body = await until(() => hook.bodies[0], 'the webhook');
        if (webhookFormat === 'double-encoded') expect(typeof JSON.parse(body)).toBe('string');
        const settled = await node.webhookHint(body);
        expect(settled).toMatchObject({ paymentHash: inv.paymentHash, amountPaidMsat: 7_000n });
        expect(sha256hex(settled!.preimage)).toBe(inv.paymentHash);

        // Forged: a body naming an open invoice, or one LNbits never heard of, says paid: LNbits is asked, and it is not.
        const forged = JSON.stringify({
          ...JSON.parse(webhookFormat === 'object' ? body : JSON.parse(body)),
          payment_hash: open.paymentHash,
          status: 'success',
        });
        expect(await node.webhookHint(forged)).toBeUndefined();
        expect(await node.lookupInvoice(open.paymentHash)).toMatchObject({ state: 'open' });
        expect(await node.webhookHint({ payment_hash: 'ab'.repeat(32), status: 'success' })).toBeUndefined();
        // Replayed: the same settlement again, nothing new (the caller handles it once by its hash).
        expect(await node.webhookHint(body)).toEqual(settled);
        // Malformed: a clear RangeError.
        await expect(node.webhookHint('{"amount": 1}')).rejects.toBeInstanceOf(RangeError);
        await expect(node.webhookHint('not json')).rejects.toBeInstanceOf(RangeError);
        expect(lnbits.invoiceStatus(open.paymentHash)).toBe('pending');
        expect(lnbits.paymentsOut()).toHaveLength(0);
      } finally {
        await lnbits.close();
        await hook.close();
      }
    },
  );

  it('a webhook hint also reaches an open settlement stream, once per invoice', async () => {
    const lnbits = await startFakeLnbits();
    const node = createLnbitsNode({ url: lnbits.url, invoiceKey: lnbits.invoiceKey });
    const f = follow(node);
    try {
      const inv = await node.createInvoice({ amountMsat: 9_000n });
      await until(() => (lnbits.sockets() > 0 ? true : undefined), 'the stream to open');
      lnbits.settleInvoice(inv.paymentHash);
      await node.webhookHint({ payment_hash: inv.paymentHash });
      await until(() => (f.seen.length ? true : undefined), 'the settlement');
      await node.webhookHint({ payment_hash: inv.paymentHash });
      await new Promise((r) => setTimeout(r, 100));
      expect(f.seen.map((s) => s.paymentHash)).toEqual([inv.paymentHash]);
    } finally {
      f.stop();
      await f.ended;
      await lnbits.close();
    }
  });

  it('refuses to pay without the admin key, and the invoice key cannot pay', async () => {
    const lnbits = await startFakeLnbits();
    const payee = await startFakeLnbits();
    try {
      const inv = payee.addInvoice({ amountSat: 5n });
      const noAdmin = createLnbitsNode({ url: lnbits.url, invoiceKey: lnbits.invoiceKey });
      expect(await kindOf(noAdmin.pay({ bolt11: inv.bolt11, feeLimitMsat: 0n, timeoutSeconds: 5 }))).toBe('refused');
      const wrongKey = createLnbitsNode({ url: lnbits.url, invoiceKey: lnbits.invoiceKey, adminKey: lnbits.invoiceKey });
      expect(await kindOf(wrongKey.pay({ bolt11: inv.bolt11, feeLimitMsat: 0n, timeoutSeconds: 5 }))).toBe('refused');
      expect(lnbits.paymentsOut()).toHaveLength(0);
    } finally {
      await lnbits.close();
      await payee.close();
    }
  });
});
