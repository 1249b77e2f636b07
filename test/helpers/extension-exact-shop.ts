/**
 * A plain x402 merchant for the real-browser tests: no hub, no Tollway code. `/exact/…` answers 402
 * with one standard `exact` entry (SOVR on the local chain, paying to its payout address), encoded
 * with the x402 reference package; on a retry it reads `PAYMENT-SIGNATURE` with the reference
 * decoder and acts as its own facilitator with the reference one (@x402/evm): verify, then
 * `transferWithAuthorization` sent from a dev wallet it holds, then the article with
 * `PAYMENT-RESPONSE`.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { decodePaymentSignatureHeader, encodePaymentRequiredHeader, encodePaymentResponseHeader } from '@x402/core/http';
import type { PaymentPayload, PaymentRequirements } from '@x402/core/types';
import { toFacilitatorEvmSigner } from '@x402/evm';
import { ExactEvmScheme as ExactEvmFacilitator } from '@x402/evm/exact/facilitator';
import express from 'express';
import { createWalletClient, http, publicActions, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { hardhat } from 'viem/chains';

export interface ExactShop {
  url: string;
  payout: string;
  /** The entry the 402 lists. */
  requirements: PaymentRequirements;
  /** Every proof shown, with the facilitator's verdict and (settled) the transaction. */
  proofs: { path: string; ok: boolean; reason?: string; transaction?: string; payer?: string }[];
  close(): Promise<void>;
}

export async function startExactShop(opts: {
  rpcUrl: string;
  chainId: number;
  token: string;
  payout: string;
  /** A funded dev key: the shop pays the gas of settling. */
  relayerKey: string;
  price: string;
  maxTimeoutSeconds?: number;
}): Promise<ExactShop> {
  const wallet = createWalletClient({
    account: privateKeyToAccount(opts.relayerKey as Hex),
    chain: { ...hardhat, id: opts.chainId },
    transport: http(opts.rpcUrl),
  }).extend(publicActions);
  const facilitator = new ExactEvmFacilitator(toFacilitatorEvmSigner({ ...wallet, address: wallet.account.address } as never));
  const requirements: PaymentRequirements = {
    scheme: 'exact',
    network: `eip155:${opts.chainId}`,
    amount: opts.price,
    asset: opts.token,
    payTo: opts.payout,
    maxTimeoutSeconds: opts.maxTimeoutSeconds ?? 300,
    extra: { name: 'SOVR', version: '1' },
  };
  const proofs: ExactShop['proofs'] = [];
  const app = express();
  app.get('/exact/{*rest}', async (req, res) => {
    const header = req.get('payment-signature');
    if (header) {
      let payload: PaymentPayload | null = null;
      try {
        payload = decodePaymentSignatureHeader(header);
      } catch (e) {
        proofs.push({ path: req.path, ok: false, reason: `undecodable: ${(e as Error).message}` });
      }
      if (payload) {
        const verified = await facilitator.verify(payload, requirements);
        if (!verified.isValid) proofs.push({ path: req.path, ok: false, reason: verified.invalidReason ?? 'invalid' });
        else {
          const settled = await facilitator.settle(payload, requirements);
          proofs.push({
            path: req.path,
            ok: settled.success,
            reason: settled.errorReason,
            transaction: settled.transaction,
            payer: settled.payer,
          });
          if (settled.success) {
            res.set('PAYMENT-RESPONSE', encodePaymentResponseHeader(settled)).set('cache-control', 'no-store');
            res
              .type('html')
              .send(`<!doctype html><title>paid</title><h1 id="paid">Exact article ${req.path}</h1><p id="tx">${settled.transaction}</p>`);
            return;
          }
        }
      }
    }
    const doc = {
      x402Version: 2,
      resource: { url: `http://${req.get('host')}${req.originalUrl}`, description: `Exact article ${req.path}`, mimeType: 'text/html' },
      accepts: [requirements],
    };
    res
      .status(402)
      .set('PAYMENT-REQUIRED', encodePaymentRequiredHeader(doc as never))
      .set('cache-control', 'no-store')
      .json({});
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    payout: opts.payout,
    requirements,
    proofs,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
