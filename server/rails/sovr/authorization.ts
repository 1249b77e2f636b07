/**
 * The EIP-3009 TransferWithAuthorization a person sends with a SOVR payment: its wire shape
 * (strict zod), and the checks that need no chain: the EIP-712 signature recovers `from`, it pays
 * the hub's treasury exactly the payment's amount, from the signed-in person's wallet, inside a
 * time window the hub can still get it mined in. The chain checks (nonce unused, balance) are the
 * rail's.
 */
import { getAddress, isAddress, Signature, TypedDataEncoder, recoverAddress } from 'ethers';
import { z } from 'zod';
import { TRANSFER_WITH_AUTHORIZATION_TYPES, sovrDomain } from '../../../contracts/eip712.js';
import { AmountString } from '../../../shared/amount.js';
import { ProblemError } from '../../../shared/problem.js';

/** secp256k1n / 2: SOVR, like every EIP-2 verifier, refuses signatures with a larger s. */
const HALF_CURVE_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

const Address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 20-byte hex address')
  .refine((s) => !/^0x[0-9a-fA-F]{40}$/.test(s) || isAddress(s), 'has a wrong EIP-55 checksum');
const Uint256 = AmountString.describe('uint256 as a decimal string');

export const SovrAuthorization = z.strictObject({
  from: Address,
  to: Address,
  value: Uint256,
  validAfter: Uint256.describe('unix seconds; the contract needs block.timestamp > validAfter'),
  validBefore: Uint256.describe('unix seconds; the contract needs block.timestamp < validBefore'),
  nonce: z.string().regex(/^0x[0-9a-fA-F]{64}$/, 'must be 0x-prefixed 32 bytes of hex'),
  signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/, 'must be a 0x-prefixed 65-byte signature (r, s, v)'),
});

/** A parsed authorization: checksummed addresses, bigint numbers, lower-case hex. */
export interface Authorization {
  from: string;
  to: string;
  value: bigint;
  validAfter: bigint;
  validBefore: bigint;
  nonce: string;
  signature: string;
}

/** Why an authorization is refused, as the `reason` member of the problem (for clients and tests). */
export type AuthorizationFault =
  | 'missing'
  | 'malformed'
  | 'signature'
  | 'payer'
  | 'recipient'
  | 'value'
  | 'not-yet-valid'
  | 'expires-too-soon'
  | 'valid-too-long'
  | 'used'
  | 'in-use';

export const refuse = (reason: AuthorizationFault, detail: string, extra: Record<string, unknown> = {}) =>
  new ProblemError('invalid-authorization', detail, { reason, ...extra });

export function parseAuthorization(raw: unknown): Authorization {
  if (raw === undefined) {
    throw refuse('missing', 'a SOVR payment needs `authorization`: an EIP-3009 TransferWithAuthorization signed by your wallet');
  }
  const r = SovrAuthorization.safeParse(raw);
  if (!r.success) {
    const errors = r.error.issues.map((i) => ({ path: ['authorization', ...i.path].join('.'), message: i.message }));
    throw refuse('malformed', 'the authorization is not well formed', { errors });
  }
  const a = r.data;
  return {
    from: getAddress(a.from),
    to: getAddress(a.to),
    value: BigInt(a.value),
    validAfter: BigInt(a.validAfter),
    validBefore: BigInt(a.validBefore),
    nonce: a.nonce.toLowerCase(),
    signature: a.signature.toLowerCase(),
  };
}

/**
 * The address whose key signed `a` under SOVR's EIP-712 domain on this chain, or null for a
 * signature the contract would refuse anyway (high s, a recovery id other than 0/1/27/28).
 */
export function recoverAuthorizer(a: Authorization, chainId: number, token: string): string | null {
  const bytes = Buffer.from(a.signature.slice(2), 'hex');
  const v = bytes[64]!;
  if (![0, 1, 27, 28].includes(v)) return null;
  const s = BigInt(`0x${bytes.subarray(32, 64).toString('hex')}`);
  if (s > HALF_CURVE_ORDER) return null;
  try {
    const digest = TypedDataEncoder.hash(sovrDomain(chainId, token), TRANSFER_WITH_AUTHORIZATION_TYPES, {
      from: a.from,
      to: a.to,
      value: a.value,
      validAfter: a.validAfter,
      validBefore: a.validBefore,
      nonce: a.nonce,
    });
    const sig = Signature.from({
      r: `0x${bytes.subarray(0, 32).toString('hex')}`,
      s: `0x${bytes.subarray(32, 64).toString('hex')}`,
      v: v < 27 ? v + 27 : v,
    });
    return getAddress(recoverAddress(digest, sig));
  } catch {
    return null;
  }
}

export interface AuthorizationPolicy {
  chainId: number;
  /** The SOVR contract (EIP-712 verifyingContract). */
  token: string;
  /** Where the money must go: the hub's treasury, or a plain x402 merchant's payTo. */
  treasury: string;
  /** How refusals name that address; "the hub's treasury" when unset. */
  payeeLabel?: string;
  /** The signed-in person's wallet (their SIWE address), when known. */
  payer?: string;
  /** The payment's amount. */
  amount: bigint;
  /** Unix seconds. */
  now: number;
  /** validBefore must leave at least this many seconds to get the transaction mined. */
  minValiditySeconds: number;
  /** … and at most this many: a reservation lasts until the authorization is dead. */
  maxValiditySeconds: number;
}

/** Every check that needs no chain; throws `invalid-authorization` naming the first that fails. */
export function checkAuthorization(a: Authorization, p: AuthorizationPolicy): void {
  const signer = recoverAuthorizer(a, p.chainId, p.token);
  if (signer !== a.from) {
    throw refuse(
      'signature',
      `the signature does not recover \`from\` under SOVR's EIP-712 domain (chain ${p.chainId}, contract ${p.token})`,
    );
  }
  if (p.payer !== undefined && getAddress(p.payer) !== a.from) {
    throw refuse('payer', `\`from\` must be your signed-in wallet ${getAddress(p.payer)}`);
  }
  if (a.to !== getAddress(p.treasury))
    throw refuse('recipient', `\`to\` must be ${p.payeeLabel ?? "the hub's treasury"} ${getAddress(p.treasury)}`);
  if (a.value !== p.amount) throw refuse('value', `\`value\` (${a.value}) must equal the payment's amount (${p.amount})`);
  const now = BigInt(p.now);
  // The contract wants block.timestamp > validAfter; a block mined now may carry this second.
  if (a.validAfter >= now) throw refuse('not-yet-valid', `the authorization is valid only after ${a.validAfter}; it is ${now} now`);
  if (a.validBefore < now + BigInt(p.minValiditySeconds)) {
    throw refuse(
      'expires-too-soon',
      `validBefore must be at least ${p.minValiditySeconds} s from now (${now}), so that the transfer can be mined in time`,
    );
  }
  if (a.validBefore > now + BigInt(p.maxValiditySeconds)) {
    throw refuse('valid-too-long', `validBefore may be at most ${p.maxValiditySeconds} s from now (${now})`);
  }
}
