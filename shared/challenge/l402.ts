/**
 * L402 (and the older LSAT): the `WWW-Authenticate` challenge with its macaroon and BOLT 11 invoice,
 * and the `Authorization: L402 <macaroon>:<preimage>` credential. docs/protocols.md §3.
 */
import { authChallengesIn, isChallengeError } from './auth-header.js';
import { fail, type ChallengeError, type ChallengeResult } from './codec.js';

export interface L402Challenge {
  kind: 'l402';
  /** How the server named it; clients answer with `L402` either way. */
  scheme: 'L402' | 'LSAT';
  macaroon: string;
  invoice: string;
  /** Invoice amount from the BOLT 11 prefix, in millisatoshi; null when the invoice names none. */
  amountMsat: string | null;
}

const MACAROON = /^[A-Za-z0-9+/_-]{8,8192}={0,2}$/;
const BOLT11 = /^ln[a-z0-9]{8,8192}$/;

/**
 * The amount in a BOLT 11 human-readable part (`lnbc2500u1…` = 2500 µBTC), in millisatoshi.
 * Returns undefined when the prefix is not a valid one.
 */
export function bolt11AmountMsat(invoice: string): bigint | null | undefined {
  const sep = invoice.lastIndexOf('1');
  if (sep < 4) return undefined;
  const hrp = invoice.slice(0, sep);
  const m = /^ln(bcrt|bc|tbs|tb|sb)(?:([1-9][0-9]{0,20})([munp]?))?$/.exec(hrp);
  if (!m) return undefined;
  if (!m[2]) return null;
  const n = BigInt(m[2]);
  // 1 BTC = 10^11 msat.
  switch (m[3]) {
    case 'm':
      return n * 100_000_000n;
    case 'u':
      return n * 100_000n;
    case 'n':
      return n * 100n;
    case 'p':
      // A pico-bitcoin amount must be a whole number of msat (BOLT 11: last digit 0).
      return n % 10n === 0n ? n / 10n : undefined;
    default:
      return n * 100_000_000_000n;
  }
}

/**
 * Finds an L402 (or LSAT) challenge among `WWW-Authenticate` values. Accepts `token=` or
 * `macaroon=`, a missing `version`, both schemes at once (L402 preferred), and ignores unknown
 * parameters and other schemes.
 */
export function parseL402(values: readonly string[]): ChallengeResult<L402Challenge> {
  let lastError: ChallengeError | null = null;
  const found: L402Challenge[] = [];
  for (const c of authChallengesIn(values)) {
    if (isChallengeError(c)) {
      lastError = c;
      continue;
    }
    const scheme = c.scheme.toUpperCase();
    if (scheme !== 'L402' && scheme !== 'LSAT') continue;
    if (c.params.version !== undefined && c.params.version !== '0') {
      lastError = { code: 'unsupported-version', message: `unsupported ${scheme} version` };
      continue;
    }
    const macaroon = c.params.token ?? c.params.macaroon;
    const invoice = c.params.invoice?.toLowerCase();
    if (!macaroon || !MACAROON.test(macaroon) || !invoice || !BOLT11.test(invoice)) {
      lastError = { code: 'invalid', message: `${scheme} challenge without a valid macaroon and invoice` };
      continue;
    }
    const amount = bolt11AmountMsat(invoice);
    if (amount === undefined || amount === 0n) {
      lastError = { code: 'invalid', message: `${scheme} challenge with an invalid invoice` };
      continue;
    }
    found.push({ kind: 'l402', scheme, macaroon, invoice, amountMsat: amount === null ? null : amount.toString() });
  }
  const best = found.find((c) => c.scheme === 'L402') ?? found[0];
  if (best) return { ok: true, value: best };
  return { ok: false, error: lastError ?? { code: 'absent', message: 'no L402 challenge' } };
}

/** `Authorization` value for L402: `L402 <macaroon>[,<macaroon>…]:<preimage hex>`. */
export function encodeL402Authorization(macaroons: string | readonly string[], preimageHex: string): ChallengeResult<string> {
  const list = typeof macaroons === 'string' ? [macaroons] : [...macaroons];
  if (!list.length || !list.every((m) => MACAROON.test(m))) return fail('invalid', 'not a macaroon');
  if (!/^[0-9a-fA-F]{64}$/.test(preimageHex)) return fail('invalid', 'preimage must be 32 bytes of hex');
  return { ok: true, value: `L402 ${list.join(',')}:${preimageHex.toLowerCase()}` };
}
