/** The Tollway merchant kit: the Express paywall, receipt verification and price discovery. */
export {
  paywall,
  PAYWALL_INFO,
  type Paywall,
  type PaywallInfo,
  type PaywallOptions,
  type PaidRequest,
  type PaidExactRequest,
  type Reuse,
} from './middleware.js';
export {
  facilitatorClient,
  FacilitatorUnavailableError,
  type Facilitator,
  type FacilitatorClientOptions,
  type SettleAnswer,
  type SupportedAnswer,
  type VerifyAnswer,
} from './facilitator.js';
export {
  describeRoutes,
  openApiPaths,
  priceList,
  type L402PaidRoute,
  type OfferPaidRoute,
  type PaidRoute,
  type PaymentPaidRoute,
  type PriceList,
  type RouteSource,
  type X402PaidRoute,
} from './discovery.js';
export {
  verifyReceipt,
  PAYWALL_REASONS,
  RECEIPT_TYP,
  type PaywallReason,
  type ReceiptCheck,
  type ReceiptClaims,
  type ReceiptExpectations,
} from './receipt.js';
export { createJwksCache, hubJwks, JwksUnavailableError, type JwksCache, type JwksCacheOptions, type KeySource } from './jwks.js';
export { memoryReceiptStore, defaultReceiptStore, type MemoryReceiptStore, type ReceiptStore } from './store.js';
export { keepRawBody, rawBody, BodyTooLargeError, BodyUnavailableError } from './body.js';
export {
  challengeDocument,
  challengePage,
  displayPrice,
  hubNetwork,
  paymentOptions,
  type ChallengeSpec,
  type ExactChainConfig,
} from './challenge.js';
export { readPaymentDocument, readProof, type Proof } from './proof.js';
export {
  l402,
  l402Core,
  l402ClientKey,
  l402RateLimiter,
  L402_INFO,
  memoryRootKeyStore,
  parseL402Authorization,
  DEFAULT_L402_RATE_LIMIT,
  type L402Adapter,
  type L402Core,
  type L402CoreOptions,
  type L402Info,
  type L402Invoices,
  type L402Node,
  type L402Options,
  type L402Paid,
  type L402RateDecision,
  type L402RateLimiter,
  type L402RateLimitOptions,
  type RootKeyStore,
} from './l402.js';
export {
  lndInvoices,
  LndRequestError,
  type IssuedInvoice,
  type InvoiceState,
  type InvoiceStatus,
  type LndInvoices,
  type LndInvoicesOptions,
} from './lnd.js';
/** The merchant's Lightning node: the interface and its adapters (lightning/). */
export {
  createLndNode,
  createNode,
  LightningNodeError,
  NODE_KINDS,
  type LightningNode,
  type LndNodeOptions,
  type NodeKind,
} from '@tollway/lightning';
/** The paywall's framework-neutral core, for adapters to other frameworks (Express: paywall(); Hono: merchant/hono.ts). */
export {
  paywallCore,
  prefersHtml,
  LIST_HEADERS,
  type PaywallCore,
  type PaywallCoreOptions,
  type PaywallRequest,
  type PaywallChallenge,
  type PaywallPaid,
  type PaywallDeliver,
  type PaywallHeaders,
} from './paywall-core.js';
/** The "Payment" HTTP authentication scheme (Lightning charge), and one 402 offering several schemes. */
export {
  paymentScheme,
  paymentSchemeCore,
  PAYMENT_SCHEME_INFO,
  type PaymentSchemeCore,
  type PaymentSchemeCoreOptions,
  type PaymentSchemeInfo,
  type PaymentSchemeOptions,
  type PaymentSchemePaid,
  type PaymentProblemCode,
} from './payment-scheme.js';
export {
  offer,
  offerCore,
  OFFER_DIALECTS,
  OFFER_INFO,
  type OfferCore,
  type OfferDialect,
  type OfferInfo,
  type OfferOptions,
} from './offer.js';
/** What every core takes from a framework adapter and gives back (for adapters to other frameworks). */
export {
  coreBody,
  coreOf,
  KIT_CORE,
  problemAnswer,
  type Core,
  type CoreChallenge,
  type CoreHeaders,
  type CorePaid,
  type CoreRequest,
} from './core-contract.js';
/** Prepaid tokens that buy time on renewable slots (merchant/slots/, docs/slots.md). */
export * from './slots/index.js';
