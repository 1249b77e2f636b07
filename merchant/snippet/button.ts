/**
 * One pay button, from render to paid. With the Tollway extension (`window.tollway`) it pays
 * through it and, on a page behind a paywall, fetches the page again with the proof and shows it.
 * Without the extension it says how to get it and, on a paywalled page, waits for a payment made
 * elsewhere (the hub socket, polling as the fallback), then reloads. Either way `tollway:paid`
 * (detail: {receipt, challenge}) is dispatched on the script element and bubbles to the document.
 */
import { isRecord } from '@tollway/shared/json.js';
import { buildChallenge, type Challenge, challengeKeyOf, encodeProof, pickEntry, receiptToken } from './challenge.js';
import { type Attrs, readConfig } from './config.js';
import { fetchReceipt, invoiceView, lightningOf } from './lightning.js';
import { findChallenge, type PageChallenge } from './page.js';
import { POLL_LIMIT_MS, type Poller, pollDelay, pollUntilPaid } from './polling.js';
import { listenForPayment } from './socket.js';
import { el, render } from './ui.js';

export type BrowserWindow = Window & typeof globalThis;

/** What the extension injects as `window.tollway` (the part the button uses). */
interface Provider {
  pay(challenge: Challenge): Promise<unknown>;
}

function attrsOf(script: HTMLScriptElement): Attrs {
  const d = script.dataset;
  return {
    hub: d.hub,
    merchant: d.merchant,
    price: d.price,
    asset: d.asset,
    description: d.description,
    resource: d.resource,
    label: d.label,
    target: d.target,
    installUrl: d.installUrl,
  };
}

export function run(script: HTMLScriptElement, win: BrowserWindow): void {
  const doc = win.document;
  const read = readConfig(attrsOf(script), script.src || win.location.href, win.location.href);
  const ui = render(doc, script, read.ok ? read.config : null);
  if (!read.ok) {
    ui.button.disabled = true;
    ui.say(`Tollway: ${read.error}`);
    win.console?.warn(`tollway.js: ${read.error}`);
    return;
  }
  const config = read.config;
  let page: PageChallenge = { challenge: null, paywalled: false };
  const probed = findChallenge(win, config.resource).then((found) => {
    page = found;
  });
  let busy = false;
  let poller: Poller | null = null;
  let socketLive = false;
  let listening = false;

  const provider = (): Provider | null => {
    const t = (win as { tollway?: Partial<Provider> }).tollway;
    return t && typeof t.pay === 'function' ? (t as Provider) : null;
  };

  // The socket hears the payment at once; polling stays on as the fallback, slower while the socket is up.
  const waitForPayment = () => {
    const key = challengeKeyOf(page.challenge, config.merchant);
    if (!listening && key) {
      listening = true;
      listenForPayment(win, config.hub, key, {
        onLive: (live) => {
          socketLive = live;
        },
        onCompleted: () => {
          poller?.stop();
          poller = null;
          ui.say('Paid. Opening the page…');
          win.location.reload();
        },
        onFailed: () => ui.say('The payment failed. You can try again.'),
      });
    }
    poller ??= pollUntilPaid(win, config.resource, {
      socketLive: () => socketLive,
      onPaid: () => win.location.reload(),
      onGiveUp: () => {
        poller = null;
        ui.say('Stopped waiting for the payment. Reload the page to try again.');
      },
    });
  };

  /**
   * A challenge with a Lightning invoice: the QR code for any wallet, then the receipt from the hub
   * (asked when the socket says paid, and polled: often without a socket, rarely with one), and
   * the page fetched again with it.
   */
  let waitingForReceipt = false;
  const showLightning = (invoice: { invoice: string }): boolean => {
    const key = challengeKeyOf(page.challenge, config.merchant);
    if (!key) return false;
    ui.say('', invoiceView(doc, invoice));
    if (waitingForReceipt) return true;
    waitingForReceipt = true;
    let done = false;
    let timer: number | undefined;
    let attempt = 0;
    const started = Date.now();
    const check = () =>
      fetchReceipt(win, config.hub, key).then((r) => {
        if (done || !r) return;
        done = true;
        win.clearTimeout(timer);
        if ('expired' in r) return ui.say('The invoice expired. Reload the page for a new one.');
        const paid = page.challenge!;
        script.dispatchEvent(new win.CustomEvent('tollway:paid', { bubbles: true, detail: { receipt: r.receipt, challenge: paid } }));
        ui.say('Paid. Opening the page…');
        return openPaidPage(win, config.resource, encodeProof(paid, pickEntry(paid, config.merchant), r.receipt));
      });
    const poll = () => {
      if (done) return;
      if (Date.now() - started > POLL_LIMIT_MS) return ui.say('Stopped waiting for the payment. Reload the page to try again.');
      timer = win.setTimeout(() => void check().then(poll), pollDelay(attempt++, socketLive));
    };
    listenForPayment(win, config.hub, key, {
      onLive: (live) => {
        socketLive = live;
      },
      onCompleted: () => void check(),
      onFailed: () => undefined,
    });
    poll();
    return true;
  };

  const showInstall = () => {
    const offer = page.paywalled ? lightningOf(pickEntry(page.challenge, config.merchant)) : null;
    if (offer && showLightning(offer)) return;
    const parts: Node[] = [];
    if (config.installUrl) {
      const a = el(doc, 'a', '', 'Get the Tollway extension');
      a.href = config.installUrl;
      a.target = '_blank';
      a.rel = 'noopener';
      parts.push(a, doc.createTextNode('. '));
    } else {
      parts.push(doc.createTextNode('Install the Tollway browser extension to pay here in one click. '));
    }
    parts.push(doc.createTextNode(page.paywalled ? 'This page opens by itself once it is paid.' : 'Then press the button again.'));
    ui.say('', parts);
    if (page.paywalled) waitForPayment();
  };

  const refresh = () => {
    if (!provider()) return showInstall();
    poller?.stop();
    poller = null;
    if (!busy) ui.say('');
  };

  const pay = () => {
    const tollway = provider();
    if (!tollway) return showInstall();
    if (busy) return;
    busy = true;
    ui.button.disabled = true;
    ui.say('Waiting for your approval in the Tollway window…');
    let paid: Challenge;
    probed
      .then(() => {
        paid = page.challenge ?? buildChallenge(config);
        return tollway.pay(paid);
      })
      .then((result) => {
        const token = receiptToken(result);
        if (!token) throw new Error('the payment did not return a receipt');
        script.dispatchEvent(new win.CustomEvent('tollway:paid', { bubbles: true, detail: { receipt: token, challenge: paid } }));
        if (!page.paywalled) {
          busy = false;
          ui.button.style.display = 'none';
          ui.say('Paid. Thank you!');
          return;
        }
        ui.say('Paid. Opening the page…');
        return openPaidPage(win, config.resource, encodeProof(paid, pickEntry(paid, config.merchant), token));
      })
      .catch((err: unknown) => {
        busy = false;
        ui.button.disabled = false;
        const message = isRecord(err) && typeof err.message === 'string' ? err.message : '';
        ui.say(`The payment did not go through${message ? `: ${message}` : ''}.`);
      });
  };

  ui.button.addEventListener('click', pay);
  // The extension may inject its provider after this script ran.
  win.addEventListener('tollway#initialized', refresh);
  probed.then(refresh);
}

/** Fetches the page again with the proof and shows it in place; a reload if the paywall still says no. */
async function openPaidPage(win: BrowserWindow, resource: string, proof: string): Promise<void> {
  const res = await win.fetch(resource, {
    headers: { accept: 'text/html', 'PAYMENT-SIGNATURE': proof },
    credentials: 'same-origin',
    cache: 'no-store',
  });
  if (!res.ok) return win.location.reload();
  const html = await res.text();
  win.document.open();
  win.document.write(html);
  win.document.close();
}
