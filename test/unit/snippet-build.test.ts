/**
 * The snippet the hub serves (merchant/snippet/tollway.js) is committed, built from
 * merchant/snippet/*.ts: these fail when someone changed the sources (or the shared codecs they
 * import) without running `npm run build:snippet`, or when the bundle picks up a dependency
 * that has no place in a merchant's page.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildSnippet, SNIPPET_OUT } from '../../scripts/build-snippet.js';
import { SNIPPET_FILE } from '../../server/http/snippet-routes.js';

describe('merchant/snippet/tollway.js', () => {
  it('is the build of merchant/snippet/*.ts (run `npm run build:snippet` after changing them)', async () => {
    const committed = readFileSync(SNIPPET_OUT, 'utf8');
    expect(committed).toBe(await buildSnippet());
  });

  it('is the file the hub serves at /tollway.js', () => {
    expect(readFileSync(SNIPPET_FILE, 'utf8')).toBe(readFileSync(SNIPPET_OUT, 'utf8'));
  });

  it('is one plain browser script that leaves zod out', async () => {
    const js = await buildSnippet();
    expect(js).not.toMatch(/\brequire\(|^\s*(import|export)\s/m);
    // The shared modules it imports are zod-free; importing one that is not would add ~450 kB.
    expect(js).not.toMatch(/ZodError|\$ZodType/);
    // 24.7 kB with the slots join dialog (10.1 kB gzipped): the ceiling trips on a zod-sized import, not on a dialog.
    expect(Buffer.byteLength(js)).toBeLessThan(30_000);
  });
});
