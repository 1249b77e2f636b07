/**
 * Signs a SOVR authorization with the person's unlocked key (in `chrome.storage.session` only):
 * EIP-712 `TransferWithAuthorization` hashed by ethers' TypedDataEncoder and signed with its
 * SigningKey (what Wallet.signTypedData does, without pulling Wallet's keystore code into the
 * worker), with a random 32-byte nonce. Worker-only: ethers stays out of the approval window.
 */
import { computeAddress, getAddress, hexlify, randomBytes, SigningKey, TypedDataEncoder } from 'ethers';
import {
  TRANSFER_WITH_AUTHORIZATION_TYPES,
  type AuthorizationMessage,
  type Eip712Domain,
  type SignedAuthorization,
} from '../../shared/eip3009.js';
import type { T } from '../common/i18n.js';
import { KEYS, UnlockedKey, type OnChainPlan } from '../common/state.js';
import type { StorageArea } from '../common/storage.js';

export type SignAuthorization = (plan: OnChainPlan, window: { validAfter: number; validBefore: number }) => Promise<SignedAuthorization>;

export const randomNonce = (): string => hexlify(randomBytes(32));

/** The key is not unlocked: callers say what to do next in their own words (approve again, move again). */
export class WalletLockedError extends Error {}

/**
 * Signs one `TransferWithAuthorization` under `domain` with `privateKey`, which must be `from`'s
 * key; addresses come out EIP-55 checksummed, as the reference client sends them.
 */
export function signTransfer(
  privateKey: string,
  transfer: { domain: Eip712Domain; from: string; to: string; value: string },
  window: { validAfter: number; validBefore: number },
  t: T,
  nonce = randomNonce(),
): SignedAuthorization {
  let from: string, to: string;
  try {
    [from, to] = [getAddress(transfer.from), getAddress(transfer.to)];
  } catch {
    throw new Error(t('worker_payee_bad_checksum', transfer.to));
  }
  const key = new SigningKey(privateKey);
  if (computeAddress(key.publicKey) !== from) throw new Error(t('worker_wallet_not_signed_in'));
  const domain = { ...transfer.domain, verifyingContract: getAddress(transfer.domain.verifyingContract.toLowerCase()) };
  const message: AuthorizationMessage = {
    from,
    to,
    value: transfer.value,
    validAfter: String(window.validAfter),
    validBefore: String(window.validBefore),
    nonce,
  };
  const signature = key.sign(TypedDataEncoder.hash(domain, TRANSFER_WITH_AUTHORIZATION_TYPES, message)).serialized;
  return { ...message, signature };
}

/** Signs `plan` over `window` with `privateKey`. */
export async function signAuthorization(
  privateKey: string,
  plan: OnChainPlan,
  window: { validAfter: number; validBefore: number },
  t: T,
  nonce = randomNonce(),
): Promise<SignedAuthorization> {
  return signTransfer(privateKey, { domain: plan.domain, from: plan.from, to: plan.to, value: plan.payment.amount }, window, t, nonce);
}

/** The key unlocked in session storage, or WalletLockedError. */
export async function unlockedPrivateKey(session: StorageArea, t: T): Promise<string> {
  const parsed = UnlockedKey.safeParse((await session.get(KEYS.unlocked))[KEYS.unlocked]);
  if (!parsed.success) throw new WalletLockedError(t('worker_locked_approve'));
  return parsed.data.privateKey;
}

/** The signer the worker uses: the key unlocked in session storage, or an error saying the wallet is locked. */
export function createAuthorizationSigner(deps: { session: StorageArea; t: T }): SignAuthorization {
  return async (plan, window) => signAuthorization(await unlockedPrivateKey(deps.session, deps.t), plan, window, deps.t);
}
