import { defineRail } from '../module.js';
import { createWalletRail } from './index.js';

export const walletRail = defineRail({
  name: 'wallet',
  summary: "Always on: records payments the person's own wallet settles (x402 `exact` on any EVM network); moves no hub money.",
  env: {},
  configure: () => ({}),
  create: () => createWalletRail(),
});
