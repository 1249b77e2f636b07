/**
 * L402 end to end: a merchant route behind l402() issues a real macaroon and an invoice from its
 * LND (the stand-in node), a person pays the invoice through the hub's Lightning rail, and the
 * preimage from the hub's receipt opens the route.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseL402 } from '../../shared/challenge.js';
import { l402, memoryRootKeyStore, parseL402Authorization } from '../../merchant/l402.js';
import { createLndNode } from '../../lightning/index.js';
import { lndInvoices } from '../../merchant/lnd.js';
import { exportMacaroonV2, type MacaroonFields } from '../../merchant/macaroon-v2.js';
import { startFakeLnd, type FakeLnd } from '../../devnet/lnd.js';
import { fund, pay, signIn, startTestHub, type Session, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';

interface Mac extends MacaroonFields {
  addFirstPartyCaveat(c: string): void;
}
const macaroonLib = createRequire(import.meta.url)('macaroon') as {
  importMacaroons(s: string): Mac[];
  newMacaroon(o: { identifier: Uint8Array; rootKey: Uint8Array; location?: string }): Mac;
};
// Not m.exportBinary(): the package's exporter allocates 3.2 GiB for three caveats (see merchant/macaroon-v2.ts).
const b64 = (m: Mac) => exportMacaroonV2(m).toString('base64');

describe('L402 middleware with the hub paying over Lightning', () => {
  let lnd: FakeLnd;
  let hub: TestHub;
  let s: Session;
  let shop: Server;
  let shopUrl: string;
  let clock = Date.now();
  const rootKeys = memoryRootKeyStore();
  let k = 0;

  beforeAll(async () => {
    lnd = await startFakeLnd();
    hub = await startTestHub('sqlite', { env: { TOLLWAY_LND_REST_URL: lnd.url, TOLLWAY_LND_MACAROON: lnd.macaroonHex } });
    s = await signIn(hub.url);
    await fund(hub.url, s, '1000000', 'BTC');
    // The node as l402() takes it now, and the older lndInvoices() form beside it.
    const node = createLndNode({ url: lnd.url, macaroonHex: lnd.macaroonHex });
    const invoices = lndInvoices({ url: lnd.url, macaroonHex: lnd.macaroonHex });
    const app = express();
    app.get('/premium', l402({ node, price: 2000n, service: 'premium', validSeconds: 60, rootKeys, now: () => clock }), (_req, res) => {
      res.json({ secret: 42, paid: res.locals.l402 });
    });
    app.get(
      '/admin',
      l402({
        invoices,
        price: 3000n,
        service: 'premium',
        validSeconds: 60,
        rootKeys,
        capabilities: ['read'],
        requireCapability: 'write',
        now: () => clock,
      }),
      (_req, res) => res.json({ ok: true }),
    );
    shop = app.listen(0, '127.0.0.1');
    await new Promise((r) => shop.once('listening', r));
    shopUrl = `http://127.0.0.1:${(shop.address() as AddressInfo).port}`;
  });
  afterEach(async () => expectLedgerBalanced(hub.store.db));
  afterAll(async () => {
    shop?.close();
    await hub?.stop();
    await lnd?.close();
  });

  /** 402 → parse the challenge as a client does → pay through the hub → the credential. */
  async function buy(path = '/premium') {
    const r = await fetch(shopUrl + path);
    expect(r.status).toBe(402);
    const ch = parseL402([r.headers.get('www-authenticate') ?? '']);
    if (!ch.ok) throw new Error(ch.error.message);
    const paid = await pay(hub.url, s, `l402-${++k}`, {
      rail: 'lightning',
      payTo: ch.value.invoice,
      amount: ch.value.amountMsat!,
      asset: 'BTC',
    });
    const p = (await paid.json()) as { status: string; receipt: { preimage?: string } };
    expect(p.status).toBe('completed');
    return {
      macaroon: ch.value.macaroon,
      invoice: ch.value.invoice,
      preimage: p.receipt.preimage!,
      header: r.headers.get('www-authenticate')!,
    };
  }
  const get = (auth?: string, path = '/premium') => fetch(shopUrl + path, auth ? { headers: { authorization: auth } } : {});

  it('402 with a real macaroon and invoice; paid through the hub; the credential opens the route', async () => {
    const c = await buy();
    expect(c.header).toMatch(/^L402 version="0", token="[^"]+", macaroon="[^"]+", invoice="lnbcrt20n1[^"]+"$/);
    const mac = macaroonLib.importMacaroons(c.macaroon)[0]!;
    const id = Buffer.from(mac.identifier);
    expect(id.length).toBe(66);
    expect(id.readUInt16BE(0)).toBe(0);
    expect(id.subarray(2, 34).toString('hex')).toBe(createHash('sha256').update(Buffer.from(c.preimage, 'hex')).digest('hex'));
    expect(mac.caveats.map((cv) => Buffer.from(cv.identifier).toString())).toEqual([
      'services=premium:0',
      `premium_valid_until=${Math.floor(clock / 1000) + 60}`,
      // Scoped to what was paid for: this path (and those under it), this method, at least this price.
      'premium_path_prefix=/premium',
      'premium_method=GET',
      'premium_amount_msat=2000',
    ]);

    const ok = await get(`L402 ${c.macaroon}:${c.preimage}`);
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { secret: number; paid: { paymentHash: string } };
    expect(body.secret).toBe(42);
    expect(body.paid.paymentHash).toBe(id.subarray(2, 34).toString('hex'));
    // Old LSAT clients: the other scheme name and a base64 preimage.
    expect((await get(`LSAT ${c.macaroon}:${Buffer.from(c.preimage, 'hex').toString('base64')}`)).status).toBe(200);
  });

  it('401 for a wrong preimage, a forged signature, another service, a revoked token; 402 for a malformed header', async () => {
    const c = await buy();
    const wrong = await get(`L402 ${c.macaroon}:${'00'.repeat(32)}`);
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { detail: string }).detail).toMatch(/preimage/);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^L402 version="0"/);

    // A caveat added by the holder narrows the token and keeps it valid…
    const narrowed = macaroonLib.importMacaroons(c.macaroon)[0]!;
    narrowed.addFirstPartyCaveat(`premium_valid_until=${Math.floor(clock / 1000) + 30}`);
    expect((await get(`L402 ${b64(narrowed)}:${c.preimage}`)).status).toBe(200);
    // …and one for another service shuts it out here.
    const elsewhere = macaroonLib.importMacaroons(c.macaroon)[0]!;
    elsewhere.addFirstPartyCaveat('services=other:0');
    expect((await get(`L402 ${b64(elsewhere)}:${c.preimage}`)).status).toBe(401);

    // The same identifier under a key the holder made up.
    const forged = macaroonLib.newMacaroon({
      identifier: macaroonLib.importMacaroons(c.macaroon)[0]!.identifier,
      rootKey: Buffer.alloc(32, 7),
      location: 'lsat',
    });
    const f = await get(`L402 ${b64(forged)}:${c.preimage}`);
    expect(f.status).toBe(401);
    expect(((await f.json()) as { detail: string }).detail).toMatch(/signature/);

    for (const malformed of ['L402 garbage', `L402 ${c.macaroon}`, `L402 ${c.macaroon}:abc`, 'L402 !!!:' + c.preimage]) {
      expect((await get(malformed)).status, malformed).toBe(402);
    }

    const id = Buffer.from(macaroonLib.importMacaroons(c.macaroon)[0]!.identifier);
    await rootKeys.delete(createHash('sha256').update(id).digest('hex'));
    expect((await get(`L402 ${c.macaroon}:${c.preimage}`)).status).toBe(401);
  });

  it('401 once the valid_until caveat has passed', async () => {
    const c = await buy();
    expect((await get(`L402 ${c.macaroon}:${c.preimage}`)).status).toBe(200);
    clock += 61_000;
    const late = await get(`L402 ${c.macaroon}:${c.preimage}`);
    expect(late.status).toBe(401);
    expect(((await late.json()) as { detail: string }).detail).toMatch(/expired/);
  });

  it('401 when the route needs a capability the token lacks', async () => {
    const c = await buy('/admin');
    const r = await get(`L402 ${c.macaroon}:${c.preimage}`, '/admin');
    expect(r.status).toBe(401);
    expect(((await r.json()) as { detail: string }).detail).toMatch(/capability write/);
  });

  it('parses credentials strictly', () => {
    expect(parseL402Authorization(`L402 AgEEbHNhdA==:${'ab'.repeat(32)}`)?.preimage.toString('hex')).toBe('ab'.repeat(32));
    expect(parseL402Authorization(`L402 a,b:${'ab'.repeat(32)}`)?.macaroons).toEqual(['a', 'b']);
    for (const bad of [undefined, '', 'Bearer x', 'L402', `L402 :${'ab'.repeat(32)}`, 'L402 AgE:zz', `L402 Ag E:${'ab'.repeat(32)}`]) {
      expect(parseL402Authorization(bad), String(bad)).toBeUndefined();
    }
  });

  it('looks up the merchant invoice it was paid', async () => {
    const invoices = lndInvoices({ url: lnd.url, macaroonHex: lnd.macaroonHex });
    const issued = await invoices.addInvoice({ valueMsat: 1234n, memo: 'lookup' });
    expect(await invoices.lookupInvoice(issued.paymentHash)).toMatchObject({ state: 'OPEN', valueMsat: 1234n, amtPaidMsat: 0n });
    const p = (await (
      await pay(hub.url, s, `l402-${++k}`, { rail: 'lightning', payTo: issued.paymentRequest, amount: '1234', asset: 'BTC' })
    ).json()) as { receipt: { preimage: string } };
    expect(await invoices.lookupInvoice(issued.paymentHash)).toMatchObject({
      state: 'SETTLED',
      amtPaidMsat: 1234n,
      preimage: p.receipt.preimage,
    });
    expect(await invoices.lookupInvoice('00'.repeat(32))).toBeUndefined();
  });
});
