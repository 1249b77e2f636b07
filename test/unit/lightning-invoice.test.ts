import bolt11 from 'bolt11';
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ProblemError } from '../../shared/problem.js';
import { decodeInvoice, InvoiceError } from '../../lightning/invoice.js';
import { checkInvoiceRequest, checkNotExpired } from '../../server/rails/lightning/invoice.js';
import { makeInvoice } from '../../devnet/lnd.js';

const problemOf = (f: () => unknown): { code: string; message: string } => {
  try {
    f();
  } catch (err) {
    if (err instanceof ProblemError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected a ProblemError');
};

describe('BOLT 11 decoding', () => {
  it('reads the hash, the exact msat amount, the expiry and the payee of a signed invoice', () => {
    const key = randomBytes(32);
    const inv = makeInvoice({ valueMsat: 1_234_567n, memo: 'a quote', expirySeconds: 600, timestamp: 1_700_000_000, nodeKey: key });
    const d = decodeInvoice(inv.paymentRequest);
    expect(d.paymentHash).toBe(inv.paymentHashHex);
    expect(d.paymentHash).toBe(createHash('sha256').update(Buffer.from(inv.preimageHex, 'hex')).digest('hex'));
    expect(d.amountMsat).toBe(1_234_567n);
    expect(d.prefix).toBe('bcrt');
    expect(d.timestamp).toBe(1_700_000_000);
    expect(d.expiresAt).toBe(1_700_000_600);
    expect(d.description).toBe('a quote');
    expect(d.payee).toMatch(/^0[23][0-9a-f]{64}$/);
  });

  it('keeps sub-satoshi amounts exact (pico-bitcoin multiplier)', () => {
    for (const msat of [1n, 10n, 1_001n, 999_999_999n, 2_100_000_000_000_000_000n]) {
      expect(decodeInvoice(makeInvoice({ valueMsat: msat }).paymentRequest).amountMsat).toBe(msat);
    }
  });

  it('knows every network prefix, signet included', () => {
    expect(decodeInvoice(makeInvoice({ valueMsat: 1000n, network: 'mainnet' }).paymentRequest).prefix).toBe('bc');
    expect(decodeInvoice(makeInvoice({ valueMsat: 1000n, network: 'testnet' }).paymentRequest).prefix).toBe('tb');
    expect(decodeInvoice(makeInvoice({ valueMsat: 1000n, network: 'signet' }).paymentRequest).prefix).toBe('tbs');
  });

  it('takes BOLT 11 default expiry (one hour) when the invoice names none', () => {
    const hash = randomBytes(32).toString('hex');
    const encoded = bolt11.encode({
      network: { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, validWitnessVersions: [0, 1] },
      millisatoshis: '5000',
      timestamp: 1_700_000_000,
      tags: [
        { tagName: 'payment_hash', data: hash },
        { tagName: 'description', data: '' },
      ],
    });
    // bolt11 adds expire_time by default; strip it to get an invoice without one.
    encoded.tags = encoded.tags.filter((t) => t.tagName !== 'expire_time');
    const pr = bolt11.sign(encoded, randomBytes(32)).paymentRequest!;
    expect(decodeInvoice(pr).expiresAt).toBe(1_700_003_600);
  });

  it('accepts an all-uppercase invoice (as in QR codes) and refuses mixed case, spaces, URIs and tampering', () => {
    const inv = makeInvoice({ valueMsat: 1000n });
    expect(decodeInvoice(inv.paymentRequest.toUpperCase()).paymentHash).toBe(inv.paymentHashHex);
    const mixed = inv.paymentRequest.slice(0, 20) + inv.paymentRequest.slice(20).toUpperCase();
    for (const bad of [
      mixed,
      ` ${inv.paymentRequest}`,
      `lightning:${inv.paymentRequest}`,
      inv.paymentRequest.replace(/.$/, (c) => (c === 'q' ? 'p' : 'q')),
      '',
      'lnbc',
      'x'.repeat(3000),
    ]) {
      expect(() => decodeInvoice(bad), bad.slice(0, 30)).toThrow(InvoiceError);
    }
  });
});

describe('checking a payment request against its invoice', () => {
  const inv = makeInvoice({ valueMsat: 2500n, expirySeconds: 60, timestamp: 1_700_000_000 });

  it('passes a BTC payment of exactly the invoice amount on the node network', () => {
    expect(checkInvoiceRequest({ payTo: inv.paymentRequest, amount: 2500n, asset: 'BTC' }, 'regtest').paymentHash).toBe(inv.paymentHashHex);
    // Network unknown (node not reached yet): the node itself refuses a foreign invoice later.
    expect(() => checkInvoiceRequest({ payTo: inv.paymentRequest, amount: 2500n, asset: 'BTC' }, null)).not.toThrow();
  });

  it('refuses another amount, in either direction, by one msat', () => {
    for (const amount of [2499n, 2501n]) {
      const p = problemOf(() => checkInvoiceRequest({ payTo: inv.paymentRequest, amount, asset: 'BTC' }, 'regtest'));
      expect(p.code).toBe('invoice-amount-mismatch');
      expect(p.message).toContain('2500');
    }
  });

  it('refuses other assets, amountless invoices and invoices of another network', () => {
    expect(problemOf(() => checkInvoiceRequest({ payTo: inv.paymentRequest, amount: 2500n, asset: 'SOVR' }, 'regtest')).code).toBe(
      'validation-error',
    );
    const amountless = makeInvoice({ valueMsat: null }).paymentRequest;
    expect(problemOf(() => checkInvoiceRequest({ payTo: amountless, amount: 2500n, asset: 'BTC' }, 'regtest'))).toMatchObject({
      code: 'invalid-invoice',
      message: expect.stringMatching(/no amount/),
    });
    const mainnet = makeInvoice({ valueMsat: 2500n, network: 'mainnet' }).paymentRequest;
    expect(problemOf(() => checkInvoiceRequest({ payTo: mainnet, amount: 2500n, asset: 'BTC' }, 'regtest'))).toMatchObject({
      code: 'invalid-invoice',
      message: expect.stringMatching(/another network/),
    });
    expect(problemOf(() => checkInvoiceRequest({ payTo: 'not an invoice', amount: 2500n, asset: 'BTC' }, 'regtest')).code).toBe(
      'invalid-invoice',
    );
    // testnet and testnet4 share a prefix.
    const testnet = makeInvoice({ valueMsat: 2500n, network: 'testnet' }).paymentRequest;
    expect(() => checkInvoiceRequest({ payTo: testnet, amount: 2500n, asset: 'BTC' }, 'testnet4')).not.toThrow();
  });

  it('treats the expiry second itself as expired', () => {
    const d = decodeInvoice(inv.paymentRequest);
    expect(() => checkNotExpired(d, 1_700_000_059_999)).not.toThrow();
    expect(problemOf(() => checkNotExpired(d, 1_700_000_060_000)).code).toBe('invoice-expired');
  });
});
