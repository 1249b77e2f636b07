/**
 * A local Interledger wallet provider (Open Payments): wallet addresses with balances and JWKS, an
 * auth server with interactive grants and an HTML consent page, and a resource server for incoming
 * payments, quotes and outgoing payments, all on one HTTP origin. No public Interledger network is
 * reachable here; to an Open Payments client this answers as a Rafiki-based wallet does, and every
 * request and response is held to the official OpenAPI specs (./specs.ts) and every signed request
 * to its HTTP message signature (./signatures.ts). docs/interledger.md says how to use it.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { authRoutes } from './auth-routes.js';
import type { Context } from './context.js';
import { GrantBook } from './grants.js';
import { openPaymentsHandler } from './http.js';
import { PaymentBook } from './payments.js';
import { resourceRoutes } from './resource-routes.js';
import { keyLookup } from './signatures.js';
import { loadSpecs } from './specs.js';
import type { LocalInterledger, LocalInterledgerOptions } from './types.js';
import { walletRoutes } from './wallet-routes.js';
import { WalletDirectory } from './wallets.js';

export type { ClientJwk, LocalInterledger, LocalInterledgerOptions, OutgoingFailure, QuoteFee, WalletOptions } from './types.js';
export { finishHash } from './grants.js';

export const DEFAULT_INTERACTION_TTL_MS = 10 * 60_000;

/** The consent page's form for `choice`, posted as a browser would; answers the wallet's redirect. */
async function answerConsent(interactRedirect: string, choice: 'approve' | 'reject'): Promise<string> {
  const page = await fetch(interactRedirect, { headers: { accept: 'text/html' } });
  const html = await page.text();
  if (page.status !== 200)
    throw new Error(
      `the consent page answered ${page.status}: ${html
        .replace(/<[^>]+>/g, ' ')
        .replace(/\s+/g, ' ')
        .trim()}`,
    );
  const form = new RegExp(`<form method="post" action="([^"]+)"><button type="submit"[^>]*value="${choice}"`).exec(html);
  if (!form) throw new Error(`the consent page has no ${choice} form`);
  const action = form[1]!.replaceAll('&amp;', '&');
  const res = await fetch(new URL(action, interactRedirect), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `choice=${choice}`,
    redirect: 'manual',
  });
  const location = res.headers.get('location');
  if (res.status !== 303 || !location) throw new Error(`the ${choice} form answered ${res.status}: ${await res.text()}`);
  return location;
}

export async function startLocalInterledger(opts: LocalInterledgerOptions = {}): Promise<LocalInterledger> {
  const specs = await loadSpecs();
  const now = opts.now ?? (() => new Date());
  const server = createServer();
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const origin = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${(server.address() as AddressInfo).port}`;
  const wallets = new WalletDirectory(origin);
  const ctx: Context = {
    origin,
    authServer: `${origin}/auth`,
    resourceServer: origin,
    wallets,
    grants: new GrantBook(now, opts.grantInteractionTtlMs ?? DEFAULT_INTERACTION_TTL_MS, opts.accessTokenTtlSeconds ?? 600),
    payments: new PaymentBook({
      resourceServer: origin,
      wallets,
      now,
      quoteTtlMs: opts.quoteTtlMs ?? 5 * 60_000,
      fee: opts.quoteFee ?? {},
    }),
    lookupKey: keyLookup(wallets),
    now,
  };
  // Wallet addresses last: their `/<name>` pattern would otherwise also match the collections.
  const handler = openPaymentsHandler({ origin, specs, routes: [...authRoutes(ctx), ...resourceRoutes(ctx), ...walletRoutes(ctx)] });
  server.on('request', handler.listener);

  return {
    origin,
    authServer: ctx.authServer,
    resourceServer: ctx.resourceServer,
    async createWallet(name, walletOpts) {
      return { url: wallets.create(name, walletOpts).url };
    },
    addClientKey(url, jwk) {
      wallets.addClientKey(url, jwk);
    },
    balanceOf(url) {
      return wallets.require(url).balance;
    },
    approve: (redirect) => answerConsent(redirect, 'approve'),
    reject: (redirect) => answerConsent(redirect, 'reject'),
    failNextOutgoingPayment(kind) {
      ctx.payments.failNext(kind);
    },
    specViolations: () => [...handler.violations],
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      if (handler.violations.length)
        throw new Error(`the local Interledger wallet broke the Open Payments specs:\n${handler.violations.join('\n')}`);
    },
  };
}
