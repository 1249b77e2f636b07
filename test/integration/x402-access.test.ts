/**
 * Who may use the hub's x402 facilitator (TOLLWAY_X402_FACILITATOR): `merchants` asks verify and
 * settle for a merchant API key, `off` turns /x402/* off. Real chain, real SOVR, real hubs.
 */
import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMerchant, startTestHub, type TestHub } from '../helpers/hub.js';
import { expectLedgerBalanced } from '../helpers/invariant.js';
import { SOVR, payloadOf, sovrHubEnv, useSovrChain } from '../helpers/sovr.js';

const bed = useSovrChain();
let merchantsOnly: TestHub;
let off: TestHub;
let apiKey: string;

beforeAll(async () => {
  [merchantsOnly, off] = await Promise.all([
    startTestHub('sqlite', { env: { ...sovrHubEnv(bed.chain, bed.sovr, bed.nextServiceWallet()), TOLLWAY_X402_FACILITATOR: 'merchants' } }),
    startTestHub('sqlite', { env: { ...sovrHubEnv(bed.chain, bed.sovr, bed.nextServiceWallet()), TOLLWAY_X402_FACILITATOR: 'off' } }),
  ]);
  apiKey = (await createMerchant(merchantsOnly.url)).apiKey;
}, 60_000);

afterAll(async () => {
  await Promise.all([merchantsOnly?.stop(), off?.stop()]);
});

async function envelope() {
  const payer = await bed.payer(SOVR);
  const payTo = Wallet.createRandom().address;
  const requirement = bed.requirementFor(payTo, SOVR / 100n);
  const a = await bed.signAuthorization(payer, payTo, SOVR / 100n);
  return {
    x402Version: 2,
    paymentPayload: { x402Version: 2, accepted: requirement, payload: payloadOf(a) },
    paymentRequirements: requirement,
  };
}

const post = (hub: TestHub, path: string, body: unknown, key?: string) =>
  fetch(`${hub.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify(body),
  });

describe('TOLLWAY_X402_FACILITATOR=merchants', () => {
  it('refuses verify and settle without a merchant API key, before reading the body', async () => {
    const body = await envelope();
    for (const path of ['/x402/verify', '/x402/settle']) {
      const none = await post(merchantsOnly, path, body);
      expect(none.status).toBe(401);
      expect(none.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect((await post(merchantsOnly, path, body, 'not-a-key')).status).toBe(401);
    }
    await expectLedgerBalanced(merchantsOnly.store.db);
  });

  it('verifies and settles for a merchant, and still says what it supports to anyone', async () => {
    const body = await envelope();
    const verified = await post(merchantsOnly, '/x402/verify', body, apiKey);
    expect(verified.status).toBe(200);
    expect(await verified.json()).toMatchObject({ isValid: true });
    const settled = await post(merchantsOnly, '/x402/settle', body, apiKey);
    expect(await settled.json()).toMatchObject({ success: true, transaction: expect.stringMatching(/^0x[0-9a-f]{64}$/) });
    expect((await fetch(`${merchantsOnly.url}/x402/supported`)).status).toBe(200);
  });
});

describe('TOLLWAY_X402_FACILITATOR=off', () => {
  it('answers 404 on every /x402 path, while the SOVR rail itself stays on', async () => {
    expect((await fetch(`${off.url}/x402/supported`)).status).toBe(404);
    expect((await post(off, '/x402/verify', await envelope())).status).toBe(404);
    const rails = (await (await fetch(`${off.url}/rails`)).json()) as { rails: { name: string }[] };
    expect(rails.rails.map((r) => r.name)).toContain('sovr');
  });
});
