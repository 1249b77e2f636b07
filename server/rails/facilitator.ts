/**
 * The x402 facilitator core a rail may bring (the SOVR rail does): verify and settle `exact`
 * EIP-3009 payloads on its chain. Kept apart from any one rail so the rail contract (types.ts) can
 * name it; the HTTP shapes around it live in server/x402/.
 */
export interface ExactRequirement {
  scheme: 'exact';
  network: string;
  amount: string;
  asset: string;
  payTo: string;
  maxTimeoutSeconds?: number;
  extra?: Record<string, unknown>;
}

export interface ExactPayload {
  signature: string;
  authorization: { from: string; to: string; value: string; validAfter: string; validBefore: string; nonce: string };
}

export type VerifyResult = { isValid: true; payer: string } | { isValid: false; invalidReason: string; payer?: string };
export type SettleResult =
  | { success: true; payer: string; transaction: string; network: string }
  | { success: false; errorReason: string; payer?: string; transaction: string; network: string };

export interface SovrFacilitator {
  /** `eip155:<chainId>` */
  network: string;
  /** The SOVR address (the only asset supported). */
  token: string;
  /** The service wallet that pays gas. */
  signerAddress(): Promise<string>;
  verify(payload: ExactPayload, requirement: ExactRequirement): Promise<VerifyResult>;
  settle(payload: ExactPayload, requirement: ExactRequirement): Promise<SettleResult>;
}
