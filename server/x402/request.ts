/**
 * Reads a facilitator request (`POST /verify`, `POST /settle`) into what the SOVR facilitator
 * settles: an EIP-3009 authorization and the `exact` requirement it must meet, on this hub's chain.
 *
 * Garbage from the resource server (the envelope, `paymentRequirements`) throws a 400
 * ProblemError. Anything else that stops the payment — a version, scheme or network this hub
 * does not settle, a payer's payload that does not parse, another token — is an answer, not an
 * error: `{ok: false, reason}` with an x402 reason code, which the route returns with status 200 as
 * the specification and the reference facilitators do.
 */
import { getAddress } from 'ethers';
import type { ExactPayload, ExactRequirement } from '../rails/sovr/index.js';
import { parse } from '../../shared/validate.js';
import { chainOfRequest } from './networks.js';
import {
  ExactEvmPayload,
  ExactEvmRequirementFields,
  FacilitatorRequest,
  PaymentPayloadV1,
  PaymentPayloadV2,
  RequirementsV1,
  RequirementsV2,
} from './schemas.js';
import { isRecord } from '../../shared/json.js';

/** What this hub settles: `exact` on one chain, one token. */
export interface FacilitatorKind {
  /** `eip155:<chainId>` */
  network: string;
  chainId: number;
  /** The SOVR contract. */
  token: string;
}

export type ReadRequest =
  | {
      ok: true;
      version: 1 | 2;
      /** The network as the request named it (a version 1 name or CAIP-2): answers echo it. */
      network: string;
      payload: ExactPayload;
      /** Normalized to version 2: `amount`, CAIP-2 network. */
      requirement: ExactRequirement;
      payer: string;
    }
  | { ok: false; network: string; reason: string; message: string; payer?: string };

/** The payer, read as leniently as possible, so that refusals of a readable payload still name it. */
function payerOf(payload: unknown): string | undefined {
  if (!isRecord(payload) || !isRecord(payload.payload) || !isRecord(payload.payload.authorization)) return undefined;
  const from = payload.payload.authorization.from;
  return typeof from === 'string' && /^0x[0-9a-fA-F]{40}$/.test(from) ? getAddress(from) : undefined;
}

const issues = (e: { issues: { path: PropertyKey[]; message: string }[] }, root: string) =>
  e.issues
    .slice(0, 5)
    .map((i) => `${[root, ...i.path.map(String)].join('.')}: ${i.message}`)
    .join('; ');

export function readFacilitatorRequest(body: unknown, kind: FacilitatorKind): ReadRequest {
  const envelope = parse(FacilitatorRequest, body, 'body');
  const raw = envelope.paymentRequirements;
  const requestedNetwork = typeof raw.network === 'string' ? raw.network.slice(0, 128) : kind.network;
  const payer = payerOf(envelope.paymentPayload);
  const refuse = (reason: string, message: string): ReadRequest => ({
    ok: false,
    network: requestedNetwork,
    reason,
    message,
    ...(payer ? { payer } : {}),
  });

  const version = envelope.x402Version;
  if (version !== 1 && version !== 2) return refuse('invalid_x402_version', `x402Version ${version} is not spoken here (1 and 2 are)`);

  // The resource server's part: a 400 when it does not parse.
  let scheme: string,
    network: string,
    amount: string,
    maxTimeoutSeconds: number | undefined,
    extra: Record<string, unknown> | null | undefined;
  if (version === 2) {
    const r = parse(RequirementsV2, raw, 'body.paymentRequirements');
    ({ scheme, network, amount, maxTimeoutSeconds, extra } = r);
  } else {
    const r = parse(RequirementsV1, raw, 'body.paymentRequirements');
    ({ scheme, network, maxTimeoutSeconds, extra } = r);
    amount = r.maxAmountRequired;
  }
  if (scheme !== 'exact')
    return refuse('invalid_scheme', `scheme ${JSON.stringify(scheme)} is not settled here; this facilitator settles exact`);
  if (chainOfRequest(network, version) !== kind.chainId) {
    return refuse('invalid_network', `network ${JSON.stringify(network)} is not settled here; this facilitator settles ${kind.network}`);
  }
  const fields = parse(ExactEvmRequirementFields, { amount, asset: raw.asset, payTo: raw.payTo }, 'body.paymentRequirements');
  if (getAddress(fields.asset) !== getAddress(kind.token)) {
    return refuse(
      'invalid_payment_requirements',
      `asset ${fields.asset} is not settled here; this facilitator settles SOVR at ${getAddress(kind.token)}`,
    );
  }

  // The payer's part: an answer when it does not parse.
  const p = envelope.paymentPayload;
  if (p.x402Version !== version)
    return refuse('invalid_x402_version', `paymentPayload.x402Version must be ${version}, as the request says`);
  let inner: Record<string, unknown>;
  if (version === 2) {
    const parsed = PaymentPayloadV2.safeParse(p);
    if (!parsed.success) return refuse('invalid_payload', issues(parsed.error, 'paymentPayload'));
    if (parsed.data.accepted.scheme !== scheme)
      return refuse('invalid_exact_evm_scheme', 'paymentPayload.accepted.scheme differs from the requirements');
    if (parsed.data.accepted.network !== network)
      return refuse('invalid_exact_evm_network_mismatch', 'paymentPayload.accepted.network differs from the requirements');
    inner = parsed.data.payload;
  } else {
    const parsed = PaymentPayloadV1.safeParse(p);
    if (!parsed.success) return refuse('invalid_payload', issues(parsed.error, 'paymentPayload'));
    if (parsed.data.scheme !== scheme) return refuse('invalid_exact_evm_scheme', 'paymentPayload.scheme differs from the requirements');
    if (parsed.data.network !== network)
      return refuse('invalid_exact_evm_network_mismatch', 'paymentPayload.network differs from the requirements');
    inner = parsed.data.payload;
  }
  const exact = ExactEvmPayload.safeParse(inner);
  if (!exact.success) {
    return refuse(
      'invalid_payload',
      `${issues(exact.error, 'paymentPayload.payload')} (an EIP-3009 {signature, authorization} is expected; Permit2 is not settled here)`,
    );
  }

  const requirement: ExactRequirement = {
    scheme: 'exact',
    network: kind.network,
    amount: fields.amount,
    asset: fields.asset,
    payTo: fields.payTo,
    ...(maxTimeoutSeconds !== undefined ? { maxTimeoutSeconds } : {}),
    ...(extra ? { extra } : {}),
  };
  return { ok: true, version, network, payload: exact.data, requirement, payer: getAddress(exact.data.authorization.from) };
}
