import bolt11 from 'bolt11';

/**
 * Reading BOLT 11 invoices: the hub checks what it is asked to pay, node adapters check what their
 * node issued. Decoding only; what a hub accepts is the hub's business (server/rails/lightning/invoice.ts).
 */

/** Bitcoin networks as nodes name them (LND's `chains[].network`), with their BOLT 11 prefix. */
export const NETWORK_PREFIX = {
  mainnet: 'bc',
  testnet: 'tb',
  testnet4: 'tb',
  signet: 'tbs',
  regtest: 'bcrt',
  simnet: 'sb',
} as const;
export type LightningNetwork = keyof typeof NETWORK_PREFIX;

export const isLightningNetwork = (name: unknown): name is LightningNetwork =>
  typeof name === 'string' && Object.hasOwn(NETWORK_PREFIX, name);

// bolt11 knows bc, tb, bcrt and sb by itself; signet's tbs needs its parameters passed in.
const BOLT11_NETWORKS: Record<string, { bech32: string; pubKeyHash: number; scriptHash: number; validWitnessVersions: number[] }> = {
  bc: { bech32: 'bc', pubKeyHash: 0x00, scriptHash: 0x05, validWitnessVersions: [0, 1] },
  tb: { bech32: 'tb', pubKeyHash: 0x6f, scriptHash: 0xc4, validWitnessVersions: [0, 1] },
  tbs: { bech32: 'tbs', pubKeyHash: 0x6f, scriptHash: 0xc4, validWitnessVersions: [0, 1] },
  bcrt: { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, validWitnessVersions: [0, 1] },
  sb: { bech32: 'sb', pubKeyHash: 0x3f, scriptHash: 0x7b, validWitnessVersions: [0, 1] },
};

/** BOLT 11's default when an invoice carries no expiry field. */
const DEFAULT_EXPIRY_SECONDS = 3600;

export interface Invoice {
  paymentRequest: string;
  /** The bech32 prefix after `ln`: bc, tb, tbs, bcrt, sb. */
  prefix: string;
  paymentHash: string;
  /** null: an amountless invoice (the payer would choose the amount). */
  amountMsat: bigint | null;
  /** Unix seconds. */
  timestamp: number;
  expiresAt: number;
  payee: string;
  description: string | null;
}

export class InvoiceError extends Error {}

/**
 * Decodes and checks the signature of a BOLT 11 payment request. Throws InvoiceError with a reason
 * a person can act on; never returns a half-read invoice.
 */
export function decodeInvoice(raw: string): Invoice {
  if (typeof raw !== 'string' || raw.length > 2048) throw new InvoiceError('not a BOLT 11 invoice');
  // Exactly the invoice: surrounding spaces or a lightning: URI would store a payTo that is not
  // the invoice and slip past the one-payment-per-invoice check.
  const s = raw;
  // bech32 is all lower or all upper case; the separator is the last "1".
  const sep = s.lastIndexOf('1');
  const hrp = (sep > 0 ? s.slice(0, sep) : s).toLowerCase();
  const m = /^ln(bcrt|bc|tbs|tb|sb)(\d+[munp]?)?$/.exec(hrp);
  if (!m) throw new InvoiceError('not a BOLT 11 invoice (expected lnbc…, lntb…, lntbs…, lnbcrt… or lnsb…)');
  const prefix = m[1]!;
  let d: ReturnType<typeof bolt11.decode>;
  try {
    d = bolt11.decode(s, BOLT11_NETWORKS[prefix]);
  } catch (err) {
    throw new InvoiceError(`not a valid BOLT 11 invoice: ${(err as Error).message}`);
  }
  const paymentHash = d.tagsObject.payment_hash;
  if (!paymentHash || !/^[0-9a-f]{64}$/.test(paymentHash)) throw new InvoiceError('the invoice has no payment hash');
  if (!d.payeeNodeKey || d.timestamp === undefined) throw new InvoiceError('the invoice has no valid signature');
  const expiry = d.tagsObject.expire_time ?? DEFAULT_EXPIRY_SECONDS;
  return {
    paymentRequest: s.toLowerCase(),
    prefix,
    paymentHash,
    amountMsat: d.millisatoshis ? BigInt(d.millisatoshis) : null,
    timestamp: d.timestamp,
    expiresAt: d.timestamp + expiry,
    payee: d.payeeNodeKey,
    description: d.tagsObject.description ?? null,
  };
}
