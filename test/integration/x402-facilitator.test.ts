/**
 * The hub as an x402 facilitator, turned on the way an operator does it (TOLLWAY_SOVR_* only), on
 * a real local chain with the real SOVR contract. Payments are signed by the reference client
 * (@x402/evm 2.27's exact scheme) and sent both by hand and through the reference
 * HTTPFacilitatorClient (@x402/core 2.27), which is what resource servers use.
 */
import { x402Client } from '@x402/core/client';
import { HTTPFacilitatorClient } from '@x402/core/server';
import type { PaymentPayload, PaymentRequirements } from '@x402/core/types';
import { registerExactEvmScheme } from '@x402/evm/exact/client';
import { Wallet } from 'ethers';
import type { Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { SOVR, sovrHubEnv, useSovrChain } from '../helpers/sovr.js';

const bed = useSovrChain();
const { payer } = bed;

let hub: TestHub;
let plainHub: TestHub;
let service: Wallet;
let network: `eip155:${number}`;

beforeAll(async () => {
  network = `eip155:${bed.chain.chainId}`;
  service = bed.chain.accounts[4]!;
  [hub, plainHub] = await Promise.all([startTestHub('sqlite', { env: sovrHubEnv(bed.chain, bed.sovr, service) }), startTestHub('sqlite')]);
}, 60_000);

afterAll(async () => {
  await Promise.all([hub?.stop(), plainHub?.stop()]);
});

function requirements(payTo: string, amount: bigint, over: Partial<PaymentRequirements> = {}): PaymentRequirements {
  return {
    scheme: 'exact',
    network,
    amount: amount.toString(),
    asset: bed.sovr.address,
    payTo,
    maxTimeoutSeconds: 300,
    extra: { name: 'SOVR', version: '1' },
    ...over,
  };
}

/** A payment as an x402 client makes it: the reference exact client, SOVR allowed explicitly. */
async function sign(payer: Wallet, req: PaymentRequirements): Promise<PaymentPayload> {
  const client = new x402Client();
  registerExactEvmScheme(client, { signer: privateKeyToAccount(payer.privateKey as Hex), networks: [network] });
  client.setSpendControls({ allowedAssets: [{ network, asset: bed.sovr.address }] });
  return client.createPaymentPayload({
    x402Version: 2,
    resource: { url: 'https://shop.example/a', description: 'a', mimeType: 'text/plain' },
    accepts: [req],
  });
}

const post = (path: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  fetch(`${hub.url}${path}`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
const envelope = (p: PaymentPayload, r: PaymentRequirements) => ({ x402Version: p.x402Version, paymentPayload: p, paymentRequirements: r });

describe('GET /x402/supported', () => {
  it('lists exact on this chain (version 2 only: 31337 has no version 1 name) and the service wallet as signer', async () => {
    const res = await fetch(`${hub.url}/x402/supported`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({
      kinds: [{ x402Version: 2, scheme: 'exact', network }],
      extensions: [],
      signers: { 'eip155:*': [service.address] },
    });
  });

  it('is what the reference HTTPFacilitatorClient parses', async () => {
    const supported = await new HTTPFacilitatorClient({ url: `${hub.url}/x402` }).getSupported();
    expect(supported.kinds).toEqual([{ x402Version: 2, scheme: 'exact', network }]);
    expect(supported.signers).toEqual({ 'eip155:*': [service.address] });
  });

  it('is a 404 problem on a hub without the SOVR rail', async () => {
    for (const res of [
      await fetch(`${plainHub.url}/x402/supported`),
      await fetch(`${plainHub.url}/x402/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
      await fetch(`${plainHub.url}/x402/settle`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
    ]) {
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(((await res.json()) as { type: string }).type).toBe('https://tollway.dev/problems/not-found');
    }
  });
});

describe('POST /x402/verify', () => {
  it('accepts a good payment, and checks nothing into the chain', async () => {
    const p = await payer(10n * SOVR);
    const merchant = Wallet.createRandom().address;
    const req = requirements(merchant, 2n * SOVR);
    const payment = await sign(p, req);
    const res = await post('/x402/verify', envelope(payment, req));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ isValid: true, payer: p.address });
    // The reference client reads the same answer.
    expect(await new HTTPFacilitatorClient({ url: `${hub.url}/x402` }).verify(payment, req)).toMatchObject({
      isValid: true,
      payer: p.address,
    });
    expect(await bed.sovr.contract.balanceOf(merchant)).toBe(0n);
    expect(await bed.sovr.contract.balanceOf(p.address)).toBe(10n * SOVR);
  });

  it('answers 200 isValid false with an x402 reason for payments that are no good', async () => {
    const rich = await payer(10n * SOVR);
    const merchant = Wallet.createRandom().address;
    const req = requirements(merchant, SOVR);
    const verify = async (payment: PaymentPayload, r = req) => {
      const res = await post('/x402/verify', envelope(payment, r));
      expect(res.status).toBe(200);
      return (await res.json()) as { isValid: boolean; invalidReason?: string; payer?: string };
    };

    // Signed by someone else than `from`.
    const good = await sign(rich, req);
    const forged = { ...good, payload: { ...good.payload, signature: (await sign(await payer(0n), req)).payload.signature } };
    expect(await verify(forged)).toMatchObject({ isValid: false, invalidReason: expect.stringMatching(/signature/), payer: rich.address });

    // A payer whose balance does not cover it.
    expect(await verify(await sign(await payer(SOVR / 2n), req))).toMatchObject({
      isValid: false,
      invalidReason: expect.stringMatching(/insufficient/),
    });

    // Paid to someone else than the requirements say.
    const elsewhere = await sign(rich, requirements(Wallet.createRandom().address, SOVR));
    expect(await verify(elsewhere)).toMatchObject({ isValid: false, invalidReason: expect.stringMatching(/recipient|payto|to/i) });

    // Another chain, another scheme: refused before any chain work.
    expect(await verify(good, requirements(merchant, SOVR, { network: 'eip155:8453' }))).toMatchObject({
      isValid: false,
      invalidReason: 'invalid_network',
    });
    expect(await verify(good, requirements(merchant, SOVR, { scheme: 'upto' }))).toMatchObject({
      isValid: false,
      invalidReason: 'invalid_scheme',
    });

    // The payer's part of the body is garbage: still an answer, so the resource server asks again.
    expect(await verify({ ...good, payload: { hello: 'world' } })).toMatchObject({ isValid: false, invalidReason: 'invalid_payload' });
    expect(await bed.sovr.contract.balanceOf(merchant)).toBe(0n);
  });
});

describe('version 1 bodies', () => {
  it('are verified too; on a chain without a version 1 name they name it eip155:<chainId>', async () => {
    const p = await payer(2n * SOVR);
    const merchant = Wallet.createRandom().address;
    const req = requirements(merchant, SOVR);
    const v2 = await sign(p, req);
    const v1Requirements = {
      scheme: 'exact',
      network,
      maxAmountRequired: req.amount,
      resource: 'https://shop.example/a',
      description: '',
      mimeType: '',
      payTo: merchant,
      maxTimeoutSeconds: 300,
      asset: bed.sovr.address,
      extra: req.extra,
    };
    const v1Payload = { x402Version: 1, scheme: 'exact', network, payload: v2.payload };
    const res = await post('/x402/verify', { x402Version: 1, paymentPayload: v1Payload, paymentRequirements: v1Requirements });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ isValid: true, payer: p.address });
    const named = await post('/x402/verify', {
      x402Version: 1,
      paymentPayload: { ...v1Payload, network: 'base' },
      paymentRequirements: { ...v1Requirements, network: 'base' },
    });
    expect(await named.json()).toMatchObject({ isValid: false, invalidReason: 'invalid_network' });
  });
});

describe('POST /x402/settle', () => {
  it('moves the tokens once; settling the same payment again answers the first result', async () => {
    const p = await payer(10n * SOVR);
    const merchant = Wallet.createRandom().address;
    const req = requirements(merchant, 3n * SOVR);
    const payment = await sign(p, req);
    const before = await bed.chain.provider.getBalance(service.address);

    const first = await post('/x402/settle', envelope(payment, req));
    expect(first.status).toBe(200);
    const settled = (await first.json()) as { success: boolean; transaction: string; network: string; payer: string };
    expect(settled).toEqual({ success: true, payer: p.address, transaction: expect.stringMatching(/^0x[0-9a-f]{64}$/), network });
    const receipt = await bed.chain.provider.waitForTransaction(settled.transaction);
    expect(receipt?.status).toBe(1);
    expect(receipt?.from).toBe(service.address);
    expect(await bed.sovr.contract.balanceOf(merchant)).toBe(3n * SOVR);
    expect(await bed.sovr.contract.balanceOf(p.address)).toBe(7n * SOVR);
    expect(await bed.chain.provider.getBalance(service.address)).toBeLessThan(before); // the hub paid the gas

    const again = await post('/x402/settle', envelope(payment, req));
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(settled);
    // Through the reference client too.
    expect(await new HTTPFacilitatorClient({ url: `${hub.url}/x402` }).settle(payment, req)).toMatchObject({
      success: true,
      transaction: settled.transaction,
    });
    expect(await bed.sovr.contract.balanceOf(merchant)).toBe(3n * SOVR);
    expect(await bed.sovr.contract.balanceOf(p.address)).toBe(7n * SOVR);

    // Once settled, the authorization no longer verifies: it cannot open anything twice.
    const verify = (await (await post('/x402/verify', envelope(payment, req))).json()) as { isValid: boolean };
    expect(verify.isValid).toBe(false);
  });

  it('answers 200 success false, with nothing sent, for a payment that cannot settle', async () => {
    const poor = await payer(SOVR);
    const merchant = Wallet.createRandom().address;
    const req = requirements(merchant, 2n * SOVR);
    const res = await post('/x402/settle', envelope(await sign(poor, req), req));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      success: false,
      errorReason: expect.stringMatching(/insufficient/),
      transaction: '',
      network,
      payer: poor.address,
    });
    const other = await post('/x402/settle', envelope(await sign(poor, req), requirements(merchant, 2n * SOVR, { network: 'eip155:1' })));
    expect(await other.json()).toMatchObject({ success: false, errorReason: 'invalid_network', transaction: '', network: 'eip155:1' });
    expect(await bed.sovr.contract.balanceOf(merchant)).toBe(0n);
  });
});

describe('garbage', () => {
  it('is a 400 problem, and changes nothing', async () => {
    const p = await payer(5n * SOVR);
    const merchant = Wallet.createRandom().address;
    const req = requirements(merchant, SOVR);
    const payment = await sign(p, req);
    const cases: [string, string | unknown][] = [
      ['not JSON', '{"x402Version": 2,'],
      ['a list', [payment, req]],
      ['no requirements', { x402Version: 2, paymentPayload: payment }],
      ['requirements without an amount', { x402Version: 2, paymentPayload: payment, paymentRequirements: { ...req, amount: undefined } }],
      [
        'exact requirements paying a merchant id',
        { x402Version: 2, paymentPayload: payment, paymentRequirements: { ...req, payTo: 'm_shop' } },
      ],
    ];
    for (const path of ['/x402/verify', '/x402/settle']) {
      for (const [name, body] of cases) {
        const res = await post(path, body);
        expect(res.status, `${path} ${name}`).toBe(400);
        expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        expect(((await res.json()) as { type: string }).type).toBe('https://tollway.dev/problems/validation-error');
      }
      const text = await post(path, JSON.stringify(envelope(payment, req)), { 'content-type': 'text/plain' });
      expect(text.status).toBe(415);
    }
    expect(await bed.sovr.contract.balanceOf(merchant)).toBe(0n);
    expect(await bed.sovr.contract.balanceOf(p.address)).toBe(5n * SOVR);
    await expectLedgerBalanced(hub.store.db);
  });
});
