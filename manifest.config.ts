import { defineManifest } from '@crxjs/vite-plugin';
import pkg from './package.json' with { type: 'json' };

/**
 * The extension's manifest.
 *
 * Host access is optional and chosen by the person (onboarding, then settings): all sites
 * (`<all_urls>`) or a list of sites, asked for with chrome.permissions.request from a click.
 * webRequest sees a 402 — and a declarativeNetRequestWithHostAccess rule adds a proof — only on
 * hosts granted that way; elsewhere nothing is detected. No host permission is required: the hub
 * answers CORS for the extension's origin, so the worker reaches it (REST and the websocket)
 * without one.
 */
const icons = { 16: 'extension/icons/icon-16.png', 48: 'extension/icons/icon-48.png', 128: 'extension/icons/icon-128.png' };

export default defineManifest({
  manifest_version: 3,
  // Every string the pages show is in extension/_locales/<lang>/messages.json (copied to the
  // build's _locales by vite.config.ts), the manifest's name, description and title included.
  default_locale: 'en',
  name: '__MSG_app_name__',
  description: '__MSG_app_description__',
  version: pkg.version,
  minimum_chrome_version: '116',
  icons,
  action: { default_title: '__MSG_app_name__', default_popup: 'extension/popup/index.html', default_icon: icons },
  background: { service_worker: 'extension/background/index.ts', type: 'module' },
  // Onboarding doubles as the settings page: opened on install and from the popup.
  options_ui: { page: 'extension/onboarding/index.html', open_in_tab: true },
  // storage: settings, the encrypted keystore, the queue (local); tokens, budgets, passes (session).
  // webRequest: notices 402 responses (status and headers) on granted hosts.
  // alarms: wakes the worker to replay payments in flight, refresh tokens, expire requests.
  // favicon: the site's icon in the approval window, from Chrome's own cache.
  // declarativeNetRequestWithHostAccess: session rules that add the proof header to a reload.
  // scripting: the worker registers the in-page provider (MAIN world) and its bridge.
  // notifications: says what was paid from a site's budget without the approval window, and that a
  // slot the person holds expires within a day (alarms wake the worker for that too).
  permissions: ['storage', 'webRequest', 'alarms', 'favicon', 'declarativeNetRequestWithHostAccess', 'scripting', 'notifications'],
  optional_host_permissions: ['<all_urls>'],
});
