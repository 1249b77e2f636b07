/**
 * The ids a page holding a hub challenge knows it by. Zod-free, so the page snippet bundles them
 * and sends the hub's /challenges socket exactly what that socket checks.
 */

/** A hub merchant's challenge id (`extra.challengeId` of the tollway entry): `ch_` and random base64url. */
export const CHALLENGE_ID_PATTERN = /^ch_[A-Za-z0-9_-]{8,64}$/;

/** A hub merchant id (`m_` and base64url), as the tollway entry's `payTo` names it. */
export const MERCHANT_ID_PATTERN = /^m_[A-Za-z0-9_-]{1,64}$/;

/** The element id of the `<script type="application/json">` a paywall's 402 page embeds its challenge in. */
export const EMBEDDED_CHALLENGE_ELEMENT_ID = 'tollway-payment-required';
