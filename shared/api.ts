/**
 * The hub's wire contract: every request, response and event, as zod schemas. The hub validates
 * with them, generates its OpenAPI document from them, and clients import the inferred types.
 * Request schemas are strict: unknown fields are refused, not ignored.
 */
import { z } from 'zod';
import { AmountString, PositiveAmountString } from './amount.js';
import { ASSET_NAMES, ASSETS } from './assets.js';
import { PaymentOption } from './challenge/option.js';
import { HttpUrl } from './url.js';
import { TokenAsset } from './wallet-payments.js';

export const Asset = z.enum(ASSET_NAMES as [string, ...string[]]).describe('Asset code');
/** What a payment or a budget is in: a hub asset, or (wallet rail) a token on any EVM network. */
export const PaymentAsset = z.union([Asset, TokenAsset]);
export const Rail = z.enum(['internal', 'sovr', 'lightning', 'ilp', 'wallet']);
export type Rail = z.infer<typeof Rail>;

/** `GET /rails`: what this hub can pay with, and what a wallet needs to sign for the SOVR rail. */
export const RailsInfo = z.object({
  rails: z.array(
    z.discriminatedUnion('name', [
      z.object({ name: z.literal('internal'), assets: z.array(z.string()) }),
      z.object({ name: z.literal('lightning'), assets: z.array(z.string()) }),
      z.object({
        name: z.literal('wallet'),
        assets: z.array(z.string()).describe('Empty: any eip155 ERC-20 with EIP-3009, named by its CAIP-19 id'),
      }),
      z.object({
        name: z.literal('ilp'),
        assets: z.array(z.string()),
        clientWalletAddress: z.string().describe("The hub's own wallet address: the client its grant requests name"),
        keyId: z.string().describe("The key id of the hub's Ed25519 request-signing key"),
        publicKey: z
          .record(z.string(), z.unknown())
          .describe("The public half as a JWK: what the client wallet address's jwks.json must list"),
        consentSeconds: z.number().int().describe("How long the person has to approve on their wallet's page"),
      }),
      z.object({
        name: z.literal('sovr'),
        assets: z.array(z.string()),
        network: z.string().describe('CAIP-2, eip155:<chainId>'),
        chainId: z.number().int(),
        token: z.string().describe('The SOVR contract: the EIP-712 verifyingContract'),
        treasury: z.string().nullable().describe('The `to` of authorizations paying hub merchants; null while the service wallet loads'),
        eip712: z.object({ name: z.string(), version: z.string() }),
        confirmations: z.number().int(),
        minValiditySeconds: z.number().int().describe('validBefore must be at least this far ahead'),
        maxValiditySeconds: z.number().int().describe('… and at most this far'),
      }),
    ]),
  ),
});
export type RailsInfo = z.infer<typeof RailsInfo>;
export const PaymentStatus = z.enum(['pending', 'submitted', 'completed', 'failed', 'refunded']);
export type PaymentStatus = z.infer<typeof PaymentStatus>;
export const FINAL_STATUSES: readonly PaymentStatus[] = ['completed', 'failed', 'refunded'];

const HttpMethod = z.string().regex(/^[A-Za-z]{1,16}$/, 'an HTTP method');

export const PaymentResourceRef = z.strictObject({
  url: HttpUrl,
  method: HttpMethod.default('GET'),
  bodyHash: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'sha256 hex')
    .optional(),
});
export type PaymentResourceRef = z.infer<typeof PaymentResourceRef>;

/**
 * One entry of an x402 `accepts` list, as the person approved it: the very schema the extension
 * reads challenges with, so an option a client accepts is one the hub accepts.
 */
export const PaymentRequirement = PaymentOption;
export type PaymentRequirement = z.infer<typeof PaymentRequirement>;

/** A site as the browser names it: scheme://host[:port], nothing more. */
export const SiteOrigin = z
  .string()
  .max(512)
  .refine((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === s;
    } catch {
      return false;
    }
  }, 'must be an origin like https://shop.example');

export const AllowancePeriod = z.enum(['day', 'week', 'month']);
export type AllowancePeriod = z.infer<typeof AllowancePeriod>;

/**
 * Who an allowance may auto-pay (shared/payee.ts): the hub merchant id for `internal` (and a SOVR
 * `payTo`), the invoice signer's node key for `lightning`. A script on the site cannot spend the
 * allowance on anyone else.
 */
export const AllowancePayee = z
  .string()
  .min(1)
  .max(1024)
  .describe("Who may be auto-paid: internal: merchant id; lightning: invoice signer's node key (hex); sovr and wallet: payTo");

export const PutAllowanceRequest = z.strictObject({
  site: SiteOrigin,
  payee: AllowancePayee,
  asset: PaymentAsset,
  amount: PositiveAmountString.describe('Most that may be auto-paid to this payee from this site per period, base units'),
  period: AllowancePeriod,
});
export const DeleteAllowanceQuery = z.strictObject({
  site: SiteOrigin,
  payee: AllowancePayee.optional().describe('Absent: an allowance from before payees (payee null)'),
  asset: PaymentAsset,
});

export const Allowance = z.object({
  site: z.string(),
  payee: z.string().nullable().describe('null: set before allowances named a payee; pays nothing until set again'),
  asset: PaymentAsset,
  amount: AmountString,
  period: AllowancePeriod,
  spent: AmountString.describe('Auto-paid in the current period'),
  remaining: AmountString,
  periodStart: z.string().describe('ISO 8601, UTC calendar period'),
  resetsAt: z.string(),
});
export const AllowanceList = z.object({ data: z.array(Allowance) });

export const CreatePaymentRequest = z.strictObject({
  rail: Rail,
  payTo: z
    .string()
    .min(1)
    .max(2048)
    .describe(
      'internal: a hub merchant id; lightning: a BOLT 11 invoice naming exactly `amount` msat; ilp: a hub merchant id (paid into its wallet address) or a wallet address URL; wallet: the 0x address the authorization pays',
    ),
  amount: PositiveAmountString,
  asset: PaymentAsset,
  resource: PaymentResourceRef.optional(),
  requirement: PaymentRequirement.optional(),
  authorization: z.record(z.string(), z.unknown()).optional(),
  description: z.string().max(500).optional(),
  /**
   * An auto-payment (no approval window): charged to the person's allowance for this site and this
   * payment's payee, refused with allowance-exceeded when it would go past it (or there is none)
   * and with allowance-payee-mismatch when the site's allowance is for another payee, atomically
   * with other payments.
   */
  allowance: z.strictObject({ site: SiteOrigin }).optional(),
});
export type CreatePaymentRequest = z.infer<typeof CreatePaymentRequest>;

export const Receipt = z.object({
  token: z.string().optional().describe('ES256 JWT, verifiable with /.well-known/jwks.json'),
  transactionHash: z.string().optional(),
  blockExplorerUrl: z.string().optional(),
  preimage: z.string().optional().describe('Lightning: hex; sha256(preimage) is the invoice payment hash (the proof of payment)'),
});

export const Payment = z.object({
  transactionId: z.string(),
  status: PaymentStatus,
  rail: Rail,
  payTo: z.string(),
  amount: AmountString,
  asset: PaymentAsset,
  resource: PaymentResourceRef.nullable(),
  description: z.string().nullable(),
  failureReason: z.string().nullable(),
  refundedAmount: AmountString.optional().describe(
    'How much the merchant has given back (absent: none); all of it makes the status refunded',
  ),
  receipt: Receipt,
  createdAt: z.string().describe('ISO 8601'),
  updatedAt: z.string().describe('ISO 8601'),
  interact: z
    .object({
      redirect: z.string().describe("The person's own wallet's consent page: open it for them to approve or reject"),
      expiresAt: z.string().describe('ISO 8601; past it the payment fails'),
    })
    .optional()
    .describe('ilp rail, in the answer to POST /payments while the payment waits for consent on the wallet'),
});
export type Payment = z.infer<typeof Payment>;

export const PaymentStatusUpdate = Payment.extend({
  previousStatus: PaymentStatus.nullable(),
  seq: z.number().int().positive().describe('Per-user, strictly increasing'),
});
export type PaymentStatusUpdate = z.infer<typeof PaymentStatusUpdate>;

export const PaymentList = z.object({
  data: z.array(Payment),
  nextCursor: z.string().nullable(),
});

export const ListPaymentsQuery = z.strictObject({
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});

export const Balance = z.object({
  asset: Asset,
  posted: AmountString.describe('credits posted − debits posted'),
  pending: AmountString.describe('debits reserved by payments in flight'),
  available: AmountString.describe('posted − pending'),
});
export const AccountsMe = z.object({
  user: z.object({ id: z.string(), address: z.string() }),
  balances: z.array(Balance),
});

export const NonceResponse = z.object({ nonce: z.string() });
export const SiweLoginRequest = z.strictObject({
  message: z.string().min(1).max(4096),
  signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/, '65-byte hex signature'),
});
export const TokenResponse = z.object({
  accessToken: z.string(),
  refreshToken: z.string(),
  expiresIn: z.number().int(),
  tokenType: z.literal('Bearer'),
  user: z.object({ id: z.string(), address: z.string() }),
});
export const RefreshRequest = z.strictObject({ refreshToken: z.string().min(1).max(512) });

export const CreateMerchantRequest = z.strictObject({
  name: z.string().min(1).max(200),
  webhookUrl: HttpUrl.optional(),
  payoutAddress: z
    .string()
    .regex(/^0x[0-9a-fA-F]{40}$/, 'an EVM address')
    .optional(),
  walletAddress: HttpUrl.optional().describe('An Interledger wallet address: the ilp rail pays the merchant there'),
});
export const Merchant = z.object({
  id: z.string(),
  name: z.string(),
  webhookUrl: z.string().nullable(),
  payoutAddress: z.string().nullable(),
  walletAddress: z.string().nullable().optional().describe('Interledger wallet address the ilp rail pays'),
  createdAt: z.string(),
});
export const CreateMerchantResponse = z.object({
  merchant: Merchant,
  apiKey: z.string().describe('Shown once; the hub keeps only its hash'),
  webhookSecret: z.string().describe('whsec_…, Standard Webhooks'),
});

// Webhooks (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature headers)

export const WebhookEventType = z.enum(['payment.completed', 'payment.failed', 'payment.refunded']);
export type WebhookEventType = z.infer<typeof WebhookEventType>;
/** The JSON body the hub POSTs to a merchant's webhook endpoint. */
export const WebhookEvent = z.object({
  type: WebhookEventType,
  timestamp: z.string().describe('ISO 8601, when the event happened'),
  data: Payment,
});
export type WebhookEvent = z.infer<typeof WebhookEvent>;

export const WebhookAttempt = z.object({
  attempt: z.number().int().positive(),
  url: z.string(),
  startedAt: z.string(),
  durationMs: z.number().int(),
  statusCode: z.number().int().nullable().describe('null when no response arrived (refused target, connection error, timeout)'),
  error: z.string().nullable(),
  outcome: z
    .enum(['delivered', 'retrying', 'failed', 'disabled'])
    .describe('disabled: the endpoint answered 410 Gone and was switched off'),
});
export const WebhookDelivery = z.object({
  id: z.string().describe('Also the webhook-id header: the same on every attempt and redelivery'),
  eventType: WebhookEventType,
  paymentId: z.string(),
  state: z.enum(['pending', 'delivered', 'failed']),
  attemptCount: z.number().int(),
  nextAttemptAt: z.string().nullable(),
  lastStatus: z.number().int().nullable(),
  lastError: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  deliveredAt: z.string().nullable(),
  payload: WebhookEvent,
  attempts: z.array(WebhookAttempt).describe('Oldest first'),
});
export const WebhookDeliveryList = z.object({
  data: z.array(WebhookDelivery),
  nextCursor: z.string().nullable(),
});
export const ListWebhookDeliveriesQuery = ListPaymentsQuery;
export const SetWebhookRequest = z.strictObject({
  url: HttpUrl.nullable().describe('null removes the endpoint'),
});
export const WebhookEndpoint = z.object({
  url: z.string().nullable(),
  disabledAt: z.string().nullable().describe('Set when the endpoint answered 410 Gone; PUT a URL to re-enable'),
  disabledReason: z.string().nullable(),
});

export const RefundRequest = z.strictObject({
  amount: PositiveAmountString.optional().describe('Base units; omitted means all that is left to refund'),
  reason: z.string().max(500).optional(),
});
export type RefundRequest = z.infer<typeof RefundRequest>;

/**
 * Most one dev faucet call hands out, in whole units of the asset (a million SOVR, a million BTC).
 * Test money needs no more, and a cap this far below 2^256-1 keeps the faucet account's debits
 * from ever reaching the ledger's limit, which would refuse the faucet to everyone after.
 */
export const FAUCET_MAX_WHOLE_UNITS = 1_000_000n;
export const faucetMaxAmount = (asset: string): bigint =>
  FAUCET_MAX_WHOLE_UNITS * 10n ** BigInt((ASSETS as Record<string, { decimals: number } | undefined>)[asset]?.decimals ?? 0);

export const FaucetRequest = z
  .strictObject({
    asset: Asset,
    amount: PositiveAmountString.describe(`Base units; at most ${FAUCET_MAX_WHOLE_UNITS} whole units per call`),
  })
  // Safe on anything: the amount may have failed its own checks already.
  .refine((b) => !/^[0-9]{1,78}$/.test(b.amount) || BigInt(b.amount) <= faucetMaxAmount(b.asset), {
    path: ['amount'],
    message: `must be at most ${FAUCET_MAX_WHOLE_UNITS} whole units of the asset per faucet call`,
  });

export const ProblemDetails = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string().optional(),
  instance: z.string().optional(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});

/** Idempotency-Key: 1–255 visible characters, bare (Stripe) or as an RFC 8941 quoted string. */
export function parseIdempotencyKey(header: string | undefined): string | undefined | null {
  if (header === undefined) return undefined;
  let v = header.trim();
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
  if (v.length < 1 || v.length > 255 || !/^[\x20-\x7e]+$/.test(v) || v.includes('"')) return null;
  return v;
}
