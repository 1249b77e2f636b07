/**
 * The server `npm run bench -- lightning` loads: one route behind l402() and the same route with
 * no payment check, in one process, so the two rates compare the middleware and nothing else.
 * Invoices come from a stand-in node whose every invoice has the preimage in L402_BENCH_PREIMAGE:
 * the bench pays nothing and needs no Lightning network.
 */
import { createHash } from 'node:crypto';
import express from 'express';
import { l402 } from '../merchant/l402.js';

const preimage = Buffer.from(process.env.L402_BENCH_PREIMAGE ?? '', 'hex');
if (preimage.length !== 32) throw new Error('L402_BENCH_PREIMAGE: 32 bytes of hex');
const paymentHash = createHash('sha256').update(preimage).digest('hex');
const node = {
  createInvoice: async () => ({ bolt11: `lnbcrt20n1${'p'.repeat(200)}`, paymentHash, expiresAt: Math.floor(Date.now() / 1000) + 3600 }),
};

const app = express();
const quote: express.RequestHandler = (_req, res) => void res.json({ quote: 42 });
app.get('/free/quote', quote);
app.get(
  '/paid/quote',
  l402({ node, price: 2000n, service: 'bench', validSeconds: 3600, rootKeySecret: 'be'.repeat(32), rateLimit: false }),
  quote,
);
const server = app.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
