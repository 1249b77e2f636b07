/**
 * Which option of a challenge this wallet can pay, and the `POST /payments` body that pays it, in
 * this order (what is paid from the hub balance before anything paid from the person's own wallet):
 *
 * 1. the hub's own `tollway` scheme on the hub the wallet is signed in to: it settles inside the
 *    hub at once, with a receipt the merchant verifies offline, and carries the request binding and
 *    pass window. For SOVR on a hub with the sovr rail, paying it from the wallet on chain is
 *    offered beside it (`onChain`, kind merchant);
 * 2. an L402 (Lightning) invoice, which the hub pays on its Lightning rail;
 * 3. a plain x402 `exact` entry for the hub's SOVR token on the hub's chain, signed from the wallet
 *    to the entry's own `payTo` (`onChain`, kind exact; `payment` is its still unsigned body).
 */
import { CreatePaymentRequest } from '../../shared/api.js';
import { ASSET_NAMES } from '../../shared/assets.js';
import type { PaymentChallenge, PaymentOption } from '../../shared/challenge.js';
import type { OnChainPlan } from '../common/state.js';
import { exactPlan, merchantPlan, type SovrRailInfo } from './onchain.js';

export type Choice =
  | { payment: CreatePaymentRequest; option: PaymentOption | null; unpayable: null; onChain?: OnChainPlan }
  | { payment: null; option: null; unpayable: string; onChain?: undefined };

/** What paying on chain needs: the hub's SOVR rail (GET /rails) and the signed-in wallet's address. */
export interface OnChainContext {
  rail: SovrRailInfo | null;
  wallet: string | null;
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

export function choosePayment(
  challenge: PaymentChallenge,
  request: { url: string; method: string },
  hubUrl: string | null,
  chain: OnChainContext = { rail: null, wallet: null },
): Choice {
  const options = challenge.x402?.accepts ?? [];
  if (!options.length && !challenge.l402) {
    return { payment: null, option: null, unpayable: challenge.problems[0]?.message ?? 'no payment challenge' };
  }
  if (!hubUrl) return { payment: null, option: null, unpayable: 'Tollway is not connected to a hub yet' };
  for (const option of options) {
    if (!isOptionForHub(option, hubUrl) || !(ASSET_NAMES as string[]).includes(option.asset)) continue;
    const description = challenge.x402?.resource?.description?.slice(0, 500);
    const body = CreatePaymentRequest.safeParse({
      rail: 'internal',
      payTo: option.payTo,
      amount: option.amount,
      asset: option.asset,
      // The request the browser made (and will retry), not the URL the challenge claims.
      resource: { url: request.url, method: request.method.toUpperCase() },
      requirement: option,
      ...(description ? { description } : {}),
    });
    if (!body.success) continue;
    const onChain = chain.rail && chain.wallet ? merchantPlan(body.data, chain.rail, chain.wallet) : null;
    return { payment: body.data, option, unpayable: null, ...(onChain ? { onChain } : {}) };
  }
  const l402 = challenge.l402;
  if (l402?.amountMsat) {
    const description = challenge.x402?.resource?.description?.slice(0, 500);
    // BTC is kept in msat at the hub, so the invoice's msat amount is the base-unit amount.
    const body = CreatePaymentRequest.safeParse({
      rail: 'lightning',
      payTo: l402.invoice,
      amount: l402.amountMsat,
      asset: 'BTC',
      resource: { url: request.url, method: request.method.toUpperCase() },
      ...(description ? { description } : {}),
    });
    if (body.success) return { payment: body.data, option: null, unpayable: null };
  }
  if (chain.rail && chain.wallet) {
    const description = challenge.x402?.resource?.description?.slice(0, 500);
    for (const option of options) {
      const plan = exactPlan(option, chain.rail, chain.wallet, { url: request.url, method: request.method.toUpperCase() }, description);
      const body = plan ? CreatePaymentRequest.safeParse(plan.payment) : null;
      if (plan && body?.success) return { payment: body.data, option, unpayable: null, onChain: { ...plan, payment: body.data } };
    }
  }
  const offered = [
    ...options.map((o) => `${o.scheme} on ${o.network}`),
    ...(challenge.l402 ? [challenge.l402.amountMsat ? 'Lightning (L402)' : 'Lightning (L402) with an invoice that names no amount'] : []),
  ];
  return { payment: null, option: null, unpayable: `No option this wallet can pay yet: ${offered.join(', ')}` };
}
