import { defineRail } from '../module.js';
import { ilpConfig, ilpEnv } from './config.js';
import { checkClientWallet } from './doctor.js';
import { createIlpRail } from './index.js';

export const ilpRail = defineRail({
  name: 'ilp',
  summary:
    'On when `TOLLWAY_ILP_WALLET_ADDRESS`, `TOLLWAY_ILP_PRIVATE_KEY` and `TOLLWAY_ILP_KEY_ID` are all set: people pay merchants from their own Interledger (Open Payments) wallet, approving on their wallet’s own consent page; the hub is an Open Payments client.',
  env: ilpEnv,
  configure: ilpConfig,
  create: (parts, settings) => createIlpRail(parts, settings),
  describeSettings: (s) => `client wallet address ${s.clientWalletAddress}, key id ${s.keyId}`,
  doctor: (s, out) => checkClientWallet(s, out),
});
