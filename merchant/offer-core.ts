/**
 * offer()'s framework-neutral core: one route, several ways to pay, in a single 402. It holds the
 * cores of the kit middlewares it is given (a paywall, l402, paymentScheme: Express's or Hono's,
 * each carries its core) and decides two things: which one middleware a credential is for, and
 * the one 402 that an unpaid request gets. Checking a credential stays with that middleware alone.
 */
import { type Core, type CoreChallenge, type CoreHeaders, type CoreRequest, coreOf, LIST_HEADERS } from './core-contract.js';
import type { L402Info } from './l402-core.js';
import { L402_INFO } from './l402-core.js';
import type { PaywallInfo } from './paywall-core.js';
import { PAYMENT_SCHEME_INFO, type PaymentSchemeInfo } from './payment-scheme-core.js';

/** The dialects, in the order their challenges go out: Payment first (see offer.ts). */
export const OFFER_DIALECTS = ['payment', 'l402', 'x402'] as const;
export type OfferDialect = (typeof OFFER_DIALECTS)[number];

/** What price discovery reads from an offer() middleware: what each dialect costs. */
export interface OfferInfo {
  /** The dialects offered, in the order of OFFER_DIALECTS. */
  dialects: OfferDialect[];
  x402?: PaywallInfo;
  l402?: L402Info;
  payment?: PaymentSchemeInfo;
}

/** The property of an offer() middleware that holds its OfferInfo. */
export const OFFER_INFO = 'tollwayOffer' as const;

// The paywall's own key (middleware.ts PAYWALL_INFO); kept here so that this core imports no adapter.
const PAYWALL_INFO_KEY = 'tollway';
const INFO_KEYS: Record<OfferDialect, string> = { x402: PAYWALL_INFO_KEY, l402: L402_INFO, payment: PAYMENT_SCHEME_INFO };

export interface OfferCore<N = unknown> {
  readonly info: OfferInfo;
  /** The dialect whose credential the request carries (its middleware alone decides), or undefined. */
  credentialFor(headers: Readonly<Record<string, string | undefined>>): OfferDialect | undefined;
  /** For a request without a credential: the one 402 offering every dialect. */
  challenge(req: CoreRequest<N>): Promise<CoreChallenge>;
}

/** `parts`: the kit middlewares (any framework's), each carrying its core. */
export function offerCore<N>(parts: Partial<Record<OfferDialect, unknown>>): OfferCore<N> {
  const all: { dialect: OfferDialect; core: Core<N> }[] = [];
  const info: OfferInfo = { dialects: [] };
  for (const dialect of OFFER_DIALECTS) {
    const middleware = parts[dialect];
    if (middleware === undefined) continue;
    const core = coreOf<N>(middleware);
    if (!core) throw new TypeError(`offer(): ${dialect} must be the kit's own middleware (paywall, l402, paymentScheme)`);
    all.push({ dialect, core });
    info.dialects.push(dialect);
    const own = (middleware as unknown as Record<string, unknown>)[INFO_KEYS[dialect]];
    if (own) (info as unknown as Record<string, unknown>)[dialect] = own;
  }
  if (!all.length) throw new RangeError('offer(): give at least one of x402, l402, payment');
  Object.freeze(info);
  const has = (d: OfferDialect) => all.some((a) => a.dialect === d);

  return {
    info,
    credentialFor(headers) {
      const auth = headers.authorization;
      if (typeof auth === 'string' && /^\s*Payment(\s|$)/i.test(auth) && has('payment')) return 'payment';
      if (typeof auth === 'string' && /^\s*(L402|LSAT)(\s|$)/i.test(auth) && has('l402')) return 'l402';
      if ((headers['payment-signature'] !== undefined || headers['x-payment'] !== undefined) && has('x402')) return 'x402';
      return undefined;
    },
    async challenge(req) {
      const answers: { dialect: OfferDialect; answer: CoreChallenge }[] = [];
      for (const { dialect, core } of all) {
        const answer = await core.handle(req);
        // Cores answer "paid" only for a credential, and this request carries none of theirs.
        if (answer.kind !== 'challenge') throw new Error(`offer(): the ${dialect} middleware let a request without a credential through`);
        answers.push({ dialect, answer });
      }
      return merge(answers);
    },
  };
}

/**
 * The 402s as one: every header of each (WWW-Authenticate as one comma-joined list, in dialect
 * order; list headers merged), x402's body (JSON, or the page for browsers), else the first one's.
 * Answers other than 402 (429, 503) are left out; when none is a 402, the first answer goes out.
 */
function merge(answers: { dialect: OfferDialect; answer: CoreChallenge }[]): CoreChallenge {
  const challenges = answers.filter((a) => a.answer.status === 402);
  if (!challenges.length) return answers[0]!.answer;
  const main = (challenges.find((a) => a.dialect === 'x402') ?? challenges[0]!).answer;
  const headers: CoreHeaders = {};
  const names = new Map<string, string>(); // lower-case → as first written
  const lists = new Map<string, string[]>();
  const www: string[] = [];
  for (const { answer } of challenges) {
    for (const [name, value] of Object.entries(answer.headers)) {
      const lower = name.toLowerCase();
      if (lower === 'www-authenticate') www.push(value);
      else if (LIST_HEADERS.has(lower)) {
        const had = lists.get(lower) ?? [];
        for (const v of value.split(/\s*,\s*/)) if (v && !had.some((h) => h.toLowerCase() === v.toLowerCase())) had.push(v);
        lists.set(lower, had);
        if (!names.has(lower)) names.set(lower, name);
      } else if (!names.has(lower)) {
        names.set(lower, name);
        headers[name] = value;
      }
    }
  }
  for (const [lower, values] of lists) headers[names.get(lower)!] = values.join(', ');
  for (const name of Object.keys(headers)) if (name.toLowerCase() === 'cache-control') delete headers[name];
  headers['Cache-Control'] = 'no-store';
  if (www.length) headers['WWW-Authenticate'] = www.join(', ');
  return {
    kind: 'challenge',
    status: 402,
    headers,
    contentType: main.contentType,
    body: main.body,
    ...(main.html !== undefined ? { html: main.html } : {}),
  };
}
