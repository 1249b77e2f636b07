/**
 * `hub dev-pay <bolt11>`: pays an invoice from the outside wallet of a running `npm start` (its
 * local Lightning network, devnet/local-lightning.ts): a top-up invoice from Add funds, or a demo
 * shop's. The wallet is found at TOLLWAY_DEV_WALLET_URL, else through `lightning-devnet.json` in
 * TOLLWAY_DATA_DIR (./data), which `npm start` writes. Local runs only: no real wallet listens there.
 *
 * Exit 0 paid (the preimage printed), 1 refused or unreachable, 2 usage.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { LIGHTNING_DEVNET_FILE, type WalletAnswer } from '../devnet/local-lightning.js';

export async function runDevPay(args: string[], env: NodeJS.ProcessEnv, out: Writable, err: Writable): Promise<number> {
  const invoice = args[0];
  if (!invoice || args.length > 1) {
    err.write('usage: npm run hub -- dev-pay <bolt11>   (pays it from the local outside wallet that npm start runs)\n');
    return 2;
  }
  let walletUrl = env.TOLLWAY_DEV_WALLET_URL;
  if (!walletUrl) {
    const file = join(env.TOLLWAY_DATA_DIR ?? './data', LIGHTNING_DEVNET_FILE);
    try {
      walletUrl = (JSON.parse(readFileSync(file, 'utf8')) as { walletUrl?: string }).walletUrl;
    } catch {
      // below
    }
    if (!walletUrl) {
      err.write(`tollway: no local Lightning network found (${file}): is npm start running with this TOLLWAY_DATA_DIR?\n`);
      return 1;
    }
  }
  let res: Response;
  try {
    res = await fetch(`${walletUrl.replace(/\/+$/, '')}/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ invoice }),
    });
  } catch {
    err.write(`tollway: the outside wallet at ${walletUrl} does not answer: is npm start running?\n`);
    return 1;
  }
  let answer: WalletAnswer;
  try {
    answer = (await res.json()) as WalletAnswer;
  } catch {
    err.write(`tollway: the outside wallet answered HTTP ${res.status}\n`);
    return 1;
  }
  if (answer.status !== 'paid') {
    err.write(`tollway: not paid: ${answer.reason}\n`);
    return 1;
  }
  out.write(`paid ${BigInt(answer.amountMsat) / 1000n} sats from the outside wallet\npreimage ${answer.preimage}\n`);
  return 0;
}
