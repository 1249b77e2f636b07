/**
 * Settlements the worker never saw: a wallet-rail payment whose retry went out but whose answer's
 * `PAYMENT-RESPONSE` was missed (the worker was stopped in between, or a script retried on a site
 * the extension may not read) stays `pending` at the hub. When the person gave that network an
 * RPC URL, the chain itself says what happened, and nothing else is asked:
 *
 * - the token's `AuthorizationUsed(authorizer, nonce)` event names the settlement transaction:
 *   reported as completed;
 * - no such event, the authorization past its `validBefore`, and `authorizationState` still false:
 *   it can never settle any more, so it is reported as failed.
 *
 * Without an RPC URL nothing is looked up (no third party learns the address); the payment waits.
 * Only the logs of the blocks since signing are searched, at most MAX_BLOCKS of them.
 */
import { id } from 'ethers';
import { z } from 'zod';
import { VALID_AFTER_BACKDATE_SECONDS } from '../../shared/eip3009.js';
import { type SettlementReport, WalletAuthorization } from '../../shared/wallet-payments.js';
import type { T } from '../common/i18n.js';
import type { NetworkSettings } from '../common/networks.js';
import { type ApprovalRequest, KEYS } from '../common/state.js';
import { loadRequestList, type StorageArea } from '../common/storage.js';
import { jsonRpc } from './evm-balance.js';
import { explorerTxUrl } from './evm-settle.js';

export const AUTHORIZATION_USED = id('AuthorizationUsed(address,bytes32)');
/** `authorizationState(address,bytes32)`. */
export const AUTHORIZATION_STATE = id('authorizationState(address,bytes32)').slice(0, 10);
/** A request is looked up once its retry has had this long to be answered the ordinary way. */
export const RECOVER_AFTER_MS = 60_000;
/** Blocks searched back from the latest: one a second since signing, at most this many. */
export const MAX_BLOCKS = 10_000;
/** After `validBefore`, this long for a last block to be mined before it is called expired. */
export const EXPIRY_MARGIN_SECONDS = 60;

const word = (hex: string) => `0x${hex.replace(/^0x/, '').toLowerCase().padStart(64, '0')}`;

const Logs = z.array(z.object({ transactionHash: z.string().regex(/^0x[0-9a-fA-F]{64}$/), removed: z.boolean().optional() }));

/** Requests worth looking up at `now`: wallet rail, the hub has them pending, retried a while ago. */
export function unsettled(requests: readonly ApprovalRequest[], now: number): ApprovalRequest[] {
  return requests.filter(
    (r) =>
      r.payment?.rail === 'wallet' &&
      r.status === 'submitted' &&
      r.result?.status === 'pending' &&
      r.evm &&
      now - r.updatedAt >= RECOVER_AFTER_MS,
  );
}

export interface EvmRecoveryDeps {
  local: StorageArea;
  t: T;
  fetch: typeof fetch;
  networks(): Promise<NetworkSettings>;
  /** Keeps and sends a report for a payment (evm-settle.ts `report`). */
  report(paymentId: string, report: SettlementReport): Promise<boolean>;
  now?: () => number;
}

export function createEvmRecovery(deps: EvmRecoveryDeps) {
  const now = deps.now ?? (() => Date.now());
  const rpc = (url: string, method: string, params: unknown[]) => jsonRpc(deps.fetch, deps.t, url, method, params);

  /** What the chain says of one request's authorization; null when it cannot tell yet. */
  async function lookUp(r: ApprovalRequest, rpcUrl: string, explorer: string | undefined): Promise<SettlementReport | null> {
    const signed = WalletAuthorization.safeParse(r.payment?.authorization);
    if (!signed.success || !r.evm) return null;
    const { from, nonce, validAfter, validBefore } = signed.data;
    const token = r.evm.token.address;
    const latest = Number(BigInt(String(await rpc(rpcUrl, 'eth_blockNumber', []))));
    const signedAt = Number(validAfter) + VALID_AFTER_BACKDATE_SECONDS;
    const span = Math.min(MAX_BLOCKS, Math.max(0, Math.floor(now() / 1000) - signedAt) + 100);
    const logs = Logs.parse(
      await rpc(rpcUrl, 'eth_getLogs', [
        {
          address: token,
          topics: [AUTHORIZATION_USED, word(from), word(nonce)],
          fromBlock: `0x${Math.max(0, latest - span).toString(16)}`,
          toBlock: 'latest',
        },
      ]),
    ).filter((l) => !l.removed);
    if (logs.length) {
      const link = explorerTxUrl(explorer, logs[0]!.transactionHash);
      return { status: 'completed', transaction: logs[0]!.transactionHash, ...(link ? { blockExplorerUrl: link } : {}) };
    }
    if (Math.floor(now() / 1000) < Number(validBefore) + EXPIRY_MARGIN_SECONDS) return null;
    const used = await rpc(rpcUrl, 'eth_call', [
      { to: token, data: `${AUTHORIZATION_STATE}${word(from).slice(2)}${word(nonce).slice(2)}` },
      'latest',
    ]);
    // Used, but its event is older than the blocks searched: it settled; the transaction is not known.
    if (typeof used !== 'string' || BigInt(used) !== 0n) return null;
    return { status: 'failed', reason: deps.t('worker_evm_expired_unsettled') };
  }

  return {
    /** Looks up every unsettled request on a network with an RPC URL; returns how many were reported. */
    async run(): Promise<number> {
      const due = unsettled(await loadRequestList(deps.local, KEYS.history), now());
      if (!due.length) return 0;
      const networks = await deps.networks();
      let reported = 0;
      for (const r of due) {
        const network = networks.find((n) => n.chainId === r.evm!.chainId);
        if (!network?.rpcUrl) continue;
        const report = await lookUp(r, network.rpcUrl, network.explorer).catch((e: unknown) => {
          console.warn('tollway: could not look the settlement up on chain', e);
          return null;
        });
        if (report && (await deps.report(r.result!.transactionId, report))) reported++;
      }
      return reported;
    },
  };
}
