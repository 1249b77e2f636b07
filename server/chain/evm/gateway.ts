/**
 * The hub's way onto the chain: a service wallet that pays the gas and signs transactions locally,
 * a nonce manager, and a broadcast that tells "the node has it" from "the node refused it" from
 * "cannot know".
 *
 * Nonces are handed out one at a time in this process, starting from the node's pending count
 * (or past the highest nonce a stored, still open transaction holds). Taking a nonce, signing,
 * persisting the signed bytes and broadcasting happen in one serial section, so transactions
 * reach the node in nonce order (a node that cannot queue, like Hardhat's automine, never sees a
 * gap) and a nonce whose transaction the node refused is simply handed to the next one: nothing
 * later has been taken meanwhile, so no gap is ever left to fill.
 *
 * One process per service wallet: two hub processes signing with the same key would hand out the
 * same nonces. Give each process its own key, or run the rail in one process.
 */
import { keccak256, type JsonRpcProvider, type Wallet } from 'ethers';
import type { Logger } from '../../logger.js';
import { withTimeout } from '../../core/timing.js';
import { describeRpcError, revertMessage } from './errors.js';

export interface GatewayOptions {
  provider: JsonRpcProvider;
  chainId: number;
  /** The service wallet (never logged); a promise while a keystore is being decrypted. */
  wallet: Promise<Wallet>;
  /** A fixed gas limit; otherwise each transaction is estimated and given `gasHeadroomPercent` more. */
  gasLimit?: bigint;
  gasHeadroomPercent?: number;
  /** How long a broadcast may take before its fate counts as unknown. */
  broadcastTimeoutMs?: number;
  /** Fee data is read at most this often. */
  feeCacheMs?: number;
  /** The lowest nonce new transactions may take, besides the node's pending count (stored open transactions). */
  nonceFloor?: (sender: string) => Promise<number>;
  /** Names a revert of the contract being called (its custom errors); the generic reading otherwise. */
  revertReason?: (err: unknown) => string | undefined;
  logger?: Logger;
}

/** A transaction the service wallet signed: stored before it is broadcast, so a restart re-sends the same bytes. */
export interface SignedTx {
  sender: string;
  nonce: number;
  hash: string;
  raw: string;
}

export interface SubmitRequest {
  to: string;
  data: string;
  /** Stores the signed transaction; runs before the broadcast, and a failure sends nothing. */
  persist(tx: SignedTx): Promise<void>;
  /** Records that the node refused it for good, before its nonce is handed on. */
  onRejected?(tx: SignedTx, reason: string): Promise<void>;
}

export type SubmitResult =
  /** The node has it (pending or mined). */
  | { status: 'sent'; tx: SignedTx }
  /** It may or may not have reached the node: follow it, re-broadcast it if the node lacks it. */
  | { status: 'doubt'; tx: SignedTx }
  /** Nothing of it is on the chain or in the node; `tx` is set when it was signed (and stored). */
  | { status: 'refused'; reason: string; tx?: SignedTx };

type Broadcast =
  | { status: 'sent' }
  /** `taken`: the node already counts past this nonce, so something else holds it. */
  | { status: 'doubt'; taken?: boolean }
  | { status: 'rejected'; reason: string };

/** A transport failure that shows the request never left: nothing can have reached the node. */
function neverConnected(err: unknown): boolean {
  const codes = [err, (err as { cause?: unknown })?.cause].map((e) => (e as { code?: unknown })?.code);
  return codes.some((c) => c === 'ECONNREFUSED' || c === 'ENOTFOUND' || c === 'EAI_AGAIN');
}

/** The node answered the request (with a JSON-RPC error), as opposed to a transport failure. */
function nodeAnswered(err: unknown): boolean {
  const e = err as { error?: { code?: unknown }; info?: { error?: { code?: unknown } }; code?: unknown };
  if (typeof e.error?.code === 'number' || typeof e.info?.error?.code === 'number') return true;
  return ['NONCE_EXPIRED', 'REPLACEMENT_UNDERPRICED', 'INSUFFICIENT_FUNDS', 'TRANSACTION_REPLACED', 'CALL_EXCEPTION'].includes(
    String(e.code),
  );
}

export function createGateway(opts: GatewayOptions) {
  const { provider, chainId } = opts;
  const broadcastTimeoutMs = opts.broadcastTimeoutMs ?? 15_000;
  const feeCacheMs = opts.feeCacheMs ?? 2_000;
  const headroom = BigInt(opts.gasHeadroomPercent ?? 20);

  let fees: { at: number; value: Promise<{ maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }> } | undefined;
  function feeData() {
    if (!fees || Date.now() - fees.at > feeCacheMs) {
      const value = provider.getFeeData().then((f) => {
        if (f.maxFeePerGas === null || f.maxPriorityFeePerGas === null) throw new Error('the chain reports no EIP-1559 fees');
        return { maxFeePerGas: f.maxFeePerGas, maxPriorityFeePerGas: f.maxPriorityFeePerGas };
      });
      fees = { at: Date.now(), value };
      // A failed read is not cached.
      value.catch(() => {
        if (fees?.value === value) fees = undefined;
      });
    }
    return fees.value;
  }

  let next: number | undefined;
  let tail: Promise<unknown> = Promise.resolve();
  /** Runs `fn` after every earlier call has finished: the one place nonces are taken. */
  function serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  }

  async function takeNonce(sender: string): Promise<number> {
    if (next === undefined) {
      const [pending, floor] = await Promise.all([provider.getTransactionCount(sender, 'pending'), opts.nonceFloor?.(sender) ?? 0]);
      next = Math.max(pending, floor);
    }
    return next++;
  }

  /** Only ever the nonce just taken: the serial section guarantees nothing later was. */
  function giveBack(nonce: number): void {
    if (next === nonce + 1) next = nonce;
    else next = undefined; // cannot happen; re-read from the node rather than guess
  }

  /** Sends raw bytes and says what became of them, asking the node when the send itself failed. */
  async function broadcast(tx: SignedTx): Promise<Broadcast> {
    try {
      await withTimeout(provider.send('eth_sendRawTransaction', [tx.raw]), broadcastTimeoutMs);
      return { status: 'sent' };
    } catch (err) {
      const unreached = neverConnected(err);
      // A timeout or a cut connection may still deliver it: only the node can say, later.
      if (!unreached && !nodeAnswered(err)) return { status: 'doubt' };
      try {
        // Hardhat answers an error for a transaction it mined and reverted: it is still sent.
        if (await provider.getTransaction(tx.hash)) return { status: 'sent' };
        const expected = await provider.getTransactionCount(tx.sender, 'pending');
        if (expected === tx.nonce)
          return { status: 'rejected', reason: `the chain node refused the transaction: ${describeRpcError(err)}` };
        // Past it: something else sent from the service wallet and holds this nonce (the watcher
        // finds out what became of the authorization). Short of it: an earlier one of ours is
        // missing from the node; this one is re-broadcast after it.
        return { status: 'doubt', taken: expected > tx.nonce };
      } catch {
        return unreached
          ? { status: 'rejected', reason: `the chain node could not be reached: ${describeRpcError(err)}` }
          : { status: 'doubt' };
      }
    }
  }

  async function gasFor(from: string, to: string, data: string): Promise<bigint> {
    if (opts.gasLimit !== undefined) return opts.gasLimit;
    const estimate = await provider.estimateGas({ from, to, data });
    return (estimate * (100n + headroom)) / 100n;
  }

  return {
    /** The service wallet's address (it pays the gas). */
    async address(): Promise<string> {
      return (await opts.wallet).address;
    },

    /**
     * Estimates (a transfer that would revert now is refused without sending anything), then in
     * the serial section: nonce, sign, persist, broadcast.
     */
    async submit(req: SubmitRequest): Promise<SubmitResult> {
      const wallet = await opts.wallet;
      let gasLimit: bigint;
      let fee: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint };
      try {
        [gasLimit, fee] = await Promise.all([gasFor(wallet.address, req.to, req.data), feeData()]);
      } catch (err) {
        const reverted = (opts.revertReason ?? revertMessage)(err);
        if (reverted !== undefined) return { status: 'refused', reason: `the transfer would revert: ${reverted}` };
        return { status: 'refused', reason: `the chain node could not be asked, nothing was sent: ${describeRpcError(err)}` };
      }
      return serial(async () => {
        let tx: SignedTx;
        let nonce: number;
        try {
          nonce = await takeNonce(wallet.address);
        } catch (err) {
          return { status: 'refused', reason: `the chain node could not be asked, nothing was sent: ${describeRpcError(err)}` };
        }
        try {
          const raw = await wallet.signTransaction({ type: 2, chainId, nonce, to: req.to, data: req.data, value: 0n, gasLimit, ...fee });
          tx = { sender: wallet.address, nonce, hash: keccak256(raw), raw };
          await req.persist(tx);
        } catch (err) {
          giveBack(nonce);
          return { status: 'refused', reason: `the transaction could not be stored, nothing was sent: ${(err as Error).message}` };
        }
        const b = await broadcast(tx);
        // Our count fell behind the node's (the key was used elsewhere): count from the node again.
        if (b.status === 'doubt' && b.taken) next = undefined;
        if (b.status !== 'rejected') return { status: b.status, tx };
        try {
          await req.onRejected?.(tx, b.reason);
        } catch (err) {
          opts.logger?.error({ err: (err as Error).message, nonce }, 'could not record a refused SOVR broadcast');
        }
        giveBack(nonce);
        return { status: 'refused', reason: b.reason, tx };
      });
    },

    /** The same bytes again (a dropped transaction); says whether the node has them now. */
    async rebroadcast(tx: SignedTx): Promise<Broadcast> {
      return broadcast(tx);
    },
  };
}
export type Gateway = ReturnType<typeof createGateway>;
