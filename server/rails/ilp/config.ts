import { z } from 'zod';
import { fail, flag, hideSecret } from '../../env.js';
import { loadSigningKey, type IlpSigningKey } from './keys.js';

/** The Interledger rail's variables: who the hub is as an Open Payments client, and its timings. */
export const ilpEnv = {
  TOLLWAY_ILP_WALLET_ADDRESS: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe(
      "the hub's own Open Payments client wallet address, whose `jwks.json` lists the hub's public key; with the key and key id, turns the Interledger rail on",
    ),
  TOLLWAY_ILP_PRIVATE_KEY: z
    .string()
    .min(1)
    .optional()
    .describe(
      "the hub's Ed25519 request-signing key: PKCS#8 PEM, or base64 of that PEM (as wallets hand it out), of its DER, or of the 32-byte seed; a secret, never logged",
    ),
  TOLLWAY_ILP_KEY_ID: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe("the key id (`kid`) the client wallet address's JWKS lists for that key"),
  TOLLWAY_ILP_CONSENT_TIMEOUT: z.coerce
    .number()
    .int()
    .min(30)
    .max(3600)
    .default(600)
    .describe('seconds a person has to approve a payment on their wallet’s page; past it the payment fails'),
  TOLLWAY_ILP_ALLOW_PRIVATE: flag
    .optional()
    .describe(
      '`1` lets wallet addresses, auth servers and resource servers be private, loopback or link-local addresses (default: as `TOLLWAY_DEV`); off, the hub refuses to call them, since people name the wallet addresses it fetches',
    ),
  TOLLWAY_ILP_SETTLE_WAIT: z.coerce
    .number()
    .positive()
    .max(300)
    .default(20)
    .describe('seconds the hub follows an outgoing payment before it leaves it `submitted` and keeps following in the background'),
};

export interface IlpConfig {
  clientWalletAddress: string;
  keyId: string;
  /** Not enumerable (hideSecret): never in logs or JSON. */
  readonly key: IlpSigningKey;
  consentSeconds: number;
  settleWaitMs: number;
  /** Wallet addresses and servers may be private addresses (dev, tests). */
  allowPrivate: boolean;
}

export function ilpConfig(env: z.infer<z.ZodObject<typeof ilpEnv>> & { TOLLWAY_DEV?: boolean }): IlpConfig | undefined {
  const given = [env.TOLLWAY_ILP_WALLET_ADDRESS, env.TOLLWAY_ILP_PRIVATE_KEY, env.TOLLWAY_ILP_KEY_ID].filter((v) => v !== undefined);
  if (given.length === 0) return undefined;
  if (!env.TOLLWAY_ILP_WALLET_ADDRESS) fail('TOLLWAY_ILP_WALLET_ADDRESS', 'the Interledger rail needs the hub’s client wallet address');
  if (!env.TOLLWAY_ILP_PRIVATE_KEY) fail('TOLLWAY_ILP_PRIVATE_KEY', 'the Interledger rail needs the hub’s Ed25519 key');
  if (!env.TOLLWAY_ILP_KEY_ID) fail('TOLLWAY_ILP_KEY_ID', 'the Interledger rail needs the key id its wallet address lists');
  let key: IlpSigningKey;
  try {
    key = loadSigningKey(env.TOLLWAY_ILP_PRIVATE_KEY);
  } catch (err) {
    return fail('TOLLWAY_ILP_PRIVATE_KEY', (err as Error).message);
  }
  return hideSecret(
    {
      clientWalletAddress: env.TOLLWAY_ILP_WALLET_ADDRESS,
      keyId: env.TOLLWAY_ILP_KEY_ID,
      consentSeconds: env.TOLLWAY_ILP_CONSENT_TIMEOUT,
      settleWaitMs: env.TOLLWAY_ILP_SETTLE_WAIT * 1000,
      // The hub's own dev mode arrives in the same parsed environment.
      allowPrivate: env.TOLLWAY_ILP_ALLOW_PRIVATE ?? env.TOLLWAY_DEV ?? false,
    },
    'key',
    key,
  );
}
