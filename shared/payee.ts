/**
 * Who a budget (the hub's allowance) may auto-pay, written one way by the hub and the extension
 * alike, so that the payee a person agreed to compares equal to the payee a payment names:
 *
 * - a hub merchant (`internal` rail, the `tollway` scheme): its merchant id, the `payTo`;
 * - SOVR on chain: the `payTo` (a merchant id, or the `exact` entry's address);
 * - Lightning: the node that signed the invoice (33-byte public key, hex) — every invoice is new,
 *   its signer is what stays the same from one payment to the next.
 *
 * Addresses and node keys are case-insensitive hex, so they are kept in lower case; anything else
 * (a merchant id) is compared exactly.
 */
const HEX_PAYEE = /^(0x[0-9a-fA-F]{40}|0[23][0-9a-fA-F]{64})$/;

export function canonicalPayee(payee: string): string {
  return HEX_PAYEE.test(payee) ? payee.toLowerCase() : payee;
}

/** A Lightning node's public key as BOLT 11 signers have them: compressed secp256k1, hex. */
export const NODE_KEY = /^0[23][0-9a-f]{64}$/;
