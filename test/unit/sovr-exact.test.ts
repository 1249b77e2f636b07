/**
 * The pure parts of the SOVR rail's x402 side: telling a plain x402 merchant's payTo from a hub
 * merchant id, checking the exact entry a person approved, and naming a revert the way x402
 * facilitators do.
 */
import { describe, expect, it } from 'vitest';
import type { CreatePaymentRequest } from '../../shared/api.js';
import { ProblemError } from '../../shared/problem.js';
import { checkExactRequirement, exactValidityWindow, isOnChainPayee } from '../../server/rails/sovr/exact.js';
import { EXACT_REASONS, reasonForRevert } from '../../server/rails/sovr/facilitator.js';

const TOKEN = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const PAY_TO = '0x209693Bc6afc0C5328bA36FaF03C514EF312287C';

const body = (requirement?: Record<string, unknown>): CreatePaymentRequest =>
  ({ rail: 'sovr', payTo: PAY_TO, amount: '10', asset: 'SOVR', ...(requirement ? { requirement } : {}) }) as CreatePaymentRequest;

describe('exact payments', () => {
  it('takes a 0x address as a plain x402 payee and anything else as a hub merchant id', () => {
    expect(isOnChainPayee(PAY_TO)).toBe(true);
    expect(isOnChainPayee(PAY_TO.toLowerCase())).toBe(true);
    for (const id of ['m_abc123', PAY_TO.slice(0, 41), `${PAY_TO}00`, PAY_TO.slice(2), ` ${PAY_TO}`])
      expect(isOnChainPayee(id), id).toBe(false);
  });

  it('accepts only the exact entry for SOVR on this chain', () => {
    const ok = { scheme: 'exact', network: 'eip155:31337', amount: '10', asset: TOKEN.toLowerCase(), payTo: PAY_TO };
    expect(() => checkExactRequirement(body(ok), { network: 'eip155:31337', token: TOKEN })).not.toThrow();
    const refused: [string, CreatePaymentRequest][] = [
      ['missing', body()],
      ['another scheme', body({ ...ok, scheme: 'tollway' })],
      ['another network', body({ ...ok, network: 'eip155:8453' })],
      ['another asset', body({ ...ok, asset: PAY_TO })],
    ];
    for (const [what, b] of refused) {
      let err: unknown;
      try {
        checkExactRequirement(b, { network: 'eip155:31337', token: TOKEN });
      } catch (e) {
        err = e;
      }
      expect(err instanceof ProblemError && err.code, what).toBe('validation-error');
    }
  });
});

describe('the validity window of an exact payment', () => {
  const rail = { minValiditySeconds: 60, maxValiditySeconds: 3600 };
  it("follows the merchant's timeout, so that the reference client's validBefore = now + maxTimeoutSeconds fits", () => {
    expect(exactValidityWindow(undefined, rail)).toEqual(rail);
    expect(exactValidityWindow(300, rail)).toEqual({ minValiditySeconds: 60, maxValiditySeconds: 3600 });
    expect(exactValidityWindow(60, rail)).toEqual({ minValiditySeconds: 30, maxValiditySeconds: 3600 });
    expect(exactValidityWindow(20, rail)).toEqual({ minValiditySeconds: 10, maxValiditySeconds: 3600 });
    // Never under the 6 s the merchant's facilitator wants left.
    expect(exactValidityWindow(5, rail).minValiditySeconds).toBe(6);
    expect(exactValidityWindow(86_400, rail)).toEqual({ minValiditySeconds: 60, maxValiditySeconds: 86_460 });
  });
});

describe('revert reasons as x402 reasons', () => {
  it('maps the contract’s FiatToken texts like @x402/evm does, and anything else to invalid_transaction_state', () => {
    expect(reasonForRevert('SOVR: authorization is expired')).toBe(EXACT_REASONS.validBefore);
    expect(reasonForRevert('SOVR: authorization is not yet valid')).toBe(EXACT_REASONS.validAfter);
    expect(reasonForRevert('SOVR: authorization is used or canceled')).toBe(EXACT_REASONS.nonceUsed);
    expect(reasonForRevert('ERC20: transfer amount exceeds balance')).toBe(EXACT_REASONS.funds);
    expect(reasonForRevert('SOVR: invalid signature')).toBe(EXACT_REASONS.signature);
    expect(reasonForRevert('out of gas')).toBe(EXACT_REASONS.transaction);
  });

  it('uses the x402 v2 specification’s names where it has them', () => {
    expect(EXACT_REASONS).toMatchObject({
      scheme: 'invalid_scheme',
      network: 'invalid_network',
      signature: 'invalid_exact_evm_payload_signature',
      recipient: 'invalid_exact_evm_payload_recipient_mismatch',
      validBefore: 'invalid_exact_evm_payload_authorization_valid_before',
      validAfter: 'invalid_exact_evm_payload_authorization_valid_after',
      value: 'invalid_exact_evm_payload_authorization_value_mismatch',
      funds: 'insufficient_funds',
      nonceUsed: 'invalid_exact_evm_nonce_already_used',
    });
  });
});
