import type { Writable } from 'node:stream';
import { createNode } from '../../../lightning/index.js';
import type { LightningNode } from '../../../lightning/node.js';
import { defineRail } from '../module.js';
import { type LightningConfig, lightningConfig, lightningEnv } from './config.js';
import { createLightningRail } from './index.js';

export const lightningRail = defineRail({
  name: 'lightning',
  summary:
    'On when the node named by `TOLLWAY_LIGHTNING_NODE` has its address and credentials set (LND: `TOLLWAY_LND_REST_URL` and a macaroon; CLN: `TOLLWAY_CLN_REST_URL` and a rune; LNbits: `TOLLWAY_LNBITS_URL` and the admin key): the hub pays BOLT 11 invoices through its own Lightning node.',
  env: lightningEnv,
  configure: lightningConfig,
  create: (parts, ln) =>
    createLightningRail({
      ...parts,
      node: lightningNode(ln),
      options: {
        feeLimitMsat: ln.feeLimitMsat,
        feeLimitPpm: ln.feeLimitPpm,
        payTimeoutSeconds: ln.payTimeoutSeconds,
        settleWaitMs: ln.settleWaitMs,
      },
    }),
  describeSettings: (ln) => `${ln.node.toUpperCase()} at ${ln.restUrl}`,
  doctor: checkNode,
});

/** The node the settings name (lightning/index.ts NODE_KINDS); each kind reads its own settings. */
export function lightningNode(ln: LightningConfig, timeoutMs?: number): LightningNode {
  const timeout = timeoutMs ? { timeoutMs } : {};
  switch (ln.node) {
    case 'lnd':
      return createNode('lnd', {
        url: ln.restUrl,
        macaroonHex: ln.macaroonHex!,
        ...(ln.tlsCert ? { tlsCert: ln.tlsCert } : {}),
        ...timeout,
      });
    case 'cln':
      return createNode('cln', { url: ln.restUrl, rune: ln.rune!, ...(ln.tlsCert ? { caCert: ln.tlsCert } : {}), ...timeout });
    case 'lnbits':
      return createNode('lnbits', {
        url: ln.restUrl,
        adminKey: ln.lnbitsAdminKey!,
        invoiceKey: ln.lnbitsInvoiceKey!,
        ...(ln.lnbitsWebhookUrl ? { webhookUrl: ln.lnbitsWebhookUrl } : {}),
        ...timeout,
      });
  }
}

/** The node answers with these credentials, and says whether it is synced. */
async function checkNode(ln: LightningConfig, out: Writable): Promise<boolean> {
  try {
    const info = await lightningNode(ln, 10_000).info();
    out.write(`lightning node ${ln.restUrl}\n`);
    const who = info.pubkey ?? '(a wallet: no node key)';
    out.write(`  ok   ${info.alias || '(no alias)'} ${who} on ${info.network ?? 'an unknown network'}, ${info.version}\n`);
    if (!info.synced) out.write('  warn not synced to the chain yet: payments may fail until it is\n');
    return true;
  } catch (err) {
    out.write(`lightning node ${ln.restUrl}\n  FAIL ${(err as Error).message}\n`);
    return false;
  }
}
