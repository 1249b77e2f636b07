/**
 * Buying a token through the hub: `GET /token/buy/:value` is a paid route like any other, so the
 * extension (or any tollway client) pays it with a hub balance after the usual approval. Without a
 * proof it answers the kit's standard 402 (the paywall core: a `tollway` entry for `value` msat in
 * BTC to this merchant); with a valid receipt it answers the token bought, confirmed, in the shape
 * of `/token/verify` plus its id and value.
 *
 * One hub transaction buys one token: the store keeps the token by the receipt's transaction, and
 * the same receipt sent again answers the same token (spent or not) instead of a second one. That
 * is why the paywall core here remembers no receipts itself: the token table is that memory, in
 * the merchant's database, across processes and restarts.
 */
import type { KeySource } from '../jwks.js';
import { type PaidRequest, type PaywallCore, paywallCore } from '../paywall-core.js';
import type { ReceiptStore } from '../store.js';
import { jsonAnswer, type SlotsAnswer, type SlotsRequest } from './answers.js';
import { MONTH_MS, type Pricing } from './period.js';
import type { SlotStore } from './store.js';
import type { TokenBuyAnswer } from './wire.js';
import { randomUUID } from 'node:crypto';

export interface HubPurchaseOptions {
  /** The hub's public URL, exactly as it signs receipts (`iss`). */
  url: string;
  /** This merchant's id at the hub. */
  merchantId: string;
  /** The public origin of this site (behind a proxy), for the receipt's binding. Default: from the request. */
  origin?: string;
  /** The hub's receipt keys. Default: its JWKS, fetched and cached. */
  keys?: KeySource;
}

export interface HubPurchase {
  handle(req: SlotsRequest, valueMsat: bigint, pricing: Pricing): Promise<SlotsAnswer>;
}

// Every receipt reaches the route; the token table answers a repeat with the token already bought.
const tokenTableRemembers: ReceiptStore = { claim: () => true };
const MAX_CORES = 256;

export function hubPurchase(opts: HubPurchaseOptions, deps: { store: SlotStore; clock: () => number }): HubPurchase {
  // One paywall per price; values are few in practice (months × fee rate), and the oldest goes first past MAX_CORES.
  const cores = new Map<bigint, PaywallCore>();
  const coreFor = (value: bigint, pricing: Pricing): PaywallCore => {
    let core = cores.get(value);
    if (!core) {
      const days = (value * MONTH_MS) / pricing.feeRatePerMonthMsat / 86_400_000n;
      core = paywallCore({
        hub: opts.url,
        merchantId: opts.merchantId,
        price: value,
        asset: 'BTC',
        description: `A slot token: ${days} days of slot time`,
        mimeType: 'application/json',
        store: tokenTableRemembers,
        now: deps.clock,
        ...(opts.origin ? { origin: opts.origin } : {}),
        ...(opts.keys ? { keys: opts.keys } : {}),
      });
      if (cores.size >= MAX_CORES) cores.delete(cores.keys().next().value!);
      cores.set(value, core);
    }
    return core;
  };
  // Fails at start, not at the first purchase, when the hub or merchant is wrong.
  coreFor(1n, { feeRatePerMonthMsat: 1n, minMonths: 1 });
  cores.clear();

  return {
    async handle(req, valueMsat, pricing) {
      // The route reads no body: the receipt is bound to the method and path only.
      const { path: _path, parsedBody: _parsed, body: _body, ...described } = req;
      const answer = await coreFor(valueMsat, pricing).handle(described);
      if (answer.kind === 'challenge') {
        return {
          status: answer.status,
          headers: answer.headers,
          contentType: answer.html ? 'text/html' : answer.contentType,
          body: answer.html ?? JSON.stringify(answer.body),
        };
      }
      const paid = answer.locals as PaidRequest;
      const token = await deps.store.tokenForHubPayment({
        tokenId: randomUUID(),
        valueMsat,
        amountMsat: BigInt(paid.amount),
        hubTransaction: paid.transaction,
        at: deps.clock(),
      });
      return jsonAnswer(
        {
          amount: token.amountMsat!,
          confirmed: true,
          token_id: token.tokenId,
          value: token.valueMsat,
        } satisfies TokenBuyAnswer,
        200,
        withoutCacheControl(answer.responseHeaders),
      );
    },
  };
}

// The paywall says `private` for paid content; a token's answer is for no cache at all (no-store).
function withoutCacheControl(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'cache-control'));
}
