/*!
 * Tollway pay button. Served by the hub at /tollway.js; plain browser JavaScript, no dependencies.
 *
 *   <script src="https://hub.example/tollway.js" data-merchant="m_…" data-price="1500000000000000"
 *           data-asset="SOVR" data-description="One article"></script>
 *
 * Attributes: data-merchant (required), data-price (base units, required), data-asset (SOVR | BTC,
 * default SOVR), data-description, data-resource (the URL paid for; default this page),
 * data-label (button text), data-target (CSS selector to render into; default right after the
 * script element), data-install-url (where to get the extension), data-hub (default: where this
 * script came from).
 *
 * With the Tollway extension (window.tollway) the button pays through it: the challenge is the one
 * the page itself answered 402 with (embedded by the paywall or read from its PAYMENT-REQUIRED
 * header), else one built from the attributes. On a page behind a paywall the content is fetched
 * again with the proof and shown. Without the extension it says how to get it and waits for the
 * hub to announce on its /challenges socket that this challenge was paid (polling the page until
 * its 402 is gone as the fallback), then reloads. Either way a `tollway:paid` event (detail: {receipt,
 * challenge}) is dispatched on the script element and bubbles to the document.
 *
 * The file is UMD: a browser runs it; a CommonJS loader gets its pure functions (the unit tests).
 */
(function (root, factory) {
  var api = factory();
  if (typeof module === 'object' && module && module.exports) module.exports = api;
  else if (typeof document !== 'undefined') api.boot(document.currentScript, root);
})(typeof globalThis !== 'undefined' ? globalThis : this, function () {
  'use strict';

  var VERSION = '1';
  var DECIMALS = { SOVR: 18, BTC: 11 };
  var DEFAULT_BIND = ['method', 'path'];
  var POLL_LIMIT_MS = 30 * 60 * 1000;

  /** "1500000000000000", "SOVR" → "0.0015 SOVR", without floating point. */
  function formatAmount(base, asset) {
    var decimals = DECIMALS[asset];
    var digits = String(base).replace(/^0+(?=\d)/, '');
    if (decimals === undefined || !/^\d+$/.test(digits)) return digits + ' ' + asset;
    while (digits.length <= decimals) digits = '0' + digits;
    var whole = digits.slice(0, digits.length - decimals);
    var frac = digits.slice(digits.length - decimals).replace(/0+$/, '');
    return whole + (frac ? '.' + frac : '') + ' ' + asset;
  }

  /** The hub's base URL from the script's own src: "https://hub.example/x/tollway.js?v=1" → "https://hub.example/x". */
  function hubFromSrc(src) {
    var u = new URL(src);
    u.search = '';
    u.hash = '';
    return u.href.replace(/\/[^/]*$/, '');
  }

  /**
   * The button's settings from the script element's data attributes (a plain object of them),
   * its src and the page URL. → {ok: true, config} or {ok: false, error}.
   */
  function readConfig(attrs, scriptSrc, pageUrl) {
    attrs = attrs || {};
    var hub;
    try {
      hub = attrs.hub ? new URL(attrs.hub).href.replace(/\/+$/, '') : hubFromSrc(scriptSrc);
    } catch (e) {
      return { ok: false, error: 'cannot tell the hub URL (set data-hub)' };
    }
    if (!/^https?:\/\//.test(hub)) return { ok: false, error: 'the hub must be an http(s) URL' };
    var merchant = (attrs.merchant || '').trim();
    if (!merchant) return { ok: false, error: 'data-merchant is required' };
    var price = (attrs.price || '').trim();
    if (!/^\d{1,78}$/.test(price) || /^0+$/.test(price)) return { ok: false, error: 'data-price must be a whole number of base units above 0' };
    price = price.replace(/^0+/, '');
    var asset = (attrs.asset || 'SOVR').trim().toUpperCase();
    if (!Object.prototype.hasOwnProperty.call(DECIMALS, asset)) return { ok: false, error: 'data-asset must be one of ' + Object.keys(DECIMALS).join(', ') };
    var resource;
    try {
      var r = new URL(attrs.resource || pageUrl, pageUrl);
      r.hash = '';
      resource = r.href;
    } catch (e) {
      return { ok: false, error: 'data-resource is not a URL' };
    }
    var installUrl = attrs.installUrl && /^https?:\/\//.test(attrs.installUrl) ? attrs.installUrl : '';
    return {
      ok: true,
      config: {
        hub: hub,
        merchant: merchant,
        price: price,
        asset: asset,
        description: (attrs.description || '').trim(),
        resource: resource,
        label: (attrs.label || '').trim() || 'Pay ' + formatAmount(price, asset) + ' with Tollway',
        target: (attrs.target || '').trim(),
        installUrl: installUrl,
      },
    };
  }

  /** An x402 version 2 challenge for the configured price, when the page itself does not answer 402. */
  function buildChallenge(config) {
    return {
      x402Version: 2,
      resource: { url: config.resource, description: config.description, mimeType: 'text/html' },
      accepts: [
        {
          scheme: 'tollway',
          network: 'tollway:' + new URL(config.hub).origin,
          amount: config.price,
          asset: config.asset,
          payTo: config.merchant,
          maxTimeoutSeconds: 300,
          extra: { hub: config.hub, bind: DEFAULT_BIND.slice() },
        },
      ],
    };
  }

  function isChallenge(doc) {
    return !!doc && typeof doc === 'object' && doc.x402Version === 2 && Array.isArray(doc.accepts) && doc.accepts.length > 0;
  }

  function decodeBase64Text(s) {
    var binary = atob(String(s).trim());
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  }

  function encodeBase64Text(s) {
    var bytes = new TextEncoder().encode(s);
    var binary = '';
    for (var i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode.apply(null, Array.prototype.slice.call(bytes.subarray(i, i + 0x8000)));
    return btoa(binary);
  }

  /** A PAYMENT-REQUIRED header value (base64 JSON) or the embedded JSON text → the challenge, or null. */
  function decodeChallenge(value, isJsonText) {
    if (typeof value !== 'string' || !value) return null;
    try {
      var doc = JSON.parse(isJsonText ? value : decodeBase64Text(value));
      return isChallenge(doc) ? doc : null;
    } catch (e) {
      return null;
    }
  }

  /** The `tollway` entry to pay: the one naming this merchant if there are several. */
  function pickEntry(challenge, merchant) {
    if (!isChallenge(challenge)) return null;
    var tollway = challenge.accepts.filter(function (a) {
      return a && a.scheme === 'tollway';
    });
    var mine = tollway.filter(function (a) {
      return a.payTo === merchant;
    });
    return mine[0] || tollway[0] || null;
  }

  /** The receipt JWT out of what `tollway.pay` resolved to: {receipt: "eyJ…"} or {receipt: {token}}. */
  function receiptToken(result) {
    if (!result) return null;
    if (typeof result === 'string') return result;
    var r = result.receipt;
    if (typeof r === 'string') return r;
    if (r && typeof r.token === 'string') return r.token;
    return null;
  }

  /** The PAYMENT-SIGNATURE value that proves `token` paid `entry` of `challenge`. */
  function encodeProof(challenge, entry, token) {
    var doc = { x402Version: 2 };
    if (challenge && challenge.resource) doc.resource = challenge.resource;
    doc.accepted = entry;
    doc.payload = { receipt: token };
    return encodeBase64Text(JSON.stringify(doc));
  }

  /** Milliseconds before poll number `attempt` (0-based): 2 s growing to 15 s; 60 s while the socket listens. */
  function pollDelay(attempt, socketLive) {
    if (socketLive) return 60000;
    return Math.min(15000, Math.round(2000 * Math.pow(1.5, Math.max(0, attempt))));
  }

  /** The hub's id for this challenge (what its /challenges socket namespace is keyed by, with the merchant), or null. */
  function challengeIdOf(challenge, merchant) {
    var key = challengeKeyOf(challenge, merchant);
    return key ? key.challengeId : null;
  }

  /**
   * What the page tells the hub's /challenges socket: the challenge id and the merchant that issued
   * it (the entry's payTo). The hub only announces payments that reached that merchant, so a
   * payment to some other merchant naming this challenge id cannot open the page. Null if either
   * is missing or malformed.
   */
  function challengeKeyOf(challenge, merchant) {
    var entry = pickEntry(challenge, merchant);
    var id = entry && entry.extra && entry.extra.challengeId;
    if (typeof id !== 'string' || !/^ch_[A-Za-z0-9_-]{8,64}$/.test(id)) return null;
    if (typeof entry.payTo !== 'string' || !/^m_[A-Za-z0-9_-]{1,64}$/.test(entry.payTo)) return null;
    return { challengeId: id, merchantId: entry.payTo };
  }

  /** What a poll answer means: 'paid' (the 402 is gone: reload), 'waiting', or 'retry-get' (HEAD unsupported). */
  function pollVerdict(status, method) {
    if (status === 402) return 'waiting';
    if (method === 'HEAD' && (status === 405 || status === 501)) return 'retry-get';
    if (status >= 200 && status < 400) return 'paid';
    return 'waiting';
  }

  // ------------------------------------------------------------------------------------------
  // The browser part.

  function attrsOf(script) {
    var d = (script && script.dataset) || {};
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

  function el(doc, tag, style, text) {
    var e = doc.createElement(tag);
    if (style) e.setAttribute('style', style);
    if (text) e.textContent = text;
    return e;
  }

  function render(doc, script, config) {
    var box = el(doc, 'div', 'font:15px/1.45 system-ui,sans-serif;margin:1rem 0;padding:.9rem 1rem;border:1px solid #d8d8e0;border-radius:10px;background:#fafaff;max-width:34rem');
    box.className = 'tollway-pay';
    var button = el(
      doc,
      'button',
      'font:inherit;font-weight:600;padding:.55rem 1.1rem;border:0;border-radius:8px;background:#4b3fd8;color:#fff;cursor:pointer',
      config ? config.label : 'Pay with Tollway',
    );
    button.type = 'button';
    button.className = 'tollway-pay__button';
    var status = el(doc, 'div', 'margin-top:.5rem;color:#444');
    status.className = 'tollway-pay__status';
    status.setAttribute('role', 'status');
    status.setAttribute('aria-live', 'polite');
    box.appendChild(button);
    box.appendChild(status);
    var target = config && config.target ? doc.querySelector(config.target) : null;
    if (target) target.appendChild(box);
    else if (script && script.parentNode && script.parentNode !== doc.head) script.parentNode.insertBefore(box, script.nextSibling);
    else doc.body.appendChild(box);
    return {
      box: box,
      button: button,
      say: function (text, parts) {
        status.textContent = '';
        if (text) status.appendChild(doc.createTextNode(text));
        (parts || []).forEach(function (p) {
          status.appendChild(p);
        });
      },
    };
  }

  function boot(script, win) {
    win = win || (typeof window !== 'undefined' ? window : undefined);
    if (!win || !win.document) return;
    var doc = win.document;
    if (!script || script.dataset.tollwayBooted) return;
    script.dataset.tollwayBooted = VERSION;
    var start = function () {
      run(script, win, doc);
    };
    // Wait for the whole document: the paywall embeds its challenge after the content (and a
    // data-target may not be parsed yet). The button still goes right after this script element.
    if (doc.readyState === 'loading') {
      doc.addEventListener('DOMContentLoaded', start, { once: true });
    } else start();
  }

  function run(script, win, doc) {
    var read = readConfig(attrsOf(script), script.src || win.location.href, win.location.href);
    var ui = render(doc, script, read.ok ? read.config : null);
    if (!read.ok) {
      ui.button.disabled = true;
      ui.say('Tollway: ' + read.error);
      if (win.console) win.console.warn('tollway.js: ' + read.error);
      return;
    }
    var config = read.config;
    var challenge = null;
    var paywalled = false;
    var busy = false;
    var polling = null;

    // The paywall embeds its challenge in the 402 page it renders; otherwise ask the page.
    var embedded = doc.getElementById('tollway-payment-required');
    if (embedded && config.resource === stripHash(win.location.href)) {
      challenge = decodeChallenge(embedded.textContent, true);
      paywalled = !!challenge;
    }
    var probed = challenge
      ? Promise.resolve()
      : win
          .fetch(config.resource, { method: 'HEAD', headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' })
          .then(function (res) {
            if (res.status !== 402) return;
            paywalled = true;
            challenge = decodeChallenge(res.headers.get('payment-required'));
          })
          .catch(function () {});

    function provider() {
      var t = win.tollway;
      return t && typeof t.pay === 'function' ? t : null;
    }

    function showInstall() {
      var parts = [];
      if (config.installUrl) {
        var a = el(doc, 'a', '', 'Get the Tollway extension');
        a.href = config.installUrl;
        a.target = '_blank';
        a.rel = 'noopener';
        parts.push(a);
        parts.push(doc.createTextNode('. '));
      } else {
        parts.push(doc.createTextNode('Install the Tollway browser extension to pay here in one click. '));
      }
      parts.push(doc.createTextNode(paywalled ? 'This page opens by itself once it is paid.' : 'Then press the button again.'));
      ui.say('', parts);
      if (paywalled) {
        listen();
        startPolling();
      }
    }

    // The hub says on a socket when this challenge is paid; polling stays on as the fallback (a
    // strict CSP, a proxy without websockets), only slower while the socket is up.
    var socketLive = false;
    var listening = false;
    function listen() {
      var key = challengeKeyOf(challenge, config.merchant);
      if (listening || !key) return;
      var challengeId = key.challengeId;
      listening = true;
      loadSocketClient(function (io) {
        var socket = io(new URL(config.hub).origin + '/challenges', { transports: ['websocket'], auth: { challengeId: challengeId, merchantId: key.merchantId }, path: new URL(config.hub).pathname.replace(/\/$/, '') + '/socket.io' });
        socket.on('connect', function () {
          socketLive = true;
        });
        socket.on('disconnect', function () {
          socketLive = false;
        });
        socket.on('challengeStatus', function (update) {
          if (!update || update.challengeId !== challengeId) return;
          if (update.status === 'completed') {
            socket.close();
            stopPolling();
            ui.say('Paid. Opening the page…');
            win.location.reload();
          } else if (update.status === 'failed') {
            ui.say('The payment failed. You can try again.');
          }
        });
      });
    }

    function loadSocketClient(then) {
      if (typeof win.io === 'function') return then(win.io);
      var s = doc.createElement('script');
      s.src = config.hub + '/socket.io/socket.io.min.js';
      s.async = true;
      s.onload = function () {
        if (typeof win.io === 'function') then(win.io);
      };
      (doc.head || doc.documentElement).appendChild(s);
    }

    function startPolling() {
      if (polling) return;
      var method = 'HEAD';
      var attempt = 0;
      var started = Date.now();
      polling = { timer: 0 };
      var tick = function () {
        if (!polling) return;
        if (Date.now() - started > POLL_LIMIT_MS) {
          polling = null;
          ui.say('Stopped waiting for the payment. Reload the page to try again.');
          return;
        }
        if (doc.hidden) return schedule();
        win
          .fetch(config.resource, { method: method, headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' })
          .then(function (res) {
            var verdict = pollVerdict(res.status, method);
            if (verdict === 'paid') return win.location.reload();
            if (verdict === 'retry-get') method = 'GET';
            schedule();
          })
          .catch(schedule);
      };
      var schedule = function () {
        if (polling) polling.timer = win.setTimeout(tick, pollDelay(attempt++, socketLive));
      };
      schedule();
    }

    function stopPolling() {
      if (polling) win.clearTimeout(polling.timer);
      polling = null;
    }

    function refresh() {
      if (provider()) {
        stopPolling();
        if (!busy) ui.say('');
      } else showInstall();
    }

    function pay() {
      var tollway = provider();
      if (!tollway) return showInstall();
      if (busy) return;
      busy = true;
      ui.button.disabled = true;
      ui.say('Waiting for your approval in the Tollway window…');
      var paid = challenge || buildChallenge(config);
      probed
        .then(function () {
          paid = challenge || paid;
          return tollway.pay(paid);
        })
        .then(function (result) {
          var token = receiptToken(result);
          if (!token) throw new Error('the payment did not return a receipt');
          script.dispatchEvent(new win.CustomEvent('tollway:paid', { bubbles: true, detail: { receipt: token, challenge: paid } }));
          if (!paywalled) {
            busy = false;
            ui.button.style.display = 'none';
            ui.say('Paid. Thank you!');
            return;
          }
          ui.say('Paid. Opening the page…');
          var entry = pickEntry(paid, config.merchant);
          return win
            .fetch(config.resource, {
              headers: { accept: 'text/html', 'PAYMENT-SIGNATURE': encodeProof(paid, entry, token) },
              credentials: 'same-origin',
              cache: 'no-store',
            })
            .then(function (res) {
              if (!res.ok) return win.location.reload();
              return res.text().then(function (html) {
                doc.open();
                doc.write(html);
                doc.close();
              });
            });
        })
        .catch(function (err) {
          busy = false;
          ui.button.disabled = false;
          ui.say('The payment did not go through' + (err && err.message ? ': ' + err.message : '') + '.');
        });
    }

    ui.button.addEventListener('click', pay);
    // The extension may inject its provider after this script ran.
    win.addEventListener('tollway#initialized', refresh);
    probed.then(refresh);
  }

  function stripHash(href) {
    var i = href.indexOf('#');
    return i < 0 ? href : href.slice(0, i);
  }

  return {
    VERSION: VERSION,
    DECIMALS: DECIMALS,
    formatAmount: formatAmount,
    hubFromSrc: hubFromSrc,
    readConfig: readConfig,
    buildChallenge: buildChallenge,
    decodeChallenge: decodeChallenge,
    pickEntry: pickEntry,
    receiptToken: receiptToken,
    encodeProof: encodeProof,
    pollDelay: pollDelay,
    challengeIdOf: challengeIdOf,
    challengeKeyOf: challengeKeyOf,
    pollVerdict: pollVerdict,
    boot: boot,
  };
});
