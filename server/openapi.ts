import { z } from 'zod';
import * as api from '../shared/api.js';
import * as deposits from '../shared/deposits.js';
import * as ilp from '../shared/ilp.js';
import * as topups from '../shared/topups.js';
import * as walletPayments from '../shared/wallet-payments.js';
import * as challengeInvoices from '../shared/challenge-invoices.js';
import * as x402 from './x402/schemas.js';

const json = (s: z.ZodType, io: 'input' | 'output') => z.toJSONSchema(s, { io, unrepresentable: 'any', target: 'openapi-3.0' });
const problem = {
  description: 'Problem details (RFC 9457)',
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/ProblemDetails' } } },
};
const ok = (name: string, description = 'OK') => ({
  description,
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${name}` } } },
});
const body = (name: string) => ({ required: true, content: { 'application/json': { schema: { $ref: `#/components/schemas/${name}` } } } });
const errors = { 400: problem, 401: problem, 404: problem };
const bearer = [{ bearer: [] }];
const x402Errors = { 400: problem, 404: problem, 415: problem, 503: problem };
const x402Description =
  'The x402 specification v2 §7 body {x402Version, paymentPayload, paymentRequirements} (version 1 bodies too). Open ' +
  'to anyone, like the reference facilitators. Every well-formed request answers 200, the payment valid or not ' +
  '(invalidReason / errorReason are x402 codes); a body that is not one (the envelope or paymentRequirements) is a ' +
  '400 problem; 404 when the SOVR rail is off.';

/** The API described from the same zod schemas the hub validates with. */
export function buildOpenApi(serverUrl: string, dev: boolean) {
  const schemas: Record<string, unknown> = {
    CreatePaymentRequest: json(api.CreatePaymentRequest, 'input'),
    Payment: json(api.Payment, 'output'),
    PaymentList: json(api.PaymentList, 'output'),
    PaymentStatusUpdate: json(api.PaymentStatusUpdate, 'output'),
    AccountsMe: json(api.AccountsMe, 'output'),
    RailsInfo: json(api.RailsInfo, 'output'),
    CreateDepositRequest: json(deposits.CreateDepositRequest, 'input'),
    Deposit: json(deposits.Deposit, 'output'),
    CreateTopupRequest: json(topups.CreateTopupRequest, 'input'),
    Topup: json(topups.Topup, 'output'),
    TopupStatusUpdate: json(topups.TopupStatusUpdate, 'output'),
    LinkIlpWalletRequest: json(ilp.LinkIlpWalletRequest, 'input'),
    IlpWallet: json(ilp.IlpWallet, 'output'),
    IlpGrantList: json(ilp.IlpGrantList, 'output'),
    IlpPaymentState: json(ilp.IlpPaymentState, 'output'),
    IlpPaymentOptions: json(ilp.IlpPaymentOptions, 'input'),
    CreateChallengeInvoiceRequest: json(challengeInvoices.CreateChallengeInvoiceRequest, 'input'),
    ChallengeInvoice: json(challengeInvoices.ChallengeInvoice, 'output'),
    ChallengeReceipt: json(challengeInvoices.ChallengeReceipt, 'output'),
    NonceResponse: json(api.NonceResponse, 'output'),
    SiweLoginRequest: json(api.SiweLoginRequest, 'input'),
    RefreshRequest: json(api.RefreshRequest, 'input'),
    TokenResponse: json(api.TokenResponse, 'output'),
    CreateMerchantRequest: json(api.CreateMerchantRequest, 'input'),
    CreateMerchantResponse: json(api.CreateMerchantResponse, 'output'),
    FaucetRequest: json(api.FaucetRequest, 'input'),
    RefundRequest: json(api.RefundRequest, 'input'),
    SettlementReport: json(walletPayments.SettlementReport, 'input'),
    WalletAuthorization: json(walletPayments.WalletAuthorization, 'input'),
    PutAllowanceRequest: json(api.PutAllowanceRequest, 'input'),
    Allowance: json(api.Allowance, 'output'),
    AllowanceList: json(api.AllowanceList, 'output'),
    WebhookEvent: json(api.WebhookEvent, 'output'),
    WebhookDelivery: json(api.WebhookDelivery, 'output'),
    WebhookDeliveryList: json(api.WebhookDeliveryList, 'output'),
    SetWebhookRequest: json(api.SetWebhookRequest, 'input'),
    WebhookEndpoint: json(api.WebhookEndpoint, 'output'),
    ProblemDetails: json(api.ProblemDetails, 'output'),
    X402FacilitatorRequest: json(x402.FacilitatorRequest, 'input'),
    X402VerifyResponse: json(x402.VerifyResponse, 'output'),
    X402SettleResponse: json(x402.SettleResponse, 'output'),
    X402SupportedResponse: json(x402.SupportedResponse, 'output'),
  };
  const listParams = [
    { name: 'cursor', in: 'query', schema: { type: 'string' } },
    { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 50 } },
  ];
  const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
  const deliveryIdParam = { name: 'deliveryId', in: 'path', required: true, schema: { type: 'string' } };
  const paths: Record<string, unknown> = {
    '/healthz': { get: { summary: 'Liveness', responses: { 200: { description: 'alive' } } } },
    '/readyz': {
      get: { summary: 'Readiness: database reachable, migrations applied', responses: { 200: { description: 'ready' }, 503: problem } },
    },
    '/metrics': { get: { summary: 'Prometheus metrics', responses: { 200: { description: 'text exposition format' } } } },
    '/.well-known/jwks.json': { get: { summary: 'Public keys that verify receipts', responses: { 200: { description: 'JWK set' } } } },
    '/deposits': {
      post: {
        summary:
          'Move SOVR from your wallet into your hub balance: an EIP-3009 authorization to the treasury, credited once after the confirmations',
        description:
          'Needs an Idempotency-Key, like POST /payments. Each later change of its status reaches your sockets as ' +
          'depositStatusUpdate. 400 unsupported-rail when the SOVR rail is off.',
        security: bearer,
        requestBody: body('CreateDepositRequest'),
        responses: { 200: ok('Deposit'), ...errors },
      },
    },
    '/deposits/{id}': {
      get: {
        summary: 'One of your deposits',
        security: bearer,
        parameters: [idParam],
        responses: { 200: ok('Deposit'), 401: problem, 404: problem },
      },
    },
    '/topups': {
      post: {
        summary: "Add BTC to your hub balance: an invoice from the hub's Lightning node, credited once when it is paid",
        description:
          'Needs an Idempotency-Key, like POST /payments: a repeat replays the same invoice. Whoever pays the invoice, ' +
          'your balance is credited with what was paid, once per payment hash, and your sockets hear ' +
          'topupStatusUpdate; an invoice not paid by expiresAt turns expired. 400 unsupported-rail when the Lightning ' +
          'rail is off; 503 lightning-unavailable when the node cannot issue an invoice.',
        security: bearer,
        parameters: [{ name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string', minLength: 1, maxLength: 257 } }],
        requestBody: body('CreateTopupRequest'),
        responses: { 200: ok('Topup', 'the top-up, open, with its invoice'), 409: problem, 422: problem, 503: problem, ...errors },
      },
    },
    '/topups/{id}': {
      get: {
        summary: 'One of your top-ups (open, credited or expired)',
        security: bearer,
        parameters: [idParam],
        responses: { 200: ok('Topup'), 401: problem, 404: problem },
      },
    },
    '/ilp/wallet': {
      get: {
        summary: 'Your linked Interledger wallet address',
        security: bearer,
        responses: { 200: ok('IlpWallet'), ...errors },
      },
      put: {
        summary: 'Link your Interledger (Open Payments) wallet address: the ilp rail pays from it, with your consent on its page',
        description:
          'The hub fetches the wallet address and links it only if it can pay from it: 422 ilp-wallet-unusable (an asset the hub ' +
          'does not keep, a scale finer than its base unit, no usable auth server, not a wallet address). Replaces any linked before. ' +
          '400 unsupported-rail when the ilp rail is off.',
        security: bearer,
        requestBody: body('LinkIlpWalletRequest'),
        responses: { 200: ok('IlpWallet'), 422: problem, ...errors },
      },
      delete: {
        summary: 'Unlink your Interledger wallet address',
        security: bearer,
        responses: { 204: { description: 'unlinked' }, ...errors },
      },
    },
    '/ilp/finish': {
      get: {
        summary: "Where the person's Interledger wallet sends them back after its consent page (the grant's finish URI)",
        description:
          'The hash is checked before anything else (standard base64, padded or not, or base64url); then the consent is claimed once ' +
          '(a replayed interact_ref changes nothing), the grant continued, and the outgoing payment created and followed. ' +
          'Answers a page saying what happened and that the tab may close; result=grant_rejected fails the payment. A redirect ' +
          'that matches no consent in progress is a 400 ilp-finish-refused problem.',
        parameters: [
          { name: 'ref', in: 'query', required: true, schema: { type: 'string' } },
          { name: 'hash', in: 'query', schema: { type: 'string' } },
          { name: 'interact_ref', in: 'query', schema: { type: 'string' } },
          { name: 'result', in: 'query', schema: { type: 'string' } },
        ],
        responses: { 200: { description: 'text/html: the outcome, for the person' }, 400: problem },
      },
    },
    '/ilp/grants': {
      get: {
        summary: 'Your Interledger budget grants (approved once, paying later payments without consent) with what is left now',
        security: bearer,
        responses: { 200: ok('IlpGrantList'), ...errors },
      },
    },
    '/ilp/grants/{id}': {
      delete: {
        summary: "Revoke a budget grant: deleted at the wallet's auth server, and never used again",
        security: bearer,
        parameters: [idParam],
        responses: { 204: { description: 'revoked' }, ...errors },
      },
    },
    '/ilp/payments/{id}': {
      get: {
        summary: 'Where one of your ilp payments stands at the wallet (its consent URL while it waits for you)',
        security: bearer,
        parameters: [idParam],
        responses: { 200: ok('IlpPaymentState'), ...errors },
      },
    },
    '/merchants/{id}/invoices': {
      post: {
        summary: "An invoice of the hub's Lightning node for one of the merchant's 402 challenges (paywall({lightning: true}))",
        description:
          'With the merchant API key. One invoice per (merchant, challengeId): a repeat answers the same one. Whoever pays it ' +
          '(any Lightning wallet, or a hub balance through POST /payments, settled inside the ledger), the merchant is credited ' +
          'once and the standard receipt for the challenge is issued (GET /challenges/{challengeId}).',
        security: bearer,
        parameters: [idParam],
        requestBody: body('CreateChallengeInvoiceRequest'),
        responses: { 200: ok('ChallengeInvoice'), 503: problem, ...errors },
      },
    },
    '/lightning/lnbits-webhook': {
      post: {
        summary: "Where the hub's LNbits wallet tells of a paid invoice (unsigned: only a hint the hub checks with LNbits)",
        description:
          'Unauthenticated, because LNbits does not sign its webhooks. Only `payment_hash` is read; the hub asks its own ' +
          'LNbits wallet about that payment and credits what LNbits says, once per payment hash (a top-up, or a ' +
          "merchant's challenge invoice). A forged or replayed body changes nothing, and every well-formed body gets " +
          'the same answer. The body is the LNbits Payment or, since LNbits 1.1, a JSON string of it. 404 when the ' +
          "hub's node is not LNbits; 429 with Retry-After past a light overall limit; 503 when LNbits cannot be asked.",
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                oneOf: [
                  {
                    type: 'object',
                    required: ['payment_hash'],
                    properties: { payment_hash: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' } },
                  },
                  { type: 'string', description: 'the same object as JSON text (LNbits 1.1 on)' },
                ],
              },
            },
          },
        },
        responses: {
          200: {
            description: 'noted; whatever LNbits says about the payment has been applied',
            content: { 'application/json': { schema: { type: 'object', properties: { received: { const: true } } } } },
          },
          429: problem,
          503: problem,
          ...errors,
        },
      },
    },
    '/challenges/{challengeId}': {
      get: {
        summary: 'Whether a challenge with a Lightning invoice was paid, and then its receipt (for the page holding the challenge)',
        parameters: [
          { name: 'challengeId', in: 'path', required: true, schema: { type: 'string' } },
          { name: 'merchant', in: 'query', required: true, schema: { type: 'string' }, description: "the challenge's payTo" },
        ],
        responses: { 200: ok('ChallengeReceipt'), ...errors },
      },
    },
    '/rails': {
      get: { summary: 'The rails this hub pays with, and what a wallet signs for the SOVR rail', responses: { 200: ok('RailsInfo') } },
    },
    '/auth/nonce': {
      get: {
        summary: 'One-time SIWE nonce (5 minutes); 429 with Retry-After while the caller holds too many unused ones',
        responses: { 200: ok('NonceResponse'), 429: problem },
      },
    },
    '/auth/siwe': {
      post: {
        summary: 'Sign in with Ethereum (EIP-4361)',
        requestBody: body('SiweLoginRequest'),
        responses: { 200: ok('TokenResponse'), ...errors },
      },
    },
    '/auth/refresh': {
      post: {
        summary: 'Rotate the refresh token; reusing a rotated one revokes its family',
        requestBody: body('RefreshRequest'),
        responses: { 200: ok('TokenResponse'), ...errors },
      },
    },
    '/auth/logout': {
      post: {
        summary: 'Revoke the refresh token family',
        requestBody: body('RefreshRequest'),
        responses: { 204: { description: 'revoked' }, 400: problem },
      },
    },
    '/accounts/me': { get: { summary: 'Balances per asset', security: bearer, responses: { 200: ok('AccountsMe'), 401: problem } } },
    '/payments': {
      post: {
        summary: 'Pay',
        description:
          'Needs an Idempotency-Key (1–255 characters, bare or RFC 8941 quoted), scoped to the caller and kept for at ' +
          'least 24 hours. A repeat with the same body replays the stored answer with Idempotent-Replayed: true; a ' +
          'different body is 422; a repeat while the first is still running is 409 and stores nothing. Insufficient ' +
          'funds is 400 insufficient-funds and stores nothing.',
        security: bearer,
        parameters: [{ name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string', minLength: 1, maxLength: 257 } }],
        requestBody: body('CreatePaymentRequest'),
        responses: {
          200: ok('Payment', 'the payment (status pending, submitted, completed or failed)'),
          409: problem,
          422: problem,
          ...errors,
        },
      },
      get: {
        summary: 'Your payments, newest first',
        security: bearer,
        parameters: listParams,
        responses: { 200: ok('PaymentList'), ...errors },
      },
    },
    '/payments/{id}': {
      get: {
        summary: 'One of your payments',
        security: bearer,
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { 200: ok('Payment'), ...errors },
      },
    },
    '/allowances': {
      get: {
        summary: 'Your allowances (per site and payee) with what is left this period',
        security: bearer,
        responses: { 200: ok('AllowanceList'), ...errors },
      },
      put: {
        summary:
          'Set an allowance: how much a site may auto-pay to one payee per day, week or month (UTC); auto-payments to any other payee are refused',
        security: bearer,
        requestBody: body('PutAllowanceRequest'),
        responses: { 200: ok('Allowance'), ...errors },
      },
      delete: {
        summary: 'Remove an allowance',
        security: bearer,
        parameters: [
          { name: 'site', in: 'query', required: true, schema: { type: 'string' } },
          {
            name: 'payee',
            in: 'query',
            required: false,
            schema: { type: 'string' },
            description: 'Absent: the allowance kept from before allowances named a payee',
          },
          { name: 'asset', in: 'query', required: true, schema: { type: 'string' } },
        ],
        responses: { 204: { description: 'removed' }, ...errors },
      },
    },
    '/payments/{id}/settlement': {
      post: {
        summary: 'Report how one of your wallet-settled payments ended (wallet rail): the settlement transaction, or a failure',
        description:
          "For payments on the wallet rail only: the person's own wallet signed the EIP-3009 authorization (the " +
          "`authorization` of POST /payments, shaped as WalletAuthorization) and a merchant's facilitator settled it. " +
          'The hub moves no money and issues no receipt; it records the transaction hash from PAYMENT-RESPONSE. ' +
          'The same report again answers the payment as it is; a report contradicting the recorded outcome is 409 settlement-conflict.',
        security: bearer,
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        requestBody: body('SettlementReport'),
        responses: { 200: ok('Payment'), 409: problem, ...errors },
      },
    },
    '/payments/{id}/refund': {
      post: {
        summary: 'Refund all or part of a completed payment (merchant API key)',
        description:
          'Needs an Idempotency-Key, scoped to the merchant. Partial refunds leave the payment completed with refundedAmount; refunding all of it makes it refunded. Emits payment.refunded.',
        security: bearer,
        parameters: [
          { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
          { name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string', minLength: 1, maxLength: 257 } },
        ],
        requestBody: body('RefundRequest'),
        responses: { 200: ok('Payment'), 409: problem, 422: problem, ...errors },
      },
    },
    '/merchants': {
      post: {
        summary: 'Register a merchant (admin token)',
        security: bearer,
        requestBody: body('CreateMerchantRequest'),
        responses: { 201: ok('CreateMerchantResponse'), 403: problem, ...errors },
      },
    },
    '/merchants/{id}/payments': {
      get: {
        summary: 'What a merchant was paid (merchant API key)',
        security: bearer,
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }, ...listParams],
        responses: { 200: ok('PaymentList'), 403: problem, ...errors },
      },
    },
    '/merchants/{id}/webhook': {
      get: {
        summary: "The merchant's webhook endpoint and whether it is disabled (merchant API key)",
        security: bearer,
        parameters: [idParam],
        responses: { 200: ok('WebhookEndpoint'), 403: problem, ...errors },
      },
      put: {
        summary: 'Set, change or remove (null) the webhook endpoint; also re-enables a disabled one (merchant API key)',
        description:
          'Unless the hub allows private targets (TOLLWAY_WEBHOOK_ALLOW_PRIVATE), a URL naming localhost or a private, ' +
          'loopback, link-local, multicast or reserved IP address is refused (400); host names are checked at every ' +
          'delivery. Deliveries stopped by a 410 stay failed: redeliver the ones you want.',
        security: bearer,
        parameters: [idParam],
        requestBody: body('SetWebhookRequest'),
        responses: { 200: ok('WebhookEndpoint'), 403: problem, ...errors },
      },
    },
    '/merchants/{id}/webhook-deliveries': {
      get: {
        summary: 'Webhook delivery log, newest first, each delivery with its attempts (merchant API key)',
        description:
          'Events payment.completed, payment.failed and payment.refunded are POSTed as WebhookEvent with Standard Webhooks ' +
          'headers (webhook-id = the delivery id, webhook-timestamp, webhook-signature: v1,<HMAC-SHA256> keyed with the ' +
          'whsec_ secret). Only 2xx is success. Failed attempts are retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, ' +
          '20 h and 24 h (with jitter; a later retry-after on 429 or 503 is honoured), then the delivery fails. 410 Gone ' +
          'disables the endpoint and stops its pending deliveries.',
        security: bearer,
        parameters: [idParam, ...listParams],
        responses: { 200: ok('WebhookDeliveryList'), 403: problem, ...errors },
      },
    },
    '/merchants/{id}/webhook-deliveries/{deliveryId}': {
      get: {
        summary: 'One webhook delivery with its attempts (merchant API key)',
        security: bearer,
        parameters: [idParam, deliveryIdParam],
        responses: { 200: ok('WebhookDelivery'), 403: problem, ...errors },
      },
    },
    '/merchants/{id}/webhook-deliveries/{deliveryId}/redeliver': {
      post: {
        summary: 'Send a delivery again now, same webhook-id and body (merchant API key)',
        description:
          'A pending delivery is attempted now and keeps the rest of its retry schedule; a delivered or failed one gets one ' +
          'attempt, without automatic retries. Refused (400) while the endpoint is disabled: PUT /merchants/{id}/webhook first.',
        security: bearer,
        parameters: [idParam, deliveryIdParam],
        responses: { 202: ok('WebhookDelivery', 'scheduled'), 403: problem, ...errors },
      },
    },
    '/x402/supported': {
      get: {
        summary: 'x402 facilitator: what this hub settles (exact on its SOVR chain) and the address that submits',
        description: 'Open to anyone, like the reference facilitators. 404 when the SOVR rail is off.',
        responses: { 200: ok('X402SupportedResponse'), 404: problem, 503: problem },
      },
    },
    '/x402/verify': {
      post: {
        summary: 'x402 facilitator: check an exact (EIP-3009) SOVR payment without settling it',
        description: x402Description,
        requestBody: body('X402FacilitatorRequest'),
        responses: { 200: ok('X402VerifyResponse'), ...x402Errors },
      },
    },
    '/x402/settle': {
      post: {
        summary: 'x402 facilitator: submit an exact (EIP-3009) SOVR payment on chain with the service wallet',
        description: `${x402Description} Settling an authorization again answers the first result.`,
        requestBody: body('X402FacilitatorRequest'),
        responses: { 200: ok('X402SettleResponse'), ...x402Errors },
      },
    },
  };
  if (dev) {
    paths['/dev/faucet'] = {
      post: {
        summary: 'Dev mode only: credit a test balance',
        security: bearer,
        requestBody: body('FaucetRequest'),
        responses: { 200: ok('AccountsMe'), ...errors },
      },
    };
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'Tollway hub',
      version: '1',
      description:
        'Amounts are base units as decimal strings. Errors are application/problem+json. Live status: Socket.IO on the ' +
        'same origin, handshake auth {token, lastSeq?}, event paymentStatusUpdate (schema PaymentStatusUpdate).',
    },
    servers: [{ url: serverUrl }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } }, schemas },
    paths,
  };
}
