/**
 * messages.json and the source agree: every key the extension asks for is in the English file (a
 * translation copies that file, so a missing key would show as itself in every language), and every
 * message in it is asked for somewhere (a dead message is a sentence translators pay for).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../extension');
const messages = JSON.parse(readFileSync(join(ROOT, '_locales/en/messages.json'), 'utf8')) as Record<
  string,
  { message: string; description?: string }
>;
const keys = Object.keys(messages);

function sources(dir: string): { path: string; text: string }[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === '_locales' ? [] : sources(path);
    return /\.(tsx?|html|json)$/.test(e.name) ? [{ path: relative(ROOT, path), text: readFileSync(path, 'utf8') }] : [];
  });
}
// The manifest is built from the repository root; its `__MSG_…__` names count as asked for.
const files = [...sources(ROOT), { path: 'manifest.config.ts', text: readFileSync(resolve(ROOT, '../manifest.config.ts'), 'utf8') }];

/** `t('key'`, `deps.t("key"`, and `__MSG_key__` (manifest, HTML): the keys asked for by name. */
function keysAsked(text: string): string[] {
  return [...text.matchAll(/\bt\(\s*['"]([A-Za-z0-9_@]+)['"]|__MSG_([A-Za-z0-9_@]+)__/g)].map((m) => (m[1] ?? m[2])!);
}

/** `t(\`period_${…}\`)`: a key built from a prefix; each such prefix must name at least one message. */
function prefixesAsked(text: string): string[] {
  return [...text.matchAll(/\bt\(\s*`([A-Za-z0-9_]+)\$\{/g)].map((m) => m[1]!);
}

describe('messages.json', () => {
  it('holds every key the extension asks for by name', () => {
    const asked = files.flatMap((f) => keysAsked(f.text).map((key) => ({ key, in: f.path })));
    expect(asked.length).toBeGreaterThan(100);
    // @@ keys are Chrome's own (@@ui_locale and the like).
    expect(asked.filter((a) => !a.key.startsWith('@@') && !(a.key in messages))).toEqual([]);
  });

  it('has a message for every key prefix the extension builds keys from', () => {
    const prefixes = [...new Set(files.flatMap((f) => prefixesAsked(f.text)))];
    expect(prefixes).toContain('period_');
    expect(prefixes.filter((p) => !keys.some((k) => k.startsWith(p)))).toEqual([]);
  });

  it('has no message the extension never uses', () => {
    // Used: named as a string anywhere in the source (a `t('…')` call, or a key kept in a table and
    // passed to `t` later), or reachable through a prefix the source builds keys from.
    const all = files.map((f) => f.text).join('\n');
    const prefixes = files.flatMap((f) => prefixesAsked(f.text));
    const unused = keys.filter((k) => !new RegExp(`['"\`]${k}['"\`]|__MSG_${k}__`).test(all) && !prefixes.some((p) => k.startsWith(p)));
    expect(unused).toEqual([]);
  });

  it('has no empty message, and no $0 or $10 (chrome.i18n fills $1…$9 only)', () => {
    for (const [key, { message }] of Object.entries(messages)) {
      expect(message, key).not.toBe('');
      expect(message, key).not.toMatch(/\$[0-9]{2}|\$0/);
    }
  });
});
