/**
 * Which option of a challenge this wallet can pay, and the `POST /payments` body that pays it,
 * decided from the challenge and the rails the hub has (`GET /rails`), not from a fixed list:
 *
 * - every option the challenge offers becomes an offer, in the challenge's own order: its x402
 *   `accepts` entries first, then its `WWW-Authenticate` dialects (L402, then the "Payment" scheme);
 * - a small table (`PLANNERS`) maps each kind of offer (`tollway`, `exact`, `l402`, `payment`) to a planner
 *   that says which hub rail (and asset) it needs, whether it is paid from the person's hub balance
 *   or signed from their own wallet, and builds the body;
 * - offers whose rail the hub does not list (or whose asset that rail does not list) are dropped;
 *   of the rest, what is paid from the hub balance comes before what is signed from the wallet, and
 *   otherwise the challenge's order stands.
 *
 * When the hub's rails are not known yet (no answer to GET /rails so far), the hub is taken to have
 * what every hub had before GET /rails listed them (internal for every asset this wallet knows,
 * lightning, and the SOVR rail only if its details are known), which is the order this file always
 * had: a `tollway` entry on the hub, then L402, then an `exact` SOVR entry from the wallet.
 *
 * A hub merchant's SOVR `tollway` entry on a hub with the sovr rail is also offered from the wallet
 * (`onChain`, kind merchant); an `exact` entry is only ever paid from the wallet (`onChain`, kind
 * exact; `payment` is its still unsigned body).
 */
import { CreatePaymentRequest, type RailsInfo } from '../../shared/api.js';
import { ASSET_NAMES } from '../../shared/assets.js';
import type { L402Challenge, PaymentChallenge, PaymentOption, PaymentSchemeChallenge } from '../../shared/challenge.js';
import type { T } from '../common/i18n.js';
import type { OnChainPlan } from '../common/state.js';
import { exactPlan, merchantPlan, sovrRailOf, type SovrRailInfo } from './onchain.js';

export type Choice =
  | { payment: CreatePaymentRequest; option: PaymentOption | null; unpayable: null; onChain?: OnChainPlan }
  | { payment: null; option: null; unpayable: string; onChain?: undefined };

export type HubRails = RailsInfo['rails'];
export type RailName = HubRails[number]['name'];

/**
 * What the hub can pay with and who is paying. `rails` is the hub's GET /rails list; absent or
 * null: not known yet, and `rail` (the SOVR rail's details, if known) is all there is to go on.
 */
export interface OnChainContext {
  rail: SovrRailInfo | null;
  wallet: string | null;
  rails?: HubRails | null;
}

function originOf(url: string): string | null {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

/** `tollway:<hub origin>` names the hub that can settle the option. */
export function isOptionForHub(option: PaymentOption, hubUrl: string): boolean {
  if (option.scheme !== 'tollway' || !option.network.startsWith('tollway:')) return false;
  const hub = originOf(hubUrl);
  return hub !== null && originOf(option.network.slice('tollway:'.length)) === hub;
}

/** One way of paying the challenge offers: an x402 entry, or a `WWW-Authenticate` dialect. */
type Offer =
  | { kind: 'x402'; option: PaymentOption }
  | { kind: 'l402'; l402: L402Challenge }
  | { kind: 'payment'; payment: PaymentSchemeChallenge };

/** What the planners read besides the offer. */
interface PlanContext {
  request: { url: string; method: string };
  hubUrl: string;
  /** The hub's SOVR rail details, when the hub has that rail and they are known. */
  sovr: SovrRailInfo | null;
  wallet: string | null;
  description: string | undefined;
  t: T;
}

type Payable = Extract<Choice, { unpayable: null }>;

interface Planner {
  /** Paid from the person's hub balance, or signed from their own wallet. */
  from: 'hub' | 'wallet';
  /** The hub rail, and the asset on it, this offer needs. */
  needs(offer: Offer): { rail: RailName; asset: string };
  /**
   * Said when the hub's GET /rails lacks that rail (or asset), or null when that would mislead
   * (an offer this hub could not pay anyway); absent: the offer is only listed.
   */
  missing?(offer: Offer, ctx: PlanContext): string | null;
  /** The body (and on-chain plan), or null when this wallet cannot pay this offer. */
  plan(offer: Offer, ctx: PlanContext): Payable | null;
}

const x402Option = (offer: Offer): PaymentOption | null => (offer.kind === 'x402' ? offer.option : null);

const PLANNERS = new Map<string, Planner>(
  Object.entries({
    // The hub's own scheme on the hub the wallet is signed in to: settled inside the hub at once,
    // with a receipt the merchant verifies offline, the request binding and the pass window.
    tollway: {
      from: 'hub',
      needs: (offer) => ({ rail: 'internal', asset: x402Option(offer)?.asset ?? '' }),
      missing(offer, ctx) {
        const option = x402Option(offer);
        return option && isOptionForHub(option, ctx.hubUrl) ? ctx.t('worker_hub_no_asset', option.asset) : null;
      },
      plan(offer, ctx) {
        const option = x402Option(offer);
        if (!option || !isOptionForHub(option, ctx.hubUrl) || !(ASSET_NAMES as string[]).includes(option.asset)) return null;
        const body = CreatePaymentRequest.safeParse({
          rail: 'internal',
          payTo: option.payTo,
          amount: option.amount,
          asset: option.asset,
          // The request the browser made (and will retry), not the URL the challenge claims.
          resource: { url: ctx.request.url, method: ctx.request.method.toUpperCase() },
          requirement: option,
          ...(ctx.description ? { description: ctx.description } : {}),
        });
        if (!body.success) return null;
        const onChain = ctx.sovr && ctx.wallet ? merchantPlan(body.data, ctx.sovr, ctx.wallet) : null;
        return { payment: body.data, option, unpayable: null, ...(onChain ? { onChain } : {}) };
      },
    },
    // An L402 (Lightning) invoice, which the hub pays on its Lightning rail.
    l402: {
      from: 'hub',
      needs: () => ({ rail: 'lightning', asset: 'BTC' }),
      missing: (offer, ctx) => (offer.kind === 'l402' ? ctx.t('worker_hub_no_lightning') : null),
      plan(offer, ctx) {
        if (offer.kind !== 'l402' || !offer.l402.amountMsat) return null;
        // BTC is kept in msat at the hub, so the invoice's msat amount is the base-unit amount.
        const body = CreatePaymentRequest.safeParse({
          rail: 'lightning',
          payTo: offer.l402.invoice,
          amount: offer.l402.amountMsat,
          asset: 'BTC',
          resource: { url: ctx.request.url, method: ctx.request.method.toUpperCase() },
          ...(ctx.description ? { description: ctx.description } : {}),
        });
        return body.success ? { payment: body.data, option: null, unpayable: null } : null;
      },
    },
    // A "Payment" scheme Lightning charge: its invoice, paid on the same rail as L402's.
    payment: {
      from: 'hub',
      needs: () => ({ rail: 'lightning', asset: 'BTC' }),
      missing: (offer, ctx) => (offer.kind === 'payment' ? ctx.t('worker_hub_no_lightning') : null),
      plan(offer, ctx) {
        if (offer.kind !== 'payment') return null;
        const body = CreatePaymentRequest.safeParse({
          rail: 'lightning',
          payTo: offer.payment.invoice,
          // The parser made sure the invoice names exactly the charge's amount.
          amount: offer.payment.amountMsat,
          asset: 'BTC',
          resource: { url: ctx.request.url, method: ctx.request.method.toUpperCase() },
          ...(ctx.description ? { description: ctx.description } : {}),
        });
        return body.success ? { payment: body.data, option: null, unpayable: null } : null;
      },
    },
    // A plain x402 `exact` entry for the hub's SOVR token on the hub's chain, signed from the wallet
    // to the entry's own `payTo`.
    exact: {
      from: 'wallet',
      needs: () => ({ rail: 'sovr', asset: 'SOVR' }),
      plan(offer, ctx) {
        const option = x402Option(offer);
        if (!option || !ctx.sovr || !ctx.wallet) return null;
        const plan = exactPlan(
          option,
          ctx.sovr,
          ctx.wallet,
          { url: ctx.request.url, method: ctx.request.method.toUpperCase() },
          ctx.description,
        );
        const body = plan ? CreatePaymentRequest.safeParse(plan.payment) : null;
        return plan && body?.success ? { payment: body.data, option, unpayable: null, onChain: { ...plan, payment: body.data } } : null;
      },
    },
  } satisfies Record<string, Planner>),
);

const kindOf = (offer: Offer): string => (offer.kind === 'x402' ? offer.option.scheme : offer.kind);

/** What the hub was assumed to have before GET /rails listed its rails (see the file comment). */
function assumedRails(sovr: SovrRailInfo | null): HubRails {
  return [{ name: 'internal', assets: [...ASSET_NAMES] }, { name: 'lightning', assets: ['BTC'] }, ...(sovr ? [sovr] : [])];
}

function offerText(offer: Offer, t: T): string {
  if (offer.kind === 'x402') return t('worker_offer_x402', offer.option.scheme, offer.option.network);
  if (offer.kind === 'payment') return t('worker_offer_payment_scheme');
  return offer.l402.amountMsat ? t('worker_offer_l402') : t('worker_offer_l402_no_amount');
}

export function choosePayment(
  challenge: PaymentChallenge,
  request: { url: string; method: string },
  hubUrl: string | null,
  t: T,
  chain: OnChainContext = { rail: null, wallet: null },
): Choice {
  const offers: Offer[] = [
    ...(challenge.x402?.accepts ?? []).map((option): Offer => ({ kind: 'x402', option })),
    ...(challenge.l402 ? [{ kind: 'l402', l402: challenge.l402 } as const] : []),
    ...(challenge.payment ? [{ kind: 'payment', payment: challenge.payment } as const] : []),
  ];
  if (!offers.length) {
    return { payment: null, option: null, unpayable: challenge.problems[0]?.message ?? t('worker_no_challenge') };
  }
  if (!hubUrl) return { payment: null, option: null, unpayable: t('worker_not_connected') };
  const rails = chain.rails ?? assumedRails(chain.rail);
  const ctx: PlanContext = {
    request,
    hubUrl,
    sovr: chain.rails ? sovrRailOf({ rails: chain.rails }) : chain.rail,
    wallet: chain.wallet,
    description: (challenge.x402?.resource?.description ?? challenge.payment?.params.description)?.slice(0, 500),
    t,
  };
  const candidates: { from: Planner['from']; choice: Payable }[] = [];
  // Per offer, what the window lists when nothing can be paid.
  const unpaid: { text: string; missingRail: boolean }[] = [];
  for (const offer of offers) {
    const planner = PLANNERS.get(kindOf(offer));
    const needs = planner?.needs(offer);
    const listed = needs && rails.some((r) => r.name === needs.rail && r.assets.includes(needs.asset));
    // Known rails only: not sent to a hub that would refuse it, and said so here instead.
    const missing = planner && !listed && chain.rails ? (planner.missing?.(offer, ctx) ?? null) : null;
    if (missing) {
      unpaid.push({ text: missing, missingRail: true });
      continue;
    }
    const choice = planner && listed ? planner.plan(offer, ctx) : null;
    if (planner && choice) candidates.push({ from: planner.from, choice });
    else unpaid.push({ text: offerText(offer, t), missingRail: false });
  }
  // The hub balance before the wallet; otherwise the challenge's order (the sort is stable).
  const best = candidates.sort((a, b) => (a.from === b.from ? 0 : a.from === 'hub' ? -1 : 1))[0];
  if (best) return best.choice;
  const unpayable = unpaid.every((u) => u.missingRail)
    ? [...new Set(unpaid.map((u) => u.text))].join('; ')
    : t('worker_no_payable_option', unpaid.map((u) => u.text).join(', '));
  return { payment: null, option: null, unpayable };
}
