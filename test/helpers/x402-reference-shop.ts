/**
 * A plain x402 shop built only from the reference packages: `@x402/express`'s paymentMiddleware
 * in front of an article, its resource server with the reference `exact` EVM scheme, and the
 * reference facilitator (@x402/evm) running in-process against a local chain, settling from a dev
 * wallet the shop holds. It speaks for any EIP-3009 token on any chain id: the price names the
 * token and its EIP-712 domain, as a shop selling for USDC on Base does.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { x402Facilitator } from '@x402/core/facilitator';
import type { FacilitatorClient } from '@x402/core/server';
import type { Network } from '@x402/core/types';
import { toFacilitatorEvmSigner } from '@x402/evm';
import { ExactEvmScheme as ExactEvmFacilitator } from '@x402/evm/exact/facilitator';
import { registerExactEvmScheme as registerExactServer } from '@x402/evm/exact/server';
import { paymentMiddleware, x402ResourceServer } from '@x402/express';
import express from 'express';
import { createWalletClient, http, publicActions, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { hardhat } from 'viem/chains';
import type { TokenRef } from './usdc-payer.js';

/**
 * The reference facilitator for one local chain, as a FacilitatorClient (what a resource server
 * normally reaches over HTTP). `relayerKey` pays the gas of settling.
 */
export function referenceFacilitator(opts: { rpcUrl: string; chainId: number; relayerKey: string }): FacilitatorClient {
  const wallet = createWalletClient({
    account: privateKeyToAccount(opts.relayerKey as Hex),
    chain: { ...hardhat, id: opts.chainId },
    transport: http(opts.rpcUrl),
  }).extend(publicActions);
  const facilitator = new x402Facilitator().register(
    `eip155:${opts.chainId}` as Network,
    new ExactEvmFacilitator(toFacilitatorEvmSigner({ ...wallet, address: wallet.account.address } as never)),
  );
  return {
    verify: (payload, requirements) => facilitator.verify(payload, requirements),
    settle: (payload, requirements) => facilitator.settle(payload, requirements),
    getSupported: async () => facilitator.getSupported() as never,
  };
}

export interface ReferenceShop {
  url: string;
  /** The article's address: 402 without a payment, the article with one the facilitator settled. */
  articleUrl: string;
  close(): Promise<void>;
}

export async function startReferenceShop(opts: {
  facilitator: FacilitatorClient;
  token: TokenRef;
  payTo: string;
  /** Base units of the token. */
  price: bigint;
  maxTimeoutSeconds?: number;
}): Promise<ReferenceShop> {
  const network = `eip155:${opts.token.chainId}` as Network;
  const resourceServer = new x402ResourceServer(opts.facilitator);
  registerExactServer(resourceServer, { networks: [network] });
  const app = express();
  app.use(
    paymentMiddleware(
      {
        'GET /article': {
          accepts: {
            scheme: 'exact',
            network,
            payTo: opts.payTo,
            price: {
              amount: opts.price.toString(),
              asset: opts.token.address,
              extra: { name: opts.token.name, version: opts.token.version },
            },
            maxTimeoutSeconds: opts.maxTimeoutSeconds ?? 300,
          },
          description: 'An article',
          mimeType: 'application/json',
        },
      },
      resourceServer,
    ),
  );
  app.get('/article', (_req, res) => void res.json({ title: 'Paid in USDC', body: 'Thanks for reading.' }));
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, articleUrl: `${url}/article`, close: () => new Promise<void>((r) => server.close(() => r())) };
}
