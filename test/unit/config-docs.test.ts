import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_DOC_PATH, renderConfigDocs } from '../../scripts/config-docs.js';

describe('docs/configuration.md', () => {
  it('is what the schemas say (run `npm run docs:config` after changing a variable)', () => {
    expect(readFileSync(CONFIG_DOC_PATH, 'utf8')).toBe(renderConfigDocs());
  });

  it('names every variable the hub and its rails read', () => {
    const doc = renderConfigDocs();
    for (const v of [
      'PORT',
      'DATABASE_URL',
      'TOLLWAY_SIGNING_KEY',
      'TOLLWAY_LND_REST_URL',
      'TOLLWAY_SOVR_RPC_URL',
      'TOLLWAY_X402_FACILITATOR',
    ]) {
      expect(doc).toContain(`\`${v}\``);
    }
  });
});
