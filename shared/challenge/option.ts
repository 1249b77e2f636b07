/**
 * x402 payment options and resources as schemas, without the challenge readers (challenge/x402.ts):
 * what is stored and sent after a challenge was read needs only these.
 */
import { z } from 'zod';
import { PositiveAmountString } from '../amount.js';
import { BIND_PARTS } from '../binding.js';
import { HttpUrl } from '../url.js';

export const X402Resource = z.object({
  url: HttpUrl,
  description: z.string().max(2000).optional(),
  mimeType: z.string().max(200).optional(),
});
export type X402Resource = z.infer<typeof X402Resource>;

/**
 * One payment option (x402 `PaymentRequirements`), normalized to the version 2 shape. Fields we do
 * not know are kept: the proof must echo the option exactly as the server listed it.
 */
export const PaymentOption = z
  .object({
    scheme: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, 'a scheme name'),
    network: z.string().min(1).max(256),
    amount: PositiveAmountString,
    asset: z.string().min(1).max(256),
    payTo: z.string().min(1).max(1024),
    maxTimeoutSeconds: z.number().int().positive().max(31_536_000).optional(),
    extra: z
      .object({ bind: z.array(z.enum(BIND_PARTS)).max(4).optional() })
      .catchall(z.unknown())
      .optional(),
  })
  .catchall(z.unknown());
export type PaymentOption = z.infer<typeof PaymentOption>;
