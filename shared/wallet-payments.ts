/**
 * Payments the person's own wallet settles (the hub's `wallet` rail): an x402 `exact` payment in
 * any ERC-20 with EIP-3009 on any EVM network. The wallet signs, the merchant's facilitator
 * settles, and the hub only keeps the books. This is the wire shape both sides share: the token as
 * a CAIP-19 asset id, the signed authorization the payment is recorded with, and the settlement
 * report that finishes it. No ethers here: the extension's pages import this too.
 */
import { z } from 'zod';
import { SignedAuthorization } from './eip3009.js';
import { HttpUrl } from './url.js';

const TOKEN_ASSET = /^eip155:([1-9][0-9]{0,14})\/erc20:(0x[0-9a-f]{40})$/;

/**
 * An ERC-20 on an EVM network, as CAIP-19 names it: `eip155:<chainId>/erc20:<address>`, the
 * address in lower case so that one token is always written one way (budgets compare it exactly).
 */
export const TokenAsset = z
  .string()
  .regex(TOKEN_ASSET, 'a CAIP-19 ERC-20 asset id: eip155:<chainId>/erc20:<lower-case 0x address>')
  .describe('wallet rail: the token, eip155:<chainId>/erc20:<lower-case address>');

/** The CAIP-19 id of `token` on chain `chainId`. */
export const tokenAsset = (chainId: number | bigint, token: string): string => `eip155:${chainId}/erc20:${token.toLowerCase()}`;

export const isTokenAsset = (asset: string): boolean => TOKEN_ASSET.test(asset);

/** The parts of a token asset id; undefined for anything else (a hub asset such as SOVR). */
export function parseTokenAsset(asset: string): { chainId: number; network: string; token: string } | undefined {
  const m = TOKEN_ASSET.exec(asset);
  if (!m) return undefined;
  return { chainId: Number(m[1]), network: `eip155:${m[1]}`, token: m[2]! };
}

/**
 * `authorization` of `POST /payments` on the wallet rail: the EIP-3009 authorization exactly as the
 * wallet signed it and sent it to the merchant, with the token's EIP-712 name and version (the x402
 * entry's `extra`), so the hub can check that the signature is the person's and pays what the
 * payment says.
 */
export const WalletAuthorization = SignedAuthorization.extend({
  eip712: z.strictObject({ name: z.string().min(1).max(100), version: z.string().min(1).max(40) }),
});
export type WalletAuthorization = z.infer<typeof WalletAuthorization>;

/** `POST /payments/:id/settlement`: what became of a wallet-settled payment, as the wallet learnt it. */
export const SettlementReport = z.discriminatedUnion('status', [
  z.strictObject({
    status: z.literal('completed'),
    transaction: z
      .string()
      .regex(/^0x[0-9a-fA-F]{64}$/, 'a 0x-prefixed 32-byte transaction hash')
      .describe("The settlement transaction from the merchant's PAYMENT-RESPONSE"),
    blockExplorerUrl: HttpUrl.optional(),
  }),
  z.strictObject({
    status: z.literal('failed'),
    reason: z.string().min(1).max(500).describe("Why it did not settle (the merchant's refusal, the authorization expired)"),
  }),
]);
export type SettlementReport = z.infer<typeof SettlementReport>;
