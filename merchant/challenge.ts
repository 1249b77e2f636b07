/**
 * What a paywall answers without a valid proof: the x402 version 2 document (the same in the
 * `PAYMENT-REQUIRED` header and the JSON body) and a small readable page for browsers.
 */
import { randomBytes } from 'node:crypto';
import { formatUnits } from '@tollway/shared/amount.js';
import { ASSETS, type AssetCode } from '@tollway/shared/assets.js';
import type { BindPart } from '@tollway/shared/binding.js';
import {
  EMBEDDED_CHALLENGE_ELEMENT_ID,
  paymentRequiredDocument,
  type PaymentOption,
  type PaymentRequired,
} from '@tollway/shared/challenge.js';

/** An on-chain payout for the standard x402 `exact` scheme (EIP-3009 on the SOVR token). */
export interface ExactChainConfig {
  chainId: number;
  /** The SOVR token contract (the x402 `asset` of the entry). */
  tokenAddress: string;
  /** EIP-712 domain name and version of the token. Defaults `SOVR`, `1`. */
  name?: string;
  version?: string;
}

export interface ChallengeSpec {
  hub: string;
  merchantId: string;
  price: bigint;
  asset: string;
  bind: readonly BindPart[];
  maxTimeoutSeconds: number;
  /** Seconds a receipt keeps opening the route after payment (an access pass); absent: single use. */
  passSeconds?: number;
  payoutAddress?: string;
  chain?: ExactChainConfig;
  /** An Interledger wallet address the hub's ilp rail pays this merchant into (named in the tollway entry). */
  interledger?: { walletAddress: string };
}

export const newChallengeId = (): string => `ch_${randomBytes(12).toString('base64url')}`;

/** `tollway:<hub origin>`: the CAIP-2-style network name of a hub. */
export const hubNetwork = (hub: string): string => `tollway:${new URL(hub).origin}`;

/** The `accepts` list: the tollway entry, then `exact` on eip155 when the merchant has a payout address and chain. */
export function paymentOptions(spec: ChallengeSpec, challengeId = newChallengeId()): PaymentOption[] {
  const amount = spec.price.toString();
  const options: PaymentOption[] = [
    {
      scheme: 'tollway',
      network: hubNetwork(spec.hub),
      amount,
      asset: spec.asset,
      payTo: spec.merchantId,
      maxTimeoutSeconds: spec.maxTimeoutSeconds,
      // `reuse` tells a wallet it may present the same receipt again inside the window instead of
      // paying twice; the middleware is what enforces it.
      extra: {
        hub: spec.hub,
        challengeId,
        bind: [...spec.bind],
        ...(spec.passSeconds ? { reuse: { windowSeconds: spec.passSeconds } } : {}),
        // The same entry may be paid on the hub's ilp rail from the person's own Interledger wallet.
        // Informative: the hub pays the wallet address it has on record for the merchant, never this one.
        ...(spec.interledger ? { interledger: { rail: 'ilp', walletAddress: spec.interledger.walletAddress } } : {}),
      },
    },
  ];
  if (spec.payoutAddress && spec.chain) {
    options.push({
      scheme: 'exact',
      network: `eip155:${spec.chain.chainId}`,
      amount,
      asset: spec.chain.tokenAddress,
      payTo: spec.payoutAddress,
      maxTimeoutSeconds: spec.maxTimeoutSeconds,
      extra: { name: spec.chain.name ?? 'SOVR', version: spec.chain.version ?? '1' },
    });
  }
  return options;
}

export function challengeDocument(
  spec: ChallengeSpec,
  resource: { url: string; description: string; mimeType: string },
  error?: string,
): PaymentRequired {
  return paymentRequiredDocument({ ...(error ? { error } : {}), resource, accepts: paymentOptions(spec) });
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** "0.0015 SOVR": whole units without floating point. */
export function displayPrice(price: bigint, asset: string): string {
  const decimals = (ASSETS as Record<string, { decimals: number } | undefined>)[asset as AssetCode]?.decimals;
  return decimals === undefined ? `${price} ${asset}` : `${formatUnits(price, decimals)} ${asset}`;
}

/**
 * The page a browser gets with the 402. The challenge itself is in the header (and embedded as JSON).
 * `teaser` is trusted HTML shown first (a site's header, the start of an article, a pay button).
 */
export function challengePage(doc: PaymentRequired, opts: { price: bigint; asset: string; detail?: string; teaser?: string }): string {
  const title = doc.resource.description || 'Payment required';
  // `<` escaped so the JSON cannot close the script element.
  const embedded = JSON.stringify(doc).replace(/</g, '\\u003c');
  const hub = doc.accepts[0]?.extra?.hub;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>402 Payment Required · ${escapeHtml(title)}</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem;color:#222}
.price{font-size:1.6rem;font-weight:600;margin:.5rem 0}
.note{color:#555}.reason{color:#a33}
code{background:#f3f3f3;padding:0 .25rem;border-radius:3px}
</style>
</head>
<body>
${opts.teaser ? `${opts.teaser}\n` : ''}<h1>${escapeHtml(title)}</h1>
<p class="price">${escapeHtml(displayPrice(opts.price, opts.asset))}</p>
${opts.detail ? `<p class="reason">The proof of payment was not accepted: ${escapeHtml(opts.detail)}.</p>\n` : ''}<p class="note">This page asks for a payment (HTTP 402). With the Tollway extension installed, approve the payment
and the page reloads with the content.${typeof hub === 'string' ? ` Payments go through the hub at <code>${escapeHtml(hub)}</code>.` : ''}</p>
<script type="application/json" id="${EMBEDDED_CHALLENGE_ELEMENT_ID}">${embedded}</script>
</body>
</html>
`;
}
