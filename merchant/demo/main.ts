/**
 * The demo shop on its own:
 *   TOLLWAY_HUB_URL=http://127.0.0.1:8402 DEMO_MERCHANT_ID=m_… DEMO_MERCHANT_API_KEY=… \
 *     [DEMO_WEBHOOK_SECRET=whsec_…] [DEMO_ILP_WALLET_ADDRESS=https://…] [DEMO_PORT=8403] [DEMO_HOST=127.0.0.1] \
 *     tsx merchant/demo/main.ts
 * (DEMO_ILP_WALLET_ADDRESS: the merchant's Interledger wallet address, as registered at the hub.)
 * (`npm start` runs it for you, with a merchant it registers at the hub.)
 */
import { startDemoShop } from './shop.js';

async function main(): Promise<number> {
  const env = process.env;
  const missing = ['DEMO_MERCHANT_ID', 'DEMO_MERCHANT_API_KEY'].filter((k) => !env[k]);
  if (missing.length) {
    process.stderr.write(`demo shop: set ${missing.join(' and ')} (a merchant from POST /merchants at the hub), or run npm start\n`);
    return 2;
  }
  const port = Number(env.DEMO_PORT ?? 8403);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write('demo shop: DEMO_PORT must be a port number\n');
    return 2;
  }
  const shop = await startDemoShop({
    hub: env.TOLLWAY_HUB_URL ?? 'http://127.0.0.1:8402',
    merchantId: env.DEMO_MERCHANT_ID!,
    apiKey: env.DEMO_MERCHANT_API_KEY!,
    ...(env.DEMO_WEBHOOK_SECRET ? { webhookSecret: env.DEMO_WEBHOOK_SECRET } : {}),
    ...(env.DEMO_ORIGIN ? { origin: env.DEMO_ORIGIN } : {}),
    ...(env.DEMO_ILP_WALLET_ADDRESS ? { interledger: { walletAddress: env.DEMO_ILP_WALLET_ADDRESS } } : {}),
    port,
    host: env.DEMO_HOST ?? '127.0.0.1',
    onWebhook: (e) => process.stdout.write(`demo shop: webhook ${e.type} ${e.data.transactionId ?? ''} (signature verified)\n`),
  });
  process.stdout.write(`demo shop on ${shop.url} (articles at ${shop.url}/articles/toll-roads)\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await shop.close();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`demo shop: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
