/**
 * The local Lightning network `npm start` runs: three stand-in LNDs (./lnd.ts) on one simulated
 * network (./lightning-network.ts), so that each pays the others' invoices:
 *
 * - the hub's node: the hub's Lightning rail pays through it and issues top-up invoices on it;
 * - the shop's node: the demo merchant's, which issues the invoices of its L402 and Payment routes;
 * - the outside wallet: someone's own wallet elsewhere, which pays any invoice it is handed. A small
 *   dev page (`GET /`, a paste box) and `POST /pay` pay from it; `hub dev-pay <bolt11>` calls the
 *   latter, found through `lightning-devnet.json` in the hub's data directory.
 *
 * For local runs only: the dev page pays whatever it is given, with no credentials.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { writeFileSync, rmSync } from 'node:fs';
import { createLndNode, decodeInvoice, InvoiceError, type LightningNode } from '../lightning/index.js';
import { createSimulatedNetwork } from './lightning-network.js';
import { startFakeLnd, type FakeLnd } from './lnd.js';

/** Where `hub dev-pay` finds the outside wallet of the running `npm start`. */
export const LIGHTNING_DEVNET_FILE = 'lightning-devnet.json';
export const DEFAULT_DEV_WALLET_PORT = 8404;

export interface PaidFromWallet {
  status: 'paid';
  paymentHash: string;
  preimage: string;
  amountMsat: string;
  feeMsat: string;
}
export interface WalletRefusal {
  status: 'failed';
  reason: string;
}
export type WalletAnswer = PaidFromWallet | WalletRefusal;

export interface LocalLightning {
  hubNode: FakeLnd;
  shopNode: FakeLnd;
  outsideNode: FakeLnd;
  /** The outside wallet's dev page and `POST /pay`. */
  walletUrl: string;
  /** Pays an invoice from the outside wallet. */
  pay(invoice: string): Promise<WalletAnswer>;
  close(): Promise<void>;
}

/** A pasted invoice as a node takes it: no `lightning:` scheme, no spaces, one case. */
export function cleanInvoice(raw: string): string {
  return raw
    .trim()
    .replace(/^lightning:/i, '')
    .replace(/\s+/g, '')
    .toLowerCase();
}

async function payFrom(node: LightningNode, raw: string): Promise<WalletAnswer> {
  const bolt11 = cleanInvoice(raw);
  let amountMsat: bigint | null;
  let paymentHash: string;
  try {
    ({ amountMsat, paymentHash } = decodeInvoice(bolt11));
  } catch (err) {
    return { status: 'failed', reason: err instanceof InvoiceError ? err.message : 'not a BOLT 11 invoice' };
  }
  if (!amountMsat) return { status: 'failed', reason: 'the invoice names no amount (this wallet pays only invoices with one)' };
  let outcome: Awaited<ReturnType<LightningNode['pay']>>;
  try {
    outcome = await node.pay({ bolt11, feeLimitMsat: 10_000n, timeoutSeconds: 30 });
  } catch (err) {
    return { status: 'failed', reason: err instanceof Error ? err.message : String(err) };
  }
  if (outcome.state === 'failed') {
    const why: Record<string, string> = {
      'no-route': 'no route: no node on the local network issued this invoice',
      'incorrect-details': 'refused by the payee: already paid, expired or canceled',
    };
    return { status: 'failed', reason: why[outcome.failure.reason] ?? outcome.failure.nodeReason ?? outcome.failure.reason };
  }
  return {
    status: 'paid',
    paymentHash,
    preimage: outcome.preimage ?? '',
    amountMsat: amountMsat.toString(),
    feeMsat: String(outcome.feeMsat ?? 0n),
  };
}

const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function walletPage(answer?: WalletAnswer, invoice = ''): string {
  const result = !answer
    ? ''
    : answer.status === 'paid'
      ? `<p class="ok" id="result">Paid ${esc(String(BigInt(answer.amountMsat) / 1000n))} sats. Preimage <code>${esc(answer.preimage)}</code></p>`
      : `<p class="bad" id="result">Not paid: ${esc(answer.reason)}</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Outside wallet · Tollway local Lightning</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#222}
textarea{width:100%;height:7rem;font:13px ui-monospace,monospace}button{font:inherit;padding:.4rem 1rem;margin-top:.5rem}
code{font:13px ui-monospace,monospace;word-break:break-all}.ok{color:#256029;background:#eef8ee;padding:.5rem}.bad{color:#8a1c1c;background:#fbeeee;padding:.5rem}</style>
</head><body>
<h1>Outside wallet</h1>
<p>A wallet elsewhere on the local Lightning network (a stand-in, for local runs). Paste any invoice from
this network: a top-up from the extension's <b>Add funds</b>, or one from the demo shop's Lightning article.</p>
<form method="post" action="/pay">
<textarea name="invoice" placeholder="lnbcrt…" required>${esc(invoice)}</textarea>
<button type="submit">Pay</button>
</form>
${result}
<p>From a terminal: <code>npm run hub -- dev-pay &lt;bolt11&gt;</code></p>
</body></html>
`;
}

async function readBody(req: IncomingMessage, limit = 16_384): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new RangeError('too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function walletServer(pay: (invoice: string) => Promise<WalletAnswer>): Server {
  return createServer((req, res: ServerResponse) => {
    (async () => {
      const path = new URL(req.url ?? '/', 'http://wallet').pathname;
      if (req.method === 'GET' && path === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(walletPage());
        return;
      }
      if (req.method === 'POST' && path === '/pay') {
        const type = String(req.headers['content-type'] ?? '');
        const body = await readBody(req);
        if (type.startsWith('application/json')) {
          let invoice: unknown;
          try {
            invoice = (JSON.parse(body) as { invoice?: unknown }).invoice;
          } catch {
            invoice = undefined;
          }
          const answer: WalletAnswer =
            typeof invoice === 'string' ? await pay(invoice) : { status: 'failed', reason: 'send {"invoice": "<bolt11>"}' };
          res.writeHead(answer.status === 'paid' ? 200 : 422, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
          return;
        }
        // The page's form: an HTML answer with the result under the paste box.
        const invoice = new URLSearchParams(body).get('invoice') ?? '';
        const answer = await pay(invoice);
        res
          .writeHead(answer.status === 'paid' ? 200 : 422, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
          .end(walletPage(answer, answer.status === 'paid' ? '' : invoice));
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found\n');
    })().catch((err: Error) => {
      if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' }).end(`${err.message}\n`);
      else res.destroy();
    });
  });
}

export async function startLocalLightning(opts: {
  /** The dev page's port; 0 for any free one. Default 8404. */
  walletPort?: number;
  host?: string;
  /** Writes `lightning-devnet.json` here for `hub dev-pay` (removed on close). */
  dataDir?: string;
}): Promise<LocalLightning> {
  const network = createSimulatedNetwork();
  const started: FakeLnd[] = [];
  let server: Server | undefined;
  try {
    for (let i = 0; i < 3; i++) started.push(await startFakeLnd({ lightningNetwork: network }));
    const [hubNode, shopNode, outsideNode] = started as [FakeLnd, FakeLnd, FakeLnd];
    const outside = createLndNode({ url: outsideNode.url, macaroonHex: outsideNode.macaroonHex });
    const pay = (invoice: string) => payFrom(outside, invoice);
    const srv = walletServer(pay);
    server = srv;
    const host = opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(opts.walletPort ?? DEFAULT_DEV_WALLET_PORT, host, () => resolve());
    });
    const walletUrl = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${(srv.address() as AddressInfo).port}`;
    const file = opts.dataDir ? join(opts.dataDir, LIGHTNING_DEVNET_FILE) : undefined;
    if (file) writeFileSync(file, `${JSON.stringify({ walletUrl }, null, 2)}\n`);
    return {
      hubNode,
      shopNode,
      outsideNode,
      walletUrl,
      pay,
      async close() {
        if (file) rmSync(file, { force: true });
        srv.closeAllConnections();
        await new Promise<void>((r) => srv.close(() => r()));
        await Promise.all(started.map((n) => n.close()));
      },
    };
  } catch (err) {
    server?.close();
    await Promise.all(started.map((n) => n.close()));
    throw err;
  }
}
