/**
 * Signs the EIP-3009 `TransferWithAuthorization` for an x402 `exact` entry on any EVM network,
 * with the unlocked key (session storage only), as sign.ts does for SOVR: the domain is the LISTED
 * token's EIP-712 name and version (equal to the entry's `extra`, or the plan is a mismatch and
 * never gets here), the plan's chain id, and the token as verifying contract. The result is the
 * `authorization` of the hub's `wallet` rail: the signed message with that name and version.
 * Worker-only (ethers).
 */
import { computeAddress, getAddress, SigningKey, TypedDataEncoder } from 'ethers';
import { TRANSFER_WITH_AUTHORIZATION_TYPES } from '../../shared/eip3009.js';
import type { WalletAuthorization } from '../../shared/wallet-payments.js';
import type { T } from '../common/i18n.js';
import type { EvmExactPlan, TokenSetting } from '../common/networks.js';
import { KEYS, UnlockedKey } from '../common/state.js';
import type { StorageArea } from '../common/storage.js';
import { randomNonce, WalletLockedError } from './sign.js';

export type SignEvm = (
  plan: EvmExactPlan,
  eip712: TokenSetting['eip712'],
  from: string,
  window: { validAfter: number; validBefore: number },
) => Promise<WalletAuthorization>;

/** Signs with `privateKey`; addresses EIP-55 checksummed, as the reference client sends them. */
export function signEvmTransfer(
  privateKey: string,
  plan: EvmExactPlan,
  eip712: TokenSetting['eip712'],
  from: string,
  window: { validAfter: number; validBefore: number },
  t: T,
  nonce = randomNonce(),
): WalletAuthorization {
  let to: string;
  try {
    to = getAddress(plan.payTo);
  } catch {
    throw new Error(t('worker_payee_bad_checksum', plan.payTo));
  }
  const key = new SigningKey(privateKey);
  const signer = computeAddress(key.publicKey);
  if (signer !== getAddress(from.toLowerCase())) throw new Error(t('worker_wallet_not_signed_in'));
  const domain = {
    name: eip712.name,
    version: eip712.version,
    chainId: plan.chainId,
    verifyingContract: getAddress(plan.token.address.toLowerCase()),
  };
  const message = {
    from: signer,
    to,
    value: plan.amount,
    validAfter: String(window.validAfter),
    validBefore: String(window.validBefore),
    nonce,
  };
  const signature = key.sign(TypedDataEncoder.hash(domain, TRANSFER_WITH_AUTHORIZATION_TYPES, message)).serialized;
  return { ...message, signature, eip712: { name: eip712.name, version: eip712.version } };
}

/** The worker's signer: the key unlocked in session storage, or WalletLockedError. */
export function createEvmSigner(deps: { session: StorageArea; t: T }): SignEvm {
  return async (plan, eip712, from, window) => {
    const parsed = UnlockedKey.safeParse((await deps.session.get(KEYS.unlocked))[KEYS.unlocked]);
    if (!parsed.success) throw new WalletLockedError(deps.t('worker_locked_approve'));
    return signEvmTransfer(parsed.data.privateKey, plan, eip712, from, window, deps.t);
  };
}
