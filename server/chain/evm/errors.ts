import { type Interface, isError } from 'ethers';

/**
 * The revert reason in an error from eth_call / eth_estimateGas, when the node gave one: the
 * Error(string) text, a panic, or a custom error by name (when the contract's interface is given).
 * Undefined when the error is not a revert (the node could not be reached, say).
 */
export function revertMessage(err: unknown, contract?: Interface): string | undefined {
  if (!isError(err, 'CALL_EXCEPTION')) return undefined;
  if (err.reason) return err.reason;
  const data = err.data;
  if (data && data !== '0x') {
    try {
      const parsed = contract?.parseError(data);
      if (parsed) return parsed.name;
    } catch {
      // not one of the contract's errors
    }
    return `reverted with data ${data.slice(0, 74)}`;
  }
  return 'reverted without a reason';
}

/** A short, secret-free description of an RPC failure for failure reasons and logs. */
export function describeRpcError(err: unknown): string {
  const e = err as {
    shortMessage?: string;
    message?: string;
    code?: string;
    error?: { message?: string };
    info?: { error?: { message?: string } };
  };
  const text = e.error?.message ?? e.info?.error?.message ?? e.shortMessage ?? e.message ?? String(err);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
