/**
 * The ISOLATED-world bridge between the in-page provider and the service worker, registered by the
 * worker (background/provider.ts) for every page at document_start. Built as one self-contained
 * script (`.iife.ts`): a registered content script cannot load ES modules.
 *
 * It takes only messages this window posted to itself, validates them, asks the worker, validates
 * the answer, and posts back just the receipt, transaction id and proof, under the request's id.
 */
import {
  CHANNEL,
  pageError,
  ProviderReply,
  readPageRequest,
  type PageResponse,
  type ProviderMessage,
} from '../common/provider-messages.js';

const PING_MS = 20_000;

const targetOrigin = () => (window.location.origin && window.location.origin !== 'null' ? window.location.origin : '*');
const reply = (r: PageResponse) => window.postMessage(r, targetOrigin());

async function ask(message: ProviderMessage): Promise<unknown> {
  if (!chrome.runtime?.id) throw new Error('Tollway was updated or removed: reload the page');
  return chrome.runtime.sendMessage(message);
}

window.addEventListener('message', (event: MessageEvent) => {
  const request = readPageRequest(event, window);
  if (!request) return;
  // A person may take a while to decide; messages keep the worker from being stopped as idle.
  const ping = setInterval(() => void ask({ type: 'provider.ping' }).catch(() => undefined), PING_MS);
  const { challenge, authenticate, request: paid } = request.params;
  ask({
    type: 'provider.pay',
    ...(challenge !== undefined ? { challenge } : {}),
    ...(authenticate !== undefined ? { authenticate } : {}),
    ...(paid ? { request: paid } : {}),
  })
    .then((answer) => {
      const parsed = ProviderReply.safeParse(answer);
      if (!parsed.success) throw new Error('Tollway did not answer');
      const r = parsed.data;
      reply(
        r.ok
          ? { channel: CHANNEL, dir: 'response', id: request.id, ok: true, result: r.result }
          : { channel: CHANNEL, dir: 'response', id: request.id, ok: false, error: pageError(r.error) },
      );
    })
    .catch((e: unknown) => reply({ channel: CHANNEL, dir: 'response', id: request.id, ok: false, error: pageError(e) }))
    .finally(() => clearInterval(ping));
});

/**
 * The slots join dialog (merchant/snippet/slots.ts) says which slot a token bought through Tollway
 * went to: the worker keeps it among the slots the person holds once it has checked that purchase
 * against its own payments and the slot against the site (background/holdings.ts). The event
 * bubbles from the snippet's script element; its detail crosses into this world as a copy.
 */
document.addEventListener('tollway:slot', (event: Event) => {
  const d = (event as CustomEvent<unknown>).detail as { tokenId?: unknown; slotId?: unknown } | null;
  if (!d || typeof d.tokenId !== 'string' || typeof d.slotId !== 'number') return;
  void ask({ type: 'provider.slot', tokenId: d.tokenId, slotId: d.slotId, title: document.title.slice(0, 200) }).catch(() => undefined);
});
