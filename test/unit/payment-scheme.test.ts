/**
 * The "Payment" HTTP authentication scheme's codec (shared/challenge/payment-scheme.ts): challenges
 * and credentials written and read back, what other clients write (plain JSON, repeated and joined
 * challenges, unknown parameters), and malformed input refused with a code, never a throw.
 */
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  encodeLightningCharge,
  formatPaymentChallenge,
  lightningCredential,
  parsePaymentCredential,
  parsePaymentScheme,
  readChallenge,
  type PaymentSchemeParams,
} from '../../shared/challenge.js';

// 20n = 20 nano-BTC = 2 sat; only the human-readable part is read for the amount.
const INVOICE = `lnbcrt20n1${'p'.repeat(60)}`;
const HASH = 'ab'.repeat(32);
const request = (over: Record<string, unknown> = {}) =>
  encodeLightningCharge({
    amount: '2',
    currency: 'sat',
    methodDetails: { invoice: INVOICE, paymentHash: HASH, network: 'regtest' },
    ...over,
  } as never);
const params = (over: Partial<PaymentSchemeParams> = {}): PaymentSchemeParams => ({
  id: 'aWQtb2YtdGhlLWNoYWxsZW5nZQ',
  realm: 'shop.example',
  method: 'lightning',
  intent: 'charge',
  request: request(),
  expires: '2030-01-01T00:00:00Z',
  ...over,
});
const b64url = (s: string) => Buffer.from(s).toString('base64url');

describe('Payment challenge', () => {
  it('reads back what it writes, quotes and backslashes in a description included', () => {
    const p = params({ description: 'a "quoted" \\ word' });
    const r = parsePaymentScheme([formatPaymentChallenge(p)]);
    expect(r).toEqual({ ok: true, value: { kind: 'payment', params: p, invoice: INVOICE, amountMsat: '2000' } });
  });

  it('request is base64url of canonical JSON: keys sorted, no padding', () => {
    expect(canonicalJson({ b: 1, a: { d: 'x', c: [2, 'y'] } })).toBe('{"a":{"c":[2,"y"],"d":"x"},"b":1}');
    const text = Buffer.from(request(), 'base64url').toString();
    expect(text).toBe(
      `{"amount":"2","currency":"sat","methodDetails":{"invoice":"${INVOICE}","network":"regtest","paymentHash":"${HASH}"}}`,
    );
    expect(request()).not.toMatch(/[=+/]/);
  });

  it('finds the Lightning charge among other schemes, other methods and unknown parameters, joined or repeated', () => {
    const tempo = formatPaymentChallenge(params({ method: 'tempo', id: 'other' }));
    const ours = `${formatPaymentChallenge(params())}, future="x"`;
    const l402 = `L402 version="0", token="bWFjYXJvb24=", invoice="${INVOICE}"`;
    for (const values of [[`${tempo}, ${l402}, ${ours}`], [tempo, ours], [`Bearer realm="x", ${ours}`]]) {
      const r = parsePaymentScheme(values);
      expect(r.ok && r.value.params.id).toBe(params().id);
    }
    const both = readChallenge({ headers: [{ name: 'WWW-Authenticate', value: `${ours}, ${l402}` }] });
    expect(both.ok && both.value.payment?.invoice).toBe(INVOICE);
    expect(both.ok && both.value.l402?.invoice).toBe(INVOICE);
  });

  it.each([
    ['no id', formatPaymentChallenge(params()).replace(/id="[^"]*", /, '')],
    ['a padded request', formatPaymentChallenge(params({ request: `${request()}=` }))],
    ['a request that is not base64url', formatPaymentChallenge(params({ request: 'not base64!' }))],
    ['an amount the invoice does not name', formatPaymentChallenge(params({ request: request({ amount: '3' }) }))],
    ['currency BTC', formatPaymentChallenge(params({ request: request({ currency: 'BTC' }) }))],
    ['no invoice', formatPaymentChallenge(params({ request: b64url('{"amount":"2","currency":"sat","methodDetails":{}}') }))],
    ['a request that is an array', formatPaymentChallenge(params({ request: b64url('[1]') }))],
    [
      'an upper-case payment hash',
      formatPaymentChallenge(params({ request: request({ methodDetails: { invoice: INVOICE, paymentHash: HASH.toUpperCase() } }) })),
    ],
    ['an expiry that is not RFC 3339', formatPaymentChallenge(params({ expires: 'tomorrow' }))],
    ['an unterminated quote', 'Payment id="abc'],
  ])('refuses a challenge with %s', (_what, value) => {
    const r = parsePaymentScheme([value]);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).not.toBe('absent');
  });

  it('says absent when there is no Payment challenge, and too-large past the header limit', () => {
    const absent = parsePaymentScheme(['Bearer realm="x"']);
    expect(!absent.ok && absent.error.code).toBe('absent');
    const huge = parsePaymentScheme([`Payment id="${'a'.repeat(70_000)}"`]);
    expect(!huge.ok && huge.error.code).toBe('too-large');
    const other = parsePaymentScheme([formatPaymentChallenge(params({ method: 'stripe' }))]);
    expect(!other.ok && other.error.code).toBe('unsupported-version');
  });
});

describe('Payment credential', () => {
  it('echoes every parameter sent and carries the preimage; reads back', () => {
    const p = params({ description: 'two sats', opaque: b64url('{"k":"v"}') });
    const cred = lightningCredential(p, 'CD'.repeat(32));
    expect(cred.ok).toBe(true);
    if (!cred.ok) return;
    expect(cred.value).toMatch(/^Payment [A-Za-z0-9_-]+$/);
    const r = parsePaymentCredential(cred.value);
    expect(r).toEqual({ ok: true, value: { challenge: p, payload: { preimage: 'cd'.repeat(32) } } });
  });

  it('reads a plain-JSON credential (as mppx writes it), with a source', () => {
    const json = JSON.stringify({ payload: { preimage: 'ef'.repeat(32) }, source: 'did:key:z6Mk', challenge: params() });
    const r = parsePaymentCredential(`payment   ${b64url(json)}`);
    expect(r.ok && r.value.source).toBe('did:key:z6Mk');
    expect(r.ok && r.value.challenge).toEqual(params());
  });

  it.each([
    ['another scheme', `L402 abc:${'00'.repeat(32)}`, 'absent'],
    ['no credential', 'Payment', 'invalid'],
    ['two credentials', `Payment ${b64url('{}')}, L402 x:y`, 'invalid'],
    ['padding', `Payment ${b64url(JSON.stringify({ challenge: params(), payload: {} }))}=`, 'invalid'],
    ['not JSON', `Payment ${b64url('not json')}`, 'bad-json'],
    ['not UTF-8', `Payment ${Buffer.from([0xff, 0xfe]).toString('base64url')}`, 'bad-encoding'],
    ['no payload', `Payment ${b64url(JSON.stringify({ challenge: params() }))}`, 'invalid'],
    ['a number for the id', `Payment ${b64url(JSON.stringify({ challenge: { ...params(), id: 7 }, payload: {} }))}`, 'invalid'],
    [
      'no request in the echo',
      `Payment ${b64url(JSON.stringify({ challenge: { ...params(), request: undefined }, payload: {} }))}`,
      'invalid',
    ],
    ['a source that is not a string', `Payment ${b64url(JSON.stringify({ challenge: params(), payload: {}, source: 1 }))}`, 'invalid'],
    [
      'too deep',
      `Payment ${b64url(JSON.stringify({ challenge: params(), payload: JSON.parse('['.repeat(40) + ']'.repeat(40)) }))}`,
      'bad-json',
    ],
  ])('refuses %s', (_what, header, code) => {
    const r = parsePaymentCredential(header);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe(code);
  });

  it('refuses to write a credential with a preimage that is not 32 bytes of hex', () => {
    expect(lightningCredential(params(), 'xyz').ok).toBe(false);
    expect(lightningCredential(params(), 'ab'.repeat(31)).ok).toBe(false);
  });
});
