import { readdirSync, readFileSync } from 'node:fs';
import { crx } from '@crxjs/vite-plugin';
import preact from '@preact/preset-vite';
import { defineConfig, type Plugin } from 'vite';
import manifest from './manifest.config.js';

/**
 * Chrome reads the strings from `_locales/<lang>/messages.json` at the extension's root; the sources
 * keep them beside the code (extension/_locales), so copy each language into the build.
 */
function locales(dir = 'extension/_locales'): Plugin {
  return {
    name: 'tollway-locales',
    generateBundle() {
      for (const lang of readdirSync(dir)) {
        const file = `${dir}/${lang}/messages.json`;
        this.addWatchFile(file);
        // Parsed and written again: a malformed file fails the build, not the extension's load.
        this.emitFile({
          type: 'asset',
          fileName: `_locales/${lang}/messages.json`,
          source: JSON.stringify(JSON.parse(readFileSync(file, 'utf8'))),
        });
      }
    },
  };
}

/** `npm run build` → dist/, loadable unpacked. `--outDir` overrides the folder (the e2e tests build into a temp dir). */
export default defineConfig({
  plugins: [preact(), crx({ manifest }), locales()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The approval window is opened by the worker and the unlock frame by the popup, neither named
    // in the manifest, so list them here (onboarding is named as the options page; listed too, so
    // it is built either way).
    rollupOptions: {
      input: {
        approve: 'extension/approve/index.html',
        onboarding: 'extension/onboarding/index.html',
        unlock: 'extension/popup/unlock.html',
      },
    },
  },
});
