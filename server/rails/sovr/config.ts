import { z } from 'zod';
import { evmAddress, fail, hideSecret, readConfigFile, seconds } from '../../env.js';

/** The SOVR rail's variables: the chain, the token, and the service wallet that pays gas. */
export const sovrEnv = {
  TOLLWAY_SOVR_RPC_URL: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe('JSON-RPC URL of the chain node (http/https)'),
  TOLLWAY_SOVR_CHAIN_ID: z.coerce
    .number()
    .int()
    .positive()
    .optional()
    .describe("chain id; the hub checks the node agrees, and it is the EIP-712 domain's"),
  TOLLWAY_SOVR_TOKEN: evmAddress.optional().describe('the SOVR contract address'),
  TOLLWAY_SOVR_PRIVATE_KEY: z
    .string()
    .regex(/^(0x)?[0-9a-fA-F]{64}$/, 'must be a 32-byte private key in hex')
    .optional()
    .describe("the service wallet's key (0x + 64 hex): pays gas, submits. A secret: never logged"),
  TOLLWAY_SOVR_KEYSTORE_PATH: z.string().min(1).optional().describe('instead of the key: an ethers / Web3 Secret Storage JSON keystore'),
  TOLLWAY_SOVR_KEYSTORE_PASSWORD: z.string().optional().describe("the keystore's password"),
  TOLLWAY_SOVR_KEYSTORE_PASSWORD_FILE: z.string().min(1).optional().describe("instead: a file holding the keystore's password"),
  TOLLWAY_SOVR_TREASURY: evmAddress.optional().describe('where payments go (`to` of every authorization); default: the service wallet'),
  TOLLWAY_SOVR_CONFIRMATIONS: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .optional()
    .describe('blocks deep (1 = mined) before a payment completes; default 1'),
  SOVR_CONFIRMATIONS: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .optional()
    .describe('the same, under its older name; `TOLLWAY_SOVR_CONFIRMATIONS` wins when both are set'),
  TOLLWAY_SOVR_POLL_INTERVAL: z.coerce
    .number()
    .int()
    .min(50)
    .max(600_000)
    .default(2000)
    .describe('ms between looks at the node for new blocks'),
  TOLLWAY_SOVR_EXPLORER_TX_URL: z
    .string()
    .regex(/^https?:\/\/\S*\{hash\}\S*$/, 'must be an http(s) URL with {hash} in it')
    .optional()
    .describe('e.g. `https://basescan.org/tx/{hash}`; `{hash}` is replaced; no link when unset'),
  TOLLWAY_SOVR_MIN_VALIDITY: seconds(60).describe('seconds `validBefore` must be ahead when a payment arrives (time to get mined)'),
  TOLLWAY_SOVR_MAX_VALIDITY: seconds(3600).describe('most seconds `validBefore` may be ahead'),
  TOLLWAY_SOVR_SETTLE_GRACE: seconds(3600).describe('the reservation lasts until `validBefore` + this (time for the confirmations)'),
  TOLLWAY_SOVR_SETTLE_TIMEOUT: seconds(60).describe(
    "seconds the x402 facilitator's `settle` waits for the receipt before answering `settlement_pending`",
  ),
  TOLLWAY_SOVR_GAS_LIMIT: z
    .string()
    .regex(/^\d{5,9}$/, 'must be a whole number of gas units')
    .optional()
    .describe('fixed gas limit; unset, each transaction is estimated +20 % (an estimate that reverts fails the payment with nothing sent)'),
};

export interface SovrConfig {
  rpcUrl: string;
  chainId: number;
  token: string;
  /** The gas-paying service wallet: a private key or an ethers keystore. Not enumerable (secrets). */
  readonly signer: { privateKey: string } | { keystoreJson: string; password: string };
  treasury?: string;
  confirmations: number;
  pollIntervalMs: number;
  explorerTxUrl?: string;
  minValiditySeconds: number;
  maxValiditySeconds: number;
  settleGraceSeconds: number;
  /** Seconds the x402 facilitator's settle waits for the receipt before answering settlement_pending. */
  settleTimeoutSeconds: number;
  gasLimit?: bigint;
}

type SovrEnv = z.infer<z.ZodObject<typeof sovrEnv>>;

/** The SOVR rail is on when the RPC URL, chain id, token and a service key are all given, off when none is. */
export function sovrConfig(e: SovrEnv): SovrConfig | undefined {
  const hasKey = Boolean(e.TOLLWAY_SOVR_PRIVATE_KEY || e.TOLLWAY_SOVR_KEYSTORE_PATH);
  const parts = {
    TOLLWAY_SOVR_RPC_URL: e.TOLLWAY_SOVR_RPC_URL,
    TOLLWAY_SOVR_CHAIN_ID: e.TOLLWAY_SOVR_CHAIN_ID,
    TOLLWAY_SOVR_TOKEN: e.TOLLWAY_SOVR_TOKEN,
  };
  const given = Object.values(parts).some((v) => v !== undefined) || hasKey;
  if (!given) return undefined;
  for (const [name, value] of Object.entries(parts)) {
    if (value === undefined) {
      fail(name, 'required to turn the SOVR rail on (set all of TOLLWAY_SOVR_RPC_URL, _CHAIN_ID, _TOKEN and a service key, or none)');
    }
  }
  if (e.TOLLWAY_SOVR_PRIVATE_KEY && e.TOLLWAY_SOVR_KEYSTORE_PATH)
    fail('TOLLWAY_SOVR_KEYSTORE_PATH', 'set either TOLLWAY_SOVR_PRIVATE_KEY or TOLLWAY_SOVR_KEYSTORE_PATH, not both');
  if (!hasKey)
    fail(
      'TOLLWAY_SOVR_PRIVATE_KEY',
      'required with the SOVR rail (or TOLLWAY_SOVR_KEYSTORE_PATH with its password): the service wallet that pays gas',
    );
  let signer: SovrConfig['signer'];
  if (e.TOLLWAY_SOVR_PRIVATE_KEY) {
    signer = { privateKey: e.TOLLWAY_SOVR_PRIVATE_KEY.startsWith('0x') ? e.TOLLWAY_SOVR_PRIVATE_KEY : `0x${e.TOLLWAY_SOVR_PRIVATE_KEY}` };
  } else {
    const keystoreJson = readConfigFile('TOLLWAY_SOVR_KEYSTORE_PATH', e.TOLLWAY_SOVR_KEYSTORE_PATH!).toString('utf8');
    let password = e.TOLLWAY_SOVR_KEYSTORE_PASSWORD;
    if (e.TOLLWAY_SOVR_KEYSTORE_PASSWORD_FILE) {
      password = readConfigFile('TOLLWAY_SOVR_KEYSTORE_PASSWORD_FILE', e.TOLLWAY_SOVR_KEYSTORE_PASSWORD_FILE)
        .toString('utf8')
        .replace(/\r?\n$/, '');
    }
    if (password === undefined)
      fail('TOLLWAY_SOVR_KEYSTORE_PASSWORD', 'required with TOLLWAY_SOVR_KEYSTORE_PATH (or TOLLWAY_SOVR_KEYSTORE_PASSWORD_FILE)');
    signer = { keystoreJson, password };
  }
  if (e.TOLLWAY_SOVR_MIN_VALIDITY >= e.TOLLWAY_SOVR_MAX_VALIDITY)
    fail('TOLLWAY_SOVR_MIN_VALIDITY', 'must be less than TOLLWAY_SOVR_MAX_VALIDITY');
  return hideSecret(
    {
      rpcUrl: e.TOLLWAY_SOVR_RPC_URL!,
      chainId: e.TOLLWAY_SOVR_CHAIN_ID!,
      token: e.TOLLWAY_SOVR_TOKEN!,
      ...(e.TOLLWAY_SOVR_TREASURY ? { treasury: e.TOLLWAY_SOVR_TREASURY } : {}),
      confirmations: e.TOLLWAY_SOVR_CONFIRMATIONS ?? e.SOVR_CONFIRMATIONS ?? 1,
      pollIntervalMs: e.TOLLWAY_SOVR_POLL_INTERVAL,
      ...(e.TOLLWAY_SOVR_EXPLORER_TX_URL ? { explorerTxUrl: e.TOLLWAY_SOVR_EXPLORER_TX_URL } : {}),
      minValiditySeconds: e.TOLLWAY_SOVR_MIN_VALIDITY,
      maxValiditySeconds: e.TOLLWAY_SOVR_MAX_VALIDITY,
      settleGraceSeconds: e.TOLLWAY_SOVR_SETTLE_GRACE,
      settleTimeoutSeconds: e.TOLLWAY_SOVR_SETTLE_TIMEOUT,
      ...(e.TOLLWAY_SOVR_GAS_LIMIT ? { gasLimit: BigInt(e.TOLLWAY_SOVR_GAS_LIMIT) } : {}),
    },
    'signer',
    signer,
  );
}
