/**
 * Forged and replayed payment proofs the review tried against the merchant kit, with a real hub
 * paying (SQLite, the internal rail for receipts, the Lightning rail through the stand-in LND for
 * L402) and real Express shops on 127.0.0.1. merchant-middleware.test.ts and
 * l402-middleware.test.ts keep the single-request cases (other path, method, body, merchant;
 * expired; wrong preimage; forged signature); this file keeps what they do not: replays raced
 * against each other and at the edge of expiry, receipts carried to another merchant's shop,
 * macaroons carried to another merchant or another service, tampered caveats and identifiers,
 * widened expiry, and credentials of the "Payment" HTTP authentication scheme, which neither
 * l402() nor paywall() accepts.
 *
 * Every refusal: the documented answer (a fresh 402 with the x402 reason; a 401 or 402
 * problem+json with a fresh L402 challenge), the paid route did not run, and the hub's rows and
 * ledger are as they were.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLnd, type FakeLnd } from '../../devnet/lnd.js';
import { createLndNode } from '../../lightning/index.js';
import { l402 } from '../../merchant/l402.js';
import { exportMacaroonV2, type MacaroonFields } from '../../merchant/macaroon-v2.js';
import { memoryReceiptStore, paywall, type PaywallReason } from '../../merchant/index.js';
import { encodePaymentSignature, parseL402, parsePaymentRequired, type PaymentOption } from '../../shared/challenge.js';
import { createMerchant, fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced, rowCounts } from '../helpers/invariant.js';

interface Mac extends MacaroonFields {
  addFirstPartyCaveat(c: string): void;
}
const macaroonLib = createRequire(import.meta.url)('macaroon') as {
  importMacaroons(s: string): Mac[];
  newMacaroon(o: { identifier: Uint8Array; rootKey: Uint8Array; location?: string; version?: 2 }): Mac;
};
/** Adds first-party caveats as a holder would (written by the kit's exporter: see merchant/macaroon-v2.ts). */
function withCaveats(macaroon: string, ...caveats: string[]): string {
  const m = macaroonLib.importMacaroons(macaroon)[0]!;
  for (const caveat of caveats) m.addFirstPartyCaveat(caveat);
  return exportMacaroonV2(m).toString('base64');
}

const SECRET = 'THE-PAID-CONTENT';
const SECRET_A = 'a1'.repeat(32);
const SECRET_B = 'b2'.repeat(32);

let lnd: FakeLnd;
let hub: TestHub;
let session: Session;
let merchantA: string;
let merchantB: string;
let shopA: string;
let shopB: string;
const servers: Server[] = [];
/** Times each paid route ran, by "<shop> <path>". */
const ran = new Map<string, number>();
/** The clock of the L402 routes and of the edge-of-expiry paywall and its store. */
let clock = Date.now();

function route(name: string): express.RequestHandler {
  return (_req, res) => {
    ran.set(name, (ran.get(name) ?? 0) + 1);
    res.send(`${SECRET} ${name}`);
  };
}

async function listen(app: express.Express): Promise<string> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  lnd = await startFakeLnd();
  hub = await startTestHub('sqlite', { env: { TOLLWAY_LND_REST_URL: lnd.url, TOLLWAY_LND_MACAROON: lnd.macaroonHex } });
  merchantA = (await createMerchant(hub.url, 'Shop A')).merchant.id;
  merchantB = (await createMerchant(hub.url, 'Shop B')).merchant.id;
  session = await signIn(hub.url);
  await fund(hub.url, session, '100000000');
  await fund(hub.url, session, '100000000', 'BTC');
  const node = createLndNode({ url: lnd.url, macaroonHex: lnd.macaroonHex });
  const lightning = { node, validSeconds: 60, rateLimit: false as const, now: () => clock };

  const a = express();
  a.get('/article/:id', paywall({ hub: hub.url, merchantId: merchantA, asset: 'SOVR', price: '1500' }), route('A article'));
  const edgeStore = memoryReceiptStore({ now: () => clock });
  a.get(
    '/edge',
    paywall({ hub: hub.url, merchantId: merchantA, asset: 'SOVR', price: '1500', now: () => clock, store: edgeStore }),
    route('A edge'),
  );
  // Two services under one secret: a token names its service, and only that service's routes take it.
  a.get('/premium', l402({ ...lightning, price: 2000n, service: 'premium', rootKeySecret: SECRET_A }), route('A premium'));
  a.get('/archive', l402({ ...lightning, price: 1000n, service: 'archive', rootKeySecret: SECRET_A }), route('A archive'));
  // Three caveats, the most a challenge carries.
  a.get(
    '/caps',
    l402({ ...lightning, price: 1000n, service: 'caps', rootKeySecret: SECRET_A, capabilities: ['read'], requireCapability: 'read' }),
    route('A caps'),
  );
  shopA = await listen(a);

  // Another merchant: the same paths and the same service name, its own merchant id and secret.
  const b = express();
  b.get('/article/:id', paywall({ hub: hub.url, merchantId: merchantB, asset: 'SOVR', price: '1500' }), route('B article'));
  b.get('/premium', l402({ ...lightning, price: 2000n, service: 'premium', rootKeySecret: SECRET_B }), route('B premium'));
  shopB = await listen(b);
});
afterEach(async () => expectLedgerBalanced(hub.store.db));
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  await hub?.stop();
  await lnd?.close();
});

/**
 * Sends the attack and checks what every refusal shares: the route did not run and the hub wrote
 * nothing. Returns the answer for the caller's own checks.
 */
async function refused(send: () => Promise<Response>): Promise<{ res: Response; text: string }> {
  const rowsBefore = await rowCounts(hub.store.db);
  const ranBefore = new Map(ran);
  const res = await send();
  const text = await res.text();
  expect(text).not.toContain(SECRET);
  expect(ran).toEqual(ranBefore);
  expect(await rowCounts(hub.store.db)).toEqual(rowsBefore);
  await expectLedgerBalanced(hub.store.db);
  return { res, text };
}

// ---------------------------------------------------------------------------------------------
// Receipts

async function tollwayChallenge(url: string): Promise<{ entry: PaymentOption; resourceUrl: string }> {
  const res = await fetch(url, { headers: { accept: 'application/json' } });
  expect(res.status).toBe(402);
  const parsed = parsePaymentRequired(res.headers.get('payment-required')!);
  if (!parsed.ok) throw new Error(parsed.error.message);
  return { entry: parsed.value.accepts.find((o) => o.scheme === 'tollway')!, resourceUrl: parsed.value.resource!.url };
}

/** Pays the way the extension does and returns the proof header for the retry. */
async function buyReceipt(url: string): Promise<{ proof: string; token: string }> {
  const { entry, resourceUrl } = await tollwayChallenge(url);
  const res = await pay(hub.url, session, randomUUID(), {
    rail: 'internal',
    payTo: entry.payTo,
    amount: entry.amount,
    asset: entry.asset,
    requirement: entry,
    resource: { url: resourceUrl, method: 'GET' },
  });
  expect(res.status).toBe(200);
  const { receipt } = (await res.json()) as { receipt: { token: string } };
  return { proof: encodePaymentSignature({ accepted: entry, payload: { receipt: receipt.token } }), token: receipt.token };
}

const retry = (url: string, proof: string) => fetch(url, { headers: { accept: 'application/json', 'payment-signature': proof } });

/** A fresh 402 naming the reason, in the JSON body and in the decoded PAYMENT-REQUIRED header. */
function expectReason(r: { res: Response; text: string }, reason: PaywallReason): void {
  expect(r.res.status).toBe(402);
  expect((JSON.parse(r.text) as { error: string }).error).toBe(reason);
  const decoded = parsePaymentRequired(r.res.headers.get('payment-required')!);
  expect(decoded.ok && decoded.value.serverError).toBe(reason);
}

describe('receipts replayed', () => {
  it('at once, many times: exactly one request gets in, every other is refused as replayed', async () => {
    const url = `${shopA}/article/race`;
    const { proof } = await buyReceipt(url);
    const ranBefore = ran.get('A article') ?? 0;
    const rowsBefore = await rowCounts(hub.store.db);
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => retry(url, proof).then(async (res) => ({ res, text: await res.text() }))),
    );
    expect(answers.filter((a) => a.res.status === 200)).toHaveLength(1);
    for (const a of answers.filter((x) => x.res.status !== 200)) expectReason(a, 'replayed');
    expect((ran.get('A article') ?? 0) - ranBefore).toBe(1);
    expect(await rowCounts(hub.store.db)).toEqual(rowsBefore);
  });

  it("at another merchant's shop, on the same path: refused as another merchant's, and still good where it was bought", async () => {
    const { proof } = await buyReceipt(`${shopA}/article/1`);
    expectReason(await refused(() => retry(`${shopB}/article/1`, proof)), 'wrong_merchant');
    // The same receipt wrapped in shop B's own challenge entry changes nothing: the receipt names its merchant.
    const { entry } = await tollwayChallenge(`${shopB}/article/1`);
    const { token } = await buyReceipt(`${shopA}/article/2`);
    const rewrapped = encodePaymentSignature({ accepted: entry, payload: { receipt: token } });
    expectReason(await refused(() => retry(`${shopB}/article/2`, rewrapped)), 'wrong_merchant');
    expect((await retry(`${shopA}/article/1`, proof)).status).toBe(200);
  });

  it('on another path after it was spent: refused, never a second opening', async () => {
    const { proof } = await buyReceipt(`${shopA}/article/3`);
    expect((await retry(`${shopA}/article/3`, proof)).status).toBe(200);
    expectReason(await refused(() => retry(`${shopA}/article/4`, proof)), 'binding_mismatch');
    expectReason(await refused(() => retry(`${shopA}/article/3`, proof)), 'replayed');
  });

  it('at the edge of expiry: remembered as spent until the last instant it verifies, expired from then on', async () => {
    clock = Date.now();
    const { proof, token } = await buyReceipt(`${shopA}/edge`);
    expect((await retry(`${shopA}/edge`, proof)).status).toBe(200);
    const { exp } = decodeJwt(token) as { exp: number };
    const lastValid = (exp + 5) * 1000 - 1; // the paywall's default 5 s clock tolerance
    clock = lastValid;
    expectReason(await refused(() => retry(`${shopA}/edge`, proof)), 'replayed');
    clock = lastValid + 1;
    expectReason(await refused(() => retry(`${shopA}/edge`, proof)), 'expired');
    clock = lastValid + 24 * 3600_000; // long after the store forgot it
    expectReason(await refused(() => retry(`${shopA}/edge`, proof)), 'expired');
    clock = Date.now();
  });
});

// ---------------------------------------------------------------------------------------------
// L402

interface Bought {
  macaroon: string;
  preimage: string;
  paymentHash: string;
}

/** 402 → the challenge as a client reads it → paid through the hub's Lightning rail → the credential. */
async function buyL402(url: string): Promise<Bought> {
  const r = await fetch(url);
  expect(r.status).toBe(402);
  const ch = parseL402([r.headers.get('www-authenticate') ?? '']);
  if (!ch.ok) throw new Error(ch.error.message);
  const paid = await pay(hub.url, session, randomUUID(), {
    rail: 'lightning',
    payTo: ch.value.invoice,
    amount: ch.value.amountMsat!,
    asset: 'BTC',
  });
  const p = (await paid.json()) as { status: string; receipt: { preimage: string } };
  expect(p.status).toBe('completed');
  const paymentHash = Buffer.from(macaroonLib.importMacaroons(ch.value.macaroon)[0]!.identifier).subarray(2, 34).toString('hex');
  return { macaroon: ch.value.macaroon, preimage: p.receipt.preimage, paymentHash };
}

const withAuth = (url: string, authorization: string) => fetch(url, { headers: { authorization } });

/** 401 invalid-l402-credential (or 402 payment-required) as problem+json, with a fresh L402 challenge. */
function expectL402Refusal(r: { res: Response; text: string }, status: 401 | 402, detail?: RegExp): void {
  expect(r.res.status, r.text).toBe(status);
  expect(r.res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const problem = JSON.parse(r.text) as { type: string; detail: string };
  expect(problem.type).toBe(
    status === 401 ? 'https://tollway.dev/problems/invalid-l402-credential' : 'https://tollway.dev/problems/payment-required',
  );
  if (detail) expect(problem.detail).toMatch(detail);
  expect(r.res.headers.get('www-authenticate')).toMatch(/^L402 version="0", token="[^"]+"/);
}

/** The macaroon's bytes with `from` replaced by `to` (same length), signature untouched. */
function tamper(macaroon: string, from: string, to: string): string {
  expect(to.length).toBe(from.length);
  const bytes = Buffer.from(macaroon, 'base64');
  const at = bytes.indexOf(Buffer.from(from));
  expect(at, `"${from}" in the macaroon`).toBeGreaterThanOrEqual(0);
  Buffer.from(to).copy(bytes, at);
  return bytes.toString('base64');
}

describe('L402 forgeries', () => {
  it("an unauthenticated challenge never goes through the macaroon package's exporter (hundreds of MiB per 402)", async () => {
    // The package's exporter doubles its buffer on every byte appended (see merchant/macaroon-v2.ts):
    // 200 MiB for two caveats, 3.2 GiB for three, per unauthenticated request. Shut it here; a
    // challenge must still be issued, and the token it carries must still open the route.
    const proto = Object.getPrototypeOf(macaroonLib.newMacaroon({ identifier: Buffer.alloc(1), rootKey: Buffer.alloc(32) })) as {
      _exportBinaryV2(): Uint8Array;
    };
    const original = proto._exportBinaryV2;
    let calls = 0;
    proto._exportBinaryV2 = () => {
      calls++;
      throw new RangeError('the quadratic exporter was used');
    };
    try {
      for (const path of ['/premium', '/caps']) {
        const r = await fetch(`${shopA}${path}`);
        expect(r.status, await r.text()).toBe(402);
      }
      const t = await buyL402(`${shopA}/caps`);
      expect((await withAuth(`${shopA}/caps`, `L402 ${t.macaroon}:${t.preimage}`)).status).toBe(200);
    } finally {
      proto._exportBinaryV2 = original;
    }
    expect(calls).toBe(0);
  });

  it('the preimage of another paid invoice does not open a token', async () => {
    const mine = await buyL402(`${shopA}/premium`);
    const cheaper = await buyL402(`${shopA}/archive`);
    expectL402Refusal(await refused(() => withAuth(`${shopA}/premium`, `L402 ${mine.macaroon}:${cheaper.preimage}`)), 401, /preimage/);
    expect((await withAuth(`${shopA}/premium`, `L402 ${mine.macaroon}:${mine.preimage}`)).status).toBe(200);
  });

  it("a token paid at another merchant, for a service of the same name, is refused: it is signed under that merchant's secret", async () => {
    const atB = await buyL402(`${shopB}/premium`);
    expectL402Refusal(await refused(() => withAuth(`${shopA}/premium`, `L402 ${atB.macaroon}:${atB.preimage}`)), 401, /signature/);
    expect((await withAuth(`${shopB}/premium`, `L402 ${atB.macaroon}:${atB.preimage}`)).status).toBe(200);
  });

  it("a token for the cheaper service does not open another service's path of the same merchant", async () => {
    const cheap = await buyL402(`${shopA}/archive`);
    expectL402Refusal(
      await refused(() => withAuth(`${shopA}/premium`, `L402 ${cheap.macaroon}:${cheap.preimage}`)),
      401,
      /service premium/,
    );
  });

  it('tampered caveats break the signature: a service renamed, an expiry pushed out', async () => {
    const cheap = await buyL402(`${shopA}/archive`);
    const renamed = tamper(cheap.macaroon, 'services=archive:0', 'services=premium:0');
    expectL402Refusal(await refused(() => withAuth(`${shopA}/premium`, `L402 ${renamed}:${cheap.preimage}`)), 401, /signature/);

    const t = await buyL402(`${shopA}/premium`);
    const until = Math.floor(clock / 1000) + 60;
    const later = tamper(t.macaroon, `premium_valid_until=${until}`, `premium_valid_until=${until + 9_000_000}`);
    expectL402Refusal(await refused(() => withAuth(`${shopA}/premium`, `L402 ${later}:${t.preimage}`)), 401, /signature/);
  });

  it('a tampered identifier (another paid invoice’s hash) breaks the signature', async () => {
    const premium = await buyL402(`${shopA}/premium`);
    const cheap = await buyL402(`${shopA}/archive`);
    const bytes = Buffer.from(premium.macaroon, 'base64');
    const at = bytes.indexOf(Buffer.from(premium.paymentHash, 'hex'));
    expect(at).toBeGreaterThan(0);
    Buffer.from(cheap.paymentHash, 'hex').copy(bytes, at);
    const forged = bytes.toString('base64');
    expectL402Refusal(await refused(() => withAuth(`${shopA}/premium`, `L402 ${forged}:${cheap.preimage}`)), 401, /signature/);
  });

  it('expired: a caveat the holder adds cannot widen it, and the token stays shut', async () => {
    clock = Date.now();
    const t = await buyL402(`${shopA}/premium`);
    const widenedB64 = withCaveats(
      t.macaroon,
      `premium_valid_until=${Math.floor(clock / 1000) + 9_000_000}`,
      'services=premium:0,archive:0',
    );
    expect((await withAuth(`${shopA}/premium`, `L402 ${widenedB64}:${t.preimage}`)).status).toBe(200);
    clock += 61_000;
    try {
      for (const mac of [t.macaroon, widenedB64]) {
        expectL402Refusal(await refused(() => withAuth(`${shopA}/premium`, `L402 ${mac}:${t.preimage}`)), 401, /expired/);
      }
    } finally {
      clock = Date.now();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The "Payment" HTTP authentication scheme

/** A credential of the Payment scheme (draft-httpauth-payment, Lightning charge): b64url JSON, no padding. */
function paymentCredential(preimage: string, realm: string): string {
  const request = Buffer.from(JSON.stringify({ amount: '2', currency: 'sat', methodDetails: { invoice: 'lnbcrt20n1x' } })).toString(
    'base64url',
  );
  return Buffer.from(
    JSON.stringify({ challenge: { id: 'forged-id', realm, method: 'lightning', intent: 'charge', request }, payload: { preimage } }),
  ).toString('base64url');
}

describe('Payment-scheme forgeries', () => {
  it('l402() answers a Payment credential (even with a real preimage) with a fresh 402 and never runs the route', async () => {
    const t = await buyL402(`${shopA}/premium`);
    const cred = paymentCredential(t.preimage, shopA);
    for (const authorization of [
      `Payment ${cred}`,
      `Payment ${cred}, L402 ${t.macaroon}:${t.preimage}`, // a second scheme smuggled after the first
      `Payment id="forged-id", realm="${shopA}", method="lightning", intent="charge"`,
      `L402x ${t.macaroon}:${t.preimage}`,
    ]) {
      expectL402Refusal(await refused(() => withAuth(`${shopA}/premium`, authorization)), 402);
    }
  });

  it('paywall() treats a Payment credential as no proof, and one put in PAYMENT-SIGNATURE as an unreadable proof', async () => {
    const url = `${shopA}/article/payment-scheme`;
    const { token } = await buyReceipt(url);
    const cred = paymentCredential('00'.repeat(32), shopA);
    expectReason(
      await refused(() => fetch(url, { headers: { accept: 'application/json', authorization: `Payment ${cred}` } })),
      'payment_required',
    );
    // A real receipt inside a Payment credential's payload is still not an x402 proof.
    const carrying = Buffer.from(
      JSON.stringify({ challenge: { id: 'x', realm: shopA, method: 'tollway', intent: 'charge' }, payload: { receipt: token } }),
    ).toString('base64url');
    expectReason(
      await refused(() => fetch(url, { headers: { accept: 'application/json', authorization: `Payment ${carrying}` } })),
      'payment_required',
    );
    for (const proof of [cred, carrying]) {
      const r = await refused(() => retry(url, proof));
      expect(r.res.status).toBe(402);
      expect(['malformed_proof', 'unsupported_version']).toContain((JSON.parse(r.text) as { error: string }).error);
    }
  });
});
