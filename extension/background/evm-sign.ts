/**
 * Signs the EIP-3009 `TransferWithAuthorization` for an x402 `exact` entry on any EVM network,
 * with the unlocked key (session storage only), as sign.ts does for SOVR: the domain is the LISTED
 * token's EIP-712 name and version (equal to the entry's `extra`, or the plan is a mismatch and
 * never gets here), the plan's chain id, and the token as verifying contract. The result is the
 * `authorization` of the hub's `wallet` rail: the signed message with that name and version.
 * Worker-only (ethers).
 */
import type { WalletAuthorization } from '../../shared/wallet-payments.js';
import type { T } from '../common/i18n.js';
import type { EvmExactPlan, TokenSetting } from '../common/networks.js';
import type { StorageArea } from '../common/storage.js';
import { randomNonce, signTransfer, unlockedPrivateKey } from './sign.js';

export type SignEvm = (
  plan: EvmExactPlan,
  eip712: TokenSetting['eip712'],
  from: string,
  window: { validAfter: number; validBefore: number },
) => Promise<WalletAuthorization>;

/** Signs with `privateKey`; `from` in any letter case (the hub's SIWE address). */
export function signEvmTransfer(
  privateKey: string,
  plan: EvmExactPlan,
  eip712: TokenSetting['eip712'],
  from: string,
  window: { validAfter: number; validBefore: number },
  t: T,
  nonce = randomNonce(),
): WalletAuthorization {
  const domain = { name: eip712.name, version: eip712.version, chainId: plan.chainId, verifyingContract: plan.token.address };
  const signed = signTransfer(privateKey, { domain, from: from.toLowerCase(), to: plan.payTo, value: plan.amount }, window, t, nonce);
  return { ...signed, eip712: { name: eip712.name, version: eip712.version } };
}

/** The worker's signer: the key unlocked in session storage, or WalletLockedError. */
export function createEvmSigner(deps: { session: StorageArea; t: T }): SignEvm {
  return async (plan, eip712, from, window) =>
    signEvmTransfer(await unlockedPrivateKey(deps.session, deps.t), plan, eip712, from, window, deps.t);
}
