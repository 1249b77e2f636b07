import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ProblemError } from '../../shared/problem.js';
import type { Clock } from '../clock.js';
import { createWebhookLog } from '../notify/webhooks-log.js';
import type { Db } from '../store/types.js';

export interface MerchantRecord {
  id: string;
  name: string;
  webhookUrl: string | null;
  payoutAddress: string | null;
  /** Where the Interledger rail pays this merchant. */
  walletAddress: string | null;
  createdAt: string;
}

interface MerchantRow {
  id: string;
  name: string;
  webhook_url: string | null;
  payout_address: string | null;
  wallet_address: string | null;
  created_at: number;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const toRecord = (r: MerchantRow): MerchantRecord => ({
  id: r.id,
  name: r.name,
  webhookUrl: r.webhook_url,
  payoutAddress: r.payout_address,
  walletAddress: r.wallet_address,
  createdAt: new Date(Number(r.created_at)).toISOString(),
});

/** Constant-time comparison of two secrets of any length. */
export function secretEquals(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

export interface MerchantsOptions {
  db: Db;
  clock: Clock;
  /** Webhook URLs may name private, loopback and link-local targets (tests, dev mode). Default off. */
  allowPrivateWebhooks?: boolean;
  /** A webhook delivery was scheduled for now (a redelivery): wakes the webhook worker. */
  onWebhookScheduled?(): void;
}

/**
 * Merchants and their credentials. The API key is shown once and kept only as its sha256 (it is
 * 32 random bytes, so a fast hash is enough); the webhook secret must be kept to sign with.
 */
export function createMerchants({ db, clock, allowPrivateWebhooks = false, onWebhookScheduled }: MerchantsOptions) {
  const webhooks = createWebhookLog({ db, clock, allowPrivateTargets: allowPrivateWebhooks, onScheduled: () => onWebhookScheduled?.() });
  return {
    /** The webhook endpoint, the delivery log and redelivery. */
    webhooks,
    async create(input: { name: string; webhookUrl?: string; payoutAddress?: string; walletAddress?: string }) {
      if (input.webhookUrl !== undefined) webhooks.validateUrl(input.webhookUrl, 'body.webhookUrl');
      const id = `m_${randomBytes(9).toString('base64url')}`;
      const apiKey = `tw_sk_${randomBytes(32).toString('base64url')}`;
      const webhookSecret = `whsec_${randomBytes(32).toString('base64')}`;
      const now = clock.now();
      await db.run(
        `INSERT INTO merchants (id, name, webhook_url, payout_address, wallet_address, api_key_hash, webhook_secret, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          id,
          input.name,
          input.webhookUrl ?? null,
          input.payoutAddress ?? null,
          input.walletAddress ?? null,
          sha256(apiKey),
          webhookSecret,
          now,
        ],
      );
      const merchant = toRecord({
        id,
        name: input.name,
        webhook_url: input.webhookUrl ?? null,
        payout_address: input.payoutAddress ?? null,
        wallet_address: input.walletAddress ?? null,
        created_at: now,
      });
      return { merchant, apiKey, webhookSecret };
    },
    /** The merchant an API key belongs to; a missing or wrong key is 401. */
    async byApiKey(apiKey: string | undefined): Promise<MerchantRecord> {
      if (!apiKey) throw new ProblemError('unauthorized', 'send the merchant API key as a Bearer token');
      const row = await db.get<MerchantRow>(
        'SELECT id, name, webhook_url, payout_address, wallet_address, created_at FROM merchants WHERE api_key_hash = ?',
        [sha256(apiKey)],
      );
      if (!row) throw new ProblemError('invalid-token', 'unknown merchant API key');
      return toRecord(row);
    },
    /** As byApiKey, for a route naming the merchant: another merchant's id is 403. */
    async authenticate(apiKey: string | undefined, merchantId: string): Promise<MerchantRecord> {
      const m = await this.byApiKey(apiKey);
      if (m.id !== merchantId) throw new ProblemError('forbidden', 'this API key belongs to another merchant');
      return m;
    },
  };
}
export type Merchants = ReturnType<typeof createMerchants>;
