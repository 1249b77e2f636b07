import { createHash } from 'node:crypto';
import { bindingInput, DEFAULT_BIND, type BindPart } from '../../shared/binding.js';

import type { SigningKeys } from '../auth/keys.js';

export interface ReceiptInput {
  paymentId: string;
  audience: string;
  amount: bigint;
  asset: string;
  rail: string;
  resource: { url: string; method: string; bodyHash?: string } | null;
  bind: readonly BindPart[] | null;
}

export const RECEIPT_TYP = 'tollway-receipt+jwt';

/**
 * The receipt a merchant verifies offline: who paid what to whom for which request. `rqh` binds
 * it to the parts of the request the merchant's challenge called significant.
 */
export function createReceiptIssuer(opts: { keys: Pick<SigningKeys, 'sign'>; issuer: string; ttlSeconds: number; now: () => number }) {
  return async function issue(r: ReceiptInput): Promise<string> {
    const claims: Record<string, unknown> = { amt: r.amount.toString(), asset: r.asset, rail: r.rail };
    if (r.resource) {
      claims.res = r.resource.url;
      claims.mth = r.resource.method.toUpperCase();
      claims.rqh = createHash('sha256')
        .update(bindingInput(r.resource, r.bind ?? DEFAULT_BIND))
        .digest('base64url');
    }
    return opts.keys.sign(claims, {
      typ: RECEIPT_TYP,
      now: opts.now(),
      expiresInSeconds: opts.ttlSeconds,
      issuer: opts.issuer,
      audience: r.audience,
      subject: r.paymentId,
    });
  };
}
export type ReceiptIssuer = ReturnType<typeof createReceiptIssuer>;
