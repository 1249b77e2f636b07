/**
 * The x402 facilitator wire formats (x402 specification v2 §7, and the version 1 bodies the
 * reference packages still send), as zod schemas.
 *
 * Who controls what decides how a failure is answered. The envelope and `paymentRequirements`
 * are built by the resource server: when they do not parse, the request is garbage and the answer
 * is a 400 problem. `paymentPayload` comes from the payer, relayed unchanged by the resource
 * server: when it does not parse, the request is well formed and the payment is not, so the answer
 * is 200 `{isValid: false, invalidReason: "invalid_payload"}` and the resource server asks the
 * payer again instead of failing itself.
 *
 * x402 is extensible: unknown fields inside the bodies are kept and ignored, never refused.
 */
import { z } from 'zod';

const Record_ = z.record(z.string(), z.unknown());
const Text = (max: number) => z.string().min(1).max(max);

/** `POST /verify` and `POST /settle` bodies, both versions. */
export const FacilitatorRequest = z
  .object({
    x402Version: z.number().int().describe('1 or 2; other versions are answered isValid false, invalid_x402_version'),
    paymentPayload: Record_.describe(
      'PaymentPayload as the payer sent it (version 2: {x402Version, resource?, accepted, payload, extensions?})',
    ),
    paymentRequirements: Record_.describe('The PaymentRequirements the resource server chose'),
  })
  .catchall(z.unknown())
  .describe('x402 facilitator request: the same body for verify and settle');
export type FacilitatorRequest = z.infer<typeof FacilitatorRequest>;

/** PaymentRequirements, version 2. */
export const RequirementsV2 = z
  .object({
    scheme: Text(64),
    network: Text(128),
    amount: Text(100),
    asset: Text(256),
    payTo: Text(256),
    maxTimeoutSeconds: z.number().positive().max(31_536_000).optional(),
    extra: Record_.nullish(),
  })
  .catchall(z.unknown());
export type RequirementsV2 = z.infer<typeof RequirementsV2>;

/** PaymentRequirements, version 1: `maxAmountRequired` and the resource on every entry. */
export const RequirementsV1 = z
  .object({
    scheme: Text(64),
    network: Text(128),
    maxAmountRequired: Text(100),
    resource: z.string().max(4096).optional(),
    description: z.string().max(4096).optional(),
    mimeType: z.string().max(256).optional(),
    outputSchema: Record_.nullish(),
    payTo: Text(256),
    maxTimeoutSeconds: z.number().positive().max(31_536_000).optional(),
    asset: Text(256),
    extra: Record_.nullish(),
  })
  .catchall(z.unknown());
export type RequirementsV1 = z.infer<typeof RequirementsV1>;

const EvmAddress = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'an EVM address');
const Uint256 = z.string().regex(/^(0|[1-9][0-9]{0,77})$/, 'a decimal integer string');

/**
 * What the `exact` scheme on EVM needs from the requirements beyond the generic shape: an atomic
 * amount and EVM addresses. The resource server's mistake, so a 400.
 */
export const ExactEvmRequirementFields = z
  .object({
    amount: Uint256,
    asset: EvmAddress,
    payTo: EvmAddress,
  })
  .catchall(z.unknown());

/** PaymentPayload, version 2. */
export const PaymentPayloadV2 = z
  .object({
    x402Version: z.literal(2),
    resource: z
      .object({ url: z.string().max(4096) })
      .catchall(z.unknown())
      .nullish(),
    accepted: RequirementsV2,
    payload: Record_,
    extensions: Record_.nullish(),
  })
  .catchall(z.unknown());

/** PaymentPayload, version 1. */
export const PaymentPayloadV1 = z
  .object({
    x402Version: z.literal(1),
    scheme: Text(64),
    network: Text(128),
    payload: Record_,
  })
  .catchall(z.unknown());

/** The `exact` EVM payload with an EIP-3009 authorization (Permit2 payloads are not settled here). */
export const ExactEvmPayload = z.object({
  signature: z.string().regex(/^0x[0-9a-fA-F]{128,8192}$/, 'a hex signature'),
  authorization: z.object({
    from: EvmAddress,
    to: EvmAddress,
    value: Uint256,
    validAfter: Uint256,
    validBefore: Uint256,
    nonce: z.string().regex(/^0x[0-9a-fA-F]{64}$/, '32 bytes of hex'),
  }),
});
export type ExactEvmPayload = z.infer<typeof ExactEvmPayload>;

// ---------------------------------------------------------------------------------------------
// Answers (for the OpenAPI description; the routes build them by hand)

export const VerifyResponse = z
  .object({
    isValid: z.boolean(),
    invalidReason: z
      .string()
      .optional()
      .describe('x402 reason code, e.g. invalid_exact_evm_payload_signature, insufficient_funds, invalid_network'),
    invalidMessage: z.string().optional().describe('Human-readable detail; never branch on it'),
    payer: z.string().optional(),
  })
  .describe('200 for every well-formed request, valid payment or not');

export const SettleResponse = z
  .object({
    success: z.boolean(),
    errorReason: z.string().optional(),
    errorMessage: z.string().optional(),
    payer: z.string().optional(),
    transaction: z.string().describe('Transaction hash; empty when nothing was sent'),
    network: z.string().describe('The network as the request named it'),
  })
  .describe('200 for every well-formed request; settling the same authorization again answers the first result');

export const SupportedResponse = z.object({
  kinds: z.array(z.object({ x402Version: z.number().int(), scheme: z.string(), network: z.string(), extra: Record_.optional() })),
  extensions: z.array(z.string()),
  signers: z
    .record(z.string(), z.array(z.string()))
    .describe('CAIP-2 pattern → addresses that submit transactions (the hub service wallet)'),
});
