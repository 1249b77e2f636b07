/**
 * Reading x402 facilitator requests: bodies exactly as the reference client (@x402/core 2.27's
 * HTTPFacilitatorClient, with a payment signed by @x402/evm's exact client) sends them, version 1
 * bodies, and where the line runs between garbage (400) and an invalid payment (an answer).
 */
import { x402Client } from '@x402/core/client';
import type { PaymentPayload, PaymentRequirements } from '@x402/core/types';
import { registerExactEvmScheme } from '@x402/evm/exact/client';
import { getAddress, Wallet } from 'ethers';
import type { Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { beforeAll, describe, expect, it } from 'vitest';
import { ProblemError } from '../../shared/problem.js';
import { caip2, chainIdOf, chainOfRequest, v1NameOf } from '../../server/x402/networks.js';
import { readFacilitatorRequest, type FacilitatorKind } from '../../server/x402/request.js';

const CHAIN = 31337;
const NETWORK = caip2(CHAIN) as `eip155:${number}`;
const TOKEN = getAddress('0x5fbdb2315678afecb367f032d93f642f64180aa3');
const kind: FacilitatorKind = { network: NETWORK, chainId: CHAIN, token: TOKEN };
const payer = Wallet.createRandom();
const payTo = Wallet.createRandom().address;

const requirements: PaymentRequirements = {
  scheme: 'exact',
  network: NETWORK,
  amount: '1500000000000000',
  asset: TOKEN,
  payTo,
  maxTimeoutSeconds: 300,
  extra: { name: 'SOVR', version: '1' },
};

let payload: PaymentPayload;
/** What HTTPFacilitatorClient.verify/settle POSTs. */
const body = (p: unknown = payload, r: unknown = requirements, version = 2) =>
  JSON.parse(JSON.stringify({ x402Version: version, paymentPayload: p, paymentRequirements: r }));

beforeAll(async () => {
  const client = new x402Client();
  registerExactEvmScheme(client, { signer: privateKeyToAccount(payer.privateKey as Hex), networks: [NETWORK] });
  client.setSpendControls({ allowedAssets: [{ network: NETWORK, asset: TOKEN }] });
  payload = await client.createPaymentPayload({
    x402Version: 2,
    resource: { url: 'https://shop.example/a', description: '', mimeType: '' },
    accepts: [requirements],
  });
});

function refusal(b: unknown): { reason: string; message: string; payer?: string } {
  const r = readFacilitatorRequest(b, kind);
  if (r.ok) throw new Error('expected a refusal');
  return r;
}

function problem(b: unknown): ProblemError {
  try {
    readFacilitatorRequest(b, kind);
  } catch (err) {
    if (err instanceof ProblemError) return err;
    throw err;
  }
  throw new Error('expected a ProblemError');
}

describe('a version 2 request from the reference client', () => {
  it('reads into the exact requirement and the EIP-3009 authorization', () => {
    const r = readFacilitatorRequest(body(), kind);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.version).toBe(2);
    expect(r.network).toBe(NETWORK);
    expect(r.payer).toBe(payer.address);
    expect(r.requirement).toEqual({
      scheme: 'exact',
      network: NETWORK,
      amount: requirements.amount,
      asset: TOKEN,
      payTo,
      maxTimeoutSeconds: 300,
      extra: { name: 'SOVR', version: '1' },
    });
    expect(r.payload.authorization).toMatchObject({ from: payer.address, to: payTo, value: requirements.amount });
    expect(r.payload.signature).toMatch(/^0x[0-9a-f]{130}$/);
  });

  it('ignores fields it does not know, at every level (x402 is extensible)', () => {
    const p = { ...payload, extensions: { bazaar: { info: 1 } }, future: true };
    const r = readFacilitatorRequest({ ...body(p, { ...requirements, outputSchema: {} }), facilitatorOptions: {} }, kind);
    expect(r.ok).toBe(true);
  });
});

describe('garbage from the resource server is a 400 problem', () => {
  it.each([
    ['a JSON list', [1, 2]],
    ['a string', 'verify please'],
    ['no paymentPayload', { x402Version: 2, paymentRequirements: requirements }],
    ['no paymentRequirements', { x402Version: 2, paymentPayload: {} }],
    ['x402Version as a string', { x402Version: '2', paymentPayload: {}, paymentRequirements: requirements }],
    ['requirements without payTo', { x402Version: 2, paymentPayload: {}, paymentRequirements: { ...requirements, payTo: undefined } }],
    [
      'exact requirements with a fractional amount',
      { x402Version: 2, paymentPayload: {}, paymentRequirements: { ...requirements, amount: '1.5' } },
    ],
    [
      'exact requirements with payTo not an address',
      { x402Version: 2, paymentPayload: {}, paymentRequirements: { ...requirements, payTo: 'm_shop' } },
    ],
  ])('%s', (_name, b) => {
    const p = problem(JSON.parse(JSON.stringify(b)));
    expect(p.status).toBe(400);
    expect(p.code).toBe('validation-error');
  });
});

describe('a well-formed request this hub does not settle is an answer with an x402 reason', () => {
  it('another protocol version', () => {
    expect(refusal(body(payload, requirements, 3)).reason).toBe('invalid_x402_version');
    expect(refusal(body({ ...payload, x402Version: 1 })).reason).toBe('invalid_x402_version');
  });
  it('another scheme', () => {
    expect(refusal(body(payload, { ...requirements, scheme: 'upto' })).reason).toBe('invalid_scheme');
  });
  it('another chain', () => {
    const r = refusal(body(payload, { ...requirements, network: 'eip155:8453' }));
    expect(r.reason).toBe('invalid_network');
    expect(refusal(body(payload, { ...requirements, network: 'solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp' })).reason).toBe('invalid_network');
  });
  it('another token', () => {
    expect(refusal(body(payload, { ...requirements, asset: Wallet.createRandom().address })).reason).toBe('invalid_payment_requirements');
  });
  it('a payment chosen for another network than the requirements', () => {
    expect(refusal(body({ ...payload, accepted: { ...payload.accepted, network: 'eip155:1' } })).reason).toBe(
      'invalid_exact_evm_network_mismatch',
    );
  });
  it('a payer payload that does not parse, naming the payer when it can', () => {
    const noSig = refusal(body({ ...payload, payload: { ...payload.payload, signature: undefined } }));
    expect(noSig).toMatchObject({ reason: 'invalid_payload', payer: payer.address });
    expect(noSig.message).toMatch(/signature/);
    expect(refusal(body({ ...payload, payload: 'hello' })).reason).toBe('invalid_payload');
    expect(refusal(body({ ...payload, accepted: undefined })).reason).toBe('invalid_payload');
    const permit2 = { signature: `0x${'11'.repeat(65)}`, permit2Authorization: { from: payer.address } };
    expect(refusal(body({ ...payload, payload: permit2 })).message).toMatch(/Permit2/);
  });
});

describe('version 1 bodies', () => {
  const v1Requirements = (network: string) => ({
    scheme: 'exact',
    network,
    maxAmountRequired: requirements.amount,
    resource: 'https://shop.example/a',
    description: '',
    mimeType: '',
    payTo,
    maxTimeoutSeconds: 300,
    asset: TOKEN,
    extra: { name: 'SOVR', version: '1' },
  });
  const v1Payload = (network: string) => ({ x402Version: 1, scheme: 'exact', network, payload: payload.payload });

  it('name the chain by its version 1 name, and answers echo that name', () => {
    const base = { network: 'eip155:84532', chainId: 84532, token: TOKEN };
    const r = readFacilitatorRequest(body(v1Payload('base-sepolia'), v1Requirements('base-sepolia'), 1), base);
    expect(r.ok && { version: r.version, network: r.network, requirement: r.requirement.network, amount: r.requirement.amount }).toEqual({
      version: 1,
      network: 'base-sepolia',
      requirement: 'eip155:84532',
      amount: requirements.amount,
    });
  });
  it('may use the CAIP-2 name for a chain without a version 1 name', () => {
    expect(readFacilitatorRequest(body(v1Payload(NETWORK), v1Requirements(NETWORK), 1), kind).ok).toBe(true);
    expect(refusal(body(v1Payload('base'), v1Requirements('base'), 1)).reason).toBe('invalid_network');
  });
});

describe('network names', () => {
  it('maps chains to their version 1 names where they have one', () => {
    expect(v1NameOf(84532)).toBe('base-sepolia');
    expect(v1NameOf(CHAIN)).toBeUndefined();
    expect(chainIdOf('eip155:31337')).toBe(31337);
    expect(chainIdOf('eip155:031337')).toBeUndefined();
    expect(chainOfRequest('base', 1)).toBe(8453);
    expect(chainOfRequest('base', 2)).toBeUndefined();
  });
});
