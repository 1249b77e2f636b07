/**
 * The in-page provider's messages: page (MAIN world, `window.tollway`) → content-script bridge
 * (ISOLATED world) → service worker, and the replies back. Everything that crosses a boundary is
 * validated here; the page is untrusted, so it gets only what it asked for (a receipt for the
 * resource it paid, the transaction id, the proof header for its retry), never a token or a key.
 */
import { z } from 'zod';
import { encodeBase64Text, readChallenge, type HeaderEntry, type PaymentChallenge } from '../../shared/challenge.js';

export const CHANNEL = 'tollway';
/** Bound on a challenge the page hands over (base64 header or object): the parser's own header limit is lower. */
export const MAX_CHALLENGE_CHARS = 32 * 1024;

const RequestId = z.string().regex(/^[A-Za-z0-9_-]{8,100}$/);

const HttpUrl = z
  .string()
  .max(4096)
  .refine((s) => {
    try {
      const u = new URL(s);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'not an http(s) URL');

export const ChallengeParam = z.union([
  z.string().min(1).max(MAX_CHALLENGE_CHARS),
  z.record(z.string(), z.unknown()).refine((o) => {
    try {
      return JSON.stringify(o).length <= MAX_CHALLENGE_CHARS;
    } catch {
      return false;
    }
  }, 'challenge too large or not JSON'),
]);
export type ChallengeParam = z.infer<typeof ChallengeParam>;

/** The `WWW-Authenticate` values of a 402 (L402, the "Payment" scheme), as the page's fetch saw them. */
export const AuthenticateParam = z.string().min(1).max(MAX_CHALLENGE_CHARS);

/** The request a fetch made and that answered 402: what is paid for, and retried. */
export const PaidRequest = z.strictObject({
  url: HttpUrl,
  method: z.string().regex(/^[A-Za-z]{1,16}$/),
});

/** page → bridge */
export const PageRequest = z.strictObject({
  channel: z.literal(CHANNEL),
  dir: z.literal('request'),
  id: RequestId,
  method: z.literal('pay'),
  params: z
    .strictObject({ challenge: ChallengeParam.optional(), authenticate: AuthenticateParam.optional(), request: PaidRequest.optional() })
    .refine((p) => p.challenge !== undefined || p.authenticate !== undefined, 'a challenge or WWW-Authenticate is required'),
});
export type PageRequest = z.infer<typeof PageRequest>;

export const PaidResult = z.strictObject({
  receipt: z
    .string()
    .min(1)
    .max(16 * 1024),
  transactionId: z.string().min(1).max(200),
  /** The proof header's value for the retry. */
  proof: z.string().min(1).max(MAX_CHALLENGE_CHARS),
  /** Which header carries `proof`: `PAYMENT-SIGNATURE` (x402, the default) or `Authorization` (L402, Payment). */
  header: z.enum(['PAYMENT-SIGNATURE', 'Authorization']).optional(),
});
export type PaidResult = z.infer<typeof PaidResult>;

/** bridge → page */
export const PageResponse = z.union([
  z.strictObject({ channel: z.literal(CHANNEL), dir: z.literal('response'), id: RequestId, ok: z.literal(true), result: PaidResult }),
  z.strictObject({
    channel: z.literal(CHANNEL),
    dir: z.literal('response'),
    id: RequestId,
    ok: z.literal(false),
    error: z.string().max(1000),
  }),
]);
export type PageResponse = z.infer<typeof PageResponse>;

/** bridge → worker */
export const ProviderMessage = z.discriminatedUnion('type', [
  z
    .strictObject({
      type: z.literal('provider.pay'),
      challenge: ChallengeParam.optional(),
      authenticate: AuthenticateParam.optional(),
      request: PaidRequest.optional(),
    })
    .refine((m) => m.challenge !== undefined || m.authenticate !== undefined, 'a challenge or WWW-Authenticate is required'),
  /** Sent while a payment waits for the person, so the worker is not stopped as idle. */
  z.strictObject({ type: z.literal('provider.ping') }),
  /**
   * The page's join dialog spent a token on a slot (its `tollway:slot` event): the worker keeps the
   * slot only if this person's own token purchase from the site stands behind it (background/holdings.ts).
   */
  z.strictObject({
    type: z.literal('provider.slot'),
    tokenId: z.string().min(1).max(200),
    slotId: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    title: z.string().max(200),
  }),
]);
export type ProviderMessage = z.infer<typeof ProviderMessage>;

/** worker → bridge */
export const ProviderReply = z.union([
  z.strictObject({ ok: z.literal(true), result: PaidResult }),
  z.strictObject({ ok: z.literal(false), error: z.string() }),
]);
export type ProviderReply = z.infer<typeof ProviderReply>;

/** The parts of a MessageEvent the bridge looks at. */
export interface MessageLike {
  source: unknown;
  data: unknown;
}

/**
 * A request from the page, or null: only messages this very window posted to itself (not another
 * frame, not another window) that are well formed.
 */
export function readPageRequest(event: MessageLike, self: unknown): PageRequest | null {
  if (event.source !== self || event.source == null) return null;
  const parsed = PageRequest.safeParse(event.data);
  return parsed.success ? parsed.data : null;
}

/**
 * The challenge the page handed over, read with the shared parser: x402 PAYMENT-REQUIRED (base64
 * header or its object) and/or the `WWW-Authenticate` values (L402, the "Payment" scheme).
 */
export function challengeFromParam(
  param: ChallengeParam | undefined,
  authenticate?: string,
): { ok: true; challenge: PaymentChallenge } | { ok: false; error: string } {
  const headers: HeaderEntry[] = [];
  if (param !== undefined) {
    try {
      headers.push({ name: 'payment-required', value: typeof param === 'string' ? param.trim() : encodeBase64Text(JSON.stringify(param)) });
    } catch {
      return { ok: false, error: 'the challenge is not JSON' };
    }
  }
  if (authenticate !== undefined) headers.push({ name: 'www-authenticate', value: authenticate });
  const r = readChallenge({ headers });
  if (!r.ok) return { ok: false, error: `not a payment challenge: ${r.error.message}` };
  // A PAYMENT-REQUIRED that does not read is an error even beside a readable WWW-Authenticate: the page asked for that one.
  if (param !== undefined && !r.value.x402)
    return { ok: false, error: `not a payment challenge: ${r.value.problems[0]?.message ?? 'unreadable'}` };
  return { ok: true, challenge: r.value };
}

/** A short error for the page: one line, bounded. */
export function pageError(e: unknown): string {
  const m = e instanceof Error ? e.message : typeof e === 'string' ? e : 'Tollway could not pay';
  return m.replace(/\s+/g, ' ').slice(0, 500);
}
