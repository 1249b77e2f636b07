/**
 * Tollway and the x402 reference packages (2.27) paying each other, on a real local chain with
 * the real SOVR contract and a hub whose SOVR rail comes from TOLLWAY_SOVR_* alone:
 *
 * (a) `@x402/fetch` with an `@x402/evm` exact signer pays the merchant kit's paywall, which uses
 *     the hub (`<hub>/x402`) as its facilitator;
 * (b) `@x402/fetch` pays an `@x402/express` server, the reference middleware, configured with the
 *     reference HTTPFacilitatorClient pointing at the hub.
 *
 * Either way the tokens move on chain from the payer to the payout address, in a transaction the
 * hub's service wallet sent.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HTTPFacilitatorClient } from '@x402/core/server';
import type { PaymentPayload, PaymentRequired, PaymentRequirements } from '@x402/core/types';
import { registerExactEvmScheme as registerExactClient } from '@x402/evm/exact/client';
import { registerExactEvmScheme as registerExactServer } from '@x402/evm/exact/server';
import { paymentMiddleware, x402ResourceServer } from '@x402/express';
import { decodePaymentResponseHeader, wrapFetchWithPayment, x402Client } from '@x402/fetch';
import { Wallet } from 'ethers';
import express, { type Express } from 'express';
import type { Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBase64Text, encodeBase64Text } from '../../shared/challenge.js';
import { paywall, type PaidExactRequest } from '../../merchant/middleware.js';
import { createMerchant, freePort, startTestHub, type TestHub } from '../helpers/hub.js';
import { SOVR, sovrHubEnv, useSovrChain } from '../helpers/sovr.js';

const bed = useSovrChain();
const { payer } = bed;

let hub: TestHub;
let service: Wallet;
let network: `eip155:${number}`;
let merchantId: string;
const servers: Server[] = [];

beforeAll(async () => {
  network = `eip155:${bed.chain.chainId}`;
  service = bed.chain.accounts[5]!;
  hub = await startTestHub('sqlite', { env: sovrHubEnv(bed.chain, bed.sovr, service) });
  merchantId = (await createMerchant(hub.url)).merchant.id;
}, 60_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  await hub?.stop();
});

async function listen(app: Express): Promise<string> {
  const server = createServer(app);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The reference x402 client for SOVR: it pays unknown tokens only when told to. */
function referenceClient(w: Wallet): x402Client {
  const client = new x402Client();
  registerExactClient(client, { signer: privateKeyToAccount(w.privateKey as Hex), networks: [network] });
  client.setSpendControls({ allowedAssets: [{ network, asset: bed.sovr.address }] });
  return client;
}

/** fetch that remembers the PAYMENT-SIGNATURE it sent, to replay it by hand. */
function recordingFetch(sent: string[]): typeof fetch {
  return (input, init) => {
    const req = new Request(input, init);
    const sig = req.headers.get('payment-signature');
    if (sig) sent.push(sig);
    return fetch(req);
  };
}

const decodeRequired = (res: Response): PaymentRequired => {
  const text = decodeBase64Text(res.headers.get('payment-required') ?? '');
  if (!text.ok) throw new Error('no PAYMENT-REQUIRED');
  return JSON.parse(text.value) as PaymentRequired;
};

async function expectTransfer(transaction: string, from: string, to: string, amount: bigint): Promise<void> {
  const receipt = await bed.chain.provider.waitForTransaction(transaction);
  expect(receipt?.status).toBe(1);
  expect(receipt?.from).toBe(service.address); // the hub sent it and paid the gas
  const transfers = receipt!.logs
    .filter((l) => l.address === bed.sovr.address)
    .map((l) => bed.sovr.contract.interface.parseLog(l))
    .filter((l) => l?.name === 'Transfer')
    .map((l) => [l!.args[0], l!.args[1], l!.args[2]]);
  expect(transfers).toEqual([[from, to, amount]]);
}

describe('(a) @x402/fetch pays the merchant kit paywall, the hub facilitating', () => {
  const price = 15n * 10n ** 16n; // 0.15 SOVR
  const payout = Wallet.createRandom().address;
  let shop: string;
  const gates = new Map<string, () => void>();
  const arrived: string[] = [];

  beforeAll(async () => {
    const app = express();
    const charge = () =>
      paywall({
        hub: hub.url,
        merchantId,
        price,
        asset: 'SOVR',
        description: 'A market report',
        payoutAddress: payout,
        chain: { chainId: bed.chain.chainId, tokenAddress: bed.sovr.address },
        facilitator: `${hub.url}/x402`,
      });
    app.get('/report', charge(), (_req, res) => {
      const paid = res.locals.tollway as PaidExactRequest;
      res.json({ report: 'SOVR is up', rail: paid.rail, payer: paid.payer, transactionWhileRunning: paid.transaction });
    });
    app.get('/broken', charge(), (_req, res) => void res.status(503).json({ error: 'the report generator is down' }));
    // Waits until the test opens its gate, so two payments can be in the route at once.
    app.get('/gated', charge(), async (req, res) => {
      const id = String(req.query.id);
      await new Promise<void>((open) => {
        gates.set(id, open);
        arrived.push(id);
      });
      res.cookie('session', `paid-${id}`).json({ report: id });
    });
    shop = await listen(app);
  });

  it('answers 402 with a standard exact entry next to the tollway one', async () => {
    const res = await fetch(`${shop}/report`);
    expect(res.status).toBe(402);
    const doc = decodeRequired(res);
    expect(doc.accepts.map((a) => a.scheme)).toEqual(['tollway', 'exact']);
    expect(doc.accepts[1]).toEqual({
      scheme: 'exact',
      network,
      amount: price.toString(),
      asset: bed.sovr.address,
      payTo: payout,
      maxTimeoutSeconds: 300,
      extra: { name: 'SOVR', version: '1' },
    });
  });

  it('serves the content with PAYMENT-RESPONSE once the hub settled, and the tokens reach the payout address', async () => {
    const w = await payer(SOVR);
    const sent: string[] = [];
    const payFetch = wrapFetchWithPayment(recordingFetch(sent), referenceClient(w));
    const res = await payFetch(`${shop}/report`);
    expect(res.status).toBe(200);
    // Settlement comes after the route ran: it saw no transaction yet.
    expect(await res.json()).toEqual({ report: 'SOVR is up', rail: 'exact', payer: w.address, transactionWhileRunning: '' });
    const answer = decodePaymentResponseHeader(res.headers.get('payment-response')!);
    expect(answer).toMatchObject({
      success: true,
      network,
      payer: w.address,
      amount: price.toString(),
      transaction: expect.stringMatching(/^0x[0-9a-f]{64}$/),
    });
    await expectTransfer(answer.transaction, w.address, payout, price);
    expect(await bed.sovr.contract.balanceOf(payout)).toBe(price);
    expect(await bed.sovr.contract.balanceOf(w.address)).toBe(SOVR - price);

    // The same payment again opens nothing and moves nothing.
    expect(sent).toHaveLength(1);
    const replay = await fetch(`${shop}/report`, { headers: { 'payment-signature': sent[0]! } });
    expect(replay.status).toBe(402);
    expect(replay.headers.get('payment-response')).toBeNull();
    expect(await bed.sovr.contract.balanceOf(payout)).toBe(price);
  });

  it('does not settle when the route fails: the payer keeps the tokens', async () => {
    const w = await payer(SOVR);
    const before = await bed.sovr.contract.balanceOf(payout);
    const res = await wrapFetchWithPayment(fetch, referenceClient(w))(`${shop}/broken`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: 'the report generator is down' });
    expect(res.headers.get('payment-response')).toBeNull();
    expect(await bed.sovr.contract.balanceOf(w.address)).toBe(SOVR);
    expect(await bed.sovr.contract.balanceOf(payout)).toBe(before);
  });

  it('answers a fresh 402 with the reason when verification fails', async () => {
    const w = await payer(price / 2n);
    const res = await wrapFetchWithPayment(fetch, referenceClient(w))(`${shop}/report`);
    expect(res.status).toBe(402);
    expect(decodeRequired(res).error).toMatch(/insufficient/);
    expect(res.headers.get('payment-response')).toBeNull();

    // A signature by someone else than `from`.
    const honest = await payer(SOVR);
    const first = await fetch(`${shop}/report`);
    const required = decodeRequired(first);
    const payment = (await referenceClient(honest).createPaymentPayload(required)) as PaymentPayload;
    const forger = (await referenceClient(Wallet.createRandom() as unknown as Wallet).createPaymentPayload(required)) as PaymentPayload;
    const forged = { ...payment, payload: { ...payment.payload, signature: (forger.payload as { signature: string }).signature } };
    const refused = await fetch(`${shop}/report`, { headers: { 'payment-signature': encodeBase64Text(JSON.stringify(forged)) } });
    expect(refused.status).toBe(402);
    expect(decodeRequired(refused).error).toMatch(/signature/);
    expect(await bed.sovr.contract.balanceOf(honest.address)).toBe(SOVR);
  });

  it("answers a fresh 402, without the route's headers, when settlement fails after the route ran", async () => {
    // Exactly one price: two payments both verify (each alone is covered), only the first settles.
    const w = await payer(price);
    const required = decodeRequired(await fetch(`${shop}/gated?id=a`));
    const client = referenceClient(w);
    const header = async (id: string) => {
      const doc = { ...required, resource: { ...required.resource, url: `${shop}/gated?id=${id}` } };
      return encodeBase64Text(JSON.stringify(await client.createPaymentPayload(doc)));
    };
    const [ha, hb] = await Promise.all([header('a'), header('b')]);
    const a = fetch(`${shop}/gated?id=a`, { headers: { 'payment-signature': ha } });
    const b = fetch(`${shop}/gated?id=b`, { headers: { 'payment-signature': hb } });
    while (arrived.length < 2) await new Promise((r) => setTimeout(r, 10));

    gates.get('a')!();
    const ra = await a;
    expect(ra.status).toBe(200);
    expect(ra.headers.get('set-cookie')).toMatch(/^session=paid-a/);
    const settled = decodePaymentResponseHeader(ra.headers.get('payment-response')!);
    await expectTransfer(settled.transaction, w.address, payout, price);

    gates.get('b')!();
    const rb = await b;
    expect(rb.status).toBe(402);
    expect(rb.headers.get('set-cookie')).toBeNull();
    expect(rb.headers.get('payment-response')).toBeNull();
    const doc = decodeRequired(rb);
    expect(doc.error).toMatch(/insufficient|balance|transaction/);
    expect(((await rb.json()) as { report?: string }).report).toBeUndefined();
    expect(await bed.sovr.contract.balanceOf(w.address)).toBe(0n);
  });
});

describe('the merchant kit paywall with a facilitator that cannot be reached', () => {
  it('answers 503 (paying again would not help) and nothing moves', async () => {
    const app = express();
    const dead = `http://127.0.0.1:${await freePort()}/x402`;
    const payout = Wallet.createRandom().address;
    app.get(
      '/report',
      paywall({
        hub: hub.url,
        merchantId,
        price: '1000',
        asset: 'SOVR',
        payoutAddress: payout,
        chain: { chainId: bed.chain.chainId, tokenAddress: bed.sovr.address },
        facilitator: dead,
      }),
      (_req, res) => void res.json({ report: 'x' }),
    );
    const shop = await listen(app);
    const w = await payer(SOVR);
    const res = await wrapFetchWithPayment(fetch, referenceClient(w))(`${shop}/report`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(((await res.json()) as { type: string }).type).toBe('https://tollway.dev/problems/facilitator-unavailable');
    expect(await bed.sovr.contract.balanceOf(w.address)).toBe(SOVR);
  });
});

describe('(b) @x402/fetch pays an @x402/express server whose facilitator is the hub', () => {
  const amount = 25n * 10n ** 16n; // 0.25 SOVR
  const payout = Wallet.createRandom().address;
  let api: string;
  let resourceServer: x402ResourceServer;

  beforeAll(async () => {
    resourceServer = new x402ResourceServer(new HTTPFacilitatorClient({ url: `${hub.url}/x402` }));
    registerExactServer(resourceServer, { networks: [network] });
    const app = express();
    app.use(
      paymentMiddleware(
        {
          'GET /weather': {
            // A token the reference packages do not know: the price names it, its amount and its EIP-712 domain.
            accepts: {
              scheme: 'exact',
              network,
              payTo: payout,
              price: { amount: amount.toString(), asset: bed.sovr.address, extra: { name: 'SOVR', version: '1' } },
              maxTimeoutSeconds: 300,
            },
            description: 'Weather report',
            mimeType: 'application/json',
          },
        },
        resourceServer,
      ),
    );
    app.get('/weather', (_req, res) => void res.json({ weather: 'sunny', temperature: 21 }));
    api = await listen(app);
  });

  it('learns what the hub settles from GET <hub>/x402/supported', async () => {
    const res = await fetch(`${api}/weather`);
    expect(res.status).toBe(402);
    expect(resourceServer.getSupportedKind(2, network, 'exact')).toEqual({ x402Version: 2, scheme: 'exact', network });
    const doc = decodeRequired(res);
    expect(doc.accepts).toEqual([
      {
        scheme: 'exact',
        network,
        amount: amount.toString(),
        asset: bed.sovr.address,
        payTo: payout,
        maxTimeoutSeconds: 300,
        extra: { name: 'SOVR', version: '1' },
      },
    ] satisfies PaymentRequirements[]);
  });

  it('serves the resource once the hub verified and settled, and the tokens moved', async () => {
    const w = await payer(SOVR);
    const res = await wrapFetchWithPayment(fetch, referenceClient(w))(`${api}/weather`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ weather: 'sunny', temperature: 21 });
    const answer = decodePaymentResponseHeader(res.headers.get('payment-response')!);
    expect(answer).toMatchObject({ success: true, network, payer: w.address });
    await expectTransfer(answer.transaction, w.address, payout, amount);
    expect(await bed.sovr.contract.balanceOf(payout)).toBe(amount);
    expect(await bed.sovr.contract.balanceOf(w.address)).toBe(SOVR - amount);
  });

  it("refuses a payer who cannot cover it, with the hub's reason in the 402", async () => {
    const w = await payer(amount / 2n);
    const res = await wrapFetchWithPayment(fetch, referenceClient(w))(`${api}/weather`);
    expect(res.status).toBe(402);
    expect(decodeRequired(res).error).toMatch(/insufficient/);
    expect(await bed.sovr.contract.balanceOf(w.address)).toBe(amount / 2n);
  });
});
