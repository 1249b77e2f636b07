/**
 * The hub as an x402 facilitator: `supported`, `verify` and `settle` in the exact shapes of the
 * x402 specification v2 §7, over the SOVR rail's facilitator core (which checks authorizations
 * against the chain and submits them with the service wallet).
 */
import { ProblemError } from '../../shared/problem.js';
import type { Logger } from '../logger.js';
import type { SovrFacilitator } from '../rails/sovr/index.js';
import { caip2, chainIdOf, v1NameOf } from './networks.js';
import { readFacilitatorRequest, type FacilitatorKind } from './request.js';

export interface VerifyAnswer {
  isValid: boolean;
  invalidReason?: string;
  invalidMessage?: string;
  payer?: string;
}

export interface SettleAnswer {
  success: boolean;
  errorReason?: string;
  errorMessage?: string;
  payer?: string;
  transaction: string;
  network: string;
}

export interface SupportedAnswer {
  kinds: { x402Version: number; scheme: string; network: string }[];
  extensions: string[];
  signers: Record<string, string[]>;
}

export interface X402Facilitator {
  supported(): Promise<SupportedAnswer>;
  verify(body: unknown): Promise<VerifyAnswer>;
  settle(body: unknown): Promise<SettleAnswer>;
}

/** Messages from the core or the chain may be long; a reason detail needs no more than this. */
const clip = (s: string) => (s.length > 500 ? `${s.slice(0, 497)}...` : s);

export function createX402Facilitator(core: SovrFacilitator, logger: Logger): X402Facilitator {
  const chainId = chainIdOf(core.network);
  if (chainId === undefined) throw new Error(`the SOVR facilitator names network ${core.network}, not eip155:<chainId>`);
  const kind: FacilitatorKind = { network: caip2(chainId), chainId, token: core.token };
  const v1Name = v1NameOf(chainId);

  /** The core's own refusals are answers; only an unexpected throw lands here. */
  function unexpected(op: 'verify' | 'settle', err: unknown): string {
    // A problem the core raised on purpose (the node is unreachable: 503) stays one.
    if (err instanceof ProblemError) throw err;
    logger.error({ err }, `x402 ${op} failed unexpectedly`);
    return `unexpected_${op}_error`;
  }

  return {
    async supported() {
      let signer: string;
      try {
        signer = await core.signerAddress();
      } catch (err) {
        throw new ProblemError('chain-unavailable', `the SOVR service wallet is not ready: ${(err as Error).message}`);
      }
      return {
        kinds: [
          { x402Version: 2, scheme: 'exact', network: kind.network },
          // Version 1 bodies name chains by name; a chain without one cannot be reached with them.
          ...(v1Name ? [{ x402Version: 1, scheme: 'exact', network: v1Name }] : []),
        ],
        extensions: [],
        signers: { 'eip155:*': [signer] },
      };
    },

    async verify(body) {
      const read = readFacilitatorRequest(body, kind);
      if (!read.ok)
        return {
          isValid: false,
          invalidReason: read.reason,
          invalidMessage: clip(read.message),
          ...(read.payer ? { payer: read.payer } : {}),
        };
      try {
        const r = await core.verify(read.payload, read.requirement);
        if (r.isValid) return { isValid: true, payer: r.payer };
        return { isValid: false, invalidReason: r.invalidReason, payer: r.payer ?? read.payer };
      } catch (err) {
        return { isValid: false, invalidReason: unexpected('verify', err), payer: read.payer };
      }
    },

    async settle(body) {
      const read = readFacilitatorRequest(body, kind);
      if (!read.ok) {
        return {
          success: false,
          errorReason: read.reason,
          errorMessage: clip(read.message),
          ...(read.payer ? { payer: read.payer } : {}),
          transaction: '',
          network: read.network,
        };
      }
      try {
        const r = await core.settle(read.payload, read.requirement);
        logger.info(
          { payer: r.payer ?? read.payer, transaction: r.transaction, success: r.success, ...(r.success ? {} : { reason: r.errorReason }) },
          'x402 settle',
        );
        // Answers name the network as the request did (a version 1 name stays one).
        if (r.success) return { success: true, payer: r.payer, transaction: r.transaction, network: read.network };
        return {
          success: false,
          errorReason: r.errorReason,
          payer: r.payer ?? read.payer,
          transaction: r.transaction,
          network: read.network,
        };
      } catch (err) {
        return { success: false, errorReason: unexpected('settle', err), payer: read.payer, transaction: '', network: read.network };
      }
    },
  };
}
