/**
 * The check that a new recovery phrase was written down: the person retypes a few of its words,
 * chosen at random, before the wallet is saved or used. The positions come from the browser's
 * cryptographic random source, so a page cannot guess which words will be asked.
 */

/** A random whole number in [0, n), without modulo bias. */
export type RandomBelow = (n: number) => number;

export const cryptoRandomBelow: RandomBelow = (n) => {
  // Reject the top slice that would favour small numbers.
  const limit = Math.floor(0x1_0000_0000 / n) * n;
  const buf = new Uint32Array(1);
  for (;;) {
    crypto.getRandomValues(buf);
    if (buf[0]! < limit) return buf[0]! % n;
  }
};

/** `count` distinct word positions (0-based) of a phrase of `words` words, in ascending order. */
export function pickWordPositions(words: number, count = 3, random: RandomBelow = cryptoRandomBelow): number[] {
  if (count > words) throw new Error('more words asked for than the phrase has');
  const chosen = new Set<number>();
  while (chosen.size < count) chosen.add(random(words));
  return [...chosen].sort((a, b) => a - b);
}

/** Compares as a person types: case and surrounding spaces do not matter. */
const same = (typed: string, word: string) => typed.trim().toLowerCase() === word.toLowerCase();

/** The positions whose typed word is not the phrase's word there (empty: all right). */
export function wrongWords(phrase: readonly string[], answers: ReadonlyMap<number, string>): number[] {
  return [...answers.keys()].filter((at) => phrase[at] === undefined || !same(answers.get(at) ?? '', phrase[at]!));
}
