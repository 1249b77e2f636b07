import type { Migration } from '../migrate.js';

/**
 * Which 402 challenge a payment answered (the tollway entry's `extra.challengeId`), so a page that
 * holds the challenge can hear that it was paid without signing in.
 */
export const paymentChallenge: Migration = {
  id: '007_payment_challenge',
  up() {
    return [
      'ALTER TABLE payments ADD COLUMN challenge_id TEXT',
      'CREATE INDEX payments_challenge ON payments (challenge_id) WHERE challenge_id IS NOT NULL',
    ];
  },
};
