/**
 * Reading the retry header: x402 version 2 `PAYMENT-SIGNATURE` (what Tollway clients send) and
 * version 1 `X-PAYMENT` (`{x402Version: 1, scheme, network, payload}`), which is still common.
 */
import {
  decodeBase64Text,
  parseJsonSafely,
  parsePaymentSignature,
  CHALLENGE_LIMITS,
  type PaymentSignature,
} from '@tollway/shared/challenge.js';
import { isRecord } from '@tollway/shared/json.js';
import type { PaywallReason } from './receipt.js';

export interface Proof {
  version: 1 | 2;
  scheme: string;
  network: string;
  payload: Record<string, unknown>;
}

export type ProofRead =
  | { ok: true; proof: Proof }
  | { ok: false; reason: Extract<PaywallReason, 'malformed_proof' | 'unsupported_version'>; detail: string };

export function readProof(header: string, name: 'PAYMENT-SIGNATURE' | 'X-PAYMENT'): ProofRead {
  if (typeof header !== 'string' || header.length > CHALLENGE_LIMITS.headerChars)
    return { ok: false, reason: 'malformed_proof', detail: `${name} is too large` };
  const text = decodeBase64Text(header);
  if (!text.ok) return { ok: false, reason: 'malformed_proof', detail: `${name} is not base64 text` };
  const json = parseJsonSafely(text.value);
  if (!json.ok || !isRecord(json.value)) return { ok: false, reason: 'malformed_proof', detail: `${name} is not a JSON object` };
  const doc = json.value;
  if (doc.x402Version === 2) {
    const parsed = parsePaymentSignature(header);
    if (!parsed.ok) return { ok: false, reason: 'malformed_proof', detail: `${name} is not an x402 version 2 payment payload` };
    const { accepted, payload } = parsed.value;
    return { ok: true, proof: { version: 2, scheme: accepted.scheme, network: accepted.network, payload } };
  }
  if (doc.x402Version === 1) {
    if (typeof doc.scheme !== 'string' || typeof doc.network !== 'string' || !isRecord(doc.payload)) {
      return { ok: false, reason: 'malformed_proof', detail: `${name} is not an x402 version 1 payment payload` };
    }
    return { ok: true, proof: { version: 1, scheme: doc.scheme, network: doc.network, payload: doc.payload } };
  }
  return { ok: false, reason: 'unsupported_version', detail: `${name} has an unsupported x402Version` };
}

/**
 * A version 2 `PAYMENT-SIGNATURE` as the payer sent it, for a facilitator to verify and settle:
 * `accepted` validated, and the whole document kept as decoded (prototype keys dropped), since the
 * facilitator must see every field the payer signed or declared.
 */
export function readPaymentDocument(
  header: string,
): { accepted: PaymentSignature['accepted']; document: Record<string, unknown> } | undefined {
  const parsed = parsePaymentSignature(header);
  if (!parsed.ok) return undefined;
  const text = decodeBase64Text(header);
  const json = text.ok ? parseJsonSafely(text.value) : undefined;
  if (!json?.ok || !isRecord(json.value)) return undefined;
  return { accepted: parsed.value.accepted, document: json.value };
}
