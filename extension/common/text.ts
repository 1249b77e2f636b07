/**
 * Text a merchant or a page chose (descriptions, names, URLs, payees, server messages), made safe
 * to show next to what Tollway itself says. Bidirectional overrides and isolates can make
 * "pay 1 SOVR to shop" render as something else, zero-width and control characters can hide or
 * split words, and a long string can push the amount or the payee out of sight. Preact escapes
 * HTML already; this is about what the person reads.
 */

/**
 * Controls (C0, DEL, C1, tabs and newlines) and the line/paragraph separators U+2028–2029: they
 * break a line, so they become a space.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is this pattern's job.
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/**
 * Removed outright: the bidirectional marks, embeddings, overrides and isolates (U+061C, U+200E,
 * U+200F, U+202A–202E, U+2066–2069) and the zero-width or invisible characters (U+180E,
 * U+200B–200D, U+2060–2064, U+FEFF, and the tag characters U+E0000–E007F).
 */
const INVISIBLE = /[\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u{e0000}-\u{e007f}]/gu;

/** Runs of whitespace become one space. */
const SPACES = /\s+/g;

/**
 * `s` without invisible and direction-changing characters, on one line, at most `maxLen` UTF-16
 * units long (an ellipsis marks a cut; a cut never splits a surrogate pair).
 */
export function displayText(s: string | null | undefined, maxLen = 200): string {
  if (!s) return '';
  const clean = s.replace(CONTROLS, ' ').replace(INVISIBLE, '').replace(SPACES, ' ').trim();
  if (clean.length <= maxLen) return clean;
  let end = Math.max(0, maxLen - 1);
  // Do not leave half of a surrogate pair before the ellipsis.
  if (end > 0 && /[\ud800-\udbff]/.test(clean[end - 1]!)) end--;
  return `${clean.slice(0, end)}…`;
}
