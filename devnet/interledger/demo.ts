/**
 * The local Interledger wallet as a local run wants it: a wallet for the person, one for the demo
 * shop, and the hub's client wallet address with a fresh key, plus the hub's `TOLLWAY_ILP_*`
 * variables that point the hub's `ilp` rail at it. For local runs only: the key is made at start and
 * lives as long as the process.
 */
import { generateKeyPairSync } from 'node:crypto';
import { generateJwk } from '@interledger/http-signature-utils';
import { startLocalInterledger } from './index.js';
import type { LocalInterledger } from './types.js';

export const DEFAULT_INTERLEDGER_PORT = 8405;
const HUB_KEY_ID = 'tollway-hub-dev';

export interface DemoInterledger {
  ilp: LocalInterledger;
  /** The wallet a newcomer links in the extension's settings. */
  personWallet: string;
  /** The demo shop's wallet address: its merchant is paid there. */
  shopWallet: string;
  /** The hub's environment for the rail: its client wallet address, its key (PEM, a secret) and key id. */
  hubEnv: { TOLLWAY_ILP_WALLET_ADDRESS: string; TOLLWAY_ILP_PRIVATE_KEY: string; TOLLWAY_ILP_KEY_ID: string };
}

export async function startDemoInterledger(
  opts: {
    host?: string;
    /** Default 8405; 0 for any free port. */
    port?: number;
    assetCode?: string;
    assetScale?: number;
    /** The person's opening balance in the smallest unit. Default 100.00 at scale 2 (10 000 units at any scale). */
    personBalance?: bigint;
  } = {},
): Promise<DemoInterledger> {
  const ilp = await startLocalInterledger({ host: opts.host, port: opts.port ?? DEFAULT_INTERLEDGER_PORT });
  try {
    const asset = { assetCode: opts.assetCode ?? 'USD', assetScale: opts.assetScale ?? 2 };
    const person = await ilp.createWallet('person', { ...asset, balance: opts.personBalance ?? 10_000n, publicName: 'You (local wallet)' });
    const shop = await ilp.createWallet('demo-shop', { ...asset, balance: 0n, publicName: 'Tollway demo shop' });
    const hub = await ilp.createWallet('tollway-hub', { ...asset, balance: 0n, publicName: 'Tollway' });
    const { privateKey } = generateKeyPairSync('ed25519');
    ilp.addClientKey(hub.url, generateJwk({ privateKey, keyId: HUB_KEY_ID }));
    return {
      ilp,
      personWallet: person.url,
      shopWallet: shop.url,
      hubEnv: {
        TOLLWAY_ILP_WALLET_ADDRESS: hub.url,
        TOLLWAY_ILP_PRIVATE_KEY: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
        TOLLWAY_ILP_KEY_ID: HUB_KEY_ID,
      },
    };
  } catch (err) {
    await ilp.close();
    throw err;
  }
}
