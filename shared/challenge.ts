/**
 * 402 challenges and retry proofs, by protocol: x402 (challenge/x402.ts), L402 / LSAT
 * (challenge/l402.ts) and the "Payment" scheme (challenge/payment-scheme.ts) over the
 * `WWW-Authenticate` grammar (challenge/auth-header.ts), on shared
 * decoding rules (challenge/codec.ts). This module reads a whole 402 response into one challenge.
 * The wire facts: docs/protocols.md.
 *
 * Everything here reads input chosen by whatever site answered 402, so the readers never throw:
 * they return `{ok: false, error}` with a stable code.
 */
import type { ChallengeError, ChallengeResult } from './challenge/codec.js';
import { parseL402, type L402Challenge } from './challenge/l402.js';
import { parsePaymentScheme, type PaymentSchemeChallenge } from './challenge/payment-scheme.js';
import { parsePaymentRequired, parseX402Body, type X402Challenge } from './challenge/x402.js';

export * from './challenge/auth-header.js';
export * from './challenge/codec.js';
export * from './challenge/ids.js';
export * from './challenge/l402.js';
export * from './challenge/payment-scheme.js';
export * from './challenge/x402.js';

export interface HeaderEntry {
  name: string;
  value?: string;
}

export interface PaymentChallenge {
  x402: X402Challenge | null;
  l402: L402Challenge | null;
  /** A `WWW-Authenticate: Payment` Lightning charge; absent in what was stored before the scheme was read. */
  payment?: PaymentSchemeChallenge | null;
  /** What could not be read, for display: a challenge that is partly garbage is shown as such. */
  problems: ChallengeError[];
}

/**
 * Reads every challenge a 402 response carries. `headers` is the webRequest shape (one entry per
 * header line); `body`, when the caller has it, is read for x402 version 1 only if no
 * `PAYMENT-REQUIRED` header is present.
 */
export function readChallenge(input: { headers: readonly HeaderEntry[]; body?: string }): ChallengeResult<PaymentChallenge> {
  const named = (n: string) =>
    (Array.isArray(input?.headers) ? input.headers : [])
      .filter(
        (h): h is { name: string; value: string } =>
          typeof h?.name === 'string' && typeof h.value === 'string' && h.name.toLowerCase() === n,
      )
      .map((h) => h.value);
  const problems: ChallengeError[] = [];
  let x402: X402Challenge | null = null;
  const paymentRequired = named('payment-required');
  if (paymentRequired.length) {
    const r = parsePaymentRequired(paymentRequired[0]!);
    if (r.ok) x402 = r.value;
    else problems.push(r.error);
  } else if (typeof input?.body === 'string' && input.body.trim().startsWith('{')) {
    const r = parseX402Body(input.body);
    if (r.ok) x402 = r.value;
    else problems.push(r.error);
  }
  let l402: L402Challenge | null = null;
  let payment: PaymentSchemeChallenge | null = null;
  const auth = named('www-authenticate');
  if (auth.length) {
    const r = parseL402(auth);
    if (r.ok) l402 = r.value;
    else if (r.error.code !== 'absent') problems.push(r.error);
    const p = parsePaymentScheme(auth);
    if (p.ok) payment = p.value;
    else if (p.error.code !== 'absent') problems.push(p.error);
  }
  if (!x402 && !l402 && !payment) return { ok: false, error: problems[0] ?? { code: 'absent', message: 'no payment challenge' } };
  return { ok: true, value: { x402, l402, payment, problems } };
}
