/** A hub's Lightning node, an outside wallet on the same simulated network, and a shop behind paywall({lightning: true}). */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createLndNode } from '../../lightning/lnd/index.js';
import type { LightningNode } from '../../lightning/node.js';
import { paywall } from '../../merchant/index.js';
import { createSimulatedNetwork } from '../../devnet/lightning-network.js';
import { startFakeLnd, type FakeLnd } from '../../devnet/lnd.js';
import { createLightningRail, type LightningRail } from '../../server/rails/lightning/index.js';
import type { RailParts } from '../../server/app.js';

/** The article's price, msat. */
export const LIGHTNING_PRICE = '21000';
const PRICE = LIGHTNING_PRICE;

export interface LightningWorld {
  net: ReturnType<typeof createSimulatedNetwork>;
  hubLnd: FakeLnd;
  outsideLnd: FakeLnd;
  /** The outside wallet: a node the hub knows nothing of. */
  outside: LightningNode;
  rail(): LightningRail;
  rails(parts: RailParts): { lightning: LightningRail };
  close(): Promise<void>;
}

export async function lightningWorld(expirySeconds = 3600): Promise<LightningWorld> {
  const net = createSimulatedNetwork();
  const hubLnd = await startFakeLnd({ lightningNetwork: net });
  const outsideLnd = await startFakeLnd({ lightningNetwork: net });
  let rail: LightningRail | undefined;
  return {
    net,
    hubLnd,
    outsideLnd,
    outside: createLndNode({ url: outsideLnd.url, macaroonHex: outsideLnd.macaroonHex }),
    rail: () => rail!,
    rails: (parts) => ({
      lightning: (rail = createLightningRail({
        ...parts,
        node: createLndNode({ url: hubLnd.url, macaroonHex: hubLnd.macaroonHex }),
        options: { feeLimitMsat: 1000n, feeLimitPpm: 5000n, payTimeoutSeconds: 30, settleWaitMs: 300 },
        topupOptions: { expirySeconds, expiryCheckMs: 100, retryMs: 100 },
      })),
    }),
    async close() {
      await hubLnd.close();
      await outsideLnd.close();
    },
  };
}

/** A merchant site: one article behind paywall({lightning: true}). */
export async function startLightningShop(hub: string, merchantId: string, apiKey: string, teaser = '') {
  const app = express();
  app.get(
    '/article',
    paywall({ hub, merchantId, apiKey, price: PRICE, asset: 'BTC', lightning: true, description: 'One article', teaser }),
    (_req, res) => {
      res.send('<!doctype html><article id="paid-article">The whole article</article>');
    },
  );
  const server: Server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, close: () => new Promise<void>((r) => server.close(() => r())) };
}
