import { defineRail } from '../module.js';
import { sovrConfig, sovrEnv } from './config.js';
import { createSovrRail } from './index.js';

export const sovrRail = defineRail({
  name: 'sovr',
  summary:
    'On when `TOLLWAY_SOVR_RPC_URL`, `_CHAIN_ID`, `_TOKEN` and a service key are all set: people pay from their own wallet with EIP-3009 authorizations, the hub submits them and pays the gas, takes deposits, and can act as an x402 facilitator.',
  env: sovrEnv,
  configure: sovrConfig,
  create: (parts, sv) =>
    createSovrRail({
      ...parts,
      signer: sv.signer,
      options: {
        rpcUrl: sv.rpcUrl,
        chainId: sv.chainId,
        token: sv.token,
        confirmations: sv.confirmations,
        pollIntervalMs: sv.pollIntervalMs,
        minValiditySeconds: sv.minValiditySeconds,
        maxValiditySeconds: sv.maxValiditySeconds,
        settleGraceSeconds: sv.settleGraceSeconds,
        settleTimeoutMs: sv.settleTimeoutSeconds * 1000,
        ...(sv.treasury ? { treasury: sv.treasury } : {}),
        ...(sv.explorerTxUrl ? { explorerTxUrl: sv.explorerTxUrl } : {}),
        ...(sv.gasLimit ? { gasLimit: sv.gasLimit } : {}),
      },
    }),
  describeSettings: (sv) => `chain ${sv.chainId} at ${sv.rpcUrl}, token ${sv.token}`,
});
