/**
 * The EIP-712 domain and message types SOVR verifies, for whoever signs or checks SOVR
 * authorizations off-chain (tests, the hub's SOVR rail, the extension).
 */
import { hexlify, randomBytes, type Signer, type TypedDataDomain } from 'ethers';
import { TRANSFER_WITH_AUTHORIZATION_TYPES as SHARED_TYPES } from '../shared/eip3009.js';

/** `extra.name` / `extra.version` in x402 payment requirements for SOVR. */
export const SOVR_EIP712_NAME = 'SOVR';
export const SOVR_EIP712_VERSION = '1';

export function sovrDomain(chainId: number | bigint, verifyingContract: string): TypedDataDomain {
  return { name: SOVR_EIP712_NAME, version: SOVR_EIP712_VERSION, chainId, verifyingContract };
}

// One definition of the fields for every signer: the extension signs from shared/ too.
const AUTHORIZATION_FIELDS = SHARED_TYPES.TransferWithAuthorization;

export const TRANSFER_WITH_AUTHORIZATION_TYPES = SHARED_TYPES;
export const RECEIVE_WITH_AUTHORIZATION_TYPES = { ReceiveWithAuthorization: AUTHORIZATION_FIELDS };
export const CANCEL_AUTHORIZATION_TYPES = {
  CancelAuthorization: [
    { name: 'authorizer', type: 'address' },
    { name: 'nonce', type: 'bytes32' },
  ],
};
export const BURN_FOR_POS_TYPES = {
  BurnForPOS: [
    { name: 'from', type: 'address' },
    { name: 'value', type: 'uint256' },
    { name: 'validAfter', type: 'uint256' },
    { name: 'validBefore', type: 'uint256' },
    { name: 'nonce', type: 'bytes32' },
  ],
};
export const PERMIT_TYPES = {
  Permit: [
    { name: 'owner', type: 'address' },
    { name: 'spender', type: 'address' },
    { name: 'value', type: 'uint256' },
    { name: 'nonce', type: 'uint256' },
    { name: 'deadline', type: 'uint256' },
  ],
};

/** An EIP-3009 authorization; times are unix seconds compared with block.timestamp. */
export interface TransferAuthorization {
  from: string;
  to: string;
  value: bigint;
  validAfter: bigint;
  validBefore: bigint;
  /** 32 random bytes, 0x-hex: EIP-3009 nonces are unordered, unlike EIP-2612's counter. */
  nonce: string;
}

export interface BurnAuthorization {
  from: string;
  value: bigint;
  validAfter: bigint;
  validBefore: bigint;
  nonce: string;
}

export function randomAuthorizationNonce(): string {
  return hexlify(randomBytes(32));
}

export function signTransferAuthorization(signer: Signer, domain: TypedDataDomain, auth: TransferAuthorization): Promise<string> {
  return signer.signTypedData(domain, TRANSFER_WITH_AUTHORIZATION_TYPES, { ...auth });
}

export function signReceiveAuthorization(signer: Signer, domain: TypedDataDomain, auth: TransferAuthorization): Promise<string> {
  return signer.signTypedData(domain, RECEIVE_WITH_AUTHORIZATION_TYPES, { ...auth });
}

export function signCancelAuthorization(signer: Signer, domain: TypedDataDomain, authorizer: string, nonce: string): Promise<string> {
  return signer.signTypedData(domain, CANCEL_AUTHORIZATION_TYPES, { authorizer, nonce });
}

export function signBurnForPOS(signer: Signer, domain: TypedDataDomain, auth: BurnAuthorization): Promise<string> {
  return signer.signTypedData(domain, BURN_FOR_POS_TYPES, { ...auth });
}
