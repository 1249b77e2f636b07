/**
 * A small, honest estimate of how hard a password is to guess, in bits (log2 of the guesses an
 * attacker who knows the usual tricks would need). Not a big library: it splits the password into
 * runs of letters, digits and other characters and prices each run by what it most likely is — a
 * common password, a repeat or sequence, a year, a dictionary-like word, or random characters.
 * Letter runs that read like words are priced as one word from a large dictionary (about 2^16),
 * not as random letters: that errs on the low side, which is the honest side for a password that
 * guards a wallet.
 */
import { MIN_PASSWORD } from '../common/wallet.js';

export type StrengthLevel = 'too-short' | 'weak' | 'fair' | 'good' | 'strong';
export type StrengthHint = 'common' | 'pattern' | 'longer' | null;

export interface Strength {
  bits: number;
  level: StrengthLevel;
  /** One thing that would help most, when something would. */
  hint: StrengthHint;
}

/** Where the levels start, in bits. */
const FAIR = 36;
const GOOD = 50;
const STRONG = 64;
const WORD_BITS = Math.log2(65_536);

// The most used passwords and stems (lower case); a password made of one of these (with digits or
// symbols around it) is among the first guesses of any attack.
const COMMON = new Set(
  'password passw0rd qwerty qwertyuiop azerty letmein welcome admin administrator login iloveyou monkey dragon football baseball sunshine princess master shadow superman batman trustno1 whatever starwars freedom hello charlie donald michael jennifer hunter killer secret abc123 changeme default bitcoin ethereum wallet crypto tollway'.split(
    ' ',
  ),
);
const SEQUENCES = ['abcdefghijklmnopqrstuvwxyz', 'qwertyuiopasdfghjklzxcvbnm', 'azertyuiopqsdfghjklmwxcvbn', '01234567890'];

const isRepeat = (s: string) => /^(.)\1+$/.test(s);
const isSequence = (s: string) => s.length >= 3 && SEQUENCES.some((q) => q.includes(s) || [...q].reverse().join('').includes(s));
/** Pronounceable: it has a vowel and no four consonants in a row. Random letters rarely are. */
const looksLikeWord = (s: string) => /[aeiouy]/.test(s) && !/[^aeiouy]{4}/.test(s);

function letterBits(run: string): { bits: number; hint: StrengthHint } {
  const lower = run.toLowerCase();
  // Capitals beyond the first letter add a little: where they are is the only unknown.
  const caps = [...run].filter((c) => c !== c.toLowerCase()).length;
  const capsBits = caps === 0 ? 0 : caps === 1 && run[0] !== lower[0] ? 1 : Math.min(caps, run.length - caps) + 1;
  if (COMMON.has(lower)) return { bits: 4 + capsBits, hint: 'common' };
  if (isRepeat(lower) || isSequence(lower)) return { bits: Math.log2(26) + Math.log2(run.length) + capsBits, hint: 'pattern' };
  const random = run.length * Math.log2(26);
  if (run.length >= 3 && looksLikeWord(lower)) return { bits: Math.min(random, WORD_BITS) + capsBits, hint: null };
  return { bits: random + capsBits, hint: null };
}

function digitBits(run: string): { bits: number; hint: StrengthHint } {
  if (run.length === 1) return { bits: Math.log2(10), hint: null };
  if (isRepeat(run) || isSequence(run)) return { bits: Math.log2(10) + Math.log2(run.length), hint: 'pattern' };
  if (/^(19|20)\d\d$/.test(run)) return { bits: Math.log2(150), hint: 'pattern' };
  return { bits: run.length * Math.log2(10), hint: null };
}

function otherBits(run: string): { bits: number; hint: StrengthHint } {
  // A lone space, dash or dot between words is the usual separator: little to guess.
  if (run.length === 1) return { bits: /[\s\-_.]/.test(run) ? 1 : 4, hint: null };
  if (isRepeat(run)) return { bits: 5 + Math.log2(run.length), hint: 'pattern' };
  return { bits: run.length * 5, hint: null };
}

/** The smallest chunk the whole password repeats ("abcabcabc" → "abc"), or null. */
function repeatedChunk(s: string): string | null {
  for (let n = 1; n <= s.length / 2; n++) {
    if (s.length % n === 0 && s.slice(0, n).repeat(s.length / n) === s) return s.slice(0, n);
  }
  return null;
}

function estimateBits(password: string): { bits: number; hint: StrengthHint } {
  const chunk = repeatedChunk(password);
  if (chunk) {
    const inner = estimateBits(chunk);
    return { bits: inner.bits + Math.log2(password.length / chunk.length), hint: 'pattern' };
  }
  if (COMMON.has(password.toLowerCase())) return { bits: 4, hint: 'common' };
  let bits = 0;
  let hint: StrengthHint = null;
  for (const run of password.match(/\p{L}+|\p{N}+|[^\p{L}\p{N}]+/gu) ?? []) {
    const priced = /\p{L}/u.test(run) ? letterBits(run) : /\p{N}/u.test(run) ? digitBits(run) : otherBits(run);
    bits += priced.bits;
    // A common word is the stronger warning; keep it over a pattern.
    if (priced.hint === 'common' || (priced.hint && !hint)) hint = priced.hint;
  }
  return { bits, hint };
}

export function passwordStrength(password: string): Strength {
  const { bits, hint } = estimateBits(password);
  const rounded = Math.round(bits);
  if (password.length < MIN_PASSWORD) return { bits: rounded, level: 'too-short', hint: 'longer' };
  const level: StrengthLevel = bits < FAIR ? 'weak' : bits < GOOD ? 'fair' : bits < STRONG ? 'good' : 'strong';
  return { bits: rounded, level, hint: hint ?? (level === 'weak' || level === 'fair' ? 'longer' : null) };
}

/** The meter's value: 0 (too short) to 4 (strong). */
export const STRENGTH_LEVELS: readonly StrengthLevel[] = ['too-short', 'weak', 'fair', 'good', 'strong'];
