/**
 * Lightning for any wallet (`paywall({lightning: true})`): the challenge's tollway entry carries an
 * invoice of the hub's node (`extra.lightning`). Without the extension the button shows it as a QR
 * code and an "Open in wallet" link; once it is paid the hub has issued the standard receipt for
 * the challenge, which the page fetches (`GET <hub>/challenges/<id>?merchant=`) and retries with.
 */
import { isRecord } from '@tollway/shared/json.js';
import { encodeQr, qrPath } from '@tollway/shared/qr.js';
import type { ChallengeKey, Entry } from './challenge.js';
import { el } from './ui.js';

export interface LightningOffer {
  invoice: string;
}

/** The entry's invoice, if it carries a BOLT 11 one. */
export function lightningOf(entry: Entry | null): LightningOffer | null {
  const l = entry && isRecord(entry.extra) ? entry.extra.lightning : undefined;
  const invoice = isRecord(l) ? l.invoice : undefined;
  return typeof invoice === 'string' && /^ln[a-z0-9]{10,4000}$/i.test(invoice) ? { invoice } : null;
}

/** `lightning:` URI, upper-cased: wallets accept it, and it fits the QR code's denser alphanumeric mode. */
export const walletUri = (invoice: string) => `lightning:${invoice}`.toUpperCase();

/** The QR code (an SVG with a quiet zone) and the "Open in wallet" link. */
export function invoiceView(doc: Document, offer: LightningOffer): Node[] {
  const qr = encodeQr(walletUri(offer.invoice));
  const n = qr.size + 8;
  const ns = 'http://www.w3.org/2000/svg';
  const svg = doc.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `-4 -4 ${n} ${n}`);
  svg.setAttribute('width', '220');
  svg.setAttribute('height', '220');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'Lightning invoice QR code');
  svg.setAttribute('class', 'tollway-pay__qr');
  svg.setAttribute('style', 'display:block;margin:.6rem 0;background:#fff');
  const path = doc.createElementNS(ns, 'path');
  path.setAttribute('d', qrPath(qr));
  svg.appendChild(path);
  const open = el(doc, 'a', 'font-weight:600;color:#4b3fd8', 'Open in wallet');
  open.className = 'tollway-pay__wallet';
  open.href = `lightning:${offer.invoice}`;
  return [doc.createTextNode('Pay with any Lightning wallet: scan the code or '), open, doc.createTextNode('.'), svg];
}

export type ReceiptCheck = { receipt: string } | { expired: true } | null;

/** Asks the hub whether the challenge was paid; the receipt once it was. */
export function fetchReceipt(win: Window, hub: string, key: ChallengeKey): Promise<ReceiptCheck> {
  const url = `${hub}/challenges/${encodeURIComponent(key.challengeId)}?merchant=${encodeURIComponent(key.merchantId)}`;
  return win
    .fetch(url, { headers: { accept: 'application/json' }, cache: 'no-store', credentials: 'omit' })
    .then((res) => (res.ok ? res.json() : null))
    .then((b: unknown) => {
      if (!isRecord(b)) return null;
      if (b.status === 'paid' && typeof b.receipt === 'string') return { receipt: b.receipt };
      return b.status === 'expired' ? { expired: true as const } : null;
    })
    .catch(() => null);
}
