/**
 * The extension's English strings outside a browser: the unit tests pass this as `t` where the
 * pages pass chrome.i18n's, so they check the very words a person reads.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { translator } from '../../extension/common/i18n.js';

const messages = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../extension/_locales/en/messages.json'), 'utf8')) as Record<
  string,
  { message: string }
>;

/** chrome.i18n.getMessage's rules: `$1`…`$9` take the substitutions, `$$` is a dollar sign. */
export const tEn = translator((key, subs = []) =>
  (messages[key]?.message ?? '').replace(/\$(\$|[1-9])/g, (_, n: string) => (n === '$' ? '$' : (subs[Number(n) - 1] ?? ''))),
);
