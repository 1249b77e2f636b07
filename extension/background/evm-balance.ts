/**
 * The person's balance of an ERC-20 token, read with one JSON-RPC `eth_call` of `balanceOf(owner)`
 * to the RPC URL the person gave in settings (there is no default: without one, no balance is
 * shown and no third party learns the address). The answer is a 32-byte word decoded straight into
 * a bigint; no ethers here, the worker needs nothing more than this.
 */
import { z } from 'zod';
import { EvmAddress } from '../../shared/eip3009.js';
import type { T } from '../common/i18n.js';

/** The selector of `balanceOf(address)`. */
const BALANCE_OF = '0x70a08231';
const TIMEOUT_MS = 8000;

/** The call data of `balanceOf(owner)`: the selector and the address left-padded to 32 bytes. */
export function balanceOfData(owner: string): string {
  const parsed = EvmAddress.safeParse(owner);
  if (!parsed.success) throw new TypeError(`not an address: ${owner}`);
  return `${BALANCE_OF}${parsed.data.slice(2).toLowerCase().padStart(64, '0')}`;
}

/**
 * A uint256 return value → bigint. "0x" (nothing at that address answers the call) and anything
 * that is not one 32-byte word are refused rather than read as zero: a balance shown as 0 for a
 * wrong address would mislead more than no balance.
 */
export function decodeUint256(result: unknown): bigint {
  if (typeof result !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(result)) throw new RangeError('not a uint256 answer');
  return BigInt(result);
}

const RpcAnswer = z.union([z.object({ result: z.unknown() }), z.object({ error: z.object({ message: z.string().max(500) }) })]);

/**
 * One JSON-RPC call to the RPC URL the person gave: its `result`, or an error in the person's words
 * (the URL answered with an HTTP error, not in JSON-RPC, or with a JSON-RPC error).
 */
export async function jsonRpc(
  fetchFn: typeof fetch,
  t: T,
  rpcUrl: string,
  method: string,
  params: unknown[],
  timeoutMs = TIMEOUT_MS,
): Promise<unknown> {
  const res = await fetchFn(rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) throw new Error(t('worker_rpc_status', res.status));
  const answer = RpcAnswer.safeParse(await res.json().catch(() => null));
  if (!answer.success) throw new Error(t('worker_rpc_not_json_rpc'));
  if ('error' in answer.data) throw new Error(t('worker_rpc_refused', answer.data.error.message));
  return answer.data.result;
}

export async function tokenBalance(
  fetchFn: typeof fetch,
  t: T,
  opts: { rpcUrl: string; token: string; owner: string; timeoutMs?: number },
): Promise<bigint> {
  const result = await jsonRpc(
    fetchFn,
    t,
    opts.rpcUrl,
    'eth_call',
    [{ to: opts.token, data: balanceOfData(opts.owner) }, 'latest'],
    opts.timeoutMs,
  );
  try {
    return decodeUint256(result);
  } catch {
    throw new Error(t('worker_rpc_not_balance'));
  }
}
