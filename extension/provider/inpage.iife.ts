/**
 * `window.tollway`, the in-page provider. Registered by the service worker in the MAIN world at
 * document_start (background/provider.ts) and built as one self-contained script (`.iife.ts`): it
 * imports nothing at run time. It knows no secret: it posts requests to this window, where the
 * extension's ISOLATED-world bridge picks them up, and gets back a receipt or an error.
 *
 * - `tollway.pay(challenge)`: an x402 v2 PAYMENT-REQUIRED object or its base64 header →
 *   `{receipt, transactionId}` once the person approved and the hub paid.
 * - `tollway.fetch(url, init)`: fetches; on a 402 pays the challenge through the same approval
 *   and retries once with its proof: `PAYMENT-SIGNATURE` for x402, `Authorization: L402 …` or
 *   `Authorization: Payment …` for a Lightning challenge in `WWW-Authenticate`; resolves with the
 *   retried response.
 */
import type { PageRequest, PageResponse } from '../common/provider-messages.js';

interface PaidResult {
  receipt: string;
  transactionId: string;
}

interface Tollway {
  readonly isTollway: true;
  pay(challenge: string | Record<string, unknown>): Promise<PaidResult>;
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
}

(() => {
  const w = window as unknown as { tollway?: Tollway };
  if (w.tollway) return;
  const CHANNEL = 'tollway';
  // The page may replace window.fetch later; the provider uses the one it found.
  const pageFetch = window.fetch.bind(window);
  type Paid = PaidResult & { proof: string; header?: 'PAYMENT-SIGNATURE' | 'Authorization' };
  const waiting = new Map<string, { resolve(r: Paid): void; reject(e: Error): void }>();

  const newId = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
  const targetOrigin = () => (location.origin && location.origin !== 'null' ? location.origin : '*');

  window.addEventListener('message', (event: MessageEvent) => {
    if (event.source !== window) return;
    const d = event.data as Partial<PageResponse> | null;
    if (!d || typeof d !== 'object' || d.channel !== CHANNEL || d.dir !== 'response' || typeof d.id !== 'string') return;
    const w8 = waiting.get(d.id);
    if (!w8) return;
    waiting.delete(d.id);
    const r = d as PageResponse;
    if (
      r.ok === true &&
      r.result &&
      typeof r.result.receipt === 'string' &&
      typeof r.result.transactionId === 'string' &&
      typeof r.result.proof === 'string'
    ) {
      w8.resolve(r.result);
    } else {
      w8.reject(new Error(r.ok === false && typeof r.error === 'string' ? `Tollway: ${r.error}` : 'Tollway: no answer'));
    }
  });

  function ask(params: PageRequest['params']): Promise<Paid> {
    const id = newId();
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      const message: PageRequest = { channel: CHANNEL, dir: 'request', id, method: 'pay', params };
      window.postMessage(message, targetOrigin());
    });
  }

  async function challengeOf(res: Response): Promise<string | Record<string, unknown> | null> {
    const header = res.headers.get('payment-required');
    if (header) return header;
    if (res.headers.get('www-authenticate')) return null; // an L402 or Payment 402: its body is not x402
    // x402 version 1 carries the requirements in the body.
    try {
      const body: unknown = await res.clone().json();
      return body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  }

  const tollway: Tollway = Object.freeze({
    isTollway: true as const,
    async pay(challenge: string | Record<string, unknown>): Promise<PaidResult> {
      if (typeof challenge !== 'string' && (typeof challenge !== 'object' || challenge === null))
        throw new TypeError('tollway.pay: a PAYMENT-REQUIRED header or object is required');
      // A plain copy: whatever the page passes must survive structured cloning.
      const plain = typeof challenge === 'string' ? challenge : (JSON.parse(JSON.stringify(challenge)) as Record<string, unknown>);
      const { receipt, transactionId } = await ask({ challenge: plain });
      return { receipt, transactionId };
    },
    async fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
      const request = new Request(input, init);
      const res = await pageFetch(request.clone());
      if (res.status !== 402) return res;
      const challenge = await challengeOf(res);
      // fetch joins repeated WWW-Authenticate headers with ", ", which the worker's parser reads back.
      const authenticate = res.headers.get('www-authenticate');
      if (!challenge && !authenticate) return res;
      const paid = await ask({
        ...(challenge ? { challenge } : {}),
        ...(authenticate ? { authenticate } : {}),
        request: { url: request.url, method: request.method },
      });
      const headers = new Headers(request.headers);
      headers.set(paid.header ?? 'PAYMENT-SIGNATURE', paid.proof);
      return pageFetch(new Request(request, { headers }));
    },
  });

  Object.defineProperty(window, 'tollway', { value: tollway, writable: false, configurable: false, enumerable: true });
  window.dispatchEvent(new Event('tollway#initialized'));
})();
