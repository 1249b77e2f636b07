/**
 * The x402 challenge the button pays and the proof it sends back, on the shared codecs (base64 of
 * UTF-8, JSON without prototype keys, the size limits) so the page cannot drift from the wire
 * format the middleware and the hub read. Pure: the unit tests run it in Node.
 */
import { DEFAULT_BIND } from '@tollway/shared/binding.js';
import { CHALLENGE_LIMITS, decodeBase64Text, encodeBase64Text, parseJsonSafely } from '@tollway/shared/challenge/codec.js';
import { CHALLENGE_ID_PATTERN, MERCHANT_ID_PATTERN } from '@tollway/shared/challenge/ids.js';
import { isRecord } from '@tollway/shared/json.js';
import type { Config } from './config.js';

/** One payment option as the page received it; fields it does not read are kept, as the proof echoes the option. */
export interface Entry extends Record<string, unknown> {
  scheme: string;
  payTo: string;
}

/** An x402 version 2 `PAYMENT-REQUIRED` document, checked only as far as the button reads it. */
export interface Challenge {
  x402Version: 2;
  resource?: { url: string; description?: string; mimeType?: string };
  accepts: Entry[];
}

/** An x402 version 2 challenge for the configured price, when the page itself does not answer 402. */
export function buildChallenge(config: Config): Challenge {
  return {
    x402Version: 2,
    resource: { url: config.resource, description: config.description, mimeType: 'text/html' },
    accepts: [
      {
        scheme: 'tollway',
        network: `tollway:${new URL(config.hub).origin}`,
        amount: config.price,
        asset: config.asset,
        payTo: config.merchant,
        maxTimeoutSeconds: 300,
        extra: { hub: config.hub, bind: [...DEFAULT_BIND] },
      },
    ],
  };
}

const isChallenge = (doc: unknown): doc is Challenge =>
  isRecord(doc) && doc.x402Version === 2 && Array.isArray(doc.accepts) && doc.accepts.length > 0;

/** A PAYMENT-REQUIRED header value (base64 JSON), or with `isJsonText` the JSON a paywall embeds → the challenge, or null. */
export function decodeChallenge(value: unknown, isJsonText = false): Challenge | null {
  if (typeof value !== 'string' || !value) return null;
  if (value.length > (isJsonText ? CHALLENGE_LIMITS.bodyChars : CHALLENGE_LIMITS.headerChars)) return null;
  const text = isJsonText ? { ok: true as const, value } : decodeBase64Text(value);
  if (!text.ok) return null;
  const json = parseJsonSafely(text.value);
  return json.ok && isChallenge(json.value) ? json.value : null;
}

/** The `tollway` entry to pay: the one naming this merchant if there are several. */
export function pickEntry(challenge: unknown, merchant: string): Entry | null {
  if (!isChallenge(challenge)) return null;
  const tollway = challenge.accepts.filter((a) => isRecord(a) && a.scheme === 'tollway');
  return tollway.find((a) => a.payTo === merchant) ?? tollway[0] ?? null;
}

/** The receipt JWT out of what `tollway.pay` resolved to: {receipt: "eyJ…"} or {receipt: {token}}. */
export function receiptToken(result: unknown): string | null {
  if (typeof result === 'string') return result || null;
  if (!isRecord(result)) return null;
  const r = result.receipt;
  if (typeof r === 'string') return r;
  return isRecord(r) && typeof r.token === 'string' ? r.token : null;
}

/** The PAYMENT-SIGNATURE value that proves `token` paid `entry` of `challenge` (the shape of shared encodePaymentSignature). */
export function encodeProof(challenge: Challenge | null, entry: Entry | null, token: string): string {
  return encodeBase64Text(
    JSON.stringify({
      x402Version: 2,
      ...(challenge?.resource ? { resource: challenge.resource } : {}),
      accepted: entry,
      payload: { receipt: token },
    }),
  );
}

/** What the page tells the hub's /challenges socket. */
export interface ChallengeKey {
  challengeId: string;
  merchantId: string;
}

/**
 * The challenge id and the merchant that issued it (the entry's payTo). The hub only announces
 * payments that reached that merchant, so a payment to some other merchant naming this challenge
 * id cannot open the page. Null if either is missing or not what the socket accepts.
 */
export function challengeKeyOf(challenge: unknown, merchant: string): ChallengeKey | null {
  const entry = pickEntry(challenge, merchant);
  const id = entry && isRecord(entry.extra) ? entry.extra.challengeId : undefined;
  if (!entry || typeof id !== 'string' || !CHALLENGE_ID_PATTERN.test(id)) return null;
  if (typeof entry.payTo !== 'string' || !MERCHANT_ID_PATTERN.test(entry.payTo)) return null;
  return { challengeId: id, merchantId: entry.payTo };
}

/** The hub's id for this challenge, or null. */
export const challengeIdOf = (challenge: unknown, merchant: string): string | null =>
  challengeKeyOf(challenge, merchant)?.challengeId ?? null;
