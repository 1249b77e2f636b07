/**
 * Who a payment pays, as budgets name their payee (shared/payee.ts). For a hub merchant and SOVR
 * it is the `payTo`; a Lightning invoice is new for every payment, so there it is the node that
 * signed the invoice, recovered from the BOLT 11 signature the way the hub's decoder does.
 *
 * Worker only: it uses ethers (already in the worker for signing); the pages read the payee the
 * worker stored on the request.
 */
import { hexlify, Signature, SigningKey, sha256 } from 'ethers';
import type { CreatePaymentRequest } from '../../shared/api.js';
import { canonicalPayee } from '../../shared/payee.js';

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
/** A BOLT 11 signature: 64 bytes and a recovery id, 520 bits, 104 five-bit words. */
const SIGNATURE_WORDS = 104;
const CHECKSUM_WORDS = 6;

function polymod(values: number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GENERATOR[i]!;
  }
  return chk;
}

/** bech32 without BIP 173's 90-character limit (invoices are longer); null unless the checksum holds. */
function bech32(s: string): { hrp: string; words: number[] } | null {
  if (s !== s.toLowerCase() && s !== s.toUpperCase()) return null;
  const text = s.toLowerCase();
  const sep = text.lastIndexOf('1');
  if (sep < 1 || text.length - sep - 1 < CHECKSUM_WORDS + SIGNATURE_WORDS) return null;
  const hrp = text.slice(0, sep);
  const words: number[] = [];
  for (const c of text.slice(sep + 1)) {
    const w = CHARSET.indexOf(c);
    if (w < 0) return null;
    words.push(w);
  }
  const expanded = [...[...hrp].map((c) => c.charCodeAt(0) >> 5), 0, ...[...hrp].map((c) => c.charCodeAt(0) & 31)];
  if (polymod([...expanded, ...words]) !== 1) return null;
  return { hrp, words: words.slice(0, -CHECKSUM_WORDS) };
}

/** Five-bit words to bytes, the last byte padded with zero bits (as BOLT 11 hashes them). */
function toBytes(words: number[]): Uint8Array {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const w of words) {
    acc = (acc << 5) | w;
    bits += 5;
    while (bits >= 8) {
      bits -= 8;
      out.push((acc >>> bits) & 0xff);
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out.push((acc << (8 - bits)) & 0xff);
  return Uint8Array.from(out);
}

/**
 * The node key (33 bytes compressed, hex) that signed a BOLT 11 invoice, or null when it is not an
 * invoice or its signature recovers nobody. The hub checks the invoice again (and refuses one whose
 * explicit payee field disagrees with its signature); this only names the payee to compare.
 */
export function lightningPayee(invoice: string): string | null {
  const decoded = bech32(invoice);
  if (!decoded?.hrp.startsWith('ln')) return null;
  const data = decoded.words.slice(0, -SIGNATURE_WORDS);
  const sig = toBytes(decoded.words.slice(-SIGNATURE_WORDS));
  const recovery = sig[64]!;
  if (recovery > 1) return null;
  try {
    const hrp = new TextEncoder().encode(decoded.hrp);
    const body = toBytes(data);
    const message = new Uint8Array(hrp.length + body.length);
    message.set(hrp);
    message.set(body, hrp.length);
    const signature = Signature.from({ r: hexlify(sig.slice(0, 32)), s: hexlify(sig.slice(32, 64)), v: 27 + recovery });
    return SigningKey.computePublicKey(SigningKey.recoverPublicKey(sha256(message), signature), true)
      .slice(2)
      .toLowerCase();
  } catch {
    return null;
  }
}

/** Who this payment pays, as a budget names it; null when that cannot be told (no budget then). */
export function payeeOf(payment: Pick<CreatePaymentRequest, 'rail' | 'payTo'>): string | null {
  return payment.rail === 'lightning' ? lightningPayee(payment.payTo) : canonicalPayee(payment.payTo);
}
