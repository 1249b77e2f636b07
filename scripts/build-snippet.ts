/**
 * Builds the page snippet the hub serves at /tollway.js: merchant/snippet/main.ts and the shared
 * codecs it imports, bundled by esbuild into one minified script for browsers. The output is
 * committed (merchant/snippet/tollway.js) so the hub serves it without a build step;
 * `npm run build:snippet` rewrites it, and a unit test fails when it is stale. esbuild is
 * deterministic, so the same sources and esbuild version always give the same bytes.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const SNIPPET_ENTRY = fileURLToPath(new URL('../merchant/snippet/main.ts', import.meta.url));
export const SNIPPET_OUT = fileURLToPath(new URL('../merchant/snippet/tollway.js', import.meta.url));

const BANNER = `/*! Tollway pay button, served by the hub at /tollway.js. Built from merchant/snippet/*.ts by \`npm run build:snippet\`: do not edit. */`;

/** The bundled snippet, in memory. */
export async function buildSnippet(): Promise<string> {
  const result = await build({
    entryPoints: [SNIPPET_ENTRY],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    // BigInt (amounts are formatted without floating point) needs ES2020: every current browser.
    target: 'es2020',
    minify: true,
    // The workspace packages' TypeScript sources, as inside the repository everywhere else.
    conditions: ['tollway-source'],
    legalComments: 'none',
    banner: { js: BANNER },
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const js = await buildSnippet();
  writeFileSync(SNIPPET_OUT, js);
  console.log(`${SNIPPET_OUT}: ${Buffer.byteLength(js)} bytes`);
}
