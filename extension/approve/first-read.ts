/**
 * The approval window's first storage read. main.tsx imports this module first, so the read is
 * asked for before the rest of the page's code (preact, the schemas) is evaluated: the round trip
 * to the browser overlaps that work, and the first render already shows the request instead of an
 * empty window that fills in a frame or two later. The page still subscribes to changes after it
 * renders and reads once more then, so nothing written in between is missed.
 */
import { KEYS } from '../common/keys.js';

export interface FirstRead {
  approvals: unknown;
  account: unknown;
}

export const firstRead: Promise<FirstRead> = Promise.all([
  chrome.storage.local.get(KEYS.approvals),
  chrome.storage.session.get(KEYS.account),
]).then(([local, session]) => ({ approvals: local[KEYS.approvals], account: session[KEYS.account] }));
