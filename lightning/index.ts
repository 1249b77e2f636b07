/**
 * @tollway/lightning: a Lightning node as one interface (node.ts), its adapters, and BOLT 11
 * decoding. Used by the hub's Lightning rail and by the merchant kit; it depends on neither.
 */
import { createClnNode } from './cln/index.js';
import { createLnbitsNode } from './lnbits/index.js';
import { createLndNode } from './lnd/index.js';
import type { LightningNode } from './node.js';

export * from './node.js';
export { decodeInvoice, InvoiceError, isLightningNetwork, NETWORK_PREFIX, type Invoice, type LightningNetwork } from './invoice.js';
export { createLndNode, type LndNodeOptions } from './lnd/index.js';
export { createClnNode, type ClnNode, type ClnNodeOptions } from './cln/index.js';
export { createLnbitsNode, type LnbitsNode, type LnbitsNodeOptions, readLnbitsWebhook } from './lnbits/index.js';

/**
 * Every kind of node Tollway can talk to, by the name `TOLLWAY_LIGHTNING_NODE` uses: one line each.
 * Each factory takes its own connection options.
 */
export const NODE_KINDS = {
  lnd: createLndNode,
  cln: createClnNode,
  lnbits: createLnbitsNode,
} as const satisfies Record<string, (options: never) => LightningNode>;

export type NodeKind = keyof typeof NODE_KINDS;
export const NODE_KIND_NAMES = Object.keys(NODE_KINDS) as [NodeKind, ...NodeKind[]];
/** The connection options of one kind of node. */
export type NodeOptions<K extends NodeKind> = Parameters<(typeof NODE_KINDS)[K]>[0];

/** The node of kind `kind`, built from its own options. */
export function createNode<K extends NodeKind>(kind: K, options: NodeOptions<K>): LightningNode {
  const make = NODE_KINDS[kind] as (o: NodeOptions<K>) => LightningNode;
  if (typeof make !== 'function') throw new RangeError(`unknown Lightning node kind ${String(kind)}`);
  return make(options);
}
