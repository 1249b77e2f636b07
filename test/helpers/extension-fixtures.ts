import type { PaymentChallenge, PaymentOption } from '../../shared/challenge.js';
import type { ApprovalRequest } from '../../extension/common/state.js';

export const HUB = 'http://127.0.0.1:8402';

export const tollwayOption = (over: Partial<PaymentOption> = {}): PaymentOption => ({
  scheme: 'tollway',
  network: `tollway:${HUB}`,
  amount: '1500',
  asset: 'SOVR',
  payTo: 'm_shop',
  maxTimeoutSeconds: 300,
  extra: { hub: HUB, challengeId: 'ch_1' },
  ...over,
});

export const x402Challenge = (options: PaymentOption[] = [tollwayOption()]): PaymentChallenge => ({
  x402: { kind: 'x402', version: 2, resource: { url: 'https://shop.example/a', description: 'Article' }, accepts: options, skipped: 0 },
  l402: null,
  problems: [],
});

export function request(over: Partial<ApprovalRequest> = {}): ApprovalRequest {
  return {
    id: 'r1',
    idempotencyKey: 'tollway-k1',
    createdAt: 1000,
    updatedAt: 1000,
    site: 'https://shop.example',
    tabId: 1,
    frameType: 'main_frame',
    method: 'GET',
    url: 'https://shop.example/a',
    challenge: x402Challenge(),
    payment: {
      rail: 'internal',
      payTo: 'm_shop',
      amount: '1500',
      asset: 'SOVR',
      resource: { url: 'https://shop.example/a', method: 'GET' },
    },
    unpayable: null,
    status: 'pending',
    result: null,
    error: null,
    ...over,
  };
}
