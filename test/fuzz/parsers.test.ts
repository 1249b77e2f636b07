import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseL402Authorization } from '../../merchant/l402.js';
import { readPaymentDocument, readProof } from '../../merchant/proof.js';
import { parseAuthChallenges } from '../../shared/challenge/auth-header.js';
import { decodeBase64Text, encodeBase64Text, parseJsonSafely } from '../../shared/challenge/codec.js';
import { bolt11AmountMsat, parseL402 } from '../../shared/challenge/l402.js';
import { parsePaymentCredential, parsePaymentScheme, readLightningCharge } from '../../shared/challenge/payment-scheme.js';
import { parsePaymentRequired, parsePaymentResponse, parsePaymentSignature, parseX402Body } from '../../shared/challenge/x402.js';
import { FUZZ_RUNS, fuzzParams } from './kit.js';

/**
 * The merchant kit's and the wallet's readers of challenges and proofs take text from strangers.
 * Each must answer with its documented result type and never throw, whatever the text.
 */

const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  // Base64 of generated JSON reaches past the decoding into the shape checks.
  fc.jsonValue({ maxDepth: 5 }).map((v) => encodeBase64Text(JSON.stringify(v) ?? 'null')),
  fc
    .record(
      {
        x402Version: fc.constantFrom(1, 2, 3, '2', null),
        scheme: fc.string(),
        network: fc.string(),
        payload: fc.jsonValue({ maxDepth: 3 }),
        accepted: fc.jsonValue({ maxDepth: 3 }),
        accepts: fc.jsonValue({ maxDepth: 3 }),
      },
      { requiredKeys: [] },
    )
    .map((o) => encodeBase64Text(JSON.stringify(o))),
  fc.integer({ min: 1, max: 20_000 }).map((n) => encodeBase64Text(`${'['.repeat(n)}${']'.repeat(n)}`)),
  fc.constantFrom(
    'L402 macaroon="", invoice=""',
    'L402 macaroon="a", invoice="lnbc1"',
    'Payment id="x", method="tollway", request="e30"',
    'lnbc10u1',
    'lnbc1000000000000000000000p1',
    '=,=,==',
    '"',
    'Basic , , ,',
  ),
  // A "Payment" credential's JSON, base64url: past the decoding into the echo's checks.
  fc
    .record(
      { challenge: fc.jsonValue({ maxDepth: 3 }), payload: fc.jsonValue({ maxDepth: 3 }), source: fc.jsonValue({ maxDepth: 1 }) },
      { requiredKeys: [] },
    )
    .map((o) => `Payment ${Buffer.from(JSON.stringify(o)).toString('base64url')}`),
  fc.tuple(fc.constantFrom('L402 ', 'LSAT ', 'Payment ', 'Bearer '), fc.string({ unit: 'binary', maxLength: 200 })).map(([a, b]) => a + b),
);

const isResult = (r: unknown) => typeof r === 'object' && r !== null && typeof (r as { ok?: unknown }).ok === 'boolean';

describe('fuzz: challenge and proof parsers', () => {
  it('never throw and always answer their documented result type', () => {
    let calls = 0;
    const started = performance.now();
    fc.assert(
      fc.property(text, fc.array(text, { maxLength: 3 }), (s, many) => {
        expect(isResult(readProof(s, 'PAYMENT-SIGNATURE'))).toBe(true);
        expect(isResult(readProof(s, 'X-PAYMENT'))).toBe(true);
        const doc = readPaymentDocument(s);
        expect(doc === undefined || typeof doc === 'object').toBe(true);
        for (const r of [
          parsePaymentRequired(s),
          parseX402Body(s),
          parsePaymentSignature(s),
          parsePaymentResponse(s),
          parseL402([s, ...many]),
          parsePaymentScheme([s, ...many]),
          parsePaymentCredential(s),
          readLightningCharge(s),
          decodeBase64Text(s),
          parseJsonSafely(s),
        ]) {
          expect(isResult(r)).toBe(true);
        }
        const challenges = parseAuthChallenges(s);
        expect(challenges === null || Array.isArray(challenges)).toBe(true);
        const msat = bolt11AmountMsat(s);
        expect(msat === null || msat === undefined || typeof msat === 'bigint').toBe(true);
        const l402 = parseL402Authorization(s);
        expect(l402 === undefined || Array.isArray(l402.macaroons)).toBe(true);
        calls += 15;
      }),
      fuzzParams(FUZZ_RUNS),
    );
    const s = (performance.now() - started) / 1000;
    console.log(`fuzz parsers: ${calls} calls in ${s.toFixed(1)} s (${(calls / s).toFixed(0)}/s)`);
  });
});
