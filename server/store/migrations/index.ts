import type { Migration } from '../migrate.js';
import { ledger } from './001_ledger.js';
import { identity } from './002_identity.js';
import { payments } from './003_payments.js';
import { webhooks } from './004_webhooks.js';
import { refunds } from './005_refunds.js';
import { allowances } from './006_allowances.js';
import { paymentChallenge } from './007_payment_challenge.js';
import { sovr } from './008_sovr.js';
import { sovrExact } from './009_sovr_exact.js';
import { siweNonceClient } from './011_siwe_nonce_client.js';
import { allowancePayee } from './012_allowance_payee.js';
import { idempotencyScope } from './013_idempotency_scope.js';
import { topups } from './014_topups.js';
import { challengeInvoices } from './015_challenge_invoices.js';
import { ilp } from './016_ilp.js';
import { outboxPublished } from './017_outbox_published.js';
import { challengeInvoiceNode } from './018_challenge_invoice_node.js';
import { walletPayments } from './019_wallet_payments.js';
import { merchantEvents } from './020_merchant_events.js';
import { idempotentAnswerEvent } from './022_idempotent_answer_event.js';

/** Every migration, in order. Never edit one that has shipped: add the next. */
export const MIGRATIONS: readonly Migration[] = [
  ledger,
  identity,
  payments,
  webhooks,
  refunds,
  allowances,
  paymentChallenge,
  sovr,
  sovrExact,
  siweNonceClient,
  allowancePayee,
  idempotencyScope,
  topups,
  challengeInvoices,
  ilp,
  outboxPublished,
  challengeInvoiceNode,
  walletPayments,
  merchantEvents,
  idempotentAnswerEvent,
];
