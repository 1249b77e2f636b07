/**
 * `paywall({lightning: true})`: every 402 also carries an invoice of the hub's node for that very
 * challenge, so any Lightning wallet can pay it (a phone scanning the pay button's QR code). The
 * paywall asks the hub for it with the merchant's API key (`POST /merchants/{id}/invoices`); the
 * hub remembers what the receipt must say (price, resource, binding) and issues the standard
 * receipt once the invoice is paid, which the page fetches from the hub and retries with.
 *
 * The invoice goes in the tollway entry's `extra.lightning` ({invoice, paymentHash, expiresAt}).
 * A hub that cannot issue one (its node is down) leaves the entry without it: the 402 still goes
 * out, payable by the extension.
 */
import type { BindPart } from '@tollway/shared/binding.js';
import type { PaymentRequired } from '@tollway/shared/challenge.js';

export interface LightningInvoiceOptions {
  hub: string;
  merchantId: string;
  apiKey: string;
  fetch?: typeof fetch;
  /** Milliseconds the hub has to answer before the 402 goes out without an invoice. Default 5000. */
  timeoutMs?: number;
  onError?: (err: Error) => void;
}

export interface InvoiceFor {
  doc: PaymentRequired;
  method: string;
  bind: readonly BindPart[];
  bodyHash?: string;
  description?: string;
}

/** Adds the hub's invoice to the tollway entry of `doc` (in place); false when the hub gave none. */
export async function addLightningInvoice(o: LightningInvoiceOptions, r: InvoiceFor): Promise<boolean> {
  const entry = r.doc.accepts.find((a) => a.scheme === 'tollway');
  const challengeId = entry?.extra?.challengeId;
  if (!entry || typeof challengeId !== 'string') return false;
  const doFetch = o.fetch ?? fetch;
  try {
    const res = await doFetch(`${o.hub.replace(/\/+$/, '')}/merchants/${encodeURIComponent(o.merchantId)}/invoices`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${o.apiKey}` },
      body: JSON.stringify({
        challengeId,
        asset: 'BTC',
        amount: entry.amount,
        resource: { url: r.doc.resource.url, method: r.method, ...(r.bodyHash ? { bodyHash: r.bodyHash } : {}) },
        bind: [...r.bind],
        ...(r.description ? { description: r.description.slice(0, 200) } : {}),
      }),
      signal: AbortSignal.timeout(o.timeoutMs ?? 5000),
    });
    const body = (await res.json().catch(() => null)) as { bolt11?: unknown; paymentHash?: unknown; expiresAt?: unknown } | null;
    if (!res.ok || typeof body?.bolt11 !== 'string' || typeof body.paymentHash !== 'string') {
      throw new Error(`the hub answered ${res.status} to the invoice request`);
    }
    entry.extra = { ...entry.extra, lightning: { invoice: body.bolt11, paymentHash: body.paymentHash, expiresAt: body.expiresAt } };
    return true;
  } catch (err) {
    o.onError?.(err as Error);
    return false;
  }
}
