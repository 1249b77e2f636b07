/**
 * Signs a SOVR authorization with the person's unlocked key (in `chrome.storage.session` only):
 * EIP-712 `TransferWithAuthorization` hashed by ethers' TypedDataEncoder and signed with its
 * SigningKey (what Wallet.signTypedData does, without pulling Wallet's keystore code into the
 * worker), with a random 32-byte nonce. Worker-only: ethers stays out of the approval window.
 */
import { computeAddress, getAddress, hexlify, randomBytes, SigningKey, TypedDataEncoder } from 'ethers';
import type { SignedAuthorization } from '../../shared/eip3009.js';
import type { T } from '../common/i18n.js';
import { KEYS, UnlockedKey, type OnChainPlan } from '../common/state.js';
import type { StorageArea } from '../common/storage.js';
import { typedDataOf } from './onchain.js';

export type SignAuthorization = (plan: OnChainPlan, window: { validAfter: number; validBefore: number }) => Promise<SignedAuthorization>;

export const randomNonce = (): string => hexlify(randomBytes(32));

/** The key is not unlocked: callers say what to do next in their own words (approve again, move again). */
export class WalletLockedError extends Error {}

/** Signs `plan` over `window` with `privateKey`; addresses come out EIP-55 checksummed, as the reference client sends them. */
export async function signAuthorization(
  privateKey: string,
  plan: OnChainPlan,
  window: { validAfter: number; validBefore: number },
  t: T,
  nonce = randomNonce(),
): Promise<SignedAuthorization> {
  let from: string, to: string;
  try {
    [from, to] = [getAddress(plan.from), getAddress(plan.to)];
  } catch {
    throw new Error(t('worker_payee_bad_checksum', plan.to));
  }
  const key = new SigningKey(privateKey);
  if (computeAddress(key.publicKey) !== from) throw new Error(t('worker_wallet_not_signed_in'));
  const typed = typedDataOf(
    { ...plan, from, to, domain: { ...plan.domain, verifyingContract: getAddress(plan.domain.verifyingContract.toLowerCase()) } },
    window,
    nonce,
  );
  const signature = key.sign(TypedDataEncoder.hash(typed.domain, typed.types, typed.message)).serialized;
  return { ...typed.message, signature };
}

/** The signer the worker uses: the key unlocked in session storage, or an error saying the wallet is locked. */
export function createAuthorizationSigner(deps: { session: StorageArea; t: T }): SignAuthorization {
  return async (plan, window) => {
    const parsed = UnlockedKey.safeParse((await deps.session.get(KEYS.unlocked))[KEYS.unlocked]);
    if (!parsed.success) throw new WalletLockedError(deps.t('worker_locked_approve'));
    return signAuthorization(parsed.data.privateKey, plan, window, deps.t);
  };
}
