/**
 * The part of SOVR's interface the rail uses (contracts/SOVR.sol), as human-readable fragments:
 * the hub reads and calls a deployed token and never needs the compiler. A unit test checks these
 * against the compiled artifact.
 */
import { Interface, isError, zeroPadValue } from 'ethers';
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
  return sovrRailInterface.encodeFunctionData(TRANSFER_WITH_AUTHORIZATION, [a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, a.signature]);
}

/**
 * The revert reason in an error from eth_call / eth_estimateGas, when the node gave one: the
 * Error(string) text, a panic, or a custom error by name. Undefined when the error is not a revert
 * (the node could not be reached, say).
 */
export function revertMessage(err: unknown): string | undefined {
  if (!isError(err, 'CALL_EXCEPTION')) return undefined;
  if (err.reason) return err.reason;
  const data = err.data;
  if (data && data !== '0x') {
    try {
      const parsed = sovrRailInterface.parseError(data);
      if (parsed) return parsed.name;
    } catch {
      // not one of ours
    }
    return `reverted with data ${data.slice(0, 74)}`;
  }
  return 'reverted without a reason';
}

/** A short, secret-free description of an RPC failure for failure reasons and logs. */
export function describeRpcError(err: unknown): string {
  const e = err as { shortMessage?: string; message?: string; code?: string; error?: { message?: string }; info?: { error?: { message?: string } } };
  const text = e.error?.message ?? e.info?.error?.message ?? e.shortMessage ?? e.message ?? String(err);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
