/**
 * The slots API, framework-neutral: prepaid tokens that buy time on numbered slots. An adapter
 * (Express: ./express.ts) describes the request and sends the answer back; `handle()` answers
 * undefined for a path that is not the API's, so the adapter moves on.
 *
 * - `GET /feerate` → `{fee_rate_per_month_in_msat}`
 * - `GET /token/init/:value` → `{lightning_invoice: {bolt11, expires_at, payment_hash}, token_id, value}`:
 *   a random token id and an invoice for `value` msat from the merchant's node, its memo naming the token;
 * - `GET /token/verify/:token_id` → `{amount, confirmed}`: asks the node, records the amount paid once;
 * - `POST /spendtoken {token_id, slot_id}` → `{token_id, slot_id, expiry_date}`: slot 0 is a new slot
 *   running from now, an existing one is extended from the later of now and its expiry; once per token;
 * - `GET /slotexpiry/:slot_id` → `{slot_id, expiry_date}`;
 * - `GET /token/buy/:value` (with `hub`): the same token bought through the hub (./buy.ts).
 *
 * Every refusal is a problem (application/problem+json) and changes nothing.
 */
import { randomUUID } from 'node:crypto';
import type { LightningNode } from '@tollway/lightning/node.js';
import { ProblemError } from '@tollway/shared/problem.js';
import { parse } from '@tollway/shared/validate.js';
import { BodyTooLargeError } from '../body.js';
import { clientKeyOf, type RateLimiter, type RateLimitOptions, rateLimiterFrom } from '../rate-limit.js';
import { jsonAnswer, problemAnswer, problemOf, type SlotsAnswer, type SlotsRequest } from './answers.js';
import { type HubPurchase, hubPurchase, type HubPurchaseOptions } from './buy.js';
import { openSlotStore } from './open-store.js';
import { checkPricing, extendedExpiry, minValueMsat, type Pricing } from './period.js';
import type { SlotStore, TokenRecord } from './store.js';
import {
  type FeeRateAnswer,
  type SlotAnswer,
  SlotIdParam,
  SpendTokenBody,
  TokenId,
  type TokenInitAnswer,
  type TokenVerifyAnswer,
  ValueParam,
} from './wire.js';

/** What slots() needs of the merchant's Lightning node. */
export type SlotsNode = Pick<LightningNode, 'createInvoice' | 'lookupInvoice'>;

export interface SlotsCoreOptions {
  /** The merchant's own Lightning node: it issues the tokens' invoices (any LightningNode adapter). */
  node: SlotsNode;
  /** Where tokens and slots are kept: a store, or a target for `openSlotStore` (a SQLite path, a postgres:// URL). Default `tollway-slots.sqlite`. */
  store?: SlotStore | string;
  /** The fee for one month (30 days) of slot time, msat. */
  feeRatePerMonthMsat: bigint | string | number;
  /** The shortest period a token may buy, whole months. Default 1. */
  minMonths?: number;
  /** Milliseconds since the epoch. Default Date.now (tests pass their own). */
  clock?: () => number;
  /** How long a token's invoice can be paid, seconds. Default 3600. */
  invoiceExpirySeconds?: number;
  /** The invoice memo, before the token id. Default `Slot token`. */
  memo?: string;
  /** Also sell tokens through the hub (`GET /token/buy/:value`), paid like any tollway 402. */
  hub?: HubPurchaseOptions;
  /**
   * How many invoices one client (by `ip`) and all together may cause at `/token/init`: each is an
   * invoice at the node and a row in the store, asked for by requests nobody authenticated.
   * Default 60 a minute per client (burst 20), 600 in all; `false`: none.
   */
  rateLimit?: RateLimitOptions<SlotsRequest> | RateLimiter<SlotsRequest> | false;
}

export interface SlotsCore {
  readonly pricing: Pricing;
  readonly store: SlotStore;
  /** Tokens can be bought through the hub (`/token/buy/:value`). */
  readonly sellsThroughHub: boolean;
  readonly clock: () => number;
  /** The answer to a request of the API; undefined when the path is not one of its routes. */
  handle(req: SlotsRequest): Promise<SlotsAnswer | undefined>;
  close(): Promise<void>;
}

const BODY_LIMIT = 4096;
type Route = { method: 'GET' | 'POST'; pattern: RegExp; run: (req: SlotsRequest, param: string) => Promise<SlotsAnswer> };

export function slotsCore(opts: SlotsCoreOptions): SlotsCore {
  if (!opts.node || typeof opts.node.createInvoice !== 'function' || typeof opts.node.lookupInvoice !== 'function')
    throw new TypeError('slots: node must be a LightningNode (createInvoice, lookupInvoice)');
  const pricing = checkPricing(opts.feeRatePerMonthMsat, opts.minMonths);
  const clock = opts.clock ?? Date.now;
  const expirySeconds = opts.invoiceExpirySeconds ?? 3600;
  if (!Number.isSafeInteger(expirySeconds) || expirySeconds < 60)
    throw new TypeError('slots: invoiceExpirySeconds must be a whole number ≥ 60');
  const memo = opts.memo ?? 'Slot token';
  const store = typeof opts.store === 'object' ? opts.store : openSlotStore(opts.store ?? 'tollway-slots.sqlite');
  const { node } = opts;
  const limiter = rateLimiterFrom(opts.rateLimit, (r: SlotsRequest) => clientKeyOf(r.ip));
  const purchase: HubPurchase | undefined = opts.hub ? hubPurchase(opts.hub, { store, clock }) : undefined;

  /** A value the API may issue a token for: at least the minimum period, and not past the last date a slot can hold. */
  function checkValue(raw: string): bigint {
    const value = parse(ValueParam, raw, 'value');
    const min = minValueMsat(pricing);
    if (value < min)
      throw new ProblemError('value-below-minimum', `a token must buy at least ${pricing.minMonths} month(s): ${min} msat or more`, {
        min_value_msat: min,
      });
    if (extendedExpiry(undefined, value, clock(), pricing) === undefined)
      throw new ProblemError('validation-error', 'value buys more time than a slot can hold (past the year 9999)');
    return value;
  }

  const nodeDown = (err: unknown): ProblemError =>
    new ProblemError(
      'lightning-unavailable',
      `the Lightning node cannot be asked right now${err instanceof Error ? `: ${err.message}` : ''}`,
    );

  /** The token with what its invoice says now: confirmed once the node saw it paid. */
  async function refreshed(token: TokenRecord): Promise<TokenRecord> {
    if (token.amountMsat !== null || token.paymentHash === null) return token;
    let status: Awaited<ReturnType<SlotsNode['lookupInvoice']>>;
    try {
      status = await node.lookupInvoice(token.paymentHash);
    } catch (err) {
      throw nodeDown(err);
    }
    if (status?.state !== 'settled') return token;
    return (await store.confirmToken(token.tokenId, status.amountPaidMsat ?? status.amountMsat ?? token.valueMsat, clock())) ?? token;
  }

  async function tokenOr404(raw: string): Promise<TokenRecord> {
    const token = await store.token(parse(TokenId, raw, 'token_id'));
    if (!token) throw new ProblemError('not-found', 'no such token');
    return token;
  }

  const slotAnswer = (slotId: number, expiresAt: number, tokenId?: string): SlotAnswer => ({
    ...(tokenId ? { token_id: tokenId } : {}),
    slot_id: slotId,
    expiry_date: new Date(expiresAt).toISOString(),
  });

  async function readJson(req: SlotsRequest): Promise<unknown> {
    if (req.parsedBody !== undefined) return req.parsedBody;
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json' && !type.endsWith('+json'))
      throw new ProblemError('unsupported-media-type', 'send the body as application/json');
    const bytes = typeof req.body === 'function' ? await req.body(BODY_LIMIT) : (req.body ?? new Uint8Array(0));
    if (bytes.length > BODY_LIMIT) throw new BodyTooLargeError(`request body over ${BODY_LIMIT} bytes`);
    try {
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      throw new ProblemError('validation-error', 'the body is not JSON');
    }
  }

  const routes: Route[] = [
    {
      method: 'GET',
      pattern: /^\/feerate$/,
      run: async () => jsonAnswer({ fee_rate_per_month_in_msat: pricing.feeRatePerMonthMsat } satisfies FeeRateAnswer),
    },
    {
      method: 'GET',
      pattern: /^\/token\/init\/([^/]+)$/,
      run: async (req, raw) => {
        const value = checkValue(raw);
        const allowed = limiter?.take(limiter.key(req), clock()) ?? { ok: true };
        if (!allowed.ok)
          return problemAnswer(
            'rate-limited',
            'too many tokens asked for; try again later',
            {},
            { 'Retry-After': String(allowed.retryAfterSeconds) },
          );
        const tokenId = randomUUID();
        let invoice: Awaited<ReturnType<SlotsNode['createInvoice']>>;
        try {
          invoice = await node.createInvoice({ amountMsat: value, memo: `${memo} ${tokenId}`, expirySeconds });
        } catch (err) {
          // A node that issues whole satoshis only (LNbits) refuses other values with a RangeError.
          if (err instanceof RangeError) throw new ProblemError('validation-error', `value: ${err.message}`);
          throw nodeDown(err);
        }
        await store.addToken({ tokenId, valueMsat: value, paymentHash: invoice.paymentHash.toLowerCase(), createdAt: clock() });
        return jsonAnswer({
          lightning_invoice: { bolt11: invoice.bolt11, expires_at: invoice.expiresAt, payment_hash: invoice.paymentHash },
          token_id: tokenId,
          value,
        } satisfies TokenInitAnswer);
      },
    },
    {
      method: 'GET',
      pattern: /^\/token\/verify\/([^/]+)$/,
      run: async (_req, raw) => {
        const token = await refreshed(await tokenOr404(raw));
        return jsonAnswer({ amount: token.amountMsat ?? 0n, confirmed: token.amountMsat !== null } satisfies TokenVerifyAnswer);
      },
    },
    {
      method: 'GET',
      pattern: /^\/token\/buy\/([^/]+)$/,
      run: async (req, raw) => {
        if (!purchase) throw new ProblemError('not-found', 'tokens are not sold through a hub here');
        return purchase.handle(req, checkValue(raw), pricing);
      },
    },
    {
      method: 'POST',
      pattern: /^\/spendtoken$/,
      run: async (req) => {
        const body = parse(SpendTokenBody, await readJson(req), 'body');
        // A token paid but never verified is confirmed here: the payer need not call verify first.
        const known = await store.token(body.token_id);
        if (known) await refreshed(known);
        const now = clock();
        const out = await store.spendToken(body.token_id, body.slot_id, now, (current, token) =>
          extendedExpiry(current, token.amountMsat!, now, pricing),
        );
        if (out.ok) return jsonAnswer(slotAnswer(out.slot.slotId, out.slot.expiresAt, out.token.tokenId));
        switch (out.reason) {
          case 'unknown-token':
            throw new ProblemError('not-found', 'no such token');
          case 'not-paid':
            throw new ProblemError('token-not-paid', "the token's invoice is not paid yet");
          case 'spent':
            throw new ProblemError('token-spent', 'this token was already spent');
          case 'unknown-slot':
            throw new ProblemError('not-found', `no slot ${body.slot_id}: send slot_id 0 for a new one`);
          case 'too-far':
            throw new ProblemError('validation-error', 'the slot would expire after the year 9999');
        }
      },
    },
    {
      method: 'GET',
      pattern: /^\/slotexpiry\/([^/]+)$/,
      run: async (_req, raw) => {
        const slot = await store.slot(parse(SlotIdParam, raw, 'slot_id'));
        if (!slot) throw new ProblemError('not-found', 'no such slot');
        return jsonAnswer(slotAnswer(slot.slotId, slot.expiresAt));
      },
    },
  ];

  async function handle(req: SlotsRequest): Promise<SlotsAnswer | undefined> {
    const path = req.path.length > 1 ? req.path.replace(/\/+$/, '') : req.path;
    const matching = routes.map((r) => ({ r, m: r.pattern.exec(path) })).filter((x) => x.m);
    if (!matching.length) return undefined;
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const hit = matching.find((x) => x.r.method === method);
    if (!hit)
      return problemAnswer('method-not-allowed', `use ${matching.map((x) => x.r.method).join(', ')}`, {}, { Allow: allowOf(matching) });
    try {
      let param = '';
      try {
        param = decodeURIComponent(hit.m![1] ?? '');
      } catch {
        throw new ProblemError('validation-error', 'the path is not valid');
      }
      return await hit.r.run(req, param);
    } catch (err) {
      if (err instanceof ProblemError) return problemOf(err, err.code === 'lightning-unavailable' ? { 'Retry-After': '5' } : {});
      if (err instanceof BodyTooLargeError) return problemAnswer('payload-too-large', err.message);
      throw err;
    }
  }

  return {
    pricing,
    store,
    clock,
    sellsThroughHub: purchase !== undefined,
    handle,
    close: () => store.close(),
  };
}

const allowOf = (m: { r: Route }[]) => [...new Set(m.flatMap((x) => (x.r.method === 'GET' ? ['GET', 'HEAD'] : [x.r.method])))].join(', ');
