/**
 * The part of SOVR's interface the rail uses (contracts/SOVR.sol), as human-readable fragments:
 * the hub reads and calls a deployed token and never needs the compiler. A unit test checks these
 * against the compiled artifact.
 */
import { Interface, zeroPadValue } from 'ethers';
import { revertMessage as evmRevertMessage } from '../../chain/evm/errors.js';

export { describeRpcError } from '../../chain/evm/errors.js';
import type { Authorization } from './authorization.js';

export const SOVR_RAIL_ABI = [
  'function transferWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, bytes signature)',
  'function authorizationState(address authorizer, bytes32 nonce) view returns (bool)',
  'function balanceOf(address owner) view returns (uint256)',
  'event Transfer(address indexed from, address indexed to, uint256 value)',
  'event AuthorizationUsed(address indexed authorizer, bytes32 indexed nonce)',
  'event AuthorizationCanceled(address indexed authorizer, bytes32 indexed nonce)',
] as const;

export const sovrRailInterface = new Interface(SOVR_RAIL_ABI);

/** The `bytes signature` overload: the signature goes to the contract exactly as the person signed it. */
export const TRANSFER_WITH_AUTHORIZATION = 'transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,bytes)';

export const TRANSFER_TOPIC = sovrRailInterface.getEvent('Transfer')!.topicHash;
export const AUTHORIZATION_USED_TOPIC = sovrRailInterface.getEvent('AuthorizationUsed')!.topicHash;

export const addressTopic = (address: string) => zeroPadValue(address, 32).toLowerCase();

export function encodeTransferWithAuthorization(a: Authorization): string {
  return sovrRailInterface.encodeFunctionData(TRANSFER_WITH_AUTHORIZATION, [
    a.from,
    a.to,
    a.value,
    a.validAfter,
    a.validBefore,
    a.nonce,
    a.signature,
  ]);
}

/** A revert's reason, with SOVR's custom errors by name. */
export const revertMessage = (err: unknown): string | undefined => evmRevertMessage(err, sovrRailInterface);
