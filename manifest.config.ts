import { defineManifest } from '@crxjs/vite-plugin';
import pkg from './package.json' with { type: 'json' };

/**
 * The extension's manifest. Host access covers every site for now, because webRequest sees a 402
 * (and a declarativeNetRequestWithHostAccess rule adds a proof) only where the extension has host
 * access; letting the person limit it to chosen sites (optional_host_permissions, asked at
 * onboarding) is still to come.
 */
export default defineManifest({
  manifest_version: 3,
  name: 'Tollway',
  description: 'Pay for what the web asks money for, in one click.',
  version: pkg.version,
  minimum_chrome_version: '116',
  action: { default_title: 'Tollway', default_popup: 'extension/popup/index.html' },
  background: { service_worker: 'extension/background/index.ts', type: 'module' },
  // Onboarding doubles as the settings page: opened on install and from the popup.
  options_ui: { page: 'extension/onboarding/index.html', open_in_tab: true },
  // declarativeNetRequestWithHostAccess: session rules that add the proof header to a reload.
  // scripting: the worker registers the in-page provider (MAIN world) and its bridge.
  permissions: ['storage', 'webRequest', 'alarms', 'favicon', 'declarativeNetRequestWithHostAccess', 'scripting'],
  host_permissions: ['<all_urls>'],
});
