import { tEn } from '../helpers/i18n-en.js';
import { describe, expect, it } from 'vitest';
import { choosePayment } from '../../extension/background/choose.js';
import { proofHeader } from '../../extension/background/proof.js';
import { describeRequest } from '../../extension/common/format.js';
import type { PaymentChallenge } from '../../shared/challenge.js';
import { readChallenge } from '../../shared/challenge.js';
import { HUB, request, tollwayOption, x402Challenge } from '../helpers/extension-fixtures.js';

// 15 µBTC = 1,500 sats = 1,500,000 msat; a syntactically valid BOLT 11 prefix is all the codec reads.
const INVOICE = 'lnbcrt15u1pjqqqqqpp5qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqsdqqcqzpgxqyz5vq';
const MACAROON = 'AgEEbHNhdAJCAADXYmFzZTY0bWFjYXJvb24=';
const PREIMAGE = 'ab'.repeat(32);

function l402Only(): PaymentChallenge {
  const read = readChallenge({
    headers: [{ name: 'WWW-Authenticate', value: `L402 version="0", token="${MACAROON}", invoice="${INVOICE}"` }],
  });
  if (!read.ok) throw new Error(read.error.message);
  return read.value;
}

describe('Lightning (L402) paying', () => {
  it('an L402-only 402 is paid on the lightning rail: the invoice as payTo, its msat amount in BTC base units', () => {
    const c = choosePayment(l402Only(), { url: 'https://shop.example/a', method: 'get' }, HUB, tEn);
    expect(c).toMatchObject({ unpayable: null, option: null });
    expect(c.payment).toEqual({
      rail: 'lightning',
      payTo: INVOICE,
      amount: '1500000',
      asset: 'BTC',
      resource: { url: 'https://shop.example/a', method: 'GET' },
    });
  });

  it('prefers the tollway entry when a response offers both', () => {
    const both: PaymentChallenge = { ...x402Challenge([tollwayOption()]), l402: l402Only().l402 };
    expect(choosePayment(both, { url: 'https://shop.example/a', method: 'GET' }, HUB, tEn).payment).toMatchObject({
      rail: 'internal',
      payTo: 'm_shop',
    });
    // …but falls back to Lightning when the tollway entry names another hub.
    const otherHub: PaymentChallenge = {
      ...x402Challenge([tollwayOption({ network: 'tollway:https://elsewhere.example' })]),
      l402: l402Only().l402,
    };
    expect(choosePayment(otherHub, { url: 'https://shop.example/a', method: 'GET' }, HUB, tEn).payment).toMatchObject({
      rail: 'lightning',
    });
  });

  it('an invoice without an amount cannot be paid (nothing to approve)', () => {
    const c = l402Only();
    const noAmount: PaymentChallenge = { ...c, l402: { ...c.l402!, amountMsat: null } };
    expect(choosePayment(noAmount, { url: 'https://shop.example/a', method: 'GET' }, HUB, tEn)).toMatchObject({
      payment: null,
      unpayable: expect.stringMatching(/names no amount/),
    });
  });

  it('the window shows the amount in sats and BTC, rail Lightning', () => {
    const challenge = l402Only();
    const payment = choosePayment(challenge, { url: 'https://shop.example/a', method: 'GET' }, HUB, tEn).payment;
    expect(describeRequest(request({ challenge, payment }), tEn)).toEqual({
      amount: '1,500 sats (0.000015 BTC)',
      rail: 'Lightning',
      scheme: 'L402 invoice',
      expiresAt: null,
    });
    expect(describeRequest(request({ challenge, payment: null, unpayable: 'signed out' }), tEn).amount).toBe('1,500 sats (0.000015 BTC)');
  });

  it('the proof is Authorization: L402 <macaroon>:<preimage hex>, once the preimage is known', () => {
    const challenge = l402Only();
    const payment = choosePayment(challenge, { url: 'https://shop.example/a', method: 'GET' }, HUB, tEn).payment!;
    const result = (preimage?: string) => ({
      transactionId: 'pay_ln',
      status: 'completed' as const,
      rail: 'lightning' as const,
      payTo: INVOICE,
      amount: '1500000',
      asset: 'BTC',
      resource: null,
      description: null,
      failureReason: null,
      receipt: preimage ? { preimage } : {},
      createdAt: 'x',
      updatedAt: 'x',
    });
    expect(proofHeader(request({ challenge, payment, status: 'completed', result: result(PREIMAGE.toUpperCase()) }))).toEqual({
      header: 'Authorization',
      value: `L402 ${MACAROON}:${PREIMAGE}`,
    });
    // Submitted (the preimage arrives later by paymentStatusUpdate), or a preimage that is not 32 bytes: no proof yet.
    expect(proofHeader(request({ challenge, payment, status: 'submitted', result: result() }))).toBeNull();
    expect(proofHeader(request({ challenge, payment, status: 'completed', result: result() }))).toBeNull();
    expect(proofHeader(request({ challenge, payment, status: 'completed', result: result('abcd') }))).toBeNull();
  });
});
