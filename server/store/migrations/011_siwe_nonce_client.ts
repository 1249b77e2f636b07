import type { Migration } from '../migrate.js';

/**
 * Who asked for each sign-in nonce (the client key: an IPv4 address or an IPv6 /64), so that one
 * client's unused nonces can be counted and capped: GET /auth/nonce is unauthenticated and every
 * call stores a row. Rows from before have no client and are counted only in the overall cap.
 * The expires_at index serves the sweep and the overall count, which scanned the table before.
 */
export const siweNonceClient: Migration = {
  id: '011_siwe_nonce_client',
  up() {
    return [
      'ALTER TABLE siwe_nonces ADD COLUMN client TEXT',
      'CREATE INDEX siwe_nonces_client ON siwe_nonces (client, expires_at)',
      'CREATE INDEX siwe_nonces_expires ON siwe_nonces (expires_at)',
    ];
  },
};
