/**
 * The extension paying a "Payment" scheme 402 (Lightning charge): the planner puts it on the hub's
 * Lightning rail with the challenge's invoice, the window shows it like L402, the proof is the
 * challenge echoed with the preimage, and `window.tollway.fetch`'s WWW-Authenticate reaches the
 * worker's parser.
 */
import { tEn } from '../helpers/i18n-en.js';
import { describe, expect, it } from 'vitest';
import { choosePayment } from '../../extension/background/choose.js';
import { createProvider } from '../../extension/background/provider.js';
import { proofHeader } from '../../extension/background/proof.js';
import { describeRequest } from '../../extension/common/format.js';
import { challengeFromParam, PageRequest } from '../../extension/common/provider-messages.js';
import { StoredChallenge } from '../../extension/common/state.js';
import {
  encodeLightningCharge,
  formatPaymentChallenge,
  parsePaymentCredential,
  readChallenge,
  type PaymentChallenge,
} from '../../shared/challenge.js';
import { HUB, request } from '../helpers/extension-fixtures.js';

const INVOICE = 'lnbcrt15u1pjqqqqqpp5qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqsdqqcqzpgxqyz5vq';
const OTHER_INVOICE = 'lnbcrt15u1pjqqqqqpp5zzzzqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqsdqqcqzpgxqyz5vq';
const MACAROON = 'AgEEbHNhdAJCAADXYmFzZTY0bWFjYXJvb24=';
const PREIMAGE = 'ab'.repeat(32);
const PAYMENT = formatPaymentChallenge({
  id: 'Y2hhbGxlbmdlLWlk',
  realm: 'shop.example',
  method: 'lightning',
  intent: 'charge',
  request: encodeLightningCharge({ amount: '1500', currency: 'sat', methodDetails: { invoice: INVOICE, paymentHash: 'cd'.repeat(32) } }),
  expires: '2030-01-01T00:00:00Z',
});
const L402 = `L402 version="0", token="${MACAROON}", invoice="${OTHER_INVOICE}"`;
const GET = { url: 'https://shop.example/a', method: 'GET' };

function challenge(value: string): PaymentChallenge {
  const read = readChallenge({ headers: [{ name: 'WWW-Authenticate', value }] });
  if (!read.ok) throw new Error(read.error.message);
  return read.value;
}

const completed = (payTo: string) => ({
  transactionId: 'pay_ln',
  status: 'completed' as const,
  rail: 'lightning' as const,
  payTo,
  amount: '1500000',
  asset: 'BTC',
  resource: null,
  description: null,
  failureReason: null,
  receipt: { preimage: PREIMAGE },
  createdAt: 'x',
  updatedAt: 'x',
});

describe('the Payment scheme in the extension', () => {
  it('a Payment-only 402 is paid on the lightning rail with its invoice, shown in sats', () => {
    const c = challenge(PAYMENT);
    const choice = choosePayment(c, GET, HUB, tEn);
    expect(choice.payment).toEqual({ rail: 'lightning', payTo: INVOICE, amount: '1500000', asset: 'BTC', resource: GET });
    expect(describeRequest(request({ challenge: c, payment: choice.payment }), tEn)).toEqual({
      amount: '1,500 sats (0.000015 BTC)',
      rail: 'Lightning',
      scheme: 'Payment scheme (Lightning charge)',
      expiresAt: null,
    });
    // On a hub without the Lightning rail it is not sent, and the window says why.
    const noLightning = choosePayment(c, GET, HUB, tEn, { rail: null, wallet: null, rails: [{ name: 'internal', assets: ['SOVR'] }] });
    expect(noLightning).toMatchObject({ payment: null, unpayable: 'this hub cannot pay Lightning invoices' });
  });

  it('survives storage (the stored challenge keeps it)', () => {
    const c = challenge(PAYMENT);
    expect(StoredChallenge.parse(c).payment).toEqual(c.payment);
  });

  it('the proof is Authorization: Payment with the challenge echoed and the preimage; with L402 beside it, the invoice paid decides', () => {
    const both = challenge(`${PAYMENT}, ${L402}`);
    const viaPayment = { rail: 'lightning' as const, payTo: INVOICE, amount: '1500000', asset: 'BTC' };
    const proof = proofHeader(request({ challenge: both, payment: viaPayment, status: 'completed', result: completed(INVOICE) }));
    expect(proof?.header).toBe('Authorization');
    const cred = parsePaymentCredential(proof?.value);
    expect(cred.ok && cred.value).toEqual({ challenge: both.payment!.params, payload: { preimage: PREIMAGE } });

    const viaL402 = { ...viaPayment, payTo: OTHER_INVOICE };
    expect(proofHeader(request({ challenge: both, payment: viaL402, status: 'completed', result: completed(OTHER_INVOICE) }))).toEqual({
      header: 'Authorization',
      value: `L402 ${MACAROON}:${PREIMAGE}`,
    });
    // L402 is offered first, so a 402 with both is paid with L402.
    expect(choosePayment(both, GET, HUB, tEn).payment?.payTo).toBe(OTHER_INVOICE);
  });

  it("window.tollway.fetch's WWW-Authenticate is read by the worker, and the page gets the Authorization proof", async () => {
    expect(PageRequest.safeParse({ channel: 'tollway', dir: 'request', id: 'abcdefgh12', method: 'pay', params: {} }).success).toBe(false);
    const read = challengeFromParam(undefined, PAYMENT);
    expect(read.ok && read.challenge.payment?.invoice).toBe(INVOICE);
    expect(challengeFromParam(undefined, 'Bearer realm="x"').ok).toBe(false);

    let added: Parameters<Parameters<typeof createProvider>[0]['add']>[0] | undefined;
    const provider = createProvider({
      session: async () => ({ url: HUB, accessToken: 't' }),
      add: async (seen) => {
        added = seen;
        return { id: 'r1' };
      },
    });
    const paid = provider.pay(
      { type: 'provider.pay', authenticate: PAYMENT, request: GET },
      { tabId: 1, origin: 'https://shop.example', url: 'https://shop.example/' },
    );
    await new Promise((r) => setTimeout(r, 0));
    expect(added?.challenge.payment?.invoice).toBe(INVOICE);
    const c = added!.challenge;
    const payment = choosePayment(c, GET, HUB, tEn).payment;
    provider.finished([
      request({ id: 'r1', challenge: c, payment, status: 'completed', result: completed(INVOICE), frameType: 'xmlhttprequest' }),
    ]);
    const result = await paid;
    expect(result.header).toBe('Authorization');
    expect(result.proof).toMatch(/^Payment [A-Za-z0-9_-]+$/);
    expect(result.receipt).toBe(PREIMAGE);
  });
});
