import { crx } from '@crxjs/vite-plugin';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';
import manifest from './manifest.config.js';

/** `npm run build` → dist/, loadable unpacked. `--outDir` overrides the folder (the e2e tests build into a temp dir). */
export default defineConfig({
  plugins: [preact(), crx({ manifest })],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The approval window is opened by the worker, not named in the manifest, so list it here
    // (onboarding is named as the options page; listed too, so it is built either way).
    rollupOptions: { input: { approve: 'extension/approve/index.html', onboarding: 'extension/onboarding/index.html' } },
  },
});
