/**
 * A small client for any x402 facilitator (the Tollway hub's `<hub>/x402`, x402.org, your own):
 * `POST <url>/verify`, `POST <url>/settle` with `{x402Version, paymentPayload,
 * paymentRequirements}` and `GET <url>/supported`, as the x402 specification v2 §7 and the
 * reference `HTTPFacilitatorClient` (@x402/core 2.27) do.
 *
 * A payment the facilitator refuses is an answer (`isValid: false`, `success: false`), whatever
 * the status it came with. A facilitator that cannot be reached, or answers something that is not
 * one of those documents, throws FacilitatorUnavailableError: the payment may be fine, and the
 * payer paying again would not help.
 *
 * @example
 * ```ts
 * const facilitator = facilitatorClient('https://hub.example/x402');
 * const { isValid, invalidReason } = await facilitator.verify(paymentPayload, requirements);
 * ```
 */
import { z } from 'zod';

export class FacilitatorUnavailableError extends Error {
  override name = 'FacilitatorUnavailableError';
  /** The HTTP status the facilitator answered with, when it answered. */
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.status = status;
  }
}

const Text = z.string().max(2048);
const optional = <T extends z.ZodType>(s: T) => s.nullish().transform((v) => v ?? undefined);

const VerifyAnswer = z.object({
  isValid: z.boolean(),
  invalidReason: optional(Text),
  invalidMessage: optional(Text),
  payer: optional(Text),
});
export type VerifyAnswer = z.infer<typeof VerifyAnswer>;

const SettleAnswer = z.object({
  success: z.boolean(),
  errorReason: optional(Text),
  errorMessage: optional(Text),
  payer: optional(Text),
  transaction: Text,
  network: Text,
  amount: optional(Text),
});
export type SettleAnswer = z.infer<typeof SettleAnswer>;

const SupportedAnswer = z.object({
  kinds: z
    .array(z.object({ x402Version: z.number(), scheme: Text, network: Text, extra: optional(z.record(z.string(), z.unknown())) }))
    .max(1000),
  extensions: z.array(Text).max(1000).default([]),
  signers: z.record(z.string(), z.array(Text)).default({}),
});
export type SupportedAnswer = z.infer<typeof SupportedAnswer>;

export interface Facilitator {
  /** The base URL, without a trailing slash. */
  readonly url: string;
  verify(paymentPayload: Record<string, unknown>, paymentRequirements: Record<string, unknown>): Promise<VerifyAnswer>;
  settle(paymentPayload: Record<string, unknown>, paymentRequirements: Record<string, unknown>): Promise<SettleAnswer>;
  supported(): Promise<SupportedAnswer>;
}

export interface FacilitatorClientOptions {
  /** e.g. `https://hub.example/x402`; `/verify`, `/settle` and `/supported` are appended. */
  url: string;
  fetch?: typeof fetch;
  /** Per request, ms. Settling waits for the chain, so the default is generous: 60 s. */
  timeoutMs?: number;
  /** Extra headers per call (an API key for facilitators that want one). */
  headers?: (op: 'verify' | 'settle' | 'supported') => Record<string, string> | Promise<Record<string, string>>;
}

const MAX_ANSWER_CHARS = 256 * 1024;

export function facilitatorClient(opts: string | FacilitatorClientOptions): Facilitator {
  const o: FacilitatorClientOptions = typeof opts === 'string' ? { url: opts } : opts;
  let base: URL;
  try {
    base = new URL(o.url);
  } catch {
    throw new TypeError('facilitator: url must be an absolute URL');
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError('facilitator: url must be an http(s) URL');
  const url = o.url.replace(/\/+$/, '');
  const doFetch = o.fetch ?? fetch;
  const timeoutMs = o.timeoutMs ?? 60_000;

  async function call<T>(op: 'verify' | 'settle' | 'supported', schema: z.ZodType<T>, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', ...(await o.headers?.(op)) };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    let text: string;
    try {
      res = await doFetch(`${url}/${op}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        redirect: 'follow',
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      throw new FacilitatorUnavailableError(`facilitator ${op} at ${url} could not be reached: ${(err as Error).message}`);
    }
    if (text.length > MAX_ANSWER_CHARS)
      throw new FacilitatorUnavailableError(`facilitator ${op} answered more than ${MAX_ANSWER_CHARS} characters`, res.status);
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      throw new FacilitatorUnavailableError(`facilitator ${op} answered ${res.status} without JSON`, res.status);
    }
    // Some facilitators send a refusal with a 4xx status; the document decides, not the status.
    const parsed = schema.safeParse(data);
    if (parsed.success && (res.ok || op !== 'supported')) return parsed.data;
    const excerpt = text.replace(/\s+/g, ' ').slice(0, 200);
    throw new FacilitatorUnavailableError(`facilitator ${op} answered ${res.status}: ${excerpt}`, res.status);
  }

  const request = (paymentPayload: Record<string, unknown>, paymentRequirements: Record<string, unknown>) => ({
    x402Version: typeof paymentPayload.x402Version === 'number' ? paymentPayload.x402Version : 2,
    paymentPayload,
    paymentRequirements,
  });

  return {
    url,
    verify: (p, r) => call('verify', VerifyAnswer, request(p, r)),
    settle: (p, r) => call('settle', SettleAnswer, request(p, r)),
    supported: () => call('supported', SupportedAnswer),
  };
}
