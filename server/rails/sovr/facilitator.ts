/**
 * The hub as an x402 facilitator for `exact` on its own chain and token (SOVR): verify an EIP-3009
 * payment payload against a merchant's requirement, and settle it with the rail's own gateway
 * (the one nonce manager of the service wallet).
 *
 * Reason strings: the x402 v2 specification's where it names the cause (`invalid_scheme`,
 * `invalid_network`, `invalid_payload`, `invalid_payment_requirements`,
 * `invalid_exact_evm_payload_signature`, `invalid_exact_evm_payload_recipient_mismatch`,
 * `invalid_exact_evm_payload_authorization_valid_before` / `_valid_after` / `_value_mismatch`,
 * `insufficient_funds`, `invalid_transaction_state`, `unexpected_verify_error`,
 * `unexpected_settle_error`); @x402/evm 2.27's where the specification has none
 * (`invalid_exact_evm_nonce_already_used`, `invalid_exact_evm_token_name_mismatch`,
 * `invalid_exact_evm_token_version_mismatch`, `invalid_exact_evm_transfer_event_mismatch`,
 * `settlement_pending`). The checks run in @x402/evm's order, with its time rule
 * (`validBefore >= now + 6`, `validAfter <= now`) and its value rule (exactly the amount).
 *
 * Settling is idempotent per authorization (authorizer, nonce): the signed transaction is stored
 * before it is broadcast, a second or concurrent settle follows that very transaction and answers
 * its result, and a restart carries on every settlement still open.
 */
import { getAddress, isAddress, type JsonRpcProvider, type TransactionReceipt } from 'ethers';
import { SOVR_EIP712_NAME, SOVR_EIP712_VERSION } from '../../../contracts/eip712.js';
import type { Clock } from '../../clock.js';
import type { Logger } from '../../logger.js';
import type { Db } from '../../store/types.js';
import {
  addressTopic,
  describeRpcError,
  encodeTransferWithAuthorization,
  revertMessage,
  sovrRailInterface,
  TRANSFER_TOPIC,
} from './abi.js';
import { parseAuthorization, recoverAuthorizer, type Authorization } from './authorization.js';
import type { Gateway } from '../../chain/evm/gateway.js';
import { createKeyedMutex } from '../../chain/evm/mutex.js';
import {
  dropSettlement,
  finishSettlement,
  insertSettlement,
  loadSettlement,
  openSettlements,
  type SettlementRow,
} from './settlements-store.js';
import { sentByHub } from './store.js';
import { sleep, withTimeout } from '../../core/timing.js';
import { findAuthorizationUse } from './watcher.js';

export type { ExactPayload, ExactRequirement, SettleResult, SovrFacilitator, VerifyResult } from '../facilitator.js';
import type { ExactPayload, ExactRequirement, SettleResult, SovrFacilitator, VerifyResult } from '../facilitator.js';

export const EXACT_REASONS = {
  scheme: 'invalid_scheme',
  network: 'invalid_network',
  requirements: 'invalid_payment_requirements',
  payload: 'invalid_payload',
  tokenName: 'invalid_exact_evm_token_name_mismatch',
  tokenVersion: 'invalid_exact_evm_token_version_mismatch',
  signature: 'invalid_exact_evm_payload_signature',
  recipient: 'invalid_exact_evm_payload_recipient_mismatch',
  validBefore: 'invalid_exact_evm_payload_authorization_valid_before',
  validAfter: 'invalid_exact_evm_payload_authorization_valid_after',
  value: 'invalid_exact_evm_payload_authorization_value_mismatch',
  nonceUsed: 'invalid_exact_evm_nonce_already_used',
  funds: 'insufficient_funds',
  transferEvent: 'invalid_exact_evm_transfer_event_mismatch',
  transaction: 'invalid_transaction_state',
  pending: 'settlement_pending',
  unexpectedVerify: 'unexpected_verify_error',
  unexpectedSettle: 'unexpected_settle_error',
} as const;

/** What @x402/evm's facilitator wants left of an authorization's life when it verifies, s. */
export const MIN_VALID_BEFORE_MARGIN = 6;

export interface FacilitatorDeps {
  db: Db;
  provider: JsonRpcProvider;
  gateway: Gateway;
  chainId: number;
  /** The SOVR contract, checksummed. */
  token: string;
  clock: Clock;
  logger: Logger;
  signal: AbortSignal;
  spawn(name: string, work: (signal: AbortSignal) => Promise<void>): void;
  authorizationState(from: string, nonce: string): Promise<boolean>;
  balanceOf(owner: string): Promise<bigint>;
  /** How often a settlement looks for its receipt, ms. */
  pollIntervalMs: number;
  /** How long `settle` waits for the receipt before answering `settlement_pending`, ms. */
  settleTimeoutMs: number;
  /** Chain reads made while a verify waits give up after this, ms. */
  readTimeoutMs: number;
}

type Final = { status: 'success' | 'failed'; transaction: string; errorReason?: string; errorDetail?: string };
type Checked = { ok: true; a: Authorization; fromBlock: number } | { ok: false; reason: string; payer?: string };

/** The contract's revert texts (FiatTokenV2's, after "SOVR: ") as x402 reasons, like @x402/evm's parseEip3009TransferError. */
export function reasonForRevert(message: string): string {
  if (/authorization is expired|valid before/i.test(message)) return EXACT_REASONS.validBefore;
  if (/authorization is not yet valid/i.test(message)) return EXACT_REASONS.validAfter;
  if (/authorization is used|used or cancel/i.test(message)) return EXACT_REASONS.nonceUsed;
  if (/exceeds balance|insufficient balance/i.test(message)) return EXACT_REASONS.funds;
  if (/invalid signature/i.test(message)) return EXACT_REASONS.signature;
  return EXACT_REASONS.transaction;
}

/** The payer named by a payload, if it names one that looks like an address (for answers that refuse it). */
function payerOf(payload: unknown): string | undefined {
  const from = (payload as { authorization?: { from?: unknown } } | null)?.authorization?.from;
  return typeof from === 'string' && isAddress(from) ? getAddress(from) : undefined;
}

/** Same authorization: the fields signed, and the same r‖s (v may be written 0/1 or 27/28). */
function sameAuthorization(x: Authorization, y: Authorization): boolean {
  return (
    x.from === y.from &&
    x.to === y.to &&
    x.value === y.value &&
    x.validAfter === y.validAfter &&
    x.validBefore === y.validBefore &&
    x.nonce === y.nonce &&
    x.signature.slice(0, 130) === y.signature.slice(0, 130)
  );
}

export function createFacilitator(deps: FacilitatorDeps): SovrFacilitator {
  const { db, provider, gateway, token, clock, logger } = deps;
  const network = `eip155:${deps.chainId}`;
  const locks = createKeyedMutex();

  /** The checks that need neither the chain nor the clock: the requirement against this hub, and the payload against it. */
  function checkStatic(payload: ExactPayload, requirement: ExactRequirement): Checked {
    const payer = payerOf(payload);
    const fail = (reason: string): Checked => ({ ok: false, reason, ...(payer ? { payer } : {}) });
    const r = requirement as Partial<ExactRequirement> | null | undefined;
    if (r?.scheme !== 'exact') return fail(EXACT_REASONS.scheme);
    if (r.network !== network) return fail(EXACT_REASONS.network);
    if (typeof r.asset !== 'string' || r.asset.toLowerCase() !== token.toLowerCase()) return fail(EXACT_REASONS.requirements);
    if (typeof r.amount !== 'string' || !/^(0|[1-9][0-9]{0,77})$/.test(r.amount)) return fail(EXACT_REASONS.requirements);
    if (typeof r.payTo !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(r.payTo)) return fail(EXACT_REASONS.requirements);
    const extra = r.extra ?? {};
    if (extra.name !== undefined && extra.name !== SOVR_EIP712_NAME) return fail(EXACT_REASONS.tokenName);
    if (extra.version !== undefined && extra.version !== SOVR_EIP712_VERSION) return fail(EXACT_REASONS.tokenVersion);
    let a: Authorization;
    try {
      const p = payload as Partial<ExactPayload> | null | undefined;
      if (!p || typeof p !== 'object' || !p.authorization || typeof p.authorization !== 'object') return fail(EXACT_REASONS.payload);
      a = parseAuthorization({ ...p.authorization, signature: p.signature });
    } catch {
      return fail(EXACT_REASONS.payload);
    }
    if (recoverAuthorizer(a, deps.chainId, token) !== a.from) return fail(EXACT_REASONS.signature);
    if (a.to !== getAddress(r.payTo)) return fail(EXACT_REASONS.recipient);
    return { ok: true, a, fromBlock: 0 };
  }

  async function check(payload: ExactPayload, requirement: ExactRequirement): Promise<Checked> {
    const s = checkStatic(payload, requirement);
    if (!s.ok) return s;
    const { a } = s;
    const fail = (reason: string): Checked => ({ ok: false, reason, payer: a.from });
    const now = BigInt(Math.floor(clock.now() / 1000));
    if (a.validBefore < now + BigInt(MIN_VALID_BEFORE_MARGIN)) return fail(EXACT_REASONS.validBefore);
    if (a.validAfter > now) return fail(EXACT_REASONS.validAfter);
    if (a.value !== BigInt(requirement.amount)) return fail(EXACT_REASONS.value);
    // The hub sends this one itself (a payment to its treasury, a deposit): a second sender could only make one revert.
    if (await sentByHub(db, a.from, a.nonce)) return fail(EXACT_REASONS.nonceUsed);
    let used: boolean, balance: bigint, fromBlock: number;
    try {
      [used, balance, fromBlock] = await withTimeout(
        Promise.all([deps.authorizationState(a.from, a.nonce), deps.balanceOf(a.from), provider.getBlockNumber()]),
        deps.readTimeoutMs,
      );
    } catch (err) {
      logger.warn({ err: describeRpcError(err) }, 'the facilitator could not read the chain');
      return fail(EXACT_REASONS.unexpectedVerify);
    }
    if (used) return fail(EXACT_REASONS.nonceUsed);
    if (balance < a.value) return fail(EXACT_REASONS.funds);
    return { ok: true, a, fromBlock };
  }

  async function verify(payload: ExactPayload, requirement: ExactRequirement): Promise<VerifyResult> {
    let c: Checked;
    try {
      c = await check(payload, requirement);
    } catch (err) {
      // The store could not be read: an answer, not an exception, like every other refusal.
      logger.error({ err: (err as Error).message }, 'a verification failed unexpectedly');
      const payer = payerOf(payload);
      return { isValid: false, invalidReason: EXACT_REASONS.unexpectedVerify, ...(payer ? { payer } : {}) };
    }
    if (c.ok) return { isValid: true, payer: c.a.from };
    return { isValid: false, invalidReason: c.reason, ...(c.payer ? { payer: c.payer } : {}) };
  }

  const failure = (errorReason: string, transaction: string, payer?: string): SettleResult => ({
    success: false,
    errorReason,
    ...(payer ? { payer } : {}),
    transaction,
    network,
  });

  function answer(row: SettlementRow, f: Final): SettleResult {
    const payer = row.authorization.from;
    if (f.status === 'success') return { success: true, payer, transaction: f.transaction, network };
    return failure(f.errorReason ?? EXACT_REASONS.transaction, f.transaction, payer);
  }

  /** A transaction that used the authorization: did it move the value from the payer to the payee? */
  function movedValue(receipt: TransactionReceipt, a: Authorization): boolean {
    return receipt.logs.some(
      (l) =>
        l.address.toLowerCase() === token.toLowerCase() &&
        l.topics[0] === TRANSFER_TOPIC &&
        l.topics[1] === addressTopic(a.from) &&
        l.topics[2] === addressTopic(a.to) &&
        (sovrRailInterface.decodeEventLog('Transfer', l.data, l.topics)[2] as bigint) === a.value,
    );
  }

  async function revertDetail(row: SettlementRow, receipt: TransactionReceipt): Promise<string> {
    try {
      await provider.call({
        from: row.tx.sender,
        to: token,
        data: encodeTransferWithAuthorization(row.authorization),
        blockTag: receipt.blockNumber,
      });
      return 'no reason given (the call succeeds when replayed)';
    } catch (err) {
      return revertMessage(err) ?? `no reason could be read: ${describeRpcError(err)}`;
    }
  }

  async function judge(row: SettlementRow, receipt: TransactionReceipt): Promise<Final> {
    if (receipt.status === 1) {
      return movedValue(receipt, row.authorization)
        ? { status: 'success', transaction: receipt.hash }
        : {
            status: 'failed',
            transaction: receipt.hash,
            errorReason: EXACT_REASONS.transferEvent,
            errorDetail: 'the transaction did not move the authorized value',
          };
    }
    const detail = await revertDetail(row, receipt);
    return {
      status: 'failed',
      transaction: receipt.hash,
      errorReason: reasonForRevert(detail),
      errorDetail: `the transaction reverted: ${detail}`,
    };
  }

  /** One look at a settlement's transaction; undefined while it is not mined. */
  async function look(row: SettlementRow): Promise<Final | undefined> {
    const { tx, authorization: a } = row;
    const receipt = await provider.getTransactionReceipt(tx.hash);
    if (receipt) return judge(row, receipt);
    if (await provider.getTransaction(tx.hash)) return undefined; // in the mempool
    if ((await provider.getTransactionCount(tx.sender, 'latest')) <= tx.nonce) {
      await gateway.rebroadcast(tx); // dropped: the same bytes again
      return undefined;
    }
    // Mined between the two looks, or its nonce went to another transaction.
    const late = await provider.getTransactionReceipt(tx.hash);
    if (late) return judge(row, late);
    const other = await findAuthorizationUse(provider, token, a.from, a.nonce, row.fromBlock);
    if (other) {
      const r = await provider.getTransactionReceipt(other);
      return r ? judge(row, r) : undefined;
    }
    return {
      status: 'failed',
      transaction: tx.hash,
      errorReason: EXACT_REASONS.transaction,
      errorDetail: "the facilitator's transaction was replaced by another with the same nonce; the authorization was not used",
    };
  }

  /** Follows a stored settlement until it is mined (then records and answers its result) or the deadline passes. */
  async function follow(row: SettlementRow, deadline: number): Promise<SettleResult> {
    for (;;) {
      let final: Final | undefined;
      try {
        final = await look(row);
      } catch (err) {
        logger.warn({ transactionHash: row.tx.hash, err: describeRpcError(err) }, 'checking a settlement failed; retrying');
      }
      if (final) {
        await finishSettlement(db, row.authorization.from, row.authorization.nonce, final, clock.now());
        // The first result recorded wins (another follower may have been quicker).
        const after = await loadSettlement(db, row.authorization.from, row.authorization.nonce);
        return after && after.status !== 'sent' ? storedResult(after) : answer(row, final);
      }
      if (deps.signal.aborted || Date.now() >= deadline) return failure(EXACT_REASONS.pending, row.tx.hash, row.authorization.from);
      await sleep(deps.pollIntervalMs, deps.signal);
    }
  }

  function storedResult(row: SettlementRow): SettleResult {
    return answer(row, {
      status: row.status === 'success' ? 'success' : 'failed',
      transaction: row.transaction ?? row.tx.hash,
      ...(row.errorReason ? { errorReason: row.errorReason } : {}),
    });
  }

  function resultOf(row: SettlementRow, deadline: number): Promise<SettleResult> | SettleResult {
    return row.status === 'sent' ? follow(row, deadline) : storedResult(row);
  }

  /** Why the gateway sent nothing, as a reason. */
  function refusalReason(reason: string): string {
    const reverted = /^the transfer would revert: (.*)$/s.exec(reason);
    if (reverted) return reasonForRevert(reverted[1]!);
    if (/^the chain node refused the transaction/.test(reason)) return EXACT_REASONS.transaction;
    return EXACT_REASONS.unexpectedSettle;
  }

  async function settle(payload: ExactPayload, requirement: ExactRequirement): Promise<SettleResult> {
    const deadline = Date.now() + deps.settleTimeoutMs;
    const s = checkStatic(payload, requirement);
    if (!s.ok) return failure(s.reason, '', s.payer);
    const { a } = s;
    const release = await locks.lock(`${a.from}:${a.nonce}`);
    try {
      const existing = await loadSettlement(db, a.from, a.nonce);
      if (existing) {
        // Another authorization with the same nonce: only one of them can ever be used.
        if (!sameAuthorization(existing.authorization, a)) return failure(EXACT_REASONS.nonceUsed, '', a.from);
        return await resultOf(existing, deadline);
      }
      const c = await check(payload, requirement);
      if (!c.ok) return failure(c.reason === EXACT_REASONS.unexpectedVerify ? EXACT_REASONS.unexpectedSettle : c.reason, '', a.from);
      let row: SettlementRow | undefined;
      const result = await gateway.submit({
        to: token,
        data: encodeTransferWithAuthorization(a),
        persist: async (tx) => {
          await insertSettlement(db, { chainId: deps.chainId, token, authorization: a, fromBlock: c.fromBlock, tx }, clock.now());
          row = { authorization: a, fromBlock: c.fromBlock, tx, status: 'sent', transaction: null, errorReason: null, errorDetail: null };
        },
        onRejected: (tx) => dropSettlement(db, a.from, a.nonce, tx.hash),
      });
      if (result.status === 'refused') {
        // Stored first by another hub process sharing the database: follow theirs.
        const theirs = result.tx ? undefined : await loadSettlement(db, a.from, a.nonce);
        if (theirs && sameAuthorization(theirs.authorization, a)) return await resultOf(theirs, deadline);
        logger.info({ payer: a.from, reason: result.reason }, 'a settlement was refused before anything was sent');
        return failure(refusalReason(result.reason), '', a.from);
      }
      return await follow(row!, deadline);
    } catch (err) {
      logger.error({ err: describeRpcError(err) }, 'a settlement failed unexpectedly');
      return failure(EXACT_REASONS.unexpectedSettle, '', a.from);
    } finally {
      release();
    }
  }

  // Settlements broadcast before a restart are carried to their result (and their transaction
  // re-broadcast if the node lost it, so that it holds no nonce back).
  deps.spawn('sovr settlements resume', async (signal) => {
    let open: SettlementRow[];
    try {
      open = await openSettlements(db);
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'could not load open settlements');
      return;
    }
    await Promise.all(
      open.map(async (row) => {
        while (!signal.aborted) {
          const r = await follow(row, Date.now() + 60_000);
          if (r.success || r.errorReason !== EXACT_REASONS.pending) return;
        }
      }),
    );
  });

  return {
    network,
    token,
    signerAddress: () => gateway.address(),
    verify,
    settle,
  };
}
