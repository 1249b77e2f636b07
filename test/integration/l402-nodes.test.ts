/**
 * l402() issuing its invoices through a merchant's Core Lightning or LNbits node (the two lines
 * docs/merchants.md gives), paid by a customer's LND on the same simulated network: a 402 with the
 * node's invoice, then 200 for the macaroon with the preimage the payment returned.
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, describe, expect, it } from 'vitest';
import { startFakeCln } from '../../devnet/cln.js';
import { createSimulatedNetwork } from '../../devnet/lightning-network.js';
import { startFakeLnbits } from '../../devnet/lnbits.js';
import { startFakeLnd } from '../../devnet/lnd.js';
import { createClnNode, createLnbitsNode, createLndNode, decodeInvoice, type LightningNode } from '../../lightning/index.js';
import { l402 } from '../../merchant/l402.js';
import { parseL402 } from '../../shared/challenge.js';

const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of closers.splice(0)) await c();
});

describe.each([
  [
    'cln',
    async (net: ReturnType<typeof createSimulatedNetwork>) => {
      const cln = await startFakeCln({ lightningNetwork: net });
      closers.push(() => cln.close());
      return {
        node: createClnNode({ url: cln.url, rune: cln.rune }) as LightningNode,
        paid: (h: string) => cln.invoiceStatus(h) === 'paid',
      };
    },
  ],
  [
    'lnbits',
    async (net: ReturnType<typeof createSimulatedNetwork>) => {
      const lnbits = await startFakeLnbits({ lightningNetwork: net });
      closers.push(() => lnbits.close());
      return {
        node: createLnbitsNode({ url: lnbits.url, invoiceKey: lnbits.invoiceKey }) as LightningNode,
        paid: (h: string) => lnbits.invoiceStatus(h) === 'success',
      };
    },
  ],
] as const)('l402() with a %s node', (_kind, merchantNode) => {
  it('answers 402 with its node’s invoice, and 200 once the customer paid it', async () => {
    const net = createSimulatedNetwork();
    const merchant = await merchantNode(net);
    const customerLnd = await startFakeLnd({ lightningNetwork: net });
    closers.push(() => customerLnd.close());
    const customer = createLndNode({ url: customerLnd.url, macaroonHex: customerLnd.macaroonHex });

    const app = express();
    app.get(
      '/quote',
      l402({ node: merchant.node, price: 21_000n, service: 'quotes', validSeconds: 600, rootKeySecret: randomBytes(32), rateLimit: false }),
      (_req, res) => void res.json({ quote: 'ok' }),
    );
    const server: Server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    closers.push(() => new Promise((r) => server.close(r)));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/quote`;

    const r = await fetch(url);
    expect(r.status).toBe(402);
    const ch = parseL402([r.headers.get('www-authenticate') ?? '']);
    if (!ch.ok) throw new Error(ch.error.message);
    const inv = decodeInvoice(ch.value.invoice);
    expect(inv.amountMsat).toBe(21_000n);
    expect(merchant.paid(inv.paymentHash)).toBe(false);

    const out = await customer.pay({ bolt11: ch.value.invoice, feeLimitMsat: 1000n, timeoutSeconds: 10 });
    if (out.state !== 'succeeded') throw new Error(`the customer's payment ${out.state}`);
    expect(merchant.paid(inv.paymentHash)).toBe(true);

    const ok = await fetch(url, { headers: { authorization: `L402 ${ch.value.macaroon}:${out.preimage}` } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ quote: 'ok' });
    const wrong = await fetch(url, { headers: { authorization: `L402 ${ch.value.macaroon}:${'00'.repeat(32)}` } });
    expect(wrong.status).toBe(401);
  });
});
