/**
 * What the extension keeps in chrome.storage, as zod schemas. Storage outlives every version of the
 * code and the service worker can die between any two writes, so everything read back is validated
 * again; an entry that no longer parses is dropped on its own instead of poisoning the rest.
 */
import { z } from 'zod';
import { Allowance, Balance, CreatePaymentRequest, Payment, RailsInfo } from '../../shared/api.js';
import { PaymentOption, X402Resource } from '../../shared/challenge/option.js';
import { Eip712Domain, EvmAddress } from '../../shared/eip3009.js';
import { EvmExactPlan } from './networks.js';
import { IlpPlan } from './ilp.js';

export { KEYS } from './keys.js';

export const HISTORY_LIMIT = 200;

/** Local settings chosen at onboarding. */
export const Settings = z.object({ hubUrl: z.string().url() });
export type Settings = z.infer<typeof Settings>;

/** The encrypted wallet: ethers' scrypt JSON keystore (Web3 Secret Storage) and its address. */
export const StoredKeystore = z.object({
  address: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
  json: z
    .string()
    .min(1)
    .max(64 * 1024),
});
export type StoredKeystore = z.infer<typeof StoredKeystore>;

/** The unlocked key, in `session` only. */
export const UnlockedKey = z.object({
  address: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
  privateKey: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
});
export type UnlockedKey = z.infer<typeof UnlockedKey>;

/**
 * The hub session, written by the worker after a SIWE sign-in and on every refresh. Kept in
 * `session` storage: tokens are secrets and never reach `local`.
 */
export const HubSession = z.object({
  url: z.string().url(),
  accessToken: z.string().min(1),
  refreshToken: z.string().min(1).optional(),
  /** ms since the epoch; refresh before it. */
  accessTokenExpiresAt: z.number().int().optional(),
  user: z.object({ id: z.string(), address: z.string() }).optional(),
});
export type HubSession = z.infer<typeof HubSession>;

const StoredError = z.object({ code: z.string(), message: z.string() });

export const StoredChallenge = z.object({
  x402: z
    .object({
      kind: z.literal('x402'),
      version: z.union([z.literal(1), z.literal(2)]),
      resource: X402Resource.nullable(),
      accepts: z.array(PaymentOption),
      skipped: z.number().int(),
      serverError: z.string().optional(),
    })
    .nullable(),
  l402: z
    .object({
      kind: z.literal('l402'),
      scheme: z.enum(['L402', 'LSAT']),
      macaroon: z.string(),
      invoice: z.string(),
      amountMsat: z.string().nullable(),
    })
    .nullable(),
  /** A `WWW-Authenticate: Payment` Lightning charge (absent in requests stored before it was read). */
  payment: z
    .object({
      kind: z.literal('payment'),
      params: z.object({
        id: z.string(),
        realm: z.string(),
        method: z.string(),
        intent: z.string(),
        request: z.string(),
        expires: z.string().optional(),
        digest: z.string().optional(),
        description: z.string().optional(),
        opaque: z.string().optional(),
      }),
      invoice: z.string(),
      amountMsat: z.string(),
    })
    .nullable()
    .optional(),
  problems: z.array(StoredError),
});

export const FrameType = z.enum(['main_frame', 'sub_frame', 'xmlhttprequest']);
export type FrameType = z.infer<typeof FrameType>;

/**
 * - pending: waiting for the person to decide
 * - paying: approved; `POST /payments` may have been sent (a restarted worker replays the same key)
 * - submitted: the hub took it and confirmation comes later (on-chain, Lightning)
 * - completed / failed / rejected: final
 */
export const RequestStatus = z.enum(['pending', 'paying', 'submitted', 'completed', 'failed', 'rejected']);
export type RequestStatus = z.infer<typeof RequestStatus>;
export const ACTIVE_STATUSES: readonly RequestStatus[] = ['pending', 'paying'];

/**
 * Paying SOVR on chain from the person's own wallet: what the worker signs (an EIP-3009
 * TransferWithAuthorization) once the person approves, and the `POST /payments` body it goes in.
 * Fixed when the 402 is queued, so the window shows exactly this; only the time window (shown live,
 * sent back with the approval) and the random nonce are added at signing.
 */
export const OnChainPlan = z.object({
  /**
   * merchant: a hub merchant (`tollway` entry) paid through the hub's treasury, the hub submits;
   * exact: a plain x402 `exact` entry, paid to its own `payTo`, the site submits it itself.
   */
  kind: z.enum(['merchant', 'exact']),
  /** The body to send once signed: rail sovr, without `authorization`. */
  payment: CreatePaymentRequest,
  domain: Eip712Domain,
  /** The signing wallet: the address signed in to the hub. */
  from: EvmAddress,
  /** Who receives the tokens: the hub's treasury (merchant) or the entry's `payTo` (exact). */
  to: EvmAddress,
  /** Seconds from signing to `validBefore`. */
  validitySeconds: z.number().int().positive(),
  /** The hub's bounds on `validBefore − now` (GET /rails). */
  minValiditySeconds: z.number().int().nonnegative(),
  maxValiditySeconds: z.number().int().positive(),
});
export type OnChainPlan = z.infer<typeof OnChainPlan>;

/** ilp: the person's own Interledger wallet, approved on that wallet's consent page. */
export const PayFrom = z.enum(['hub', 'wallet', 'ilp']);
export type PayFrom = z.infer<typeof PayFrom>;

export const ApprovalRequest = z.object({
  id: z.string().min(1),
  /** Generated when the 402 is first seen and stored before any UI opens or any call is made. */
  idempotencyKey: z.string().min(1).max(255),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
  /**
   * Origin of the frame that made the request, as the browser names it (the request's initiator,
   * or the sender of a provider message): the site whose budget applies.
   */
  site: z.string(),
  /**
   * The origin the tab shows, from the browser (the URL of a page load, or chrome.tabs.get for
   * the tab that got the 402), never from the page or the challenge: the site the window names.
   * null: the browser would not tell (no host access to the tab's site); absent: stored before.
   */
  tabOrigin: z.string().nullable().optional(),
  /**
   * Who the payment pays, as budgets name their payee (background/payee.ts), fixed when queued:
   * a budget is offered and used for this payee only. null: it cannot be told, so no budget.
   */
  payee: z.string().nullable().optional(),
  tabId: z.number().int(),
  frameType: FrameType,
  method: z.string(),
  url: z.string(),
  challenge: StoredChallenge,
  /**
   * The exact body `POST /payments` will carry, fixed when the request is queued: a replay after a
   * worker restart must send the same body under the same key, or the hub answers 422.
   */
  payment: CreatePaymentRequest.nullable(),
  /** Why this challenge cannot be paid; shown, and only rejecting is offered. */
  unpayable: z.string().nullable(),
  status: RequestStatus,
  result: Payment.nullable(),
  error: z.string().nullable(),
  /** Paid without the window, charged to the budget for the site and payee (`payment.allowance` is set). */
  auto: z.boolean().optional(),
  /**
   * Completed page load whose retry with the proof has not been done yet: set in the same write as
   * `completed`, cleared once the retry ran. A worker stopped in between finds it on wake.
   */
  retryDue: z.boolean().optional(),
  /** Shown in the window above the request (why it is asked after all, e.g. over budget). */
  note: z.string().max(500).optional(),
  /**
   * Payable on chain from the person's wallet: the only way (`payment.rail` is sovr, an `exact`
   * entry) or the alternative to the hub balance (a hub merchant's SOVR `tollway` entry).
   */
  onChain: OnChainPlan.optional(),
  /** Set on approval: where the money came from (the signed body then replaces `payment`). */
  paidFrom: PayFrom.optional(),
  /** Also payable from the person's linked Interledger wallet (a tollway entry naming the ilp rail). */
  ilp: IlpPlan.optional(),
  /**
   * An x402 `exact` entry for a token outside the hub (any EVM network), as planned against the
   * person's networks and tokens, and planned again while pending when that list changes. Enabled,
   * it is paid from the wallet on the hub's `wallet` rail (`payment`); otherwise `payment` is null.
   */
  evm: EvmExactPlan.optional(),
});
export type ApprovalRequest = z.infer<typeof ApprovalRequest>;

export const RequestList = z.object({ v: z.literal(1), requests: z.array(z.unknown()) });

export const WindowRecord = z.object({ windowId: z.number().int() });

export const PAYMENTS_SHOWN = 50;

/** What the popup shows, kept current by the worker from REST and the live socket. */
export const AccountView = z.object({
  hubUrl: z.string(),
  userId: z.string(),
  balances: z.array(Balance),
  /** Newest first, at most PAYMENTS_SHOWN. */
  payments: z.array(Payment),
  /** Highest `paymentStatusUpdate.seq` applied; sent as `auth.lastSeq` on reconnect. */
  lastSeq: z.number().int().nonnegative().nullable(),
  syncedAt: z.number().int().nullable(),
  live: z.boolean(),
  error: z.string().nullable(),
});
export type AccountView = z.infer<typeof AccountView>;

/** A proof header waiting for a tab to reload. */
export const ProofRule = z.object({
  ruleId: z.number().int().positive(),
  tabId: z.number().int(),
  url: z.string(),
  expiresAt: z.number().int(),
  /** Set when the rule re-applies an access pass: a 402 answering it spends the pass. */
  passId: z.string().optional(),
});
export type ProofRule = z.infer<typeof ProofRule>;
export const ProofRules = z.array(ProofRule);

/** The hub's `GET /rails`, as last read (public: no user in it). */
export const RailsView = z.object({
  hubUrl: z.string(),
  info: RailsInfo,
  fetchedAt: z.number().int(),
});
export type RailsView = z.infer<typeof RailsView>;

/** The budgets as last read from the hub, for the session's user. */
export const BudgetsView = z.object({
  hubUrl: z.string(),
  userId: z.string(),
  data: z.array(Allowance),
  syncedAt: z.number().int(),
});
export type BudgetsView = z.infer<typeof BudgetsView>;

/**
 * A completed payment whose merchant advertised an access pass (`extra.reuse.windowSeconds`): its
 * proof may be shown again for the same resource until the window or the receipt runs out.
 */
export const Pass = z.object({
  transactionId: z.string().min(1),
  /** The merchant paid (`payTo` of the option). */
  payTo: z.string(),
  url: z.string(),
  method: z.string(),
  /** ms since the epoch: when the hub created the payment. */
  createdAt: z.number(),
  /** seconds since the epoch: the receipt's `exp`. */
  exp: z.number(),
  /** The pass window the merchant advertised when it was paid (absent: kept before it was recorded). */
  windowSeconds: z.number().int().positive().optional(),
  header: z.object({ name: z.string(), value: z.string() }),
  /** A retry with it was answered 402 again: never shown again. */
  spent: z.boolean(),
});
export type Pass = z.infer<typeof Pass>;
export const Passes = z.array(Pass);
