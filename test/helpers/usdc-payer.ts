/**
 * A payer as the extension will be one for x402 `exact` entries in any token: it signs the EIP-3009
 * TransferWithAuthorization with the token's EIP-712 domain (ethers, as the worker does), and
 * writes the wallet-rail `POST /payments` body that records the signed authorization at the hub.
 */
import { hexlify, randomBytes, type Wallet } from 'ethers';
import { TRANSFER_WITH_AUTHORIZATION_TYPES, type SignedAuthorization } from '../../shared/eip3009.js';
import { tokenAsset } from '../../shared/wallet-payments.js';

/** A token as an x402 entry names it: where it lives and its EIP-712 domain (`extra.name`, `extra.version`). */
export interface TokenRef {
  chainId: number;
  address: string;
  name: string;
  version: string;
}

/** Signs `value` base units of `token` to `to`, valid from ten minutes back until `validFor` seconds ahead. */
export async function signTransfer(
  payer: Pick<Wallet, 'address' | 'signTypedData'>,
  token: TokenRef,
  to: string,
  value: bigint,
  opts: { validFor?: number; nowSeconds?: number; nonce?: string } = {},
): Promise<SignedAuthorization> {
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  const message = {
    from: payer.address,
    to,
    value: value.toString(),
    validAfter: String(now - 600),
    validBefore: String(now + (opts.validFor ?? 600)),
    nonce: opts.nonce ?? hexlify(randomBytes(32)),
  };
  const signature = await payer.signTypedData(
    { name: token.name, version: token.version, chainId: token.chainId, verifyingContract: token.address },
    TRANSFER_WITH_AUTHORIZATION_TYPES,
    message,
  );
  return { ...message, signature };
}

/** The wallet-rail payment that records `signed` at the hub (add `allowance` for an auto-payment). */
export function walletPaymentBody(token: TokenRef, signed: SignedAuthorization, extra: Record<string, unknown> = {}) {
  return {
    rail: 'wallet',
    payTo: signed.to,
    amount: signed.value,
    asset: tokenAsset(token.chainId, token.address),
    authorization: { ...signed, eip712: { name: token.name, version: token.version } },
    ...extra,
  };
}
