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

/**
 * zod 4 gives every schema a `toJSONSchema()` method, so its JSON Schema generator (about a sixth of
 * zod, minified) comes along into every page that validates anything, and the extension never calls
 * it. Each export of those two modules is replaced by a stand-in: the factories return a function,
 * since zod calls them while building a schema, and anything asked to produce a JSON Schema throws.
 */
function withoutZodJsonSchema(): Plugin {
  const modules = /zod\/v4\/core\/(json-schema-processors|to-json-schema)\.js$/;
  return {
    name: 'tollway-without-zod-json-schema',
    enforce: 'pre',
    load(id) {
      if (!modules.test(id)) return null;
      const names = [...readFileSync(id, 'utf8').matchAll(/^export (?:function|const) (\w+)|^export \{ \w+ as (\w+) \}/gm)].map(
        (m) => (m[1] ?? m[2])!,
      );
      const factory = (n: string) => n === 'aggregateChecks' || n.startsWith('create');
      return [
        "const off = () => { throw new Error('JSON Schema generation is not built into the extension'); };",
        ...names.map((n) =>
          n === 'allProcessors'
            ? 'export const allProcessors = {};'
            : n === 'aggregateChecks'
              ? 'export const aggregateChecks = () => ({});'
              : `export const ${n} = ${factory(n) ? '() => off' : 'off'};`,
        ),
      ].join('\n');
    },
  };
}

/** `npm run build` → dist/, loadable unpacked. `--outDir` overrides the folder (the e2e tests build into a temp dir). */
export default defineConfig({
  plugins: [withoutZodJsonSchema(), preact(), crx({ manifest }), locales()],
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
