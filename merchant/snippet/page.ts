/**
 * Which challenge the button pays: the one the page itself answered 402 with, embedded by the
 * paywall in the page it rendered or, for a page the snippet was only added to, read from a HEAD
 * request's PAYMENT-REQUIRED header.
 */
import { EMBEDDED_CHALLENGE_ELEMENT_ID } from '@tollway/shared/challenge/ids.js';
import { type Challenge, decodeChallenge } from './challenge.js';

export interface PageChallenge {
  /** Null when the page carries none the button can read: it then builds one from its attributes. */
  challenge: Challenge | null;
  /** The page is behind a paywall (it answered 402): once paid, it is fetched again or reloaded. */
  paywalled: boolean;
}

const stripHash = (href: string) => href.split('#')[0]!;

export function findChallenge(win: Window, resource: string): Promise<PageChallenge> {
  // The embedded challenge is for this very page; a data-resource elsewhere has its own.
  const embedded = win.document.getElementById(EMBEDDED_CHALLENGE_ELEMENT_ID);
  if (embedded && resource === stripHash(win.location.href)) {
    const challenge = decodeChallenge(embedded.textContent, true);
    if (challenge) return Promise.resolve({ challenge, paywalled: true });
  }
  const none: PageChallenge = { challenge: null, paywalled: false };
  return win
    .fetch(resource, { method: 'HEAD', headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' })
    .then(
      (res) => (res.status === 402 ? { challenge: decodeChallenge(res.headers.get('payment-required')), paywalled: true } : none),
      () => none,
    );
}
