/**
 * Offline verification of a hub receipt (an ES256 JWT) and the reasons a proof is refused.
 */
import { decodeProtectedHeader, errors, jwtVerify } from 'jose';
import { parseAmount } from '@tollway/shared/amount.js';
import { JwksUnavailableError, type KeySource } from './jwks.js';

export const RECEIPT_TYP = 'tollway-receipt+jwt';

/**
 * Why a proof was refused: the `error` of the fresh 402 (JSON body and decoded PAYMENT-REQUIRED).
 * Stable codes; clients branch on them, never on the `detail` text.
 */
export const PAYWALL_REASONS = [
  'payment_required', // no proof at all
  'malformed_proof', // the header is not base64 / JSON / an x402 payment payload
  'unsupported_version', // an x402Version we do not read
  'unsupported_scheme', // a scheme this paywall does not settle (e.g. `exact` before on-chain settlement)
  'malformed_receipt', // payload.receipt is not a compact JWS
  'invalid_algorithm', // not ES256
  'unknown_kid', // the hub does not list the key
  'invalid_signature',
  'wrong_type', // typ is not tollway-receipt+jwt (e.g. an access token)
  'wrong_issuer', // signed for another hub URL
  'wrong_merchant', // aud is another merchant
  'expired',
  'invalid_claims', // a required claim is missing or malformed
  'wrong_asset',
  'insufficient_amount',
  'binding_mismatch', // rqh does not match this request (method, path, query or body)
  'replayed', // a single-use receipt spent before
  'window_elapsed', // an access pass older than the window
] as const;
export type PaywallReason = (typeof PAYWALL_REASONS)[number];

/** The claims of a receipt that passed every check. */
export interface ReceiptClaims {
  iss: string;
  /** transactionId */
  sub: string;
  /** merchant id */
  aud: string;
  amt: string;
  asset: string;
  rail: string;
  res?: string;
  mth?: string;
  rqh?: string;
  iat: number;
  exp: number;
  kid: string;
}

export type ReceiptCheck = { ok: true; claims: ReceiptClaims } | { ok: false; reason: PaywallReason; detail: string };

export interface ReceiptExpectations {
  /** The hub URL, exactly as its receipts name it in `iss` (no trailing slash). */
  issuer: string;
  merchantId: string;
  asset: string;
  price: bigint;
  /** Milliseconds since the epoch. */
  now: number;
  clockToleranceSeconds?: number;
}

const refuse = (reason: PaywallReason, detail: string): ReceiptCheck => ({ ok: false, reason, detail });

/**
 * Checks signature, typ, iss, aud, exp, asset and amount. The request binding and reuse are the
 * middleware's (they need the request and a store). Throws JwksUnavailableError when the hub's
 * keys cannot be had at all: that is not the proof's fault.
 */
export async function verifyReceipt(token: string, keys: KeySource, expect: ReceiptExpectations): Promise<ReceiptCheck> {
  if (typeof token !== 'string' || token.length > 8192 || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) {
    return refuse('malformed_receipt', 'the receipt is not a compact JWS');
  }
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return refuse('malformed_receipt', 'the receipt header is unreadable');
  }
  // Checked before any key look-up, so `alg: none` or HS256 tokens never reach the JWKS.
  if (header.alg !== 'ES256') return refuse('invalid_algorithm', 'receipts are signed with ES256');
  if (typeof header.kid !== 'string' || !header.kid || header.kid.length > 256) return refuse('unknown_kid', 'the receipt names no key id');
  const key = await keys.getKey(header.kid);
  if (!key) return refuse('unknown_kid', 'the hub does not list the key that signed this receipt');

  let payload: Record<string, unknown>;
  try {
    const verified = await jwtVerify(token, key, {
      algorithms: ['ES256'],
      typ: RECEIPT_TYP,
      issuer: expect.issuer,
      audience: expect.merchantId,
      requiredClaims: ['sub', 'iat', 'exp'],
      currentDate: new Date(expect.now),
      clockTolerance: expect.clockToleranceSeconds ?? 5,
    });
    payload = verified.payload as Record<string, unknown>;
  } catch (err) {
    return fromJoseError(err);
  }

  const { iss, sub, aud, amt, asset, rail, res, mth, rqh, iat, exp } = payload;
  if (
    typeof sub !== 'string' ||
    !sub ||
    typeof amt !== 'string' ||
    typeof asset !== 'string' ||
    typeof iat !== 'number' ||
    typeof exp !== 'number'
  ) {
    return refuse('invalid_claims', 'the receipt lacks sub, amt, asset, iat or exp');
  }
  if (asset !== expect.asset) return refuse('wrong_asset', `the receipt pays in ${asset}, this route costs ${expect.asset}`);
  let paid: bigint;
  try {
    paid = parseAmount(amt);
  } catch {
    return refuse('invalid_claims', 'amt is not a decimal amount');
  }
  if (paid < expect.price) return refuse('insufficient_amount', `the receipt pays ${amt}, this route costs ${expect.price}`);
  return {
    ok: true,
    claims: {
      iss: iss as string,
      sub,
      aud: Array.isArray(aud) ? expect.merchantId : (aud as string),
      amt,
      asset,
      rail: typeof rail === 'string' ? rail : '',
      ...(typeof res === 'string' ? { res } : {}),
      ...(typeof mth === 'string' ? { mth } : {}),
      ...(typeof rqh === 'string' ? { rqh } : {}),
      iat,
      exp,
      kid: header.kid,
    },
  };
}

function fromJoseError(err: unknown): ReceiptCheck {
  if (err instanceof JwksUnavailableError) throw err;
  if (err instanceof errors.JWTExpired) return refuse('expired', 'the receipt has expired');
  if (err instanceof errors.JWSSignatureVerificationFailed) return refuse('invalid_signature', 'the receipt signature does not verify');
  if (err instanceof errors.JOSEAlgNotAllowed) return refuse('invalid_algorithm', 'receipts are signed with ES256');
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'typ':
        return refuse('wrong_type', `not a ${RECEIPT_TYP}`);
      case 'iss':
        return refuse('wrong_issuer', 'the receipt comes from another hub');
      case 'aud':
        return refuse('wrong_merchant', 'the receipt pays another merchant');
      default:
        return refuse('invalid_claims', `claim ${err.claim}: ${err.reason}`);
    }
  }
  return refuse('malformed_receipt', 'the receipt cannot be read');
}
