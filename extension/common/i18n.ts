/**
 * Every string a person reads comes from `_locales/<lang>/messages.json` through chrome.i18n, so a
 * translation is one file. Keys are typed from the English file (a type-only import: the JSON is
 * not bundled into the pages' JavaScript; Chrome serves it). Substitutions are `$1`…`$9` in the
 * message, as chrome.i18n.getMessage fills them.
 */
export type MessageKey = keyof typeof import('../_locales/en/messages.json');

type GetMessage = (key: string, substitutions?: string[]) => string;

/** Looks a message up and fills its `$1`…`$9`. */
export type T = (key: MessageKey, ...subs: (string | number | bigint)[]) => string;

/** `t` over any getMessage (tests pass their own); a missing key shows as itself, never as blank. */
export function translator(getMessage: GetMessage): T {
  return (key, ...subs) => getMessage(key, subs.map(String)) || key;
}

// Declared here rather than taken from @types/chrome so that unit tests, compiled without the
// extension's types, can import the helpers that take a `t`.
declare const chrome: { i18n: { getMessage(key: string, substitutions?: string[]): string } };

/** The pages' `t(key, ...subs)`, over the browser's own message catalogue. */
export const t = translator((key, subs) => chrome.i18n.getMessage(key, subs));
