import { columnTypes } from '../types.js';
import type { Migration } from '../migrate.js';

/**
 * The wallet rail (server/rails/wallet/): payments the person's own wallet signed and a merchant's
 * facilitator settled. The hub moves no money for them; this is what it keeps beside the payment
 * row: which signed EIP-3009 authorization the payment is (network, token, payer, nonce, and the
 * EIP-712 digest that was signed). One authorization can settle once on chain, so it is recorded
 * once: the unique key refuses a second payment for the same signed bytes.
 */
export const walletPayments: Migration = {
  id: '019_wallet_payments',
  up(d) {
    const t = columnTypes(d);
    return [
      `CREATE TABLE wallet_payments (
        payment_id TEXT PRIMARY KEY REFERENCES payments(id),
        network TEXT NOT NULL,
        token TEXT NOT NULL,
        payer TEXT NOT NULL,
        nonce TEXT NOT NULL,
        valid_before ${t.int} NOT NULL,
        digest TEXT NOT NULL,
        UNIQUE (network, token, payer, nonce)
      )`,
    ];
  },
};
