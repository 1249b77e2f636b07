import { columnTypes } from '../types.js';
import type { Migration } from '../migrate.js';

/**
 * The Interledger rail (server/rails/ilp/). Money never passes through the hub: it moves from the
 * person's own wallet to the merchant's own wallet, with the person's consent on their wallet's
 * page. What the hub keeps is what it needs to carry a payment across that consent and across a
 * restart without paying twice.
 *
 * - `ilp_wallets`: the wallet address a person linked, as the hub found it when it checked it.
 * - `ilp_payments`: one row per payment on the rail: the incoming payment and quote, the
 *   interactive grant in progress (the nonce sent, the wallet's nonce, the continuation), and how
 *   far the payment got (`state`). `finish_ref` names the consent in the finish redirect;
 *   `interact_ref` is unique, so a replayed redirect can never continue a grant twice.
 * - `ilp_grants`: outgoing-payment grants the hub holds an access token for, with their limit,
 *   interval and what the hub has charged to them in the current interval. A budget grant pays
 *   later payments without another consent until it runs out.
 * - `merchants.wallet_address`: where a merchant is paid through Interledger.
 *
 * Access and continuation tokens are kept here (the hub needs them after a restart) and never
 * leave the store: no answer and no log line carries them.
 */
export const ilp: Migration = {
  id: '016_ilp',
  up(d) {
    const t = columnTypes(d);
    return [
      `ALTER TABLE merchants ADD COLUMN wallet_address TEXT`,
      `CREATE TABLE ilp_wallets (
        user_id TEXT PRIMARY KEY REFERENCES users(id),
        wallet_address TEXT NOT NULL,
        public_name TEXT,
        asset_code TEXT NOT NULL,
        asset_scale ${t.int} NOT NULL,
        auth_server TEXT NOT NULL,
        resource_server TEXT NOT NULL,
        linked_at ${t.ts} NOT NULL
      )`,
      `CREATE TABLE ilp_grants (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id),
        wallet_address TEXT NOT NULL,
        auth_server TEXT NOT NULL,
        access_token TEXT NOT NULL,
        manage_url TEXT NOT NULL,
        asset_code TEXT NOT NULL,
        asset_scale ${t.int} NOT NULL,
        limit_amount ${t.amount} NOT NULL,
        interval TEXT,
        spent ${t.amount} NOT NULL,
        period_start ${t.ts},
        budget ${t.int} NOT NULL,
        state TEXT NOT NULL,
        created_at ${t.ts} NOT NULL,
        updated_at ${t.ts} NOT NULL
      )`,
      `CREATE INDEX ilp_grants_user ON ilp_grants (user_id, state)`,
      `CREATE TABLE ilp_payments (
        payment_id TEXT PRIMARY KEY REFERENCES payments(id),
        user_id TEXT NOT NULL REFERENCES users(id),
        state TEXT NOT NULL,
        payer_wallet TEXT NOT NULL,
        payee_wallet TEXT NOT NULL,
        incoming_payment TEXT NOT NULL,
        quote_id TEXT NOT NULL,
        quote_expires_at ${t.ts},
        debit_value ${t.amount} NOT NULL,
        debit_asset_code TEXT NOT NULL,
        debit_asset_scale ${t.int} NOT NULL,
        receive_value ${t.amount} NOT NULL,
        budget_value ${t.amount},
        budget_interval TEXT,
        grant_id TEXT REFERENCES ilp_grants(id),
        finish_ref TEXT UNIQUE,
        client_nonce TEXT,
        as_nonce TEXT,
        grant_endpoint TEXT,
        interact_redirect TEXT,
        continue_uri TEXT,
        continue_token TEXT,
        consent_expires_at ${t.ts},
        interact_ref TEXT UNIQUE,
        outgoing_payment TEXT,
        failure TEXT,
        created_at ${t.ts} NOT NULL,
        updated_at ${t.ts} NOT NULL
      )`,
      `CREATE INDEX ilp_payments_consent ON ilp_payments (consent_expires_at) WHERE state = 'awaiting-consent'`,
    ];
  },
};
