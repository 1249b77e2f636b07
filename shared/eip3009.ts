/**
 * EIP-3009 `TransferWithAuthorization` as wallets sign it and the x402 `exact` scheme carries it:
 * the EIP-712 types, the signed authorization's wire shape (every number a decimal string, as the
 * x402 reference client sends it), and the validity window a wallet picks. No ethers here: the
 * extension's pages import this too, and only its service worker signs.
 */
import { z } from 'zod';
import { AmountString } from './amount.js';

/** The EIP-712 types of the message (primary type `TransferWithAuthorization`). */
export const TRANSFER_WITH_AUTHORIZATION_TYPES = {
  TransferWithAuthorization: [
    { name: 'from', type: 'address' },
    { name: 'to', type: 'address' },
    { name: 'value', type: 'uint256' },
    { name: 'validAfter', type: 'uint256' },
    { name: 'validBefore', type: 'uint256' },
    { name: 'nonce', type: 'bytes32' },
  ],
};

export const EvmAddress = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'a 0x-prefixed 20-byte hex address');

/** The token's EIP-712 domain: `verifyingContract` is the token itself. */
export const Eip712Domain = z.object({
  name: z.string().min(1).max(100),
  version: z.string().min(1).max(40),
  chainId: z.number().int().positive(),
  verifyingContract: EvmAddress,
});
export type Eip712Domain = z.infer<typeof Eip712Domain>;

/** The fields that are signed. */
export const AuthorizationMessage = z.strictObject({
  from: EvmAddress,
  to: EvmAddress,
  value: AmountString,
  /** Unix seconds; the contract needs block.timestamp > validAfter. */
  validAfter: AmountString,
  /** Unix seconds; the contract needs block.timestamp < validBefore. */
  validBefore: AmountString,
  nonce: z.string().regex(/^0x[0-9a-fA-F]{64}$/, '32 random bytes, 0x-hex'),
});
export type AuthorizationMessage = z.infer<typeof AuthorizationMessage>;

/** The message with its signature: `authorization` of `POST /payments` on the sovr rail. */
export const SignedAuthorization = AuthorizationMessage.extend({
  signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/, 'a 65-byte signature (r, s, v)'),
});
export type SignedAuthorization = z.infer<typeof SignedAuthorization>;

/**
 * The x402 `exact` payload for EVM: `{signature, authorization}` with the numbers as decimal
 * strings, exactly as the reference client (@x402/evm) builds it.
 */
export function exactPayload(a: SignedAuthorization): { signature: string; authorization: AuthorizationMessage } {
  const { signature, from, to, value, validAfter, validBefore, nonce } = a;
  return { signature, authorization: { from, to, value, validAfter, validBefore, nonce } };
}

/** How far back `validAfter` is set: the reference client's 10 minutes, so a node's clock a little behind still accepts it. */
export const VALID_AFTER_BACKDATE_SECONDS = 600;
/** Kept clear of the hub's bounds on either side: clocks differ, and the hub checks on arrival. */
export const VALIDITY_MARGIN_SECONDS = 60;

/**
 * The validity (seconds from signing to `validBefore`) to sign: `wanted`, held inside the hub's
 * `[min, max]` with a margin on both sides; when the bounds leave no room for the margins, their
 * middle.
 */
export function clampValidity(wanted: number, bounds: { minValiditySeconds: number; maxValiditySeconds: number }): number {
  const lo = bounds.minValiditySeconds + VALIDITY_MARGIN_SECONDS;
  const hi = bounds.maxValiditySeconds - VALIDITY_MARGIN_SECONDS;
  if (lo > hi) return Math.floor((bounds.minValiditySeconds + bounds.maxValiditySeconds) / 2);
  return Math.min(hi, Math.max(lo, Math.floor(wanted)));
}

/** The window signed at `nowSeconds`: from ten minutes back until `validitySeconds` ahead. */
export function authorizationWindow(nowSeconds: number, validitySeconds: number): { validAfter: number; validBefore: number } {
  const t = Math.floor(nowSeconds);
  return { validAfter: t - VALID_AFTER_BACKDATE_SECONDS, validBefore: t + validitySeconds };
}

/**
 * Whether a window (shown to the person, then sent back with the approval) may still be signed at
 * `nowSeconds`: already valid, not backdated by more than an hour, and its end inside the hub's
 * bounds with some slack left at the lower one (a window shown a few seconds ago still passes; one
 * left on screen for minutes does not).
 */
export function windowAcceptable(
  w: { validAfter: number; validBefore: number },
  nowSeconds: number,
  bounds: { minValiditySeconds: number; maxValiditySeconds: number },
): boolean {
  const now = Math.floor(nowSeconds);
  if (!Number.isSafeInteger(w.validAfter) || !Number.isSafeInteger(w.validBefore)) return false;
  if (w.validAfter >= now || w.validAfter < now - 3600) return false;
  const ahead = w.validBefore - now;
  const slack = Math.min(VALIDITY_MARGIN_SECONDS / 2, Math.floor((bounds.maxValiditySeconds - bounds.minValiditySeconds) / 4));
  return ahead >= bounds.minValiditySeconds + slack && ahead <= bounds.maxValiditySeconds;
}
